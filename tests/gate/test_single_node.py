"""`cudadoctor gate` and `cudadoctor.gate()` end to end on this CPU-only machine (no NVIDIA driver):
stop for no-nvidia-driver, go with --cpu (the harness benchmarks the CPU), the JSON report file,
--require-gpus, EnvironmentNotReady, bad usage exit 2."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cudadoctor._util import child_env

TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not TORCH, reason="the --cpu benchmark needs torch in this interpreter")
#: Variables that would change the gate's behaviour here (a launcher's, the test hooks).
DROP = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "CUDADOCTOR_OUTPUT", "CUDADOCTOR_FORMAT",
        "CUDADOCTOR_GATE_INJECT_FAIL_RANK", "CUDADOCTOR_GATE_INJECT_HANG_RANK", "CUDADOCTOR_POLICY", "CUDADOCTOR_CPU")


def gate(*args: str, env: dict[str, str] | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cudadoctor", "gate", *args], capture_output=True, text=True,
                          timeout=timeout, env=child_env(env, drop=DROP))


def _no_driver_here() -> bool:
    return not os.path.exists("/proc/driver/nvidia/version")


pytestmark = pytest.mark.skipif(not _no_driver_here(), reason="these tests describe a machine without an NVIDIA driver")


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("gate") / "report.json"
    return gate("--cpu", "--output", str(out), "--timeout", "120"), out


@needs_torch
def test_cpu_gate_goes_and_says_what_it_waived(cpu_run) -> None:
    proc, out = cpu_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("cudadoctor gate: GO — nothing blocking")
    assert any(line.startswith("  waived by --cpu: ") and "no-nvidia-driver" in line for line in lines)
    assert any(line.startswith("  bench: CPU: gemm-") and "copy-d2d" in line for line in lines)
    assert lines[-1] == f"  full report: {out}"
    assert len(lines) <= 8  # a short summary, not the check report


@needs_torch
def test_json_report_file_is_checks_json_plus_bench_and_gate(cpu_run) -> None:
    _, out = cpu_run
    data = json.loads(out.read_text())
    assert {"schema_version", "verdict", "findings", "skipped", "facts", "bench", "gate"} <= set(data)
    assert data["gate"]["verdict"] == "go" and data["gate"]["exit_code"] == 0 and data["gate"]["cpu"] is True
    assert "no-nvidia-driver" in data["gate"]["waived"]
    assert "no-nvidia-driver" in {f["name"] for f in data["findings"]}  # waived, never hidden
    assert data["bench"]["mode"] == "cpu" and data["bench"]["status"] == "ok"
    assert data["gate"]["thresholds"] == {"min_efficiency": 0.5, "min_memory_efficiency": 0.6, "min_host_efficiency": 0.5}


def test_without_cpu_the_gate_stops_for_the_missing_driver() -> None:
    proc = gate("--no-bench")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith("cudadoctor gate: STOP — ")
    assert "  ✖ no-nvidia-driver: No NVIDIA driver is installed" in proc.stdout


def test_require_gpus_stops_with_the_reason_and_json_format() -> None:
    proc = gate("--require-gpus", "1", "--no-bench", "--format", "json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    reasons = {r["name"]: r for r in data["gate"]["reasons"]}
    assert "policy requires 1" in reasons["policy-min-gpus"]["message"]
    assert data["gate"]["verdict"] == "stop"


def test_env_var_options(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = gate("--no-bench", env={"CUDADOCTOR_REQUIRE_GPUS": "2", "CUDADOCTOR_OUTPUT": str(out)})
    assert proc.returncode == 1
    assert "policy: 0 GPUs visible" in proc.stdout and "policy requires 2" in proc.stdout
    assert json.loads(out.read_text())["gate"]["verdict"] == "stop"


@pytest.mark.parametrize("args, message", [
    (["--format", "markdown"], "--format must be terminal or json"),
    (["--cpu", "--require-gpus", "2"], "--cpu waives the GPU requirements"),
    (["--policy", "/nonexistent/policy.toml"], "policy /nonexistent/policy.toml: file does not exist"),
    (["--min-efficiency", "7"], "--min-efficiency must be a fraction"),
    (["--distributed"], "--distributed needs the launcher's variables"),
])
def test_bad_usage_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = gate(*args, timeout=30)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("cudadoctor: error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_python_api_raises_environment_not_ready_with_the_report() -> None:
    import cudadoctor

    with pytest.raises(cudadoctor.EnvironmentNotReady) as exc:
        cudadoctor.gate(require_gpus=1, bench=False, timeout=60)
    error = exc.value
    assert isinstance(error.report, cudadoctor.Report)
    assert error.report.gate.verdict == "stop"
    assert "policy-min-gpus" in [r.name for r in error.reasons]
    assert str(error).startswith("environment not ready for training: ")
    assert "no-nvidia-driver: No NVIDIA driver is installed" in str(error)


@needs_torch
def test_python_api_returns_the_report_on_go(tmp_path: Path) -> None:
    import cudadoctor

    out = tmp_path / "api.json"
    report = cudadoctor.gate(cpu=True, timeout=120, output=out)
    assert report.gate.go and report.facts.bench.status == "ok"
    assert json.loads(out.read_text())["gate"]["verdict"] == "go"
    # importing the gate package must not shadow the function (the package module is callable too)
    import cudadoctor.gating.local  # noqa: F401

    assert callable(cudadoctor.gate)
