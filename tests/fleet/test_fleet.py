"""cudadoctor fleet: many nodes' reports summarised; bad files named and skipped (or exit 2 with --strict);
the lean reader agrees with a full parse."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cudadoctor.cli import main
from cudadoctor.commands.check import judge
from cudadoctor.fleet.lean import lean_document
from cudadoctor.fleet.nodes import nodes_from, read_all, read_nodes
from cudadoctor.fleet.summary import summarise
from cudadoctor.render.json_report import report_dict
from tests.conftest import env_facts, env_path


def report(env: str, tables, **facts_overrides) -> dict:  # type: ignore[no-untyped-def]
    """The check --format json report of env fixture *env* (as Slurm's srun would collect it)."""
    return report_dict(judge(env_facts(env, facts_overrides or None), tables))


def bench_report(tables, scale: float = 1.0) -> dict:  # type: ignore[no-untyped-def]
    """A check --bench report of the two-H100 fixture, its GEMMs scaled by *scale*."""
    from tests.bench.cases import bench_facts_for

    facts = bench_facts_for({"bench": "h100x2_healthy"}, env_facts("healthy_h100_cu128"), tables)
    data = report_dict(judge(facts, tables, bench=True))
    for d in data["bench"]["devices"]:
        for m in d["measurements"]:
            if m["kind"] == "gemm" and isinstance(m["value"], float):
                m["value"] *= scale
    return data


def write(directory: Path, name: str, data: object) -> Path:
    p = directory / f"{name}.json"
    p.write_text(json.dumps(data, indent=2) if not isinstance(data, str) else data)
    return p


def fleet(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["fleet", *args])
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


@pytest.fixture
def cluster(tmp_path: Path, tables) -> Path:
    """Five nodes: three alike, one with an older torch (and its finding), one without a driver; one bad file."""
    d = tmp_path / "reports"
    d.mkdir()
    for n in ("node01", "node02", "node03"):
        write(d, n, report("healthy_a100_cu121", tables))
    write(d, "node04", report("a100_cu118_wheel", tables))
    write(d, "node05", report("no_driver", tables))
    write(d, "notes", "{not json")
    return d


def test_nodes_by_verdict_findings_by_count_and_odd_ones_out(cluster: Path, capsys) -> None:
    code, out, err = fleet([str(cluster), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1  # a node is not ready
    assert data["counts"] == {"nodes": 5, "files_skipped": 1, "ready": 3, "degraded": 1, "not-ready": 1}
    assert data["verdicts"]["not-ready"] == ["node05"] and data["verdicts"]["degraded"] == ["node04"]
    by_name = {f["name"]: f for f in data["findings"]}
    assert by_name["nvcc-torch-cuda-mismatch"]["nodes"] == ["node04"]
    assert by_name["no-nvidia-driver"] == {"name": "no-nvidia-driver", "severity": "error", "count": 1, "nodes": ["node05"]}
    odd = {(o["node"], o["what"]) for o in data["odd_ones_out"]}
    assert ("node04", "torch") in odd and ("node05", "torch") in odd
    assert data["majority"] == {"driver": "535.183.01", "torch": "2.3.1+cu121"}
    assert data["skipped"][0]["path"].endswith("notes.json") and "not valid JSON" in data["skipped"][0]["reason"]
    assert "skipped" in err and "notes.json" in err


def test_terminal_summary(cluster: Path, capsys) -> None:
    code, out, _ = fleet([str(cluster)], capsys)
    assert out.startswith("cudadoctor fleet: 5 nodes (1 file skipped): 1 not ready, 2 odd ones out")
    assert "not-ready       1   node05" in out
    assert "node04  torch 2.3.1+cu118 (most common: 2.3.1+cu121 on 3 of 5 nodes)" in out
    code, out, _ = fleet([str(cluster), "-v"], capsys)
    assert "node01" in out and "Nodes\n" in out
    code, out, _ = fleet([str(cluster), "--format", "markdown"], capsys)
    assert "| not-ready | 1 | node05 |" in out


def test_strict_makes_a_bad_file_exit_2(cluster: Path, capsys) -> None:
    code, out, err = fleet([str(cluster), "--strict"], capsys)
    assert code == 2 and out == "" and "notes.json: not valid JSON" in err and len(err.strip().splitlines()) == 1


def test_all_healthy_exits_0(tmp_path: Path, tables, capsys) -> None:
    for n in ("a", "b", "c"):
        write(tmp_path, n, report("healthy_a100_cu121", tables))
    code, out, _ = fleet([str(tmp_path)], capsys)
    assert code == 0 and "all nodes ready, none odd" in out and "No odd ones out (every node: driver 535.183.01" in out


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent"], "/nonexistent: no such file or directory"),
    (["--slow-fraction", "1.5", "."], "--slow-fraction must be between 0 and 1"),
])
def test_bad_usage_is_exit_2(args: list[str], message: str, capsys) -> None:
    code, _, err = fleet(args, capsys)
    assert code == 2 and message in err


def test_no_report_at_all_is_exit_2(tmp_path: Path, capsys) -> None:
    write(tmp_path, "x", {"hello": 1})
    code, _, err = fleet([str(tmp_path)], capsys)
    assert code == 2 and "none of the 1 files is a node report" in err


def test_a_slow_gpu_is_an_odd_one_out(tmp_path: Path, tables, capsys) -> None:
    for n in ("n1", "n2", "n3"):
        write(tmp_path, n, bench_report(tables))
    write(tmp_path, "n4", bench_report(tables, scale=0.7))
    write(tmp_path, "n5", bench_report(tables, scale=0.95))  # within run-to-run variation
    code, out, _ = fleet([str(tmp_path), "--format", "json"], capsys)
    odd = json.loads(out)["odd_ones_out"]
    assert {o["node"] for o in odd} == {"n4"} and code == 1
    assert all(o["what"] == "bench" and "30% below the fleet median (limit 10%)" in o["detail"] for o in odd)
    assert "gemm-bf16 on NVIDIA H100 80GB HBM3" in " ".join(o["detail"] for o in odd)
    code, out, _ = fleet([str(tmp_path), "--format", "json", "--slow-fraction", "0.4"], capsys)
    assert json.loads(out)["odd_ones_out"] == []


def test_every_kind_of_report_is_read(tmp_path: Path, tables, capsys) -> None:
    """Snapshots, healthcheck JSON, a plain facts file, a gate report and gate --distributed's ranks."""
    from cudadoctor.commands.healthcheck import main_fast

    with pytest.raises(SystemExit):
        main(["snapshot", "--facts", str(env_path("healthy_a100_cu121")), "-o", str(tmp_path / "snap.json")])
    main_fast(["--facts", str(env_path("no_driver")), "--format", "json"], hard_exit=False)
    write(tmp_path, "hc", capsys.readouterr().out)
    write(tmp_path, "plain", json.loads(env_path("a100_cu118_wheel").read_text()))
    gate = report("healthy_a100_cu121", tables)
    gate["gate"] = {"verdict": "stop", "reasons": []}
    write(tmp_path, "gated", gate)
    dist = report("healthy_h100_cu128", tables)
    versions = {"torch": "2.3.1+cu121", "cuda": "12.1", "cudnn": "8.9.2", "nccl": "2.20.5", "driver": "535.183.01"}
    dist["distributed"] = {"world_size": 3, "ranks": [
        {"rank": 0, "host": "r0", "gpu": "NVIDIA H100 80GB HBM3", "verdict": "go", "reasons": [], "versions": versions,
         "bench": ["GPU 0 (NVIDIA H100 80GB HBM3): gemm-bf16 700 TFLOP/s (71% of peak), copy-d2d 2900 GB/s"]},
        {"rank": 1, "host": "r1", "gpu": "NVIDIA H100 80GB HBM3", "verdict": "stop", "versions": versions,
         "reasons": [{"name": "gpu-ecc-errors", "severity": "error", "message": "x"}], "bench": []},
    ], "missing": {"2": "timed out"}}
    write(tmp_path, "dist", dist)
    capsys.readouterr()
    code, out, _ = fleet([str(tmp_path), "--format", "json"], capsys)
    nodes = {n["name"]: n for n in json.loads(out)["nodes"]}
    assert nodes["snap"]["kind"] == "snapshot" and nodes["snap"]["verdict"] == "ready"
    assert nodes["hc"]["kind"] == "healthcheck" and nodes["hc"]["verdict"] == "not-ready"
    assert nodes["plain"]["kind"] == "facts" and nodes["plain"]["findings"] == ["nvcc-torch-cuda-mismatch"]
    assert nodes["gated"]["kind"] == "gate" and nodes["gated"]["verdict"] == "not-ready"
    rates = {b["workload"]: b["value"] for b in nodes["r0"]["bench"]}
    assert nodes["r0"]["kind"] == "rank" and rates == {"gemm-bf16": 700.0, "copy-d2d": 2900.0}
    assert nodes["r1"]["verdict"] == "not-ready" and nodes["r1"]["findings"] == ["gpu-ecc-errors"]
    assert nodes["rank 2 (no answer)"]["verdict"] == "not-ready"


def test_the_lean_reader_agrees_with_a_full_parse(tmp_path: Path, tables) -> None:
    docs = {
        "plain": report("healthy_h100_cu128", tables),
        "bench": bench_report(tables, scale=0.8),
        "nodriver": report("no_driver", tables),
        "libs": report("lib_h100_syscuda", tables),
    }
    plain = report("healthy_a100_cu121", tables)
    # as gate writes it: its decision before the facts (report_dict puts the facts last)
    docs["gate"] = {**{k: v for k, v in plain.items() if k != "facts"}, "gate": {"verdict": "stop", "reasons": []},
                    "facts": plain["facts"]}
    snap_path = tmp_path / "snap.json"
    with pytest.raises(SystemExit):
        main(["snapshot", "--facts", str(env_path("real_h100_device")), "-o", str(snap_path)])
    docs["snapshot"] = json.loads(snap_path.read_text())
    # an Unavailable driver version, a name with a quote: the layout must not fool the reader
    odd = copy.deepcopy(docs["plain"])
    odd["facts"]["driver"]["driver_version"] = {"unavailable": True, "probe": "driver", "reason": "x", "detail": ""}
    odd["facts"]["driver"]["gpus"][0]["name"] = 'NVIDIA "H100"\\ 80GB'
    docs["odd"] = odd
    for name, data in docs.items():
        raw = json.dumps(data, indent=2).encode()
        lean = lean_document(raw)
        assert lean is not None, name
        assert nodes_from(lean, name, name) == nodes_from(json.loads(raw), name, name), name
    # compact JSON (another writer) is not in the layout: parsed whole
    assert lean_document(json.dumps(docs["plain"]).encode()) is None
    # nor is a report another tool extended after its facts: the gate's stop must not be missed
    appended = {**docs["plain"], "gate": {"verdict": "stop", "reasons": []}}
    assert lean_document(json.dumps(appended, indent=2).encode()) is None
    p = write(tmp_path, "compact", json.dumps(docs["plain"]))
    assert read_nodes(p, "compact") == nodes_from(docs["plain"], "compact", str(p))


def test_parallel_reading_equals_serial(tmp_path: Path, tables) -> None:
    files = []
    for i, env in enumerate(["healthy_a100_cu121", "no_driver", "a100_cu118_wheel", "healthy_h100_cu128"] * 3):
        files.append(write(tmp_path, f"n{i:02d}", report(env, tables)))
    files.append(write(tmp_path, "bad", "[]"))
    names = {f: f.stem for f in files}
    assert read_all(files, names, workers=2) == read_all(files, names, workers=1)
    assert read_all(files, names, workers=1)[-1][1] == "expected a JSON object, got list"


def test_summary_without_a_majority_names_no_odd_one() -> None:
    from cudadoctor.fleet.nodes import Node

    nodes = [Node(name=f"n{i}", source="", kind="check", verdict="ready", findings=(), driver=d, torch="2.5.1", gpus=())
             for i, d in enumerate(["550.54.15", "535.183.01"])]
    s = summarise(nodes)
    assert s.majority["driver"] == "" and s.odd == () and s.healthy


def test_duplicate_stems_are_named_by_path(tmp_path: Path, tables, capsys) -> None:
    for n in ("a", "b"):
        (tmp_path / n).mkdir()
        write(tmp_path / n, "report", report("healthy_a100_cu121", tables))
    code, out, _ = fleet([str(tmp_path), "--format", "json"], capsys)
    names = [n["name"] for n in json.loads(out)["nodes"]]
    assert names == [str(tmp_path / "a" / "report"), str(tmp_path / "b" / "report")]
