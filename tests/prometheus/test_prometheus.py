"""--format prometheus for check and healthcheck: node-exporter textfile format, parsed with the official
prometheus_client parser (not a regex), written atomically with --output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cudadoctor.cli import main
from cudadoctor.commands.healthcheck import main_fast
from cudadoctor.render.prometheus import Family, exposition
from tests.conftest import env_facts, env_path

parser = pytest.importorskip("prometheus_client.parser")


def families(text: str) -> dict[str, object]:
    """Metric families by name, as Prometheus itself would read them."""
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def samples(fam) -> list[tuple[dict[str, str], float]]:  # type: ignore[no-untyped-def]
    return [(dict(s.labels), s.value) for s in fam.samples]


def check_metrics(args: list[str], capsys) -> tuple[int, dict[str, object], str]:
    with pytest.raises(SystemExit) as e:
        main(["check", "--format", "prometheus", *args])
    out = capsys.readouterr().out
    return int(e.value.code or 0), families(out), out


def test_check_prometheus_parses(capsys) -> None:
    code, fams, text = check_metrics(["--facts", str(env_path("a100_cu118_wheel"))], capsys)
    assert code == 0
    assert samples(fams["cudadoctor_ready"]) == [({}, 1.0)]
    assert samples(fams["cudadoctor_findings"]) == [({"name": "nvcc-torch-cuda-mismatch", "severity": "warning"}, 1.0)]
    assert dict((s["severity"], v) for s, v in samples(fams["cudadoctor_findings_by_severity"])) == {
        "error": 0.0, "warning": 1.0, "info": 0.0}
    assert dict((s["verdict"], v) for s, v in samples(fams["cudadoctor_verdict"])) == {
        "ready": 0.0, "degraded": 1.0, "not-ready": 0.0}
    assert samples(fams["cudadoctor_gpus"]) == [({}, 1.0)]
    ((info, _),) = samples(fams["cudadoctor_info"])
    assert info["driver"] == "535.183.01" and info["torch"] == "2.3.1+cu118"
    for name in fams:
        assert f"# HELP {name} " in text and f"# TYPE {name} gauge" in text


def test_check_prometheus_not_ready(capsys) -> None:
    code, fams, _ = check_metrics(["--facts", str(env_path("no_driver"))], capsys)
    assert code == 1
    assert samples(fams["cudadoctor_ready"]) == [({}, 0.0)]
    names = {s["name"]: s["severity"] for s, _ in samples(fams["cudadoctor_findings"])}
    assert names["no-nvidia-driver"] == "error"


def test_per_gpu_bench_gauges_when_a_bench_ran(tables) -> None:
    from cudadoctor.render import OutputFormat, render
    from tests.bench.cases import bench_report

    case = {"bench": "h100x2_healthy"}
    from tests.bench.cases import bench_results_for

    report = bench_report(bench_results_for(case), env_facts("healthy_h100_cu128"), tables, select=())
    fams = families(render(report, OutputFormat.PROMETHEUS))
    tflops = samples(fams["cudadoctor_bench_tflops"])
    assert {s["gpu"] for s, _ in tflops} == {"0", "1"}
    gemm = [v for s, v in tflops if s["workload"] == "gemm-bf16" and s["gpu"] == "0"]
    assert gemm and gemm[0] > 100
    assert all(s["model"] == "NVIDIA H100 80GB HBM3" for s, _ in tflops)
    assert {s["workload"] for s, _ in samples(fams["cudadoctor_bench_gbps"])} >= {"copy-d2d"}
    assert all(0 < v < 2 for _, v in samples(fams["cudadoctor_bench_efficiency_ratio"]))
    assert all(v == 1.0 for _, v in samples(fams["cudadoctor_bench_correct"]))
    assert samples(fams["cudadoctor_bench_device_ok"]) and all(v == 1.0 for _, v in samples(fams["cudadoctor_bench_device_ok"]))


def test_no_bench_gauges_without_a_bench(capsys) -> None:
    _, fams, _ = check_metrics(["--facts", str(env_path("healthy_h100_cu128"))], capsys)
    assert not any(name.startswith("cudadoctor_bench") for name in fams)


def test_label_values_are_escaped() -> None:
    text = exposition([Family("x_test", 'help with \\ and\nnewline').add(1, name='a "quoted" \\ back\nslash')])
    ((labels, value),) = samples(families(text)["x_test"])
    assert labels == {"name": 'a "quoted" \\ back\nslash'} and value == 1.0


def test_check_output_is_written_atomically(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cudadoctor.prom"
    target.write_text("old\n")
    seen: list[tuple[str, list[str]]] = []
    real_replace = os.replace

    def spy(src, dst):  # type: ignore[no-untyped-def]
        # At the rename the old file is still whole and the new one sits beside it, not named *.prom.
        seen.append((Path(src).name, sorted(p.name for p in tmp_path.iterdir())))
        assert Path(src).parent == tmp_path and not Path(src).name.endswith(".prom")
        assert target.read_text() == "old\n"
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    with pytest.raises(SystemExit):
        main(["check", "--facts", str(env_path("healthy_a100_cu121")), "--format", "prometheus", "-o", str(target)])
    assert capsys.readouterr().out == ""
    assert len(seen) == 1
    assert samples(families(target.read_text())["cudadoctor_ready"]) == [({}, 1.0)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cudadoctor.prom"]  # no temp file left behind
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_check_output_to_a_missing_directory_is_exit_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["check", "--facts", str(env_path("healthy_a100_cu121")), "--format", "prometheus",
              "-o", str(tmp_path / "missing" / "cudadoctor.prom")])
    assert e.value.code == 2 and "cannot write" in capsys.readouterr().err


def test_healthcheck_prometheus_to_stdout(capsys) -> None:
    code = main_fast(["--facts", str(env_path("healthy_h100_cu128")), "--format", "prometheus"], hard_exit=False)
    fams = families(capsys.readouterr().out)
    assert code == 0
    assert samples(fams["cudadoctor_ready"]) == [({}, 1.0)]
    assert samples(fams["cudadoctor_gpus"]) == [({}, 2.0)]
    assert "cudadoctor_healthcheck_seconds" in fams and "cudadoctor_healthcheck_timestamp_seconds" in fams


def test_healthcheck_prometheus_output_file(tmp_path: Path, capsys) -> None:
    target = tmp_path / "cudadoctor.prom"
    code = main_fast(["--facts", str(env_path("no_driver")), "--format", "prometheus", "--output", str(target)],
                     hard_exit=False)
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("unhealthy: no-nvidia-driver") and len(out.splitlines()) == 1  # the one line stays on stdout
    fams = families(target.read_text())
    assert samples(fams["cudadoctor_ready"]) == [({}, 0.0)]
    assert ({"name": "no-nvidia-driver", "severity": "error"}, 1.0) in samples(fams["cudadoctor_findings"])


def test_healthcheck_output_it_cannot_write_is_unhealthy(tmp_path: Path, capsys) -> None:
    code = main_fast(["--facts", str(env_path("healthy_h100_cu128")), "--format", "prometheus",
                      "--output", str(tmp_path / "missing" / "x.prom")], hard_exit=False)
    captured = capsys.readouterr()
    assert code == 1 and "cannot write" in captured.err  # exit 0/1 only, ever


def test_healthcheck_timeout_still_writes_not_ready(tmp_path: Path, capsys) -> None:
    import time

    target = tmp_path / "cudadoctor.prom"

    def hang():  # type: ignore[no-untyped-def]
        time.sleep(5)
        return env_facts("healthy_h100_cu128")

    code = main_fast(["--timeout", "0.5", "--format", "prometheus", "--output", str(target)],
                     facts_provider=hang, hard_exit=False)
    assert code == 1 and "timed out" in capsys.readouterr().out
    fams = families(target.read_text())
    assert samples(fams["cudadoctor_ready"]) == [({}, 0.0)]
    assert ({"name": "timeout", "severity": "error"}, 1.0) in samples(fams["cudadoctor_findings"])


def test_healthcheck_prometheus_imports_nothing_heavy(tmp_path: Path) -> None:
    from tests.healthcheck.conftest import run_healthcheck
    from tests.healthcheck.test_modules import heavy, modules_of

    r = run_healthcheck(["--debug-modules", "--format", "prometheus", "--output", str(tmp_path / "c.prom"),
                         "--facts", str(env_path("healthy_h100_cu128"))])
    assert r.code == 0 and r.out.startswith("healthy: ")
    assert heavy(modules_of(r)) == []
    assert "cudadoctor.render.prometheus" in modules_of(r)


def test_secrets_and_identity_never_reach_the_metrics(tmp_path: Path, capsys) -> None:
    from cudadoctor.factsfile import facts_to_dict

    secret = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    data = facts_to_dict(env_facts("healthy_a100_cu121"))
    data["env"]["variables"]["HF_TOKEN"] = secret
    data["torch"]["status"] = "import-failed"
    data["torch"]["import_error"] = f"OSError: token {secret}"
    data["host"]["hostname"] = "gpu-node-secret-17"
    p = tmp_path / "f.json"
    p.write_text(json.dumps(data))
    _, fams, text = check_metrics(["--facts", str(p)], capsys)
    assert secret not in text and "gpu-node-secret-17" not in text and "/home/ana" not in text
    assert fams["cudadoctor_ready"]
