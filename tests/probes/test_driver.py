"""Tests of the driver probe: its parsers on recorded samples, and the whole probe through stub libraries."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from cudadoctor._util import CommandResult
from cudadoctor.facts import DriverFacts, GpuFacts, Unavailable, known
from cudadoctor.factsfile import facts_from_dict, facts_to_dict
from cudadoctor.probes import driver, driver_parse
from cudadoctor.probes.base import ProbeContext
from tests.conftest import env_facts, without_system_driver
from tests.stubs import compile_stub

RAW = Path(__file__).parents[1] / "fixtures" / "raw" / "driver"


def sample(name: str) -> dict[str, Any]:
    """A recorded children document."""
    return json.loads((RAW / f"{name}.json").read_text())


def proc(name: str) -> str:
    """A recorded /proc/driver/nvidia/version."""
    return (RAW / f"proc_version_{name}.txt").read_text()


NO_PROC = Unavailable(probe="driver", reason="/proc/driver/nvidia/version does not exist")


def reason(value: object) -> str:
    assert isinstance(value, Unavailable), f"expected Unavailable, got {value!r}"
    return value.reason


# ============================================================================================
# pure parsers


@pytest.mark.parametrize(
    ("name", "version", "open_module"),
    [
        ("proprietary_550", "550.54.14", False),
        ("proprietary_535", "535.183.01", False),
        ("open_550", "550.54.14", True),
        ("open_aarch64_560", "560.35.03", True),
        ("legacy_390", "390.157", False),
    ],
)
def test_parse_proc_version(name: str, version: str, open_module: bool) -> None:
    parsed = driver_parse.parse_proc_version(proc(name))
    assert parsed.module_version == Version(version)
    assert parsed.open_module is open_module
    assert parsed.first_line.startswith("NVRM version: NVIDIA UNIX")
    assert "GCC" not in parsed.first_line


def test_parse_proc_version_placeholder_is_unavailable() -> None:
    parsed = driver_parse.parse_proc_version(proc("l4t_placeholder"))
    assert "TempVersion" in reason(parsed.module_version)
    assert parsed.first_line.startswith("NVRM version")


@pytest.mark.parametrize("text", ["", "\n\n", "something else entirely\n"])
def test_parse_proc_version_garbage(text: str) -> None:
    assert not known(driver_parse.parse_proc_version(text).module_version)


@pytest.mark.parametrize(
    ("value", "expected"), [(12040, "12.4"), (11080, "11.8"), (13000, "13.0"), (12090, "12.9"), (10010, "10.1")]
)
def test_cuda_version_from_int(value: int, expected: str) -> None:
    assert driver_parse.cuda_version_from_int(value) == Version(expected)


@pytest.mark.parametrize("value", [0, -1])
def test_cuda_version_from_int_rejects_nonsense(value: int) -> None:
    with pytest.raises(ValueError):
        driver_parse.cuda_version_from_int(value)


@pytest.mark.parametrize(
    ("mask", "names"),
    [
        (0, ()),
        (0x1, ("gpu-idle",)),
        (0x48, ("hw-slowdown", "hw-thermal")),
        (0x24, ("sw-power-cap", "sw-thermal")),
        (0x80, ("hw-power-brake",)),
        (
            0x1FF,
            ("gpu-idle", "applications-clocks", "sw-power-cap", "hw-slowdown", "sync-boost", "sw-thermal",
             "hw-thermal", "hw-power-brake", "display-clocks"),
        ),
        (0x201, ("gpu-idle", "unknown-0x200")),
    ],
)
def test_decode_throttle_reasons(mask: int, names: tuple[str, ...]) -> None:
    assert driver_parse.decode_throttle_reasons(mask) == names


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14", "550.54.14"),
        ("/usr/lib64/libcuda.so.390.157", "390.157"),
        ("/usr/local/cuda-12.4/compat/libcuda.so.550.54.15", "550.54.15"),
        ("/usr/lib/wsl/lib/libcuda.so.1.1", "carries no driver version"),
        ("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "carries no driver version"),
        ("/usr/local/cuda/lib64/stubs/libcuda.so", "link-time stub"),
    ],
)
def test_parse_libcuda_filename(path: str, expected: str) -> None:
    got = driver_parse.parse_libcuda_filename(path)
    if expected[0].isdigit():
        assert got == Version(expected)
    else:
        assert expected in reason(got)


def test_healthy_h100_sample() -> None:
    facts = driver_parse.parse_child_output(sample("h100_ok"), proc_version=proc("proprietary_550"))
    assert facts.nvml_status == "ok" and facts.nvml_error == ""
    assert facts.driver_version == facts.kernel_module_version == facts.libcuda_version == Version("550.54.14")
    assert facts.cuda_driver_version == facts.libcuda_cuda_version == Version("12.4")
    assert facts.proc_version_text == proc("proprietary_550").splitlines()[0].strip()
    assert facts.libcuda_path == "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14"
    assert (facts.cu_init_result, facts.cu_init_error, facts.cu_device_count) == (0, "", 1)
    (gpu,) = facts.gpus
    assert gpu == GpuFacts(
        index=0, name="NVIDIA H100 80GB HBM3", uuid="GPU-00000000-1111-2222-3333-444455550000",
        pci_bus_id="00000000:18:00.0", compute_capability=Version("9.0"), memory_total_mib=81559,
        memory_used_mib=500, mig_enabled=False, mig_devices=(), ecc_enabled=True, ecc_uncorrectable_volatile=0,
        ecc_uncorrectable_aggregate=0, retired_pages_double_bit=0, retired_pages_pending=False,
        remapped_rows_pending=False, remapped_rows_failure=False, persistence_mode=True, compute_mode="default",
        pcie_gen_current=5, pcie_gen_max=5, pcie_width_current=16, pcie_width_max=16,
        throttle_reasons=("gpu-idle",), temperature_c=34, power_draw_w=72.5, power_limit_w=700.0,
        utilization_percent=0, processes=gpu.processes,
    )
    (process,) = gpu.processes  # type: ignore[misc]
    assert (process.pid, process.name, process.used_memory_mib) == (1, "python3", 4242)


def test_mig_sample() -> None:
    facts = driver_parse.parse_child_output(sample("a100_mig"), proc_version=proc("proprietary_535"))
    (gpu,) = facts.gpus
    assert gpu.mig_enabled is True
    assert [m.index for m in gpu.mig_devices] == [0, 1, 2]
    assert all(m.uuid.startswith("MIG-") and m.memory_total_mib == 9984 for m in gpu.mig_devices)
    assert len({m.uuid for m in gpu.mig_devices}) == 3
    assert "not supported on this GPU/driver" in reason(gpu.utilization_percent)
    # Ampere replaced page retirement with row remapping.
    assert "not supported" in reason(gpu.retired_pages_double_bit)
    assert gpu.remapped_rows_pending is False and gpu.remapped_rows_failure is False
    assert gpu.compute_capability == Version("8.0") and gpu.pcie_gen_max == 4


def test_consumer_gpu_sample() -> None:
    facts = driver_parse.parse_child_output(sample("rtx4090_consumer"), proc_version=proc("open_550"))
    (gpu,) = facts.gpus
    for value in (gpu.ecc_enabled, gpu.ecc_uncorrectable_volatile, gpu.ecc_uncorrectable_aggregate,
                  gpu.retired_pages_double_bit, gpu.retired_pages_pending, gpu.remapped_rows_pending,
                  gpu.remapped_rows_failure, gpu.mig_enabled):
        assert reason(value).endswith("not supported on this GPU/driver")
        assert value.detail == "NVML error 3: Not Supported"  # type: ignore[union-attr]
    assert "ECC mode of GPU 0" in reason(gpu.ecc_enabled)
    assert gpu.throttle_reasons == ("sw-power-cap", "sw-thermal")
    assert (gpu.pcie_gen_current, gpu.pcie_gen_max, gpu.pcie_width_current, gpu.pcie_width_max) == (1, 4, 16, 16)
    assert gpu.persistence_mode is False
    assert (gpu.temperature_c, gpu.power_draw_w, gpu.power_limit_w, gpu.utilization_percent) == (81, 431.25, 450.0, 99)
    mine, foreign = gpu.processes  # type: ignore[misc]
    assert (mine.name, mine.used_memory_mib) == ("python3", 20110)
    assert foreign.pid == 4000000 and foreign.used_memory_mib == 1200
    assert "host's PIDs" in reason(foreign.name)


def test_old_driver_sample() -> None:
    facts = driver_parse.parse_child_output(sample("old_driver_470"), proc_version=proc("proprietary_535"))
    assert facts.driver_version == Version("470.256.02")
    assert facts.cuda_driver_version == Version("11.4")
    assert facts.libcuda_version == Version("470.256.02")
    # The kernel module is read from its own source, so the mismatch stays visible.
    assert facts.kernel_module_version == Version("535.183.01")
    (gpu,) = facts.gpus
    assert gpu.throttle_reasons == ("gpu-idle",)  # from the pre-535 "throttle reasons" call
    assert "not supported" in reason(gpu.remapped_rows_pending)


def test_mismatch_sample_falls_back_to_libcuda_for_the_driver_version() -> None:
    facts = driver_parse.parse_child_output(sample("mismatch_18"), proc_version=proc("proprietary_535"))
    assert facts.nvml_status == "driver-library-mismatch"
    assert facts.nvml_error == "Driver/library version mismatch"
    assert facts.driver_version == facts.libcuda_version == Version("550.54.14")
    assert facts.kernel_module_version == Version("535.183.01")
    assert facts.cuda_driver_version == Version("12.4")  # from cuDriverGetVersion
    assert facts.gpus == ()


def test_unknown_error_sample() -> None:
    facts = driver_parse.parse_child_output(sample("unknown_999"), proc_version=proc("proprietary_550"))
    assert facts.nvml_status == "unknown-error"
    assert facts.nvml_error == "Unknown Error"
    assert (facts.cu_init_result, facts.cu_init_error) == (999, "CUDA_ERROR_UNKNOWN")
    assert "suspend/resume" in reason(facts.cu_device_count)
    assert facts.driver_version == Version("550.54.14")


def test_driver_not_loaded_sample() -> None:
    facts = driver_parse.parse_child_output(sample("driver_not_loaded_9"), proc_version=NO_PROC)
    assert facts.nvml_status == "driver-not-loaded"
    assert (facts.cu_init_result, facts.cu_init_error) == (100, "CUDA_ERROR_NO_DEVICE")
    assert facts.kernel_module_version is NO_PROC


def test_library_not_found_sample() -> None:
    facts = driver_parse.parse_child_output(sample("library_not_found"), proc_version=NO_PROC)
    assert facts.nvml_status == "library-not-found"
    assert facts.nvml_error.startswith("NVML Shared Library Not Found")
    assert "libnvidia-ml.so.1" in reason(facts.driver_version)
    assert "not installed or not on the loader path" in reason(facts.libcuda_path)
    assert facts.cu_init_error == "" and not known(facts.cu_init_result)


def test_init_hang_sample_keeps_what_was_read() -> None:
    facts = driver_parse.parse_child_output(sample("init_hang"), proc_version=NO_PROC)
    assert facts.nvml_status == "timeout"
    assert "nvmlInit" in facts.nvml_error
    assert "cuInit did not return" in reason(facts.cu_init_result)
    assert "cuInit did not return" in reason(facts.cu_device_count)
    # libcuda loaded and answered cuDriverGetVersion before cuInit hung.
    assert facts.libcuda_version == facts.driver_version == Version("550.54.14")
    assert facts.libcuda_cuda_version == facts.cuda_driver_version == Version("12.4")


def test_gpu_hang_sample_keeps_earlier_gpus_and_fields() -> None:
    facts = driver_parse.parse_child_output(sample("gpu_hang"), proc_version=NO_PROC)
    assert facts.nvml_status == "timeout"
    assert "nvmlDeviceGetTemperature (GPU 1)" in facts.nvml_error
    first, second = facts.gpus
    assert first.temperature_c == 34 and first.processes == ()
    assert second.name == "NVIDIA H100 80GB HBM3" and second.throttle_reasons == ("gpu-idle",)
    assert "stopped answering in nvmlDeviceGetTemperature (GPU 1)" in reason(second.temperature_c)
    assert "stopped answering" in reason(second.power_draw_w)


def test_gpu_lost_sample() -> None:
    facts = driver_parse.parse_child_output(sample("gpu_lost"), proc_version=NO_PROC)
    assert facts.nvml_status == "ok"
    healthy, lost = facts.gpus
    assert healthy.name and healthy.ecc_enabled is True
    assert (lost.index, lost.name, lost.uuid, lost.pci_bus_id) == (1, "", "", "")
    for field in dataclasses.fields(GpuFacts):
        value = getattr(lost, field.name)
        if isinstance(value, Unavailable):
            assert "fallen off the bus" in value.reason
    assert lost.mig_devices == ()


def test_compat_804_sample() -> None:
    facts = driver_parse.parse_child_output(sample("compat_804"), proc_version=proc("proprietary_535"))
    assert facts.libcuda_path == "/usr/local/cuda-12.4/compat/libcuda.so.550.54.14"
    assert facts.libcuda_version == Version("550.54.14")
    assert facts.driver_version == facts.kernel_module_version == Version("535.183.01")
    assert (facts.cu_init_result, facts.cu_init_error) == (804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE")
    assert "forward-compatibility" in reason(facts.cu_device_count)


def test_fabric_802_sample() -> None:
    facts = driver_parse.parse_child_output(sample("fabric_802"), proc_version=proc("proprietary_550"))
    assert len(facts.gpus) == 8
    assert [g.index for g in facts.gpus] == list(range(8))
    assert (facts.cu_init_result, facts.cu_init_error) == (802, "CUDA_ERROR_SYSTEM_NOT_READY")
    assert "fabricmanager" in reason(facts.cu_device_count)


def test_crash_sample() -> None:
    facts = driver_parse.parse_child_output(sample("nvml_crash"), proc_version=NO_PROC)
    assert facts.nvml_status == "other"
    assert facts.nvml_error == "the NVML child was killed by SIGSEGV in nvmlInit"
    assert facts.driver_version == Version("550.54.14")  # libcuda still answered
    assert facts.gpus == ()
    alone = {"nvml": sample("nvml_crash")["nvml"], "libcuda": sample("library_not_found")["libcuda"]}
    facts = driver_parse.parse_child_output(alone, proc_version=NO_PROC)
    assert "crashed (killed by SIGSEGV in nvmlInit)" in reason(facts.cuda_driver_version)


def test_cu_error_name_falls_back_to_cuda_h() -> None:
    doc = sample("unknown_999")
    doc["libcuda"]["cu_init"] = {"v": 34, "t": ""}
    facts = driver_parse.parse_child_output(doc, proc_version=NO_PROC)
    assert facts.cu_init_error == "CUDA_ERROR_STUB_LIBRARY"
    assert "link-time stub" in reason(facts.cu_device_count)


def test_unexpected_values_become_unavailable() -> None:
    doc = sample("h100_ok")
    gpu = doc["nvml"]["gpus"][0]
    gpu["compute_mode"] = {"v": 42}
    gpu["memory"] = {"v": "lots"}
    gpu["compute_capability"] = {"v": []}
    doc["nvml"]["driver_version"] = {"v": "r550_00"}
    facts = driver_parse.parse_child_output(doc, proc_version=NO_PROC)
    (g,) = facts.gpus
    assert "unexpected value 42" in reason(g.compute_mode)
    assert not known(g.memory_total_mib) and not known(g.memory_used_mib) and not known(g.compute_capability)
    # NVML's version is not a version: the libcuda file name still gives one.
    assert facts.driver_version == Version("550.54.14")


def test_parse_child_output_accepts_json_text() -> None:
    text = (RAW / "h100_ok.json").read_text()
    assert driver_parse.parse_child_output(text, proc_version=NO_PROC).gpus[0].index == 0


@pytest.mark.parametrize("bad", [{}, {"nvml": "x", "libcuda": 3}])
def test_parse_child_output_survives_missing_sections(bad: dict[str, Any]) -> None:
    facts = driver_parse.parse_child_output(bad, proc_version=NO_PROC)
    assert facts.nvml_status == "other"
    assert not known(facts.driver_version) and not known(facts.libcuda_path)


def _result(rc: int | None, out: str = "", err: str = "", timed_out: bool = False) -> CommandResult:
    return CommandResult(rc, out, err, timed_out)


def test_child_document_records_failures() -> None:
    doc = driver.child_document
    ok = doc("nvml", _result(0, json.dumps({"nvml": {"init": {"v": True}}})), timeout=5, watchdog=4)
    assert ok == {"init": {"v": True}, "limit_s": 4}
    assert doc("nvml", _result(None, timed_out=True), timeout=5, watchdog=4)["failed"] == "timeout"
    crash = doc("nvml", _result(-11, err="step: nvmlInit\nFatal Python error"), timeout=5, watchdog=4)
    assert crash["failed"] == "crash" and crash["returncode"] == -11
    assert doc("nvml", _result(0, "not json"), timeout=5, watchdog=4)["failed"] == "garbage"
    assert doc("nvml", _result(0, json.dumps({"libcuda": {}})), timeout=5, watchdog=4)["failed"] == "garbage"
    assert doc("nvml", _result(0, "[1]"), timeout=5, watchdog=4)["failed"] == "garbage"
    assert doc("nvml", FileNotFoundError("no python"), timeout=5, watchdog=4)["failed"] == "not-started"


def test_killed_children_become_timeout_facts() -> None:
    failed = {"failed": "timeout", "timeout": 7.0, "detail": ""}
    facts = driver_parse.parse_child_output({"nvml": failed, "libcuda": failed}, proc_version=NO_PROC)
    assert facts.nvml_status == "timeout"
    assert facts.nvml_error == "the NVML child was killed after 7 s"
    assert "Xid" in reason(facts.cuda_driver_version)
    assert "libcuda.so.1 did not answer within 7 s" in reason(facts.cu_init_result)


@pytest.mark.parametrize("name", sorted(p.stem for p in RAW.glob("*.json")))
def test_every_sample_round_trips_through_the_facts_file(name: str) -> None:
    facts = driver_parse.parse_child_output(sample(name), proc_version=proc("proprietary_550"))
    whole = dataclasses.replace(env_facts("healthy_h100_cu128"), driver=facts)
    again = facts_from_dict(json.loads(json.dumps(facts_to_dict(whole))))
    assert again.driver == facts


def test_watchdog_leaves_the_child_time_to_report() -> None:
    for timeout in (0.5, 1.0, 5.0, 30.0, 120.0):
        assert 0 < driver.watchdog_seconds(timeout) < timeout


# ============================================================================================
# the whole probe, through the real loading path: pynvml and ctypes load the stub libraries
# from LD_LIBRARY_PATH in the child processes


@pytest.fixture(scope="session")
def stub_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Compiled stubs, one directory each so LD_LIBRARY_PATH picks the combination."""
    root = tmp_path_factory.mktemp("driver-stubs")
    compile_stub("nvml_stub.c", root / "nvml", "libnvidia-ml.so.1", soname="libnvidia-ml.so.1")
    compile_stub("nvml_stub.c", root / "nvml-old", "libnvidia-ml.so.1", soname="libnvidia-ml.so.1",
                 defines={"OLD_DRIVER": 1})
    for version in ("550.54.14", "535.183.01"):
        compile_stub("cuda_stub.c", root / f"cuda-{version}", f"libcuda.so.{version}", soname="libcuda.so.1",
                     links={"libcuda.so.1": f"libcuda.so.{version}"})
    (root / "empty").mkdir()
    return {p.name: p for p in root.iterdir()}


Use = Callable[..., None]


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch, stub_dirs: dict[str, Path], tmp_path: Path) -> Use:
    """Choose the stub libraries, the STUB_* settings and the /proc text the probe will see."""

    def configure(*libs: str, proc_text: str | None = None, **stub: object) -> None:
        for name in list(os.environ):
            if name.startswith("STUB_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("LD_LIBRARY_PATH", ":".join(str(stub_dirs[lib]) for lib in libs or ("empty",)))
        for name, value in stub.items():
            monkeypatch.setenv(f"STUB_{name.upper()}", str(value))
        path = tmp_path / "nvidia-version"
        if proc_text is not None:
            path.write_text(proc_text)
        monkeypatch.setattr(driver, "PROC_VERSION_PATH", str(path))

    return configure


def probe(timeout: float = 30.0) -> DriverFacts:
    facts = driver.probe_driver(ProbeContext(python=sys.executable, timeout=timeout))
    assert isinstance(facts, DriverFacts)
    return facts


def test_probe_healthy_one_gpu(use: Use) -> None:
    use("nvml", "cuda-550.54.14", proc_text=proc("proprietary_550"))
    facts = probe()
    assert facts.nvml_status == "ok" and facts.nvml_error == ""
    assert facts.driver_version == facts.kernel_module_version == facts.libcuda_version == Version("550.54.14")
    assert facts.cuda_driver_version == facts.libcuda_cuda_version == Version("12.4")
    assert str(facts.libcuda_path).endswith("/cuda-550.54.14/libcuda.so.550.54.14")
    assert (facts.cu_init_result, facts.cu_init_error, facts.cu_device_count) == (0, "", 1)
    (gpu,) = facts.gpus
    recorded = driver_parse.parse_child_output(sample("h100_ok"), proc_version=NO_PROC).gpus[0]
    assert gpu == dataclasses.replace(recorded, processes=())


def test_probe_eight_gpus(use: Use) -> None:
    use("nvml", "cuda-550.54.14", nvml_gpus=8, cuda_devices=8)
    facts = probe()
    assert [g.index for g in facts.gpus] == list(range(8))
    assert len({g.uuid for g in facts.gpus}) == len({g.pci_bus_id for g in facts.gpus}) == 8
    assert facts.cu_device_count == 8


def test_probe_mig(use: Use) -> None:
    use("nvml", nvml_gpus=2, nvml_mig=3, nvml_name="NVIDIA A100-SXM4-80GB", nvml_cc="8.0")
    facts = probe()
    for gpu in facts.gpus:
        assert gpu.mig_enabled is True
        assert [m.index for m in gpu.mig_devices] == [0, 1, 2]
        assert all(m.uuid.startswith("MIG-") and m.name == "NVIDIA A100-SXM4-80GB MIG 1g.10gb" for m in gpu.mig_devices)
    assert len({m.uuid for g in facts.gpus for m in g.mig_devices}) == 6


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        (18, "driver-library-mismatch", "Driver/library version mismatch"),
        (999, "unknown-error", "Unknown Error"),
        (9, "driver-not-loaded", "Driver Not Loaded"),
        (4, "no-permission", "Insufficient Permissions"),
        (17, "other", "The operating system has blocked the request."),
    ],
)
def test_probe_nvml_init_errors(use: Use, code: int, status: str, error: str) -> None:
    use("nvml", "cuda-550.54.14", proc_text=proc("proprietary_535"), nvml_init=code)
    facts = probe()
    assert (facts.nvml_status, facts.nvml_error, facts.gpus) == (status, error, ())
    assert facts.driver_version == Version("550.54.14")  # from the libcuda file
    assert facts.kernel_module_version == Version("535.183.01")
    assert facts.cuda_driver_version == Version("12.4")  # from cuDriverGetVersion


@without_system_driver  # libcuda would come from the system
def test_probe_mismatch_reason_is_plain(use: Use) -> None:
    use("nvml", proc_text=proc("proprietary_535"), nvml_init=18)
    facts = probe()
    # No libcuda here: the driver version falls back to the kernel module's.
    assert facts.driver_version == facts.kernel_module_version == Version("535.183.01")
    assert "driver upgrade without a reboot" in reason(facts.cuda_driver_version)


@without_system_driver
def test_probe_library_not_found(use: Use) -> None:
    use("empty")
    facts = probe()
    assert facts.nvml_status == "library-not-found"
    assert "libnvidia-ml.so.1" in facts.nvml_error
    assert "libnvidia-ml.so.1" in reason(facts.driver_version)


def test_probe_hanging_nvml_init_is_cut_off(use: Use) -> None:
    use("nvml", "cuda-550.54.14", nvml_hang=1)
    start = time.monotonic()
    facts = probe(timeout=1.5)
    assert time.monotonic() - start < 5
    assert facts.nvml_status == "timeout"
    assert "nvmlInit" in facts.nvml_error
    assert facts.cuda_driver_version == Version("12.4")  # libcuda still answered
    assert facts.cu_init_result == 0  # libcuda, in its own child, was not held up


def test_probe_hard_timeout_kills_the_child(use: Use, monkeypatch: pytest.MonkeyPatch) -> None:
    # A watchdog later than the parent's timeout: the parent must kill the child itself.
    monkeypatch.setattr(driver, "watchdog_seconds", lambda timeout: timeout * 10)
    use("nvml", "cuda-550.54.14", nvml_hang=1, cuda_hang=1)
    start = time.monotonic()
    facts = probe(timeout=1.0)
    assert time.monotonic() - start < 5
    assert facts.nvml_status == "timeout"
    assert facts.nvml_error == "the NVML child was killed after 1 s"
    assert "libcuda.so.1 did not answer within 1 s" in reason(facts.cu_init_result)


def test_probe_hanging_cuinit(use: Use) -> None:
    use("nvml", "cuda-550.54.14", cuda_hang=1)
    facts = probe(timeout=1.5)
    assert facts.nvml_status == "ok" and len(facts.gpus) == 1
    assert "cuInit did not return" in reason(facts.cu_init_result)
    assert facts.libcuda_version == Version("550.54.14")


def test_probe_gpu_hang_keeps_partial_results(use: Use) -> None:
    use("nvml", nvml_gpus=12, nvml_hang_gpu=1)
    facts = probe(timeout=1.5)
    assert facts.nvml_status == "timeout"
    assert facts.nvml_error.startswith("nvmlDeviceGetTemperature (GPU 1) did not return within")
    assert [g.index for g in facts.gpus] == list(range(12))
    # GPUs are queried side by side, so the hung one holds up only itself.
    assert [g.temperature_c for g in facts.gpus if g.index != 1] == [34] * 11
    stuck = facts.gpus[1]
    assert stuck.pcie_width_max == 16
    assert "stopped answering in nvmlDeviceGetTemperature (GPU 1)" in reason(stuck.temperature_c)


def test_probe_nvml_crash(use: Use) -> None:
    use("nvml", "cuda-550.54.14", nvml_crash=1)
    facts = probe()
    assert facts.nvml_status == "other"
    assert facts.nvml_error == "the NVML child was killed by SIGSEGV in nvmlInit"
    assert facts.cu_init_result == 0


def test_probe_libcuda_crash(use: Use) -> None:
    use("nvml", "cuda-550.54.14", cuda_crash=1)
    facts = probe()
    assert facts.nvml_status == "ok" and len(facts.gpus) == 1
    assert "crashed (killed by SIGSEGV in cuInit)" in reason(facts.cu_init_result)
    assert not known(facts.libcuda_path)


def test_probe_system_query_failures(use: Use) -> None:
    use("nvml", "cuda-550.54.14", nvml_fail="nvmlSystemGetDriverVersion=999,nvmlDeviceGetCount=999")
    facts = probe()
    assert facts.nvml_status == "unknown-error"
    assert facts.nvml_error == "nvmlDeviceGetCount: Unknown Error"
    assert facts.driver_version == Version("550.54.14")  # the libcuda file's
    assert facts.cuda_driver_version == Version("12.4")  # NVML's own, which still answered
    assert facts.gpus == ()


def test_probe_per_field_errors(use: Use) -> None:
    use("nvml", nvml_fail="nvmlDeviceGetEccMode=3,nvmlDeviceGetTotalEccErrors=3,nvmlDeviceGetPowerUsage=4,"
                          "nvmlDeviceGetRemappedRows=13,nvmlDeviceGetTemperature=15,nvmlDeviceGetUUID=999")
    (gpu,) = probe().gpus
    assert reason(gpu.ecc_enabled) == "ECC mode of GPU 0: not supported on this GPU/driver"
    assert "not supported on this GPU/driver" in reason(gpu.ecc_uncorrectable_volatile)
    assert "permission" in reason(gpu.power_draw_w)
    assert reason(gpu.remapped_rows_failure) == "remapped rows of GPU 0: driver too old for this query"
    assert "fallen off the bus" in reason(gpu.temperature_c)
    assert gpu.uuid == "" and gpu.name == "NVIDIA H100 80GB HBM3"
    assert gpu.power_limit_w == 700.0


def test_probe_old_driver_uses_the_older_calls(use: Use) -> None:
    use("nvml-old", nvml_driver="470.256.02", nvml_cuda=11040, nvml_throttle=0x48)
    facts = probe()
    assert facts.driver_version == Version("470.256.02")
    assert facts.cuda_driver_version == Version("11.4")
    assert facts.gpus[0].throttle_reasons == ("hw-slowdown", "hw-thermal")


def test_probe_lost_gpu(use: Use) -> None:
    use("nvml", nvml_gpus=2, nvml_lost_gpu=0)
    lost, healthy = probe().gpus
    assert lost.uuid == "" and "fallen off the bus" in reason(lost.memory_total_mib)
    assert healthy.uuid.startswith("GPU-")


def test_probe_ecc_and_memory_health(use: Use) -> None:
    use("nvml", nvml_ecc_dbe=2, nvml_retired_pending=1, nvml_remap="0,3,1,1")
    (gpu,) = probe().gpus
    assert (gpu.ecc_uncorrectable_volatile, gpu.ecc_uncorrectable_aggregate, gpu.retired_pages_double_bit) == (2, 2, 2)
    assert gpu.retired_pages_pending is True
    assert gpu.remapped_rows_pending is True and gpu.remapped_rows_failure is True


def test_probe_settings(use: Use) -> None:
    use("nvml", nvml_persistence=0, nvml_compute_mode=3, nvml_pcie="3,5,8,16", nvml_power_mw=123456)
    (gpu,) = probe().gpus
    assert gpu.persistence_mode is False and gpu.compute_mode == "exclusive-process"
    assert (gpu.pcie_gen_current, gpu.pcie_gen_max, gpu.pcie_width_current, gpu.pcie_width_max) == (3, 5, 8, 16)
    assert gpu.power_draw_w == 123.456


def test_probe_processes_are_named_from_proc(use: Use) -> None:
    me = os.getpid()
    use("nvml", nvml_procs=f"{me}:512,4000000:64")
    (gpu,) = probe().gpus
    mine, ghost = gpu.processes  # type: ignore[misc]
    assert mine.pid == me and mine.used_memory_mib == 512
    assert mine.name == Path("/proc/self/comm").read_text().strip()
    assert ghost.used_memory_mib == 64 and "not visible here" in reason(ghost.name)


def test_probe_proc_version_disagrees_with_nvml(use: Use) -> None:
    use("nvml", "cuda-550.54.14", proc_text=proc("open_550").replace("550.54.14", "550.40.07"))
    facts = probe()
    assert facts.driver_version == facts.libcuda_version == Version("550.54.14")
    assert facts.kernel_module_version == Version("550.40.07")
    assert "Open Kernel Module" in str(facts.proc_version_text)


@pytest.mark.parametrize(
    ("code", "name"),
    [(999, "CUDA_ERROR_UNKNOWN"), (804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"), (100, "CUDA_ERROR_NO_DEVICE"),
     (802, "CUDA_ERROR_SYSTEM_NOT_READY")],
)
def test_probe_cuinit_errors(use: Use, code: int, name: str) -> None:
    use("nvml", "cuda-550.54.14", cuda_init=code)
    facts = probe()
    assert (facts.cu_init_result, facts.cu_init_error) == (code, name)
    assert f"cuInit(0) failed with {code} {name}" in reason(facts.cu_device_count)
    assert facts.nvml_status == "ok"


@without_system_driver
def test_probe_libcuda_only(use: Use) -> None:
    use("cuda-535.183.01", cuda_version=12020)
    facts = probe()
    assert facts.nvml_status == "library-not-found"
    assert facts.driver_version == facts.libcuda_version == Version("535.183.01")
    assert facts.cuda_driver_version == Version("12.2")


def test_probe_never_raises_without_an_interpreter(use: Use, monkeypatch: pytest.MonkeyPatch) -> None:
    use("nvml")
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    facts = probe()
    assert facts.nvml_status == "other"
    assert "could not start" in facts.nvml_error
    assert "could not start" in reason(facts.libcuda_path)


def test_child_script_stands_alone() -> None:
    source = driver.child_source()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports and not any("cudadoctor" in line for line in imports)
    compile(source, "_driver_child.py", "exec")


# ============================================================================================
# this machine, as it really is


@without_system_driver
def test_probe_on_this_machine_without_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    facts = probe()
    assert facts.nvml_status == "library-not-found"
    assert "libnvidia-ml.so.1: cannot open shared object file" in facts.nvml_error
    assert "NVML (libnvidia-ml.so.1) was not found by the dynamic loader" in reason(facts.driver_version)
    assert "the NVIDIA kernel module (nvidia.ko) is not loaded" in reason(facts.kernel_module_version)
    assert "libcuda.so.1 (the NVIDIA driver's CUDA library) is not installed" in reason(facts.libcuda_path)
    assert facts.gpus == () and facts.cu_init_error == ""


@pytest.mark.gpu
def test_probe_on_a_real_gpu() -> None:
    facts = probe()
    assert facts.nvml_status == "ok", facts.nvml_error
    assert facts.gpus and all(known(g.compute_capability) for g in facts.gpus)
    assert facts.driver_version == facts.kernel_module_version == facts.libcuda_version
    assert facts.cu_init_result == 0 and facts.cu_device_count == len(facts.gpus)
