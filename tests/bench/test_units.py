"""Pure parts of the benchmark: efficiency math against a fake GPU model, PCIe peaks, parsing child
output, the bench command's plain no-GPU / no-torch answers, and how results join a Report."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
from packaging.version import Version

from cudadoctor import engine
from cudadoctor.bench import evaluate
from cudadoctor.bench.collect import BenchRequest, bench_facts, devices_from_facts
from cudadoctor.bench.evaluate import PCIE_LANE_GBS, annotate, with_bench
from cudadoctor.bench.results import Thresholds, decode_results
from cudadoctor.bench.runner import MARKER, parse_device, parse_records
from cudadoctor.checks.base import Status
from cudadoctor.commands import bench as cmd
from cudadoctor.errors import UsageError
from cudadoctor.facts import Unavailable
from cudadoctor.render.json_report import report_dict
from cudadoctor.tables import GpuModel, GpuTable
from tests.bench.cases import FIXTURES, bench_report
from tests.childmodule import child_module
from tests.conftest import env_facts

HEALTHY = json.loads((FIXTURES / "h100x2_healthy.json").read_text())


def _results(**changes):
    data = json.loads(json.dumps(HEALTHY))
    for key, value in changes.items():
        data[key] = value
    return decode_results(data)


def _fake_tables(tables):
    fake = GpuModel(model="Fake X1", match=("NVIDIA H100 80GB HBM3",), cc=Version("9.0"), arch="Hopper", memory_gib=80,
                    bandwidth_gbs=4000.0, fp32=100.0, tf32=None, fp16=1000.0, bf16=800.0, datacenter=True,
                    forward_compat=True, nvswitch=False, source="test")
    return dataclasses.replace(tables, gpus=GpuTable(models=(fake,)))


def test_efficiency_is_median_over_the_fake_models_peak(tables) -> None:
    out = annotate(_results(), _fake_tables(tables))
    by = {m.name: m for m in out.devices[0].measurements}
    assert by["gemm-bf16"].peak == 800.0 and by["gemm-bf16"].efficiency == pytest.approx(752.0 / 800.0)
    assert by["gemm-fp16"].efficiency == pytest.approx(741.0 / 1000.0)
    assert by["gemm-fp32"].efficiency == pytest.approx(51.2 / 100.0)
    assert by["copy-d2d"].efficiency == pytest.approx(2890.0 / 4000.0)
    assert by["gemm-bf16"].peak_source == "rules/gpus.toml Fake X1: dense BF16 peak"
    # a dtype the model has no number for: the value stays, the peak is unknown with a reason
    tf32 = by["gemm-tf32"]
    assert tf32.value == 371.0 and isinstance(tf32.peak, Unavailable) and isinstance(tf32.efficiency, Unavailable)
    assert "no dense TF32 peak for Fake X1" in tf32.peak.reason


def test_unknown_model_reports_the_number_and_an_unknown_peak(tables) -> None:
    data = json.loads(json.dumps(HEALTHY))
    data["devices"][0]["name"] = "NVIDIA Future GPU X1"
    out = annotate(decode_results(data), tables)
    m = out.devices[0].measurements[0]
    assert m.value == 752.0
    assert isinstance(m.efficiency, Unavailable) and "not in rules/gpus.toml" in m.efficiency.reason
    assert m.peak_source.startswith("unknown:")


def test_host_copy_peak_is_the_pcie_link_rate(tables) -> None:
    out = annotate(_results(), tables)
    h2d = out.devices[0].get("copy-h2d")
    assert h2d is not None and h2d.peak == pytest.approx(16 * PCIE_LANE_GBS[5])
    assert h2d.peak_source == "PCIe Gen5 x16 theoretical per-direction rate"
    assert 16 * PCIE_LANE_GBS[4] == pytest.approx(31.5, abs=0.05)
    assert 16 * PCIE_LANE_GBS[3] == pytest.approx(15.75, abs=0.05)


def test_annotate_is_idempotent(tables) -> None:
    once = annotate(_results(), tables)
    assert annotate(once, tables) == once


def test_json_roundtrip_of_annotated_results(tables) -> None:
    from cudadoctor.factsfile import encode

    out = annotate(_results(), tables)
    again = annotate(decode_results(json.loads(json.dumps(encode(out)))), tables)
    assert again == out


def test_facts_gpu_matches_by_uuid_or_bus_id(tables) -> None:
    facts = env_facts("healthy_h100_cu128")
    res = _results()
    assert evaluate.facts_gpu(res.devices[0], facts).index == 0
    moved = dataclasses.replace(res.devices[1], uuid="")
    assert evaluate.facts_gpu(moved, facts).index == 1
    assert evaluate.facts_gpu(dataclasses.replace(moved, pci_bus_id=""), facts) is None


def test_bench_findings_healthy_is_empty_and_thresholds_apply(tables) -> None:
    facts = env_facts("healthy_h100_cu128")
    assert list(bench_report(_results(), facts, tables).findings) == []
    strict = bench_report(_results(), facts, tables, Thresholds(min_efficiency=0.9)).findings
    assert {f.code for f in strict} == {"BEN003"}


# ----------------------------------------------------------------------------- parsing child output


def _line(record: dict) -> str:
    return MARKER + json.dumps(record)


def test_parse_records_ignores_noise_and_bad_lines() -> None:
    out = "\n".join(["torch says hi", _line({"stage": "begin", "name": "import"}), MARKER + "{not json",
                     _line({"stage": "import", "ok": True}), _line({"stage": "measurement", "value": {"name": "x"}}),
                     _line({"stage": "done"})])
    rec = parse_records(out)
    assert rec.done and rec.bad_lines == 1 and rec.measurements == [{"name": "x"}] and rec.last_begun == "import"


def test_partial_output_of_a_timed_out_gpu_child_keeps_finished_work() -> None:
    out = "\n".join([
        _line({"stage": "import", "ok": True}),
        _line({"stage": "device", "value": {"device": "cuda:3", "name": "NVIDIA A100-SXM4-80GB", "capability": "8.0"}}),
        _line({"stage": "begin", "name": "gemm-bf16"}),
        _line({"stage": "measurement", "value": {"name": "gemm-bf16", "kind": "gemm", "dtype": "bf16", "status": "ok",
               "stats": {"median": 250.0, "min": 249.0, "max": 251.0, "p25": 249.5, "p75": 250.5}, "shape": [8192] * 3}}),
        _line({"stage": "begin", "name": "gemm-fp16"}),
    ])
    dev = parse_device(out, None, "Thread 0x... (most recent call first):\n  File gemm", index=3, timeout=30.0)
    assert dev.status == "timeout" and dev.stage == "gemm-fp16"
    assert dev.reason == ("the benchmark of GPU 3 (NVIDIA A100-SXM4-80GB) did not finish within 30 s and was killed "
                          "during the gemm-fp16 workload")
    assert dev.measurements[0].value == 250.0 and "Thread" in dev.stderr_tail


def test_child_that_exits_early_or_reports_nothing() -> None:
    dev = parse_device(_line({"stage": "begin", "name": "import"}), -11, "Segmentation fault", index=0)
    assert dev.status == "crashed" and dev.reason == "the benchmark of GPU 0 was killed by SIGSEGV during `import torch`"
    dev = parse_device("garbage", 0, "", index=0)
    assert dev.status == "crashed"
    dev = parse_device("\n".join([_line({"stage": "import", "ok": True}),
                                  _line({"stage": "device", "error": "RuntimeError: CUDA error: out of memory"}),
                                  _line({"stage": "done"})]), 0, "", index=2)
    assert dev.status == "failed" and dev.stage == "device" and "out of memory" in dev.reason


# ----------------------------------------------------------------------------- the command


def test_no_gpu_says_so_plainly(capsys) -> None:
    code = cmd.run(cmd.BenchOptions(), facts=env_facts("no_driver"))
    assert code == cmd.EXIT_NOT_RUN
    err = capsys.readouterr()
    assert "nothing benchmarked: no CUDA GPU is usable by torch" in err.err
    assert "torch was built without CUDA" in err.err and "bench --cpu" in err.err
    assert "Not run: no CUDA GPU is usable" in err.out


def test_no_torch_says_so_plainly(capsys) -> None:
    facts = env_facts("healthy_h100_cu128", {"torch.status": "not-installed"})
    code = cmd.run(cmd.BenchOptions(python="/opt/venv/bin/python", output_format=cmd.OutputFormat.JSON), facts=facts)
    assert code == 1
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["bench"]["status"] == "no-torch"
    assert data["bench"]["reason"].startswith("torch is not installed in /opt/venv/bin/python")
    assert {s["code"] for s in data["skipped"]} >= {"BEN001", "BEN002", "BEN003"}


def test_devices_from_facts_filters_and_validates() -> None:
    facts = env_facts("healthy_h100_cu128")
    assert devices_from_facts(facts, "py", None) == [0, 1]
    assert devices_from_facts(facts, "py", (1,)) == [1]
    with pytest.raises(UsageError, match="CUDA device 5 does not exist"):
        devices_from_facts(facts, "py", (5,))


@pytest.mark.parametrize("text", ["a", "0,-1"])
def test_bad_devices_option(text: str) -> None:
    with pytest.raises(UsageError):
        cmd.parse_devices(text)


def test_thresholds_are_validated() -> None:
    with pytest.raises(UsageError, match="--min-efficiency"):
        cmd.thresholds_of(cmd.BenchOptions(min_efficiency=0.0))
    assert cmd.thresholds_of(cmd.BenchOptions(min_host_efficiency=0.4)).min_host_efficiency == 0.4


def test_bench_facts_are_judged_with_the_other_checks(tables) -> None:
    facts = env_facts("healthy_h100_cu128")
    res = _results()
    data = json.loads(json.dumps(HEALTHY))
    data["devices"][0]["measurements"][0]["value"] = 100.0
    slow = decode_results(data)
    out = engine.evaluate(with_bench(facts, slow, tables), tables, select=["DRV001", "BEN"])
    codes = [o.code for o in out.outcomes]
    assert codes[0] == "DRV001" and "BEN003" in codes
    assert any(f.code == "BEN003" for f in out.findings)
    assert out.facts.bench.devices[0].measurements[0].efficiency == pytest.approx(100.0 / 989.0)
    assert report_dict(out)["bench"]["devices"][0]["measurements"][0]["efficiency"] == pytest.approx(100.0 / 989.0)
    empty = engine.evaluate(with_bench(facts, res, tables), tables, select=["BEN"])
    assert {o.code for o in empty.outcomes} == {"BEN001", "BEN002", "BEN003", "BEN004", "BEN005", "BEN006"}


def test_terminal_table_shows_efficiency_and_nvml(tables) -> None:
    from cudadoctor.bench.render import render_text

    text = render_text(annotate(_results(), tables), width=160)
    assert "GPU 0 (NVIDIA H100 80GB HBM3)" in text
    assert "gemm-bf16" in text and "752 TFLOP/s" in text and "76%" in text
    assert "before: SM 1980/1980 MHz" in text and "algorithm: not exposed by torch" in text


def test_tolerance_grows_with_k_and_dtype() -> None:
    child = child_module(Path(evaluate.__file__).with_name("_bench_child.py"), "bench_child")
    tol = child.tolerance
    assert tol("fp32", 8192, 32) < tol("tf32", 8192, 32) == tol("fp16", 8192, 32) < tol("bf16", 8192, 32)
    assert tol("fp32", 16384, 32) > tol("fp32", 1024, 32)
    assert tol("bf16", 4096, 32) == pytest.approx(32 * 2 ** -8 + 16 * 2 ** -24 * 64)
    assert child.quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert math.isclose(child.summarize([1.0, 3.0, 2.0])["median"], 2.0)


def test_check_bench_path_adds_outcomes_to_an_existing_report(tables) -> None:
    """What `check --bench` does: bench_facts() on the probed facts, then the engine (no GPU here: a plain not-run)."""
    from cudadoctor.engine import evaluate as run_checks

    report = run_checks(env_facts("no_driver"), tables)
    out = run_checks(bench_facts(env_facts("no_driver"), tables, BenchRequest()), tables)
    assert out.facts.bench.status == "no-gpu"
    # The engine judges the bench checks once, on the bench facts, beside every other check.
    assert len(out.outcomes) == len(report.outcomes)
    bench = [o for o in out.outcomes if o.code.startswith("BEN")]
    assert len(bench) == 6 and all(o.status is Status.SKIPPED for o in bench)
