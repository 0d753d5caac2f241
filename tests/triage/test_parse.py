"""parse_text on every recorded sample, truncated halves, garbage, and the real collect_env of CI's torch."""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from cudadoctor.facts import (
    CudaLibsFacts,
    DriverFacts,
    Facts,
    HostFacts,
    ToolkitFacts,
    TorchFacts,
    Unavailable,
    known,
)
from cudadoctor.factsfile import facts_from_dict, facts_to_dict
from cudadoctor.triage.parse import PASTED_HOST, ParsedText, parse_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COLLECT_ENV = FIXTURES / "collect_env"
OTHER = FIXTURES / "triage_parse"
SAMPLES = sorted([*COLLECT_ENV.iterdir(), *OTHER.iterdir()])


def parse_file(name: str) -> ParsedText:
    path = COLLECT_ENV / name if (COLLECT_ENV / name).exists() else OTHER / name
    return parse_text(path.read_text(encoding="utf-8"))


def get(facts: Facts, dotted: str) -> Any:
    """facts value at "torch.version" / "driver.gpus[0].name" / "torch.distributions{torchvision}"."""
    value: Any = facts
    for part in dotted.split("."):
        name, _, rest = part.partition("[")
        if "{" in name:
            name, _, dist = name.partition("{")
            value = getattr(value, name)
            value = next((d.version for d in value if d.name == dist.rstrip("}")), None)
            continue
        value = getattr(value, name)
        if rest:
            value = value[int(rest.rstrip("]"))]
    return value


#: sample -> sections expected, and dotted fact -> expected value (str() compared; "?" = Unavailable).
EXPECTED: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "real_cpu_torch2.13_debian12.txt": (("collect_env",), {
        "torch.build": "cpu", "torch.cuda_available": False, "host.os_name": "Debian GNU/Linux 12 (bookworm)",
        "toolkit.nvcc_version": "13.0", "driver": "?", "cuda_libs": "?", "host.cpu_count": 2,
    }),
    "torch2.5.1_cu124_a100_ubuntu22.txt": (("collect_env",), {
        "torch.version": "2.5.1+cu124", "torch.build": "cuda", "torch.cuda_version": "12.4", "torch.status": "ok",
        "torch.debug": False, "torch.cuda_available": True, "torch.cudnn_version": "?",
        "toolkit.nvcc_version": "12.1", "toolkit.gcc_version": "11.4.0",
        "host.os_name": "Ubuntu 22.04.4 LTS", "host.arch": "x86_64", "host.kernel": "5.15.0-105-generic",
        "host.glibc_version": "2.35", "host.python_version": "3.10.12", "host.hostname": PASTED_HOST,
        "host.cpu_model": "Intel(R) Xeon(R) Platinum 8358 CPU @ 2.60GHz", "host.cpu_count": 64,
        "torch.python_version": "3.10.12",
        "driver.nvml_status": "ok", "driver.driver_version": "535.104.5", "driver.gpus[0].name": "NVIDIA A100-SXM4-80GB",
        "driver.gpus[0].compute_capability": "8.0", "cuda_libs.copies[0].origin": "loader-cache",
        "cuda_libs.copies[0].version": "8.9.2", "cuda_libs.copies[0].library": "libcudnn",
        "torch.distributions{nvidia-cudnn-cu12}": "9.1.0.70", "torch.distributions{triton}": "3.1.0",
        "torch.distributions{torchvision}": "0.20.1+cu124",
    }),
    "torch2.3.1_cu121_8xh100_multi_cudnn.txt": (("collect_env",), {
        "torch.version": "2.3.1+cu121", "torch.cuda_version": "12.1", "host.python_version": "3.11.9",
        "driver.gpus[7].name": "NVIDIA H100 80GB HBM3", "driver.gpus[7].index": 7,
        "driver.gpus[0].compute_capability": "9.0", "cuda_libs.copies[0].version": "8.6.0",
        "cuda_libs.copies[1].version": "8.9.7", "torch.distributions{torch}": "2.3.1", "host.cpu_count": 224,
    }),
    "torch1.13.1_cu117_2x3090_conda.txt": (("collect_env",), {
        "torch.version": "1.13.1", "torch.cuda_version": "11.7", "torch.build": "cuda",
        "driver.gpus[1].name": "NVIDIA GeForce RTX 3090", "driver.gpus[1].compute_capability": "8.6",
        "cuda_libs.copies[0].path": "/usr/local/cuda-11.1/targets/x86_64-linux/lib/libcudnn.so.8.0.5",
        "toolkit.nvcc_version": "11.1", "torch.distributions{torchvision}": "0.14.1",
    }),
    "torch1.8.1_cu111_v100_old.txt": (("collect_env",), {
        "torch.version": "1.8.1+cu111", "host.python_version": "3.8", "host.os_name": "CentOS Linux release 7.9.2009 (Core)",
        "toolkit.gcc_version": "4.8.5", "toolkit.nvcc_version": "?", "driver.driver_version": "450.80.2",
        "driver.gpus[3].compute_capability": "7.0", "cuda_libs": "?",
    }),
    "torch1.0.0_cuda9_legacy.txt": (("collect_env",), {
        "torch.version": "1.0.0", "torch.debug": False, "torch.cuda_available": True, "torch.build": "cuda",
        "torch.cuda_version": "9.0.176", "host.python_version": "3.6", "driver.driver_version": "390.77",
        "driver.gpus[0].name": "GeForce GTX 1080 Ti", "cuda_libs.copies[0].version": "7.1.2",
        "torch.distributions{torchvision}": "0.2.1",
    }),
    "torch2.6.0_rocm6.2_mi250.txt": (("collect_env",), {
        "torch.build": "rocm", "torch.hip_version": "6.2.41134", "torch.cuda_version": "?", "driver": "?",
        "torch.distributions{pytorch-triton-rocm}": "3.2.0",
    }),
    "torch2.4.0_macos_arm64.txt": (("collect_env",), {
        "torch.build": "cpu", "host.arch": "arm64", "host.os_name": "macOS 14.5", "host.cpu_model": "Apple M2 Pro",
        "driver": "?", "toolkit.nvcc_version": "?", "toolkit.gcc_version": "?",
    }),
    "torch2.1.2_cu118_windows.txt": (("collect_env",), {
        "torch.cuda_version": "11.8", "driver.driver_version": "546.33", "host.os_name": "Microsoft Windows 11 Pro",
        "host.cpu_model": "13th Gen Intel(R) Core(TM) i7-13700K", "cuda_libs": "?", "driver.gpus[0].compute_capability": "8.9",
    }),
    "torch2.5.1_cu124_driver470_unavailable.txt": (("collect_env",), {
        "torch.cuda_available": False, "driver.driver_version": "470.239.6", "driver.gpus[0].compute_capability": "7.5",
        "torch.python_version": "3.9.5",
    }),
    "torch2.2.2_cu121_a100_mig.txt": (("collect_env",), {
        "driver.gpus[0].mig_enabled": True, "driver.gpus[1].mig_enabled": "?", "driver.gpus[1].index": 1,
        "toolkit.gcc_version": "8.5.0", "host.kernel": "4.18.0-513.18.1.el8_9.x86_64",
    }),
    "torch_na_not_importable.txt": (("collect_env",), {
        "torch.status": "not-installed", "torch.version": "?", "driver.gpus[0].name": "NVIDIA GeForce RTX 4090",
    }),
    "torch2.7.0_cu128_rtx5090_wsl2.txt": (("collect_env",), {
        "host.wsl2": True, "torch.cuda_version": "12.8", "driver.gpus[0].compute_capability": "12.0",
    }),
    "torch2.8.0_xpu.txt": (("collect_env",), {
        "torch.build": "?", "torch.cuda_version": "?", "torch.version": "2.8.0+xpu", "driver": "?",
    }),
    "smi_r470_v100_table.txt": (("nvidia-smi",), {
        "driver.driver_version": "470.182.3", "driver.cuda_driver_version": "11.4", "driver.gpus[0].compute_capability": "7.0",
        "driver.gpus[0].persistence_mode": True, "driver.gpus[0].ecc_enabled": True,
        "driver.gpus[0].ecc_uncorrectable_volatile": 0, "driver.gpus[0].temperature_c": 35,
        "driver.gpus[0].power_draw_w": 24.0, "driver.gpus[0].power_limit_w": 300.0,
        "driver.gpus[0].memory_total_mib": 16160, "driver.gpus[0].mig_enabled": "?", "driver.gpus[0].processes": (),
        "driver.gpus[0].pci_bus_id": "00000000:00:1E.0",
    }),
    "smi_r535_2xa100_table.txt": (("nvidia-smi",), {
        "driver.gpus[0].memory_used_mib": 40123, "driver.gpus[0].utilization_percent": 97,
        "driver.gpus[0].processes[0].pid": 48213, "driver.gpus[1].processes": (),
        "driver.gpus[1].ecc_uncorrectable_volatile": 2, "driver.gpus[1].compute_mode": "exclusive-process",
        "driver.gpus[1].mig_enabled": True, "driver.gpus[1].temperature_c": 71, "driver.gpus[0].compute_mode": "default",
    }),
    "smi_r570_h100_table.txt": (("nvidia-smi",), {
        "driver.driver_version": "570.86.15", "driver.cuda_driver_version": "12.8",
        "driver.gpus[1].pci_bus_id": "00000000:2A:00.0", "driver.gpus[1].memory_total_mib": 81559,
        "driver.gpus[0].compute_capability": "9.0", "driver.gpus[0].power_limit_w": 700.0,
    }),
    "smi_r580_rtx4090_windows_wddm.txt": (("nvidia-smi",), {
        "driver.cuda_driver_version": "13.0", "driver.gpus[0].persistence_mode": "?", "driver.gpus[0].ecc_enabled": False,
        "driver.gpus[0].compute_capability": "8.9", "driver.gpus[0].memory_used_mib": 1337,
    }),
    "smi_query_a100_r535.txt": (("nvidia-smi",), {
        "driver.driver_version": "535.104.5", "driver.gpus[0].uuid": "GPU-3f2a9c1e-5b7d-4e21-9a0b-7c6d5e4f3a21",
        "driver.gpus[0].index": 0, "driver.gpus[0].pcie_gen_current": 3, "driver.gpus[0].pcie_gen_max": 4,
        "driver.gpus[0].pcie_width_current": 8, "driver.gpus[0].pcie_width_max": 16,
        "driver.gpus[0].throttle_reasons": ("hw-slowdown", "hw-thermal"), "driver.gpus[0].ecc_uncorrectable_volatile": 3,
        "driver.gpus[0].ecc_uncorrectable_aggregate": 5, "driver.gpus[0].remapped_rows_pending": True,
        "driver.gpus[0].remapped_rows_failure": False, "driver.gpus[0].temperature_c": 88,
        "driver.gpus[0].power_draw_w": 72.55, "driver.gpus[0].power_limit_w": 400.0, "driver.gpus[0].processes": (),
        "driver.gpus[0].mig_enabled": False, "driver.gpus[0].retired_pages_pending": "?",
    }),
    "smi_query_v100_r470.txt": (("nvidia-smi",), {
        "driver.gpus[0].throttle_reasons": ("gpu-idle",), "driver.gpus[0].retired_pages_double_bit": 2,
        "driver.gpus[0].retired_pages_pending": True, "driver.gpus[0].ecc_uncorrectable_volatile": 0,
        "driver.gpus[0].power_limit_w": 300.0, "driver.gpus[0].mig_enabled": "?",
    }),
    "smi_list_mig.txt": (("nvidia-smi",), {
        "driver.gpus[0].uuid": "GPU-5a8e4c2d-1b3f-4d6e-9a7c-0b1c2d3e4f50",
        "driver.gpus[0].mig_devices[1].uuid": "MIG-1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
        "driver.gpus[0].mig_enabled": True, "driver.gpus[1].mig_devices": (), "driver.driver_version": "?",
    }),
    "smi_error_driver_not_loaded.txt": (("nvidia-smi",), {"driver.nvml_status": "driver-not-loaded", "driver.gpus": ()}),
    "smi_error_mismatch.txt": (("nvidia-smi",), {
        "driver.nvml_status": "driver-library-mismatch",
        "driver.nvml_error": "Failed to initialize NVML: Driver/library version mismatch",
    }),
    "smi_error_unknown.txt": (("nvidia-smi",), {"driver.nvml_status": "unknown-error"}),
    "smi_no_devices.txt": (("nvidia-smi",), {"driver.nvml_status": "ok", "driver.gpus": ()}),
    "smi_command_not_found.txt": (("nvidia-smi",), {"driver.nvml_status": "library-not-found"}),
    "pip_list.txt": (("pip-list",), {
        "torch.version": "2.2.1", "torch.build": "cuda", "torch.cuda_version": "12.1",
        "torch.distributions{nvidia-nvjitlink-cu12}": "12.4.99", "torch.distributions{numpy}": None, "host": "?",
    }),
    "pip_freeze.txt": (("pip-list",), {
        "torch.version": "2.5.1+cu124", "torch.python_version": "3.11", "torch.distributions{triton}": "3.1.0",
        "torch.distributions{nvidia-nvjitlink-cu12}": "12.4.127", "torch.distributions{torchvision}": "0.19.1+cu121",
    }),
    "pip_show_torch.txt": (("pip-list",), {
        "torch.version": "2.4.1+cu121", "torch.location": "/home/bob/miniconda3/envs/llm/lib/python3.11/site-packages/torch",
        "torch.python_executable": "/home/bob/miniconda3/envs/llm/bin/python3.11", "torch.python_version": "3.11",
    }),
    "conda_list.txt": (("conda-list",), {
        "torch.version": "1.12.1", "torch.cuda_version": "11.3", "torch.python_version": "3.9.12",
        "torch.distributions{torchvision}": "0.13.1",
    }),
    "conda_list_cpu.txt": (("conda-list",), {"torch.build": "cpu", "torch.version": "2.3.0"}),
    "ldd_libtorch_cuda.txt": (("ldd",), {
        "cuda_libs.resolved[0].soname": "libcudart.so.12", "cuda_libs.copies[0].origin": "usr-local-cuda",
        "cuda_libs.copies[1].origin": "pip-wheel", "cuda_libs.libcuda_files": ("/usr/lib/x86_64-linux-gnu/libcuda.so.1",),
        "driver": "?",
    }),
    "traceback_import_cudnn.txt": (("traceback",), {
        "torch.status": "import-failed", "torch.location": "/home/dave/.conda/envs/seg/lib/python3.10/site-packages/torch",
        "torch.python_version": "3.10",
    }),
    # NOTE: "found version 11040" is CUDA's encoded driver API version: the driver supports CUDA 11.4.
    # ... and only a CUDA build of torch raises it, so torch.build is inferred; its version is not in the text.
    "traceback_runtime.txt": (("traceback",), {"torch.build": "cuda", "torch.version": "?", "driver.cuda_driver_version": "11.4",
                                               "driver.driver_version": "?"}),
    "issue_mixed.md": (("collect_env", "nvidia-smi", "traceback"), {
        "driver.driver_version": "470.256.2", "driver.cuda_driver_version": "11.4", "driver.gpus[0].name": "Tesla T4",
        "driver.gpus[0].pci_bus_id": "00000000:00:04.0", "torch.version": "2.4.1+cu124", "torch.cuda_available": False,
        "torch.location": "/opt/conda/envs/exp/lib/python3.11/site-packages/torch",
        "torch.python_executable": "/opt/conda/envs/exp/bin/python3.11",
    }),
}


def test_every_sample_has_expectations() -> None:
    assert sorted(p.name for p in SAMPLES) == sorted(EXPECTED)
    assert len(SAMPLES) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample(name: str) -> None:
    sections, facts = EXPECTED[name]
    parsed = parse_file(name)
    assert parsed.sections == sections
    for dotted, want in facts.items():
        got = get(parsed.facts, dotted)
        if want == "?":
            assert isinstance(got, Unavailable), f"{dotted}: expected unknown, got {got!r}"
            assert got.probe == "triage"
        elif isinstance(want, (bool, int, float, tuple)) or want is None:
            assert got == want, f"{dotted}: {got!r} != {want!r}"
        else:
            assert str(got) == want, f"{dotted}: {got!r} != {want!r}"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_facts_are_complete_and_round_trip(path: Path) -> None:
    parsed = parse_text(path.read_text(encoding="utf-8"))
    facts = parsed.facts
    # Every area present, typed, and the whole thing survives the saved-facts codec.
    assert facts_from_dict(facts_to_dict(facts)) == facts
    for area in ("env", "container"):
        assert isinstance(facts.area(area), Unavailable)
    assert facts.area("env").reason == "not in the pasted text"  # type: ignore[union-attr]
    if isinstance(facts.host, HostFacts):
        assert facts.host.hostname == PASTED_HOST


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("part", ["head", "tail", "middle"])
def test_truncated_samples_parse_without_error(path: Path, part: str) -> None:
    text = path.read_text(encoding="utf-8")
    n = len(text)
    piece = {"head": text[: n // 2], "tail": text[n // 2:], "middle": text[n // 4: 3 * n // 4]}[part]
    parsed = parse_text(piece)
    assert set(parsed.sections) <= {"collect_env", "nvidia-smi", "pip-list", "conda-list", "ldd", "traceback"}
    assert facts_from_dict(facts_to_dict(parsed.facts)) == parsed.facts


def test_truncated_collect_env_halves_keep_what_they_hold() -> None:
    text = (COLLECT_ENV / "torch2.5.1_cu124_a100_ubuntu22.txt").read_text()
    head, tail = text.split("CUDA_MODULE_LOADING", 1)
    first = parse_text(head)
    assert first.sections == ("collect_env",)
    assert str(first.facts.torch.version) == "2.5.1+cu124"  # type: ignore[union-attr]
    assert isinstance(first.facts.driver, Unavailable)
    second = parse_text("CUDA_MODULE_LOADING" + tail)
    assert second.sections == ("collect_env",)
    assert isinstance(second.facts.driver, DriverFacts)
    assert second.facts.driver.gpus[0].name == "NVIDIA A100-SXM4-80GB"
    torch = second.facts.torch
    assert isinstance(torch, TorchFacts) and str(torch.version) == "2.5.1+cu124"  # from [pip3] torch==...
    assert "torch.python_version" in second.placeholders
    # A paste that starts inside the GPU list still yields the GPUs.
    gpus = parse_text("GPU 6: NVIDIA H100 80GB HBM3\nGPU 7: NVIDIA H100 80GB HBM3\n\nNvidia driver version: 550.54.15\n")
    assert [g.index for g in gpus.facts.driver.gpus] == [6, 7]  # type: ignore[union-attr]


def test_collect_env_cuda_runtime_is_nvcc_and_cudnn_is_loader_cache() -> None:
    facts = parse_file("torch2.5.1_cu124_a100_ubuntu22.txt").facts
    assert isinstance(facts.toolkit, ToolkitFacts) and facts.toolkit.nvcc_version == Version("12.1")
    assert isinstance(facts.torch, TorchFacts) and facts.torch.cuda_version == Version("12.4")
    assert isinstance(facts.torch.cudnn_version, Unavailable)
    assert isinstance(facts.cuda_libs, CudaLibsFacts)
    assert {c.origin for c in facts.cuda_libs.copies} == {"loader-cache"}
    assert {c.library for c in facts.cuda_libs.copies} >= {"libcudnn", "libcudnn_ops_infer", "libcudnn_adv_train"}


def test_ldd_missing_sonames() -> None:
    parsed = parse_file("ldd_libtorch_cuda.txt")
    assert parsed.missing_sonames == ("libcudnn.so.9", "libnvJitLink.so.12")
    libs = parsed.facts.cuda_libs
    assert isinstance(libs, CudaLibsFacts)
    unresolved = {r.soname for r in libs.resolved if not known(r.path)}
    assert unresolved == {"libcudnn.so.9", "libnvJitLink.so.12"}


def test_mixed_paste_merges_sections_in_any_order() -> None:
    parts = [(OTHER / n).read_text() for n in ("traceback_import_cudnn.txt", "smi_r535_2xa100_table.txt", "pip_freeze.txt", "ldd_libtorch_cuda.txt")]
    parts.append((COLLECT_ENV / "torch1.13.1_cu117_2x3090_conda.txt").read_text())
    random.Random(4).shuffle(parts)
    parsed = parse_text("Some words first.\n\n" + "\n\n".join(f"```\n{p}```" for p in parts) + "\nthanks!\n")
    assert parsed.sections == ("collect_env", "nvidia-smi", "pip-list", "ldd", "traceback")
    facts = parsed.facts
    assert isinstance(facts.driver, DriverFacts) and facts.driver.gpus[0].name == "NVIDIA A100-SXM4-80GB"  # nvidia-smi wins
    assert isinstance(facts.torch, TorchFacts) and facts.torch.status == "import-failed"
    assert str(facts.torch.version) == "1.13.1"  # collect_env's PyTorch version wins over pip freeze


def test_markdown_quoted_and_crlf_and_ansi_pastes() -> None:
    text = (COLLECT_ENV / "torch2.5.1_cu124_a100_ubuntu22.txt").read_text()
    quoted = "\r\n".join("> " + line for line in text.splitlines())
    parsed = parse_text("\x1b[1m" + quoted + "\x1b[0m")
    assert parsed.sections == ("collect_env",)
    assert str(parsed.facts.torch.version) == "2.5.1+cu124"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "", " ", "\n\n\n", "hello world", "PyTorch version:", "GPU 0:", "NVIDIA-SMI", "| | | |",
        "Traceback (most recent call last):", "=" * 100000, "GPU " * 50000, "\x00\x01\x02\xff" * 1000,
        "PyTorch version: \x00\ud800", "[pip3] torch==not-a-version", "cuDNN version: Probably one of the following:\n" + "/x\n" * 500,
        "NVIDIA-SMI 535.1 Driver Version: 535.1 CUDA Version: 12.2\n|   0  X  On  | 0000:00:00.0 Off | Z |\n",
        "==============NVSMI LOG==============\nGPU 0000:00:00.0\n" + "    a : b\n" * 5000,
        "libx.so => not found\n" * 10000, "a" * 3_000_000,
    ],
)
def test_garbage_never_raises(text: str) -> None:
    parsed = parse_text(text)
    assert isinstance(parsed.facts, Facts)


def test_random_bytes_never_raise() -> None:
    rng = random.Random(7)
    for _ in range(30):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000)))
        parse_text(data.decode("latin-1"))
        parse_text(data)  # type: ignore[arg-type]  # bytes are decoded, not rejected


def test_huge_input_is_bounded() -> None:
    line = "[pip3] torch==2.5.1  PyTorch version: 2.5.1  | 0 GPU | libcuda.so.1 => /x (0x1)\n"
    text = (COLLECT_ENV / "torch2.5.1_cu124_a100_ubuntu22.txt").read_text() + line * 400_000  # ~30 MB
    start = time.monotonic()
    parsed = parse_text(text)
    assert time.monotonic() - start < 30
    assert "the text is longer than 4 MiB" in " ".join(parsed.notes)


def test_pathological_lines_are_fast() -> None:
    for text in ("|" + " " * 1999 + "On", "GPU 0: " + "a " * 999, "File \"" + "/" * 1990 + "\"",
                 "x" * 100 + " : " + " " * 1900, "NVIDIA-SMI " + "1." * 999):
        start = time.monotonic()
        parse_text((text + "\n") * 300)
        assert time.monotonic() - start < 5, text[:40]


# --------------------------------------------------------------------------------------------
# the real collect_env of the torch installed here (CI installs CPU torch)


def test_real_collect_env_output_parses() -> None:
    if importlib.util.find_spec("torch") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("torch is not installed in CI: the real collect_env test cannot run")
        pytest.skip("torch is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.utils.collect_env"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    parsed = parse_text(proc.stdout)
    assert parsed.sections[0] == "collect_env"
    version = subprocess.run(
        [sys.executable, "-c", "import torch, sys; sys.stdout.write(torch.__version__)"],
        capture_output=True, text=True, timeout=300, env=env, check=True,
    ).stdout.strip()
    torch = parsed.facts.torch
    assert isinstance(torch, TorchFacts)
    assert torch.status == "ok"
    assert str(torch.version) == str(Version(version))
    assert torch.build in ("cpu", "cuda", "rocm")
    assert isinstance(torch.cuda_available, bool)
    assert torch.python_version.release[:2] == sys.version_info[:2]
    host = parsed.facts.host
    assert isinstance(host, HostFacts)
    assert host.python_version.release[:2] == sys.version_info[:2]
    if sys.platform.startswith("linux"):
        assert host.arch != "unknown" and host.kernel != "unknown"
    assert any(d.name == "torch" for d in torch.distributions)


def test_a_pasted_import_traceback_gets_the_probes_typed_causes() -> None:
    """The triage parser reads torch's error text with causes.classify, as the torch probe does."""
    from cudadoctor.causes import ErrorKind
    from cudadoctor.facts import TorchFacts

    text = (
        "Traceback (most recent call last):\n"
        '  File "/opt/venv/lib/python3.11/site-packages/torch/__init__.py", line 290, in <module>\n'
        "    from torch._C import *  # noqa: F403\n"
        "ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory\n"
    )
    t = parse_text(text).facts.torch
    assert isinstance(t, TorchFacts) and t.status == "import-failed"
    assert [(c.kind, c.soname) for c in t.import_error_causes] == [(ErrorKind.LIBRARY_CANNOT_OPEN, "libcudnn.so.9")]
