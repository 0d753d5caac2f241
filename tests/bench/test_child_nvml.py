"""The child's NVML part with a fake pynvml (no GPU here): device matching by UUID, PCI bus id and
MIG, the sample it takes, and how the parent decodes that sample."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from cudadoctor.bench import runner
from cudadoctor.bench.results import NvmlSample, decode_sample
from cudadoctor.facts import Unavailable
from tests.childmodule import child_module

FAKE_PYNVML = textwrap.dedent('''\
    NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 1, 2, 0
    KNOWN = {"GPU-aaaaaaaa-0000-0000-0000-000000000001": "gpu1", "MIG-bbbbbbbb-0000-0000-0000-000000000002": "mig2"}
    def nvmlInit(): pass
    def nvmlDeviceGetHandleByUUID(uuid):
        if isinstance(uuid, bytes): uuid = uuid.decode()
        if uuid not in KNOWN: raise RuntimeError("NVML_ERROR_NOT_FOUND")
        return KNOWN[uuid]
    def nvmlDeviceGetHandleByPciBusId(bus):
        if bus != "00000000:3B:00.0": raise RuntimeError("NVML_ERROR_NOT_FOUND")
        return "gpu-by-bus"
    def nvmlDeviceIsMigDeviceHandle(h): return h.startswith("mig")
    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(h): return "parent-of-" + h
    def nvmlDeviceGetClockInfo(h, t): return {1: 1410, 2: 1593}[t]
    def nvmlDeviceGetMaxClockInfo(h, t): return 1980
    def nvmlDeviceGetTemperature(h, t): return 71
    def nvmlDeviceGetPowerUsage(h): return 395123
    def nvmlDeviceGetEnforcedPowerLimit(h): return 400000
    def nvmlDeviceGetPowerManagementDefaultLimit(h): return 700000
    def nvmlDeviceGetCurrentClocksEventReasons(h): return 0x4 | 0x40 | 0x1000
    def nvmlDeviceGetCurrPcieLinkGeneration(h): return 4
    def nvmlDeviceGetCurrPcieLinkWidth(h): return 8
    def nvmlDeviceGetMaxPcieLinkGeneration(h): return 4
    def nvmlDeviceGetMaxPcieLinkWidth(h): raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
''')


@pytest.fixture(scope="module")
def child():
    return child_module(Path(runner.__file__).with_name("_bench_child.py"), "bench_child_under_test")


@pytest.fixture()
def fake_pynvml(tmp_path: Path, monkeypatch) -> str:
    path = tmp_path / "pynvml.py"
    path.write_text(FAKE_PYNVML)
    # the child tries `import pynvml` first: make that fail, so the file path is what loads
    import builtins

    real_import = builtins.__import__

    def no_pynvml(name, *args, **kwargs):
        if name == "pynvml":
            raise ImportError("No module named 'pynvml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynvml)
    return str(path)


def test_uuid_without_prefix_matches_the_gpu(child, fake_pynvml) -> None:
    nvml, why = child.open_nvml(SimpleNamespace(uuid="aaaaaaaa-0000-0000-0000-000000000001"), fake_pynvml)
    assert why == "" and nvml.handle == "gpu1" and not nvml.mig
    sample = nvml.sample()
    assert sample["values"]["sm_clock_mhz"] == 1410 and sample["values"]["power_w"] == pytest.approx(395.123)
    assert sample["values"]["throttle_reasons"] == ["sw-power-cap", "hw-thermal", "unknown-0x1000"]
    assert "pcie_width_max" in sample["errors"] and "NOT_SUPPORTED" in sample["errors"]["pcie_width_max"]
    decoded = decode_sample(sample)
    assert isinstance(decoded, NvmlSample)
    assert decoded.power_limit_w == 400.0 and decoded.default_power_limit_w == 700.0 and decoded.pcie_gen == 4
    assert isinstance(decoded.pcie_width_max, Unavailable) and "NOT_SUPPORTED" in decoded.pcie_width_max.reason


def test_mig_instance_samples_its_parent_gpu(child, fake_pynvml) -> None:
    nvml, why = child.open_nvml(SimpleNamespace(uuid="bbbbbbbb-0000-0000-0000-000000000002"), fake_pynvml)
    assert why == "" and nvml.mig and nvml.handle == "parent-of-mig2"
    assert nvml.sample()["values"]["mig"] is True


def test_pci_bus_id_is_the_fallback(child, fake_pynvml) -> None:
    props = SimpleNamespace(uuid="ffffffff-0000-0000-0000-000000000009", pci_domain_id=0, pci_bus_id=0x3B, pci_device_id=0)
    nvml, why = child.open_nvml(props, fake_pynvml)
    assert why == "" and nvml.handle == "gpu-by-bus"


def test_no_match_and_no_pynvml_say_why(child, fake_pynvml, tmp_path) -> None:
    nvml, why = child.open_nvml(SimpleNamespace(uuid="ffffffff-0000-0000-0000-000000000009"), fake_pynvml)
    assert nvml is None and "no NVML device matches" in why and "GPU-ffffffff" in why
    nvml, why = child.open_nvml(SimpleNamespace(uuid="x"), str(tmp_path / "missing.py"))
    assert nvml is None and why.startswith("NVML unavailable: ImportError: pynvml (nvidia-ml-py) is not importable")


def test_gemm_modes_skip_what_the_arch_lacks(child) -> None:
    torch = SimpleNamespace(float32="f32", float16="f16", bfloat16="bf16")  # never import torch in the tests' process
    run = SimpleNamespace(torch=torch, cuda=True, capability=(7, 5))
    assert child.gemm_modes(run, "bf16")[1] == "compute capability 7.5 has no BF16 tensor cores (needs 8.0 or newer)"
    assert child.gemm_modes(run, "tf32")[1].startswith("compute capability 7.5 has no TF32")
    assert child.gemm_modes(run, "fp16")[1] == ""
    run.capability = (6, 0)
    assert "FP16" in child.gemm_modes(run, "fp16")[1]
    assert child.gemm_modes(run, "fp32")[1] == ""


def test_injection_targets_one_index(child, monkeypatch) -> None:
    monkeypatch.setenv(child.INJECT_ENV, "hang:1")
    assert child.injection(1) == "hang" and child.injection(0) == ""
    monkeypatch.setenv(child.INJECT_ENV, "Corrupt")
    assert child.injection(3) == "corrupt"
