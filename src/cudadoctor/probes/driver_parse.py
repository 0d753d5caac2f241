"""The driver probe's pure half: what the NVML and libcuda children and /proc said, as DriverFacts.

probes/driver.py runs the children (``_driver_child.py``) and reads /proc/driver/nvidia/version;
everything here interprets that data without touching the machine, so it is tested on recorded
samples under tests/fixtures/raw/driver/. A value a source could not give becomes
``Unavailable`` carrying why, in words a user can act on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from packaging.version import InvalidVersion, Version

from cudadoctor._util import describe_returncode
from cudadoctor.causes import gpu_indices_named
from cudadoctor.facts import DriverFacts, GpuFacts, GpuProcess, MigDevice, NvmlStatus, Unavailable, known, parse_version

T = TypeVar("T")

PROBE = "driver"
MIB = 1024 * 1024

#: NVML init return codes -> DriverFacts.nvml_status (everything else is OTHER).
NVML_STATUS_BY_CODE: dict[int, NvmlStatus] = {
    12: NvmlStatus.LIBRARY_NOT_FOUND,  # NVML_ERROR_LIBRARY_NOT_FOUND
    9: NvmlStatus.DRIVER_NOT_LOADED,  # NVML_ERROR_DRIVER_NOT_LOADED
    18: NvmlStatus.DRIVER_LIBRARY_MISMATCH,  # NVML_ERROR_LIB_RM_VERSION_MISMATCH
    999: NvmlStatus.UNKNOWN_ERROR,  # NVML_ERROR_UNKNOWN
    4: NvmlStatus.NO_PERMISSION,  # NVML_ERROR_NO_PERMISSION
}

#: What an NVML failure means for the user, per nvml_status (why NVML gave no answer).
NVML_STATUS_REASONS: dict[NvmlStatus, str] = {
    NvmlStatus.LIBRARY_NOT_FOUND: (
        "NVML (libnvidia-ml.so.1) was not found by the dynamic loader: the NVIDIA driver's user-space "
        "libraries are not installed, or this container was started without GPUs (--gpus / the NVIDIA "
        "container runtime)"
    ),
    NvmlStatus.DRIVER_NOT_LOADED: (
        "NVML says the NVIDIA kernel driver is not loaded: nvidia.ko is not running (check `lsmod | grep "
        "nvidia` and `dmesg`; with Secure Boot the module may be unsigned)"
    ),
    # NOTE: nvidia-smi prints "Failed to initialize NVML: Driver/library version mismatch";
    # https://docs.nvidia.com/deploy/nvml-api/group__nvmlInitializationAndCleanup.html
    NvmlStatus.DRIVER_LIBRARY_MISMATCH: (
        "NVML says the loaded kernel module and the user-space driver libraries are different versions "
        "(typical after a driver upgrade without a reboot: reboot, or unload and reload the nvidia modules)"
    ),
    # NOTE: https://github.com/NVIDIA/nvidia-container-toolkit/issues/48 - systemd re-applying
    # cgroups on the host revokes a running container's access to /dev/nvidia*.
    NvmlStatus.UNKNOWN_ERROR: (
        "NVML failed with \"Unknown Error\" (in a container this typically means the host's systemd "
        "reloaded cgroups and revoked the container's GPU device access: restart the container)"
    ),
    NvmlStatus.NO_PERMISSION: (
        "NVML was denied access to the GPU device nodes (/dev/nvidia*): check their permissions and "
        "this user's groups"
    ),
}

#: Per-field NVML return codes -> what they mean for that one value.
NVML_FIELD_MEANINGS: dict[int, str] = {
    1: "NVML is not initialised",
    2: "NVML rejected the query",
    3: "not supported on this GPU/driver",
    4: "NVML denied permission for this query (it may need root)",
    6: "not found",
    10: "NVML timed out",
    13: "driver too old for this query",
    14: "the GPU's infoROM is corrupted",
    # NOTE: NVML_ERROR_GPU_IS_LOST is what Xid 79 looks like from user space.
    15: "GPU has fallen off the bus (check `dmesg` for Xid 79; the GPU needs a reset or a reboot)",
    16: "the GPU needs a reset",
    17: "the operating system blocked the request",
    999: "NVML returned an unknown error",
    -2: "the installed nvidia-ml-py has no binding for this query (upgrade nvidia-ml-py)",
}

#: NVML clock-event ("throttle") reason bits -> the names GpuFacts.throttle_reasons uses.
#: NOTE: https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html
THROTTLE_REASON_BITS: tuple[tuple[int, str], ...] = (
    (0x1, "gpu-idle"),
    (0x2, "applications-clocks"),
    (0x4, "sw-power-cap"),
    (0x8, "hw-slowdown"),
    (0x10, "sync-boost"),
    (0x20, "sw-thermal"),
    (0x40, "hw-thermal"),
    (0x80, "hw-power-brake"),
    (0x100, "display-clocks"),
)

COMPUTE_MODES: dict[int, str] = {0: "default", 1: "exclusive-thread", 2: "prohibited", 3: "exclusive-process"}

#: CUresult names, for a libcuda too old to have cuGetErrorName (names as in cuda.h).
#: NOTE: there is no driver-API "insufficient driver" code: 35 (cudaErrorInsufficientDriver) is
#: the runtime API's; cuInit reports an old driver as a missing symbol or 803.
CU_ERROR_NAMES: dict[int, str] = {
    1: "CUDA_ERROR_INVALID_VALUE",
    2: "CUDA_ERROR_OUT_OF_MEMORY",
    3: "CUDA_ERROR_NOT_INITIALIZED",
    4: "CUDA_ERROR_DEINITIALIZED",
    34: "CUDA_ERROR_STUB_LIBRARY",
    46: "CUDA_ERROR_DEVICE_UNAVAILABLE",
    100: "CUDA_ERROR_NO_DEVICE",
    101: "CUDA_ERROR_INVALID_DEVICE",
    102: "CUDA_ERROR_DEVICE_NOT_LICENSED",
    304: "CUDA_ERROR_OPERATING_SYSTEM",
    800: "CUDA_ERROR_NOT_PERMITTED",
    801: "CUDA_ERROR_NOT_SUPPORTED",
    802: "CUDA_ERROR_SYSTEM_NOT_READY",
    803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
    804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
    999: "CUDA_ERROR_UNKNOWN",
}

#: What a failed cuInit(0) usually means on a real machine.
CU_INIT_MEANINGS: dict[int, str] = {
    3: "CUDA is not initialised",
    34: "the libcuda that loaded is the CUDA toolkit's link-time stub, not the driver's library",
    46: "the GPUs are unavailable (exclusive-process mode and busy, or prohibited)",
    100: "no CUDA-capable GPU is visible to this process",
    304: "an operating-system call failed (missing or inaccessible /dev/nvidia* nodes)",
    # NOTE: https://docs.nvidia.com/datacenter/tesla/fabric-manager-user-guide/ - NVSwitch systems
    # answer 802 until nvidia-fabricmanager has initialised the fabric.
    802: "the system is not ready (on an NVSwitch system: nvidia-fabricmanager is not running)",
    803: "the forward-compatibility libcuda does not match the installed kernel driver",
    # NOTE: https://docs.nvidia.com/deploy/cuda-compatibility/ - forward compatibility is for
    # data-centre GPUs only.
    804: "a forward-compatibility (cuda-compat) libcuda is in use on a GPU that does not support it",
    999: "unknown error (typical after suspend/resume, or with /dev/nvidia-uvm missing)",
}

_PROC_MODULE = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(\S+)")
# NOTE: re.ASCII: \d also matches other scripts' digits, which Version rejects.
_VERSION_TOKEN = re.compile(r"\d+\.\d+(?:\.\d+)*", re.ASCII)
#: Driver releases have a three-digit (or longer) major: 390.157, 550.54.14. WSL2's
#: libcuda.so.1.1 is not a driver version.
_LIBCUDA_FILE = re.compile(r"^libcuda\.so\.(\d{3,}\.\d+(?:\.\d+)?)$", re.ASCII)


# --------------------------------------------------------------------------------------------
# small pure helpers


def cuda_version_from_int(value: int) -> Version:
    """CUDA's integer encoding (1000 * major + 10 * minor) as a Version: 12040 -> 12.4."""
    if value <= 0:
        raise ValueError(f"not a CUDA version number: {value}")
    return Version(f"{value // 1000}.{value % 1000 // 10}")


def decode_throttle_reasons(mask: int) -> tuple[str, ...]:
    """Names of the clock-event reasons set in NVML's bitmask; unknown bits as "unknown-0x..."."""
    names = [name for bit, name in THROTTLE_REASON_BITS if mask & bit]
    known_bits = sum(bit for bit, _ in THROTTLE_REASON_BITS)
    rest = mask & ~known_bits
    bit = 1
    while rest:
        if rest & bit:
            names.append(f"unknown-{bit:#x}")
            rest &= ~bit
        bit <<= 1
    return tuple(names)


def nvml_meaning(code: int, text: str) -> str:
    """What an NVML error code means for one value."""
    return NVML_FIELD_MEANINGS.get(code, f"NVML error {code} ({text})" if text else f"NVML error {code}")


def cu_error_name(code: int, reported: str = "") -> str:
    """The CUresult's name: libcuda's own answer when it gave one, else cuda.h's."""
    return reported or CU_ERROR_NAMES.get(code, f"CUresult {code}")


def _unavailable(reason: str, detail: str = "") -> Unavailable:
    return Unavailable(probe=PROBE, reason=reason, detail=detail)


def _version(text: str, what: str) -> Version | Unavailable:
    return parse_version(text, probe=PROBE, what=what)


# --------------------------------------------------------------------------------------------
# /proc/driver/nvidia/version


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcVersion:
    """What /proc/driver/nvidia/version says about the loaded kernel module."""

    module_version: Version | Unavailable
    first_line: str
    open_module: bool  #: the open-source kernel module ("Open Kernel Module for ...")


def parse_proc_version(text: str) -> ProcVersion:
    """Parse /proc/driver/nvidia/version (proprietary and open kernel module formats)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    match = _PROC_MODULE.search(first)
    if not match:
        return ProcVersion(
            module_version=_unavailable(f"/proc/driver/nvidia/version has no kernel module version: {first!r}"),
            first_line=first,
            open_module=False,
        )
    token = match.group(1)
    version: Version | Unavailable
    if _VERSION_TOKEN.fullmatch(token):
        version = _version(token, "/proc/driver/nvidia/version's kernel module version")
    else:
        # NOTE: some L4T/pre-release builds print a placeholder such as "TempVersion".
        version = _unavailable(f"/proc/driver/nvidia/version names no driver version ({token!r})")
    return ProcVersion(module_version=version, first_line=first, open_module="Open Kernel Module" in first)


# --------------------------------------------------------------------------------------------
# parsing the children's output


class _Fields:
    """Turns one raw record's ``{"v": ...}`` / ``{"e": ..., "t": ...}`` entries into values."""

    def __init__(self, raw: Mapping[str, Any], subject: str, missing: str) -> None:
        self.raw = raw
        self.subject = subject  #: e.g. "GPU 0"
        self.missing = missing  #: why an absent entry is absent

    def get(self, key: str, label: str, convert: Callable[[Any], T]) -> T | Unavailable:
        entry = self.raw.get(key)
        if not isinstance(entry, Mapping):
            return _unavailable(f"{label} of {self.subject}: {self.missing}")
        if "e" in entry:
            code, text = _int(entry.get("e"), -1), str(entry.get("t", ""))
            return _unavailable(
                f"{label} of {self.subject}: {nvml_meaning(code, text)}", detail=f"NVML error {code}: {text}"
            )
        try:
            return convert(entry.get("v"))
        except (TypeError, ValueError, IndexError, KeyError, InvalidVersion) as e:
            return _unavailable(
                f"{label} of {self.subject}: NVML returned an unexpected value {entry.get('v')!r}", detail=str(e)
            )

    def text(self, key: str) -> str:
        """A plain-string field (name, uuid, bus id): "" when NVML could not give it."""
        value = self.get(key, key, str)
        return value if isinstance(value, str) else ""


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _float(value: Any, default: float = 0.0) -> float:
    """A number from the children's document; *default* for anything else (garbage stdout is not trusted)."""
    try:
        return float(value or 0)
    except (TypeError, ValueError, OverflowError):
        return default


def _cc(value: Sequence[int]) -> Version:
    return Version(f"{int(value[0])}.{int(value[1])}")


def _compute_mode(value: int) -> str:
    return COMPUTE_MODES[int(value)]


def _processes(value: Sequence[Sequence[Any]]) -> tuple[GpuProcess, ...]:
    procs = []
    for pid, used, comm in value:
        name: str | Unavailable
        if isinstance(comm, Mapping) and "v" in comm:
            name = str(comm["v"])
        else:
            text = comm.get("t", "") if isinstance(comm, Mapping) else ""
            name = _unavailable(
                f"process {pid} is not visible here (/proc/{pid}/comm unreadable; inside a container NVML "
                "reports the host's PIDs)",
                detail=str(text),
            )
        used_mib: int | Unavailable = (
            int(used) // MIB
            if used is not None
            else _unavailable(f"NVML does not report the memory process {pid} uses")
        )
        procs.append(GpuProcess(pid=int(pid), name=name, used_memory_mib=used_mib))
    return tuple(procs)


def _mig_devices(raw: Any, subject: str) -> tuple[MigDevice, ...]:
    devices = []
    for entry in raw if isinstance(raw, list) else ():
        if not isinstance(entry, Mapping):
            continue
        index = _int(entry.get("index"), -1)
        fields = _Fields(entry, f"{subject} MIG device {index}", "not read")
        uuid = fields.text("uuid")
        if not uuid:
            # NOTE: a MIG device without a UUID cannot be selected through CUDA_VISIBLE_DEVICES.
            continue
        devices.append(
            MigDevice(
                index=index,
                uuid=uuid,
                name=fields.get("name", "name", str),
                memory_total_mib=fields.get("memory", "memory", lambda m: int(m[0]) // MIB),
            )
        )
    return tuple(devices)


def parse_gpu(raw: Mapping[str, Any], missing: str = "not reported by NVML") -> GpuFacts:
    """One GPU's child record as GpuFacts; every missing or failed value becomes Unavailable."""
    index = _int(raw.get("index"), -1)
    subject = f"GPU {index}"
    fields = _Fields(raw, subject, missing)
    handle = raw.get("handle")
    if isinstance(handle, Mapping) and "e" in handle:
        # Without a handle nothing else about this GPU can be asked: every value carries why.
        code, text = _int(handle.get("e"), -1), str(handle.get("t", ""))
        fields = _Fields({}, subject, nvml_meaning(code, text))
    get = fields.get
    memory = get("memory", "memory", lambda m: (int(m[0]) // MIB, int(m[1]) // MIB))
    remapped = get("remapped_rows", "remapped rows", lambda r: (bool(r[2]), bool(r[3])))
    return GpuFacts(
        index=index,
        name=fields.text("name"),
        uuid=fields.text("uuid"),
        pci_bus_id=fields.text("pci_bus_id"),
        compute_capability=get("compute_capability", "compute capability", _cc),
        memory_total_mib=memory[0] if isinstance(memory, tuple) else memory,
        memory_used_mib=memory[1] if isinstance(memory, tuple) else memory,
        mig_enabled=get("mig_mode", "MIG mode", lambda m: int(m) == 1),
        mig_devices=_mig_devices(raw.get("mig_devices"), subject),
        ecc_enabled=get("ecc_mode", "ECC mode", lambda m: int(m) == 1),
        ecc_uncorrectable_volatile=get("ecc_volatile", "uncorrectable ECC errors (volatile)", int),
        ecc_uncorrectable_aggregate=get("ecc_aggregate", "uncorrectable ECC errors (aggregate)", int),
        retired_pages_double_bit=get("retired_dbe", "pages retired for double-bit errors", int),
        retired_pages_pending=get("retired_pending", "pending page retirement", lambda v: int(v) == 1),
        remapped_rows_pending=remapped[0] if isinstance(remapped, tuple) else remapped,
        remapped_rows_failure=remapped[1] if isinstance(remapped, tuple) else remapped,
        persistence_mode=get("persistence_mode", "persistence mode", lambda m: int(m) == 1),
        compute_mode=get("compute_mode", "compute mode", _compute_mode),
        pcie_gen_current=get("pcie_gen_current", "current PCIe generation", int),
        pcie_gen_max=get("pcie_gen_max", "maximum PCIe generation", int),
        pcie_width_current=get("pcie_width_current", "current PCIe width", int),
        pcie_width_max=get("pcie_width_max", "maximum PCIe width", int),
        throttle_reasons=get("clocks_event_reasons", "clock-event reasons", lambda m: decode_throttle_reasons(int(m))),
        temperature_c=get("temperature", "temperature", int),
        power_draw_w=get("power_draw_mw", "power draw", lambda mw: round(int(mw) / 1000.0, 3)),
        power_limit_w=get("power_limit_mw", "enforced power limit", lambda mw: round(int(mw) / 1000.0, 3)),
        utilization_percent=get("utilization", "utilization", int),
        processes=get("processes", "compute processes", _processes),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NvmlPart:
    """What the NVML child established."""

    status: NvmlStatus
    error: str
    reason: str  #: why NVML could not answer (for values it should have given); "" when ok
    driver_version: Version | Unavailable
    cuda_driver_version: Version | Unavailable
    gpus: tuple[GpuFacts, ...]
    crashed: bool = False  #: the NVML child was killed by a signal (a crash inside the driver library)
    #: GPUs whose query hung or crashed, from the child's own "(GPU N)" step labels
    failed_gpus: tuple[int, ...] = ()


def _failed_child(what: str, doc: Mapping[str, Any]) -> tuple[str, str]:
    """(error text, user-facing reason) for a child that never produced its document."""
    failed = doc.get("failed")
    detail = str(doc.get("detail", "")).strip()
    tail = f": {detail.splitlines()[-1]}" if detail else ""
    if failed == "timeout":
        seconds = _float(doc.get("timeout", 0))
        return (
            f"the {what} child was killed after {seconds:g} s",
            f"{what} did not answer within {seconds:g} s (a GPU that fell off the bus or a driver stuck in the "
            "kernel; check `dmesg` for Xid errors)",
        )
    if failed == "crash":
        how = describe_returncode(_int(doc.get("returncode"), 1))
        steps = [line[6:] for line in detail.splitlines() if line.startswith("step: ")]
        where = f" in {steps[-1]}" if steps else ""
        verb = "was" if how.startswith("killed") else "ended with"
        return (
            f"the {what} child {verb} {how}{where}",
            f"the process that queried {what} crashed ({how}{where})",
        )
    if failed == "not-started":
        return f"the {what} child could not start{tail}", f"the process to query {what} could not start{tail}"
    return f"the {what} child printed no usable result{tail}", f"the process that queried {what} gave no usable result"


def parse_nvml(doc: Mapping[str, Any]) -> NvmlPart:
    """Interpret the NVML child's section (or its failure record)."""
    if "failed" in doc:
        error, reason = _failed_child("NVML", doc)
        status = NvmlStatus.TIMEOUT if doc["failed"] == "timeout" else NvmlStatus.OTHER
        crashed = doc["failed"] == "crash" and describe_returncode(_int(doc.get("returncode"), 1)).startswith("killed")
        return NvmlPart(status=status, error=error, reason=reason, driver_version=_unavailable(reason),
                        cuda_driver_version=_unavailable(reason), gpus=(), crashed=crashed,
                        failed_gpus=gpu_indices_named(error))
    limit = _float(doc.get("limit_s", 0))
    hung = str(doc.get("hung", "") or "")
    exception = str(doc.get("exception", "") or "").strip()
    if hung:
        stopped = f"not read: NVML stopped answering in {hung} (no answer within {limit:g} s)"
    elif exception:
        stopped = f"not read: the NVML query failed: {exception.splitlines()[-1]}"
    else:
        stopped = "not reported by NVML"

    init = doc.get("init")
    status, error, reason = NvmlStatus.OK, "", ""
    if "import_error" in doc:
        status = NvmlStatus.OTHER
        error = str(doc["import_error"])
        reason = f"the NVML Python binding (nvidia-ml-py, import name pynvml) cannot be imported: {error}"
    elif not isinstance(init, Mapping):
        if hung:
            status = NvmlStatus.TIMEOUT
            error = f"{hung} did not return within {limit:g} s"
            reason = (f"NVML did not answer within {limit:g} s ({hung} hung: a GPU that fell off the bus or a driver "
                      "stuck in the kernel; check `dmesg` for Xid errors)")
        else:
            status = NvmlStatus.OTHER
            error = exception.splitlines()[-1] if exception else "the NVML child reported nothing"
            reason = f"NVML could not be queried: {error}"
    elif "e" in init:
        code = _int(init.get("e"), -1)
        error = str(init.get("t", "")) or f"NVML error {code}"
        status = NVML_STATUS_BY_CODE.get(code, NvmlStatus.OTHER)
        reason = NVML_STATUS_REASONS.get(status, f"NVML failed to initialise: {error}")
        if doc.get("dlopen_error"):
            error = f"{error} ({doc['dlopen_error']})"
    if reason:
        missing = _unavailable(reason, detail=error)
        return NvmlPart(status=status, error=error, reason=reason, driver_version=missing,
                        cuda_driver_version=missing, gpus=())

    system = _Fields(doc, "the system", stopped)
    driver = system.get("driver_version", "driver version", str)
    driver_version = _version(driver, "NVML's driver version") if isinstance(driver, str) else driver
    cuda = system.get("cuda_driver_version", "CUDA driver version", lambda v: cuda_version_from_int(int(v)))
    count = doc.get("device_count")
    if isinstance(count, Mapping) and "e" in count:
        code = _int(count.get("e"), -1)
        status = NVML_STATUS_BY_CODE.get(code, NvmlStatus.OTHER)
        error = f"nvmlDeviceGetCount: {count.get('t', '')}"
    if hung:
        status = NvmlStatus.TIMEOUT
        error = f"{hung} did not return within {limit:g} s"
    gpus_raw = doc.get("gpus")
    gpus = tuple(
        parse_gpu(g, stopped) for g in (gpus_raw if isinstance(gpus_raw, list) else ()) if isinstance(g, Mapping)
    )
    return NvmlPart(status=status, error=error, reason="", driver_version=driver_version,
                    cuda_driver_version=cuda, gpus=gpus, failed_gpus=gpu_indices_named(hung))


@dataclass(frozen=True, slots=True, kw_only=True)
class LibcudaPart:
    """What the libcuda child established."""

    path: str | Unavailable
    version: Version | Unavailable
    cuda_version: Version | Unavailable
    init_result: int | Unavailable
    init_error: str
    device_count: int | Unavailable


def parse_libcuda_filename(path: str) -> Version | Unavailable:
    """The driver version in libcuda's real file name: libcuda.so.550.54.14 -> 550.54.14."""
    directory, _, name = path.rpartition("/")
    match = _LIBCUDA_FILE.match(name)
    if match:
        return _version(match.group(1), f"the driver version in {name}")
    if name == "libcuda.so" and directory.rstrip("/").endswith("stubs"):
        return _unavailable(f"{path} is the CUDA toolkit's link-time stub, not the driver's libcuda")
    return _unavailable(f"the file name {name} carries no driver version (WSL2 and some packagers name it so)")


def parse_libcuda(doc: Mapping[str, Any]) -> LibcudaPart:
    """Interpret the libcuda child's section (or its failure record)."""
    if "failed" in doc:
        _, reason = _failed_child("libcuda.so.1", doc)
        gone = _unavailable(reason)
        return LibcudaPart(path=gone, version=gone, cuda_version=gone, init_result=gone, init_error="",
                           device_count=gone)
    if doc.get("dlopen_error"):
        error = str(doc["dlopen_error"])
        if "No such file" in error:
            why = "libcuda.so.1 (the NVIDIA driver's CUDA library) is not installed or not on the loader path"
        else:
            why = "libcuda.so.1 (the NVIDIA driver's CUDA library) exists but cannot be loaded"
        not_loaded = _unavailable(f"{why}, so it could not be asked", detail=error)
        return LibcudaPart(
            path=_unavailable(f"{why}: {error}"),
            version=not_loaded, cuda_version=not_loaded, init_result=not_loaded, init_error="",
            device_count=not_loaded,
        )
    limit = _float(doc.get("limit_s", 0))
    hung = str(doc.get("hung", "") or "")
    exception = str(doc.get("exception", "") or "").strip()
    if hung:
        stopped = f"{hung} did not return within {limit:g} s (a GPU stuck in the driver; check `dmesg` for Xid errors)"
    elif exception:
        stopped = f"the libcuda query failed: {exception.splitlines()[-1]}"
    else:
        stopped = "not reported"

    raw_path = doc.get("path")
    path: str | Unavailable
    version: Version | Unavailable
    if isinstance(raw_path, str) and raw_path:
        path, version = raw_path, parse_libcuda_filename(raw_path)
    else:
        path = version = _unavailable("libcuda.so.1 loaded, but its file is not in /proc/self/maps")

    def cu_value(key: str, what: str, convert: Callable[[Any], T]) -> T | Unavailable:
        entry = doc.get(key)
        if not isinstance(entry, Mapping):
            return _unavailable(f"{what}: {stopped}")
        if "e" in entry:
            code = _int(entry.get("e"), -1)
            if code == -2:
                return _unavailable(
                    f"{what}: this libcuda lacks the function (driver too old)", str(entry.get("t", ""))
                )
            return _unavailable(f"{what} failed with {code} ({cu_error_name(code, str(entry.get('t', '')))})")
        try:
            return convert(entry.get("v"))
        except (TypeError, ValueError) as e:
            return _unavailable(f"{what}: unexpected value {entry.get('v')!r}", detail=str(e))

    cuda_version = cu_value("driver_get_version", "cuDriverGetVersion", lambda v: cuda_version_from_int(int(v)))
    init_result = cu_value("cu_init", "cuInit(0)", int)
    init_error = ""
    device_count: int | Unavailable
    if isinstance(init_result, int):
        init_entry = doc.get("cu_init")
        reported = str(init_entry.get("t", "")) if isinstance(init_entry, Mapping) else ""
        if init_result != 0:
            init_error = cu_error_name(init_result, reported)
            meaning = CU_INIT_MEANINGS.get(init_result, "")
            device_count = _unavailable(
                f"no devices counted: cuInit(0) failed with {init_result} {init_error}"
                + (f": {meaning}" if meaning else "")
            )
        else:
            device_count = cu_value("device_count", "cuDeviceGetCount", int)
    else:
        device_count = _unavailable(f"no devices counted: {init_result.reason}")
    return LibcudaPart(path=path, version=version, cuda_version=cuda_version, init_result=init_result,
                       init_error=init_error, device_count=device_count)


def _first_known(*values: T | Unavailable) -> T | Unavailable:
    for value in values:
        if known(value):
            return value
    return values[0]


def parse_child_output(document: Mapping[str, Any] | str, *, proc_version: str | Unavailable) -> DriverFacts:
    """DriverFacts from the children's document ``{"nvml": ..., "libcuda": ...}`` and the /proc text.

    Each source fills its own fields. Where NVML could not give the driver version, the version
    of the libcuda file (also user-space) is used, then the kernel module's; the CUDA version
    falls back to cuDriverGetVersion.
    """
    doc: Any = document
    if isinstance(document, str):
        try:
            doc = json.loads(document)
        except (ValueError, RecursionError):
            doc = {}
    if not isinstance(doc, Mapping):
        doc = {}  # NOTE: garbage on the children's stdout: both sections then say so
    nvml_doc = doc.get("nvml")
    libcuda_doc = doc.get("libcuda")
    missing = {"failed": "garbage", "detail": "the document has no such section"}
    nvml = parse_nvml(nvml_doc if isinstance(nvml_doc, Mapping) else missing)
    libcuda = parse_libcuda(libcuda_doc if isinstance(libcuda_doc, Mapping) else missing)

    if isinstance(proc_version, str):
        proc = parse_proc_version(proc_version)
        kernel: Version | Unavailable = proc.module_version
        proc_text: str | Unavailable = proc.first_line or _unavailable("/proc/driver/nvidia/version is empty")
    else:
        kernel = proc_text = proc_version

    driver_version = _first_known(nvml.driver_version, libcuda.version, kernel)
    if not known(driver_version) and nvml.reason:
        driver_version = _unavailable(
            f"{nvml.reason}; libcuda.so.1 and /proc/driver/nvidia/version give no driver version either",
            detail=nvml.error,
        )
    return DriverFacts(
        nvml_status=nvml.status,
        nvml_error=nvml.error,
        nvml_crashed=nvml.crashed,
        nvml_failed_gpus=nvml.failed_gpus,
        driver_version=driver_version,
        cuda_driver_version=_first_known(nvml.cuda_driver_version, libcuda.cuda_version),
        kernel_module_version=kernel,
        proc_version_text=proc_text,
        libcuda_path=libcuda.path,
        libcuda_version=libcuda.version,
        libcuda_cuda_version=libcuda.cuda_version,
        cu_init_result=libcuda.init_result,
        cu_init_error=libcuda.init_error,
        cu_device_count=libcuda.device_count,
        gpus=nvml.gpus,
    )
