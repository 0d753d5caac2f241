"""Whole fake hosts through every real loading path: stub NVML + libcuda, fake torch, the real CLI.

Each case builds a broken machine the way real ones break (a driver too old for the wheel, a
driver/library mismatch after an upgrade, lost GPU access), runs `python -m cudadoctor check` as a
user would, and checks the diagnosis and its fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, without_system_driver
from tests.stubs import compile_stub

FAKE_TORCH = FIXTURES / "fake_torch"


@pytest.fixture(scope="module")
def driver_libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stub driver trees: one dir per driver version with libnvidia-ml.so.1 and libcuda.so.1."""
    root = tmp_path_factory.mktemp("fakehost")
    out = {}
    for version in ("470.256.02", "550.54.14"):
        d = root / version
        compile_stub("nvml_stub.c", d, "libnvidia-ml.so.1", soname="libnvidia-ml.so.1")
        compile_stub("cuda_stub.c", d, f"libcuda.so.{version}", soname="libcuda.so.1",
                     links={"libcuda.so.1": f"libcuda.so.{version}"})
        out[version] = d
    return out


def run_check(env_extra: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUDADOCTOR_", "STUB_", "FAKE_TORCH"))}
    env.update({"NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(env_extra)
    proc = subprocess.run(
        [sys.executable, "-m", "cudadoctor", "check", "--format", "json", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in report["findings"]}


@without_system_driver  # the real /proc/driver/nvidia/version would contradict the stub
def test_driver_470_with_a_cu121_wheel(driver_libs: dict[str, Path]) -> None:
    """torch 2.3.1+cu121 on a 470 driver (CUDA 11.4): too old even for minor-version compatibility."""
    code, report = run_check({
        "LD_LIBRARY_PATH": str(driver_libs["470.256.02"]),
        "STUB_NVML_DRIVER": "470.256.02", "STUB_NVML_CUDA": "11040", "STUB_CUDA_VERSION": "11040",
        "STUB_NVML_NAME": "NVIDIA A100-SXM4-80GB", "STUB_NVML_CC": "8.0", "STUB_NVML_MEM_MIB": "81920",
        "PYTHONPATH": str(FAKE_TORCH / "cu121_driver_too_old"),
    })
    found = by_name(report)
    assert code == 1
    assert "driver-too-old-for-torch" in found, list(found)
    f = found["driver-too-old-for-torch"]
    assert "470.256.02" in f["message"] and "12.1" in f["message"]
    # Both remedies: a driver that runs cu121, or a wheel that runs on driver 470.
    assert "530" in f["fix"] or "535" in f["fix"] or "525" in f["fix"]
    assert "--index-url https://download.pytorch.org/whl/cu11" in f["fix"]
    for wrong in ("no-nvidia-driver", "nvidia-kernel-module-not-loaded", "driver-library-mismatch"):
        assert wrong not in found
    # the report leads with the root cause; what follows from it is listed under it (issue 12)
    assert report["findings"][0]["name"] == "driver-too-old-for-torch", [x["name"] for x in report["findings"]]
    assert all(x["caused_by"] in (None, "driver-too-old-for-torch") or x["caused_by"] in found
               for x in report["findings"])
    facts = report["facts"]
    assert facts["driver"]["driver_version"] == "470.256.2" or facts["driver"]["driver_version"].startswith("470.256")
    assert facts["driver"]["gpus"][0]["name"] == "NVIDIA A100-SXM4-80GB"


@without_system_driver
def test_healthy_fake_host_has_no_driver_or_torch_errors(driver_libs: dict[str, Path]) -> None:
    """torch 2.5.1+cu124 on a 550 driver with two GPUs: the driver/torch checks stay quiet."""
    code, report = run_check({
        "LD_LIBRARY_PATH": str(driver_libs["550.54.14"]),
        "STUB_NVML_DRIVER": "550.54.14", "STUB_NVML_CUDA": "12040", "STUB_CUDA_VERSION": "12040",
        "STUB_NVML_GPUS": "2", "STUB_NVML_NAME": "NVIDIA H100 80GB HBM3", "STUB_NVML_CC": "9.0",
        "STUB_NVML_PERSISTENCE": "1", "STUB_CUDA_DEVICES": "2",
        "PYTHONPATH": str(FAKE_TORCH / "cu124"),
    }, "--select", "DRV,GPU,TRC004,TRC005")
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert not errors, errors


def test_nvml_version_mismatch_after_an_upgrade(driver_libs: dict[str, Path]) -> None:
    """NVML answers 'Driver/library version mismatch' (18): reboot or reload the modules."""
    _, report = run_check({
        "LD_LIBRARY_PATH": str(driver_libs["550.54.14"]),
        "STUB_NVML_INIT": "18", "STUB_CUDA_VERSION": "12040",
        "PYTHONPATH": str(FAKE_TORCH / "cu124"),
    }, "--select", "DRV")
    found = by_name(report)
    assert "driver-library-mismatch" in found, list(found)
    assert "no-nvidia-driver" not in found
    assert "modprobe" in found["driver-library-mismatch"]["fix"] or "reboot" in found["driver-library-mismatch"]["fix"].lower()


def test_cuinit_unknown_error(driver_libs: dict[str, Path]) -> None:
    """cuInit returns 999 with NVML working: cuda-unknown-error, with the nvidia_uvm reload fix."""
    _, report = run_check({
        "LD_LIBRARY_PATH": str(driver_libs["550.54.14"]),
        "STUB_NVML_DRIVER": "550.54.14", "STUB_NVML_CUDA": "12040", "STUB_CUDA_INIT": "999",
        "STUB_CUDA_VERSION": "12040", "PYTHONPATH": str(FAKE_TORCH / "cu124"),
    }, "--select", "DRV003,DRV004")
    found = by_name(report)
    assert set(found) & {"cuda-unknown-error", "gpu-access-lost"}, list(found)
