"""The whole benchmark harness end to end on the CPU with the real torch (--cpu), and its fault paths:
a hanging child (timeout), a crashing child, an injected wrong result, an interpreter without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cudadoctor._util import child_env
from cudadoctor import engine
from cudadoctor.bench.evaluate import with_bench
from cudadoctor.bench.render import TITLE, render_text
from cudadoctor.bench.runner import INJECT_ENV, run_bench
from cudadoctor.checks.base import Status
from cudadoctor.render.json_report import report_dict
from tests.bench.cases import bench_report
from tests.conftest import env_facts

torch_missing = False
try:
    import importlib.util

    torch_missing = importlib.util.find_spec("torch") is None
except ValueError:  # pragma: no cover
    torch_missing = True
needs_torch = pytest.mark.skipif(torch_missing, reason="the CPU harness tests need torch in this interpreter")


def _outcomes(results, tables):
    return {o.code: o for o in bench_report(results, env_facts("no_driver"), tables).outcomes}


#: The full CPU run's budget. NOTE: it counts the child's torch import; at 6 s a machine loaded by a
#: parallel job overran it by half before the copies started (and the rest were skipped).
CPU_BUDGET_S = 10.0


@pytest.fixture(scope="module")
def cpu_results():
    """One full (not quick) CPU run, shared by the assertions below."""
    return run_bench(sys.executable, cpu=True, budget_s=CPU_BUDGET_S, timeout_s=90.0, env=child_env(drop=[INJECT_ENV]))


@needs_torch
def test_full_cpu_run_measures_and_checks_every_workload(cpu_results) -> None:
    assert cpu_results.status == "ok", cpu_results.reason
    (dev,) = cpu_results.devices
    assert dev.status == "ok", (dev.reason, dev.stderr_tail)
    assert dev.device == "cpu" and dev.torch_version
    names = [m.name for m in dev.measurements]
    assert names == ["gemm-bf16", "gemm-fp16", "gemm-tf32", "gemm-fp32", "conv-fp16-nchw", "conv-fp16-channels_last",
                     "conv-bf16-nchw", "conv-bf16-channels_last", "copy-d2d", "copy-h2d", "copy-d2h"]
    by = {m.name: m for m in dev.measurements}
    assert by["gemm-tf32"].status == "skipped" and "TF32" in by["gemm-tf32"].reason
    assert by["copy-h2d"].status == "skipped" and "need a GPU" in by["copy-h2d"].reason
    for name in ("gemm-bf16", "gemm-fp16", "gemm-fp32", "copy-d2d"):
        m = by[name]
        assert m.status == "ok", (name, m.reason)
        assert m.value > 0 and m.repeats >= 5 and m.inner >= 1
        assert m.spread.min <= m.spread.p25 <= m.value <= m.spread.p75 <= m.spread.max
        assert m.correctness.ok and m.correctness.max_error <= m.correctness.tolerance
    for m in dev.measurements:
        if m.kind == "conv":
            # fp16/bf16 convolution on the CPU works in this torch, or is skipped (never failed)
            assert m.status in ("ok", "skipped"), (m.name, m.reason)
    gemm = by["gemm-fp32"]
    assert gemm.shape[0] == gemm.shape[1] == gemm.shape[2]
    assert gemm.work == pytest.approx(2.0 * gemm.shape[0] ** 3)
    assert gemm.correctness.spot_points == 4 and gemm.correctness.nonfinite == 0
    # sized to the budget: the budget plus a little for the minimum slices
    assert dev.wall_s < CPU_BUDGET_S + 6.0


@needs_torch
def test_cpu_run_judged_and_rendered(cpu_results, tables) -> None:
    outcomes = _outcomes(cpu_results, tables)
    assert outcomes["BEN001"].status is Status.PASSED
    assert outcomes["BEN002"].status is Status.PASSED
    assert outcomes["BEN006"].status is Status.PASSED
    assert outcomes["BEN003"].status is Status.SKIPPED and "no peaks for CPUs" in outcomes["BEN003"].reason
    text = render_text(cpu_results, width=140)
    assert TITLE in text and "gemm-fp32" in text and "CPU harness" in text


@needs_torch
def test_json_report_carries_every_measurement(cpu_results, tables) -> None:
    facts = env_facts("no_driver")
    report = engine.evaluate(with_bench(facts, cpu_results, tables), tables, select=["BEN"])
    data = json.loads(json.dumps(report_dict(report)))
    bench = data["bench"]
    assert bench["status"] == "ok" and bench["mode"] == "cpu"
    assert set(bench["thresholds"]) == {"min_efficiency", "min_memory_efficiency", "min_host_efficiency"}
    m = bench["devices"][0]["measurements"][0]
    for key in ("name", "value", "unit", "dtype", "shape", "repeats", "inner", "spread", "peak", "efficiency",
                "peak_source", "correctness", "seconds", "work"):
        assert key in m, key
    assert set(m["spread"]) == {"min", "p25", "p75", "max"}
    assert m["peak"]["unavailable"] is True and "CPU" in m["peak"]["reason"]
    assert {o["code"] for o in data["skipped"]} >= {"BEN003", "BEN004", "BEN005"}


@needs_torch
def test_injected_corruption_is_a_wrong_result(tables) -> None:
    env = child_env({INJECT_ENV: "corrupt"})
    results = run_bench(sys.executable, cpu=True, quick=True, budget_s=2.0, timeout_s=60.0, env=env)
    (dev,) = results.devices
    gemm = dev.measurements[0]
    assert gemm.status == "wrong"
    assert not gemm.correctness.ok and gemm.correctness.max_error > 10 * gemm.correctness.tolerance
    finding = _outcomes(results, tables)["BEN001"].findings[0]
    assert "BF16 GEMM" in finding.message and "differs from its float64 reference" in finding.message
    assert finding.severity.value == "error"


@needs_torch
def test_hanging_child_is_killed_and_reported(tables) -> None:
    env = child_env({INJECT_ENV: "hang"})
    t0 = time.monotonic()
    results = run_bench(sys.executable, cpu=True, quick=True, budget_s=2.0, timeout_s=6.0, env=env)
    assert time.monotonic() - t0 < 6.0 + 4.0
    (dev,) = results.devices
    assert dev.status == "timeout"
    assert "did not finish within 6 s" in dev.reason
    (finding,) = _outcomes(results, tables)["BEN002"].findings
    assert "CPU benchmark did not finish within 6 s" in finding.message


@needs_torch
def test_crashing_child_is_reported(tables) -> None:
    env = child_env({INJECT_ENV: "crash"})
    results = run_bench(sys.executable, cpu=True, quick=True, budget_s=2.0, timeout_s=60.0, env=env)
    (dev,) = results.devices
    assert dev.status == "crashed"
    assert "killed by SIGABRT" in dev.reason and "gemm-bf16" in dev.reason
    assert "Fatal Python error" in dev.stderr_tail or "Aborted" in dev.stderr_tail or dev.stderr_tail == ""
    (finding,) = _outcomes(results, tables)["BEN006"].findings
    assert "killed by SIGABRT" in finding.message
    assert _outcomes(results, tables)["BEN002"].status is Status.PASSED


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """An interpreter without torch: a fresh venv without pip."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "v")], check=True, timeout=120)
    return str(root / "v" / "bin" / "python")


def test_interpreter_without_torch_says_so(bare_python) -> None:
    results = run_bench(bare_python, timeout_s=30.0)
    assert results.status == "no-torch"
    assert results.reason.startswith(f"torch is not installed in {bare_python}")
    assert results.devices == ()
    cpu = run_bench(bare_python, cpu=True, timeout_s=30.0)
    assert cpu.status == "no-torch" and "torch is not installed" in cpu.reason


# ----------------------------------------------------------------------------- GPUs in parallel, faked

FAKE = textwrap.dedent('''\
    import json, os, sys, time
    cfg = json.loads(sys.argv[3])
    M = "@@cudadoctor-bench-child@@ "
    def emit(r): os.write(1, ("\\n" + M + json.dumps(r) + "\\n").encode())
    i = cfg.get("index", 0)
    if cfg.get("mode") == "list":
        emit({"stage": "import", "ok": True})
        emit({"stage": "list", "value": {"available": True, "devices": [{"index": 0}, {"index": 1}, {"index": 2}]}})
        emit({"stage": "done"}); sys.exit(0)
    emit({"stage": "import", "ok": True})
    emit({"stage": "device", "value": {"device": "cuda:%d" % i, "name": "NVIDIA H100 80GB HBM3", "capability": "9.0",
          "uuid": "", "pci_bus_id": "", "torch": "2.7.1+cu128"}})
    emit({"stage": "begin", "name": "gemm-bf16"})
    if i == 1:
        time.sleep(600)
    time.sleep(1.5)
    emit({"stage": "measurement", "value": {"name": "gemm-bf16", "kind": "gemm", "dtype": "bf16", "unit": "TFLOP/s",
          "status": "ok", "reason": "", "shape": [8192, 8192, 8192], "work": 1.1e12, "repeats": 20, "inner": 1,
          "seconds": 0.0015, "stats": {"median": 700.0, "min": 690.0, "max": 710.0, "p25": 695.0, "p75": 705.0}}})
    emit({"stage": "done"})
''')


@pytest.fixture()
def fake_python(tmp_path: Path) -> str:
    """A stand-in interpreter that plays three GPUs, GPU 1 of which hangs."""
    path = tmp_path / "python"
    path.write_text(f"#!{sys.executable}\n" + FAKE)
    path.chmod(0o755)
    return str(path)


def test_gpus_run_in_parallel_and_a_hang_names_its_gpu(fake_python, tables) -> None:
    t0 = time.monotonic()
    results = run_bench(fake_python, timeout_s=4.0)
    wall = time.monotonic() - t0
    assert wall < 4.0 + 3.0  # three children at once, not 1.5 + 4 + 1.5 s one after another
    assert [d.status for d in results.devices] == ["ok", "timeout", "ok"]
    assert results.devices[0].measurements[0].value == 700.0
    assert results.devices[1].stage == "gemm-bf16"
    outcomes = {o.code: o for o in bench_report(results, env_facts("healthy_h100_cu128"), tables).outcomes}
    (finding,) = outcomes["BEN002"].findings
    assert finding.message.startswith("The benchmark of GPU 1 (NVIDIA H100 80GB HBM3) did not finish within 4 s")
    assert "during the gemm-bf16 workload" in finding.message
    assert "nvidia-smi --gpu-reset -i 1" in finding.fix
    assert outcomes["BEN003"].status is Status.PASSED  # 700 of 989 TFLOP/s


def test_explicit_devices_skip_discovery(fake_python) -> None:
    results = run_bench(fake_python, devices=[0, 2], timeout_s=10.0)
    assert [d.index for d in results.devices] == [0, 2]
    assert all(d.status == "ok" for d in results.devices)
