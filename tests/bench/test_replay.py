"""Bench and ranks are facts: saved with --save-facts, replayed with --facts, judged to the same findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudadoctor.bench.evaluate import with_bench
from cudadoctor.bench.results import decode_results
from cudadoctor.cli import main
from cudadoctor.commands.check import judge
from cudadoctor.facts import Unavailable
from cudadoctor.facts_ranks import rank_to_wire
from cudadoctor.factsfile import encode, load_facts, save_facts
from tests.bench.cases import FIXTURES
from tests.conftest import env_facts, env_path
from tests.gate.ranks import with_ranks


def _check_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    with pytest.raises(SystemExit) as exc:
        main(["check", *args, "--format", "json"])
    return int(exc.value.code or 0), json.loads(capsys.readouterr().out)


def _slow_bench(tables):  # type: ignore[no-untyped-def]
    data = json.loads((FIXTURES / "h100x2_healthy.json").read_text())
    data["devices"][0]["measurements"][0]["value"] = 100.0  # gemm-bf16: 10% of the H100's peak
    return with_bench(env_facts("healthy_h100_cu128"), decode_results(data), tables)


def test_a_saved_bench_replays_to_the_same_findings(tmp_path: Path, tables, capsys) -> None:
    facts = _slow_bench(tables)
    path = tmp_path / "facts.json"
    save_facts(facts, path)
    assert load_facts(path) == facts
    live = judge(facts, tables, bench=True)
    assert "BEN003" in [f.code for f in live.findings]
    code, data = _check_json(["--facts", str(path)], capsys)
    assert [(f["code"], f["message"], f["fix"]) for f in data["findings"]] == [
        (f.code, f.message, f.fix) for f in live.findings
    ]
    assert code == live.exit_code()
    assert data["bench"] == encode(facts.bench) and data["facts"]["bench"] == data["bench"]
    # the replayed report judges the bench checks it holds data for; no distributed skips
    assert {"BEN001", "BEN003"} <= {*data["passed"], *(f["code"] for f in data["findings"])}
    assert not [s for s in data["skipped"] if s["code"].startswith("DST")]


def test_a_saved_gather_of_ranks_replays_to_the_same_findings(tmp_path: Path, tables, capsys) -> None:
    rank = {"rank": 0, "local_rank": 0, "world_size": 2, "host": "node0", "pid": 11, "device": "cuda:0",
            "gpu": "NVIDIA H100 80GB HBM3", "gpu_uuid": "GPU-1", "verdict": "go", "reasons": [], "waived": [],
            "bench": ["GPU 0: gemm-bf16 700 TFLOP/s"], "local_seconds": 4.5,
            "versions": {"torch": "2.5.1+cu124", "cuda": "12.4", "cudnn": "9.1.0", "nccl": "2.21.5", "driver": None},
            "cudadoctor": "0.1.0",
            "allreduce": {"sizes": [{"bytes": 1 << 20, "mib": 1.0, "iterations": 20, "seconds": 0.001, "algbw_gbs": None,
                                     "busbw_gbs": None, "correct": True, "wrong_elements": 0, "max_error": 0.0}],
                          "busbw_gbs": None, "algbw_gbs": None, "dtype": "float32", "op": "sum"}}
    odd = {**rank, "rank": 1, "host": "node1", "versions": {**rank["versions"], "torch": "2.4.0+cu121"}}
    facts = with_ranks(env_facts("healthy_h100_cu128"), [rank, odd])
    assert [rank_to_wire(r) for r in facts.ranks.ranks] == [rank, odd]  # the wire form is lossless
    assert isinstance(facts.ranks.ranks[0].versions.driver, Unavailable)
    path = tmp_path / "facts.json"
    save_facts(facts, path)
    assert load_facts(path) == facts
    live = judge(facts, tables)
    assert "distributed-version-mismatch" in [f.name for f in live.findings]
    _, data = _check_json(["--facts", str(path)], capsys)
    assert [(f["code"], f["message"]) for f in data["findings"]] == [(f.code, f.message) for f in live.findings]
    assert data["distributed"]["ranks"] == [rank, odd]


def test_old_facts_files_load_with_nothing_gathered(capsys) -> None:
    facts = load_facts(env_path("healthy_h100_cu128"))
    assert isinstance(facts.bench, Unavailable) and "not run" in facts.bench.reason
    assert isinstance(facts.ranks, Unavailable) and "not run" in facts.ranks.reason
    _, data = _check_json(["--facts", str(env_path("healthy_h100_cu128"))], capsys)
    assert "bench" not in data and "distributed" not in data
    assert "bench" not in data["facts"] and "ranks" not in data["facts"]
    assert not [s for s in data["skipped"] if s["code"].startswith(("BEN", "DST"))]


def test_every_check_is_built_without_arguments() -> None:
    import inspect

    from cudadoctor.checks import CHECKS

    for cls in CHECKS:
        assert not inspect.signature(cls).parameters, f"{cls.code} takes constructor arguments"
    bench = [c for c in CHECKS if c.code.startswith("BEN")]
    ranks = [c for c in CHECKS if c.code.startswith("DST")]
    assert bench and all(c.requires == {"bench"} for c in bench)
    assert ranks and all(c.requires == {"ranks"} for c in ranks)
