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
    # NOTE: decided from NVML (it answers), not from being in a container (this test host is one).
    assert "cuda-unknown-error" in found and "gpu-access-lost" not in found, list(found)
    assert "nvidia_uvm" in found["cuda-unknown-error"]["fix"]


def _lead(report: dict[str, Any]) -> dict[str, Any]:
    """The finding the report leads with (the first one: worst severity first)."""
    assert report["findings"], "no findings"
    return report["findings"][0]


@without_system_driver
def test_older_cudnn_through_ld_library_path_is_cudnn_version_mismatch(
    driver_libs: dict[str, Path], tmp_path: Path
) -> None:
    """torch 2.5.1 pins cuDNN 9.1.0.70; a cuDNN 9.0 first on LD_LIBRARY_PATH is what it maps."""
    system = tmp_path / "system-cudnn"
    compile_stub("cudnn_stub.c", system, "libcudnn.so.9.0.0", soname="libcudnn.so.9",
                 defines={"CUDNN_VERSION_VALUE": 90000}, links={"libcudnn.so.9": "libcudnn.so.9.0.0"})
    (system / "libcudnn.so.9").unlink()  # FAKE_TORCH_LIBDIR maps every file: keep one copy there
    code, report = run_check({
        "LD_LIBRARY_PATH": f"{system}:{driver_libs['550.54.14']}",
        "STUB_NVML_DRIVER": "550.54.14", "STUB_NVML_CUDA": "12040", "STUB_CUDA_VERSION": "12040",
        "STUB_NVML_NAME": "NVIDIA H100 80GB HBM3", "STUB_NVML_CC": "9.0", "STUB_CUDA_DEVICES": "2",
        "STUB_NVML_GPUS": "2", "STUB_NVML_PERSISTENCE": "1",
        "PYTHONPATH": str(FAKE_TORCH / "cu124"), "FAKE_TORCH_LIBDIR": str(system),
    }, "--select", "LIB")
    found = by_name(report)
    assert code == 1
    assert "cudnn-version-mismatch" in found, list(found)
    assert _lead(report)["name"] == "cudnn-version-mismatch"
    assert "cuda-lib-shadowed" not in found  # one cause, said once
    f = found["cudnn-version-mismatch"]
    assert "9.1.0.70" in f["message"] and "9.0.0" in f["message"] and "older minor" in f["message"]
    assert str(system) in f["fix"]


@without_system_driver
def test_cudnn8_where_only_libcuda_so_1_resolves(driver_libs: dict[str, Path], tmp_path: Path) -> None:
    """torch 2.3.1 loads cuDNN 8.9.2, whose sub-libraries dlopen "libcuda.so"; the injected driver
    directory has libcuda.so.1 and libcuda.so.<version> only (a minimal image)."""
    cudnn = tmp_path / "cudnn8"
    compile_stub("cudnn_stub.c", cudnn, "libcudnn.so.8.9.2", soname="libcudnn.so.8",
                 defines={"CUDNN_VERSION_VALUE": 8902}, links={"libcudnn.so.8": "libcudnn.so.8.9.2"})
    compile_stub("cudnn_stub.c", cudnn, "libcudnn_cnn_infer.so.8.9.2", soname="libcudnn_cnn_infer.so.8",
                 links={"libcudnn_cnn_infer.so.8": "libcudnn_cnn_infer.so.8.9.2"})
    driver = driver_libs["550.54.14"]
    assert not (driver / "libcuda.so").exists()
    env = {
        "LD_LIBRARY_PATH": f"{cudnn}:{driver}",
        "STUB_NVML_DRIVER": "550.54.14", "STUB_NVML_CUDA": "12040", "STUB_CUDA_VERSION": "12040",
        "STUB_NVML_NAME": "NVIDIA H100 80GB HBM3", "STUB_NVML_CC": "9.0", "STUB_CUDA_DEVICES": "2",
        "STUB_NVML_GPUS": "2", "STUB_NVML_PERSISTENCE": "1",
        "PYTHONPATH": str(FAKE_TORCH / "cu121_cudnn8"), "FAKE_TORCH_LIBDIR": str(cudnn),
    }
    code, report = run_check(env, "--select", "LIB003,LIB005")
    found = by_name(report)
    assert code == 1 and list(found) == ["libcuda-not-on-loader-path"], list(found)
    f = found["libcuda-not-on-loader-path"]
    assert "unversioned libcuda.so" in f["message"] and "cuDNN 8" in f["message"]
    assert f"sudo ln -s libcuda.so.1 {driver}/libcuda.so" in f["fix"]
    # With the link the loader finds it, and the same host is quiet.
    (driver / "libcuda.so").symlink_to("libcuda.so.1")
    try:
        _, fixed = run_check(env, "--select", "LIB005")
    finally:
        (driver / "libcuda.so").unlink()
    assert "libcuda-not-on-loader-path" not in by_name(fixed)


def test_runtime_image_without_nvcc_skips_the_host_compiler_check(tmp_path: Path) -> None:
    """A runtime image: CUDA_HOME has version.json (CUDA 11.0, gcc <= 9) but no bin/nvcc; gcc is newer."""
    home = tmp_path / "cuda-11.0"
    home.mkdir()
    (home / "version.json").write_text('{"cuda": {"name": "CUDA SDK", "version": "11.0.3"}}')
    _, report = run_check({
        "CUDA_HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(FAKE_TORCH / "cu124"),
    }, "--select", "TLK002")
    assert "host-compiler-unsupported" not in by_name(report)
    (skip,) = [s for s in report["skipped"] if s["name"] == "host-compiler-unsupported"]
    assert "no nvcc would be used" in skip["reason"]
