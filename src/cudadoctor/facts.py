"""Typed, frozen facts gathered by the probes: the only input the checks ever see.

Every area is either its ``<Area>Facts`` dataclass or :class:`Unavailable` (the probe failed,
and why). Inside an area, a single value that could not be read is also ``Unavailable`` —
never ``None`` or ``"N/A"``. Facts round-trip through JSON (``factsfile.py``) so a snapshot
from one machine can be replayed on another (``--save-facts`` / ``--facts``). Optional areas
hold what only some commands gather, or what facts from an older cudadoctor lack: ``bench``
(facts_bench.py), ``ranks`` (facts_ranks.py), ``drift`` (facts_drift.py: what moved since a
``--baseline``), ``jupyter`` (the kernelspecs, below) and ``session`` (facts_session.py: SSH and
PID 1's environment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, Union

from packaging.version import Version

from cudadoctor.causes import ErrorCause
from cudadoctor.unavailable import BENCH_NOT_RUN, DRIFT_NOT_RUN, RANKS_NOT_RUN
from cudadoctor.facts_session import SESSION_NOT_RECORDED, SessionFacts
from cudadoctor.unavailable import Unavailable as Unavailable  # re-exported: every area's "unknown, because"

if TYPE_CHECKING:
    from cudadoctor.facts_bench import BenchFacts
    from cudadoctor.facts_drift import DriftFacts
    from cudadoctor.facts_ranks import RanksFacts

# NOTE: the optional areas' modules (facts_bench, facts_ranks, facts_drift) are imported on first
# use (optional_area_types, AREA_OF_TYPE, module __getattr__): the healthcheck never needs them.

#: Bumped whenever a field is renamed or removed (adding fields is free).
FACTS_SCHEMA_VERSION = 1

#: Value of a container limit that is not set (cgroup "max" / the v1 huge sentinel).
UNLIMITED: Literal["unlimited"] = "unlimited"


#: The reason of a fact that a facts file from an older cudadoctor does not have (checks skip it).
NOT_RECORDED = "not recorded (these facts come from an older cudadoctor)"
#: The python_version of facts whose Python is unknown (facts built from pasted text that names
#: none): the schema has no Unavailable there, so checks compare against this and skip.
PYTHON_UNKNOWN = Version("0")


def known(value: object) -> bool:
    """True when *value* is real data rather than :class:`Unavailable`."""
    return not isinstance(value, Unavailable)


def parse_version(text: str, *, probe: str, what: str) -> Version | Unavailable:
    """*text* as a Version, or Unavailable naming *what* it was (outside text may hold anything;
    Version raises a plain ValueError, not InvalidVersion, for a part over 4300 digits)."""
    try:
        return Version(text.strip())
    except ValueError:
        return Unavailable(probe=probe, reason=f"{what} {text.strip()[:60]!r} is not a version number")


def nv_version(v: Version) -> str:
    """Format a driver version the way NVIDIA prints it (580.159.04, not Version's 580.159.4)."""
    r = v.release
    if len(r) >= 3:
        return f"{r[0]}.{r[1]:02d}.{r[2]:02d}"
    if len(r) == 2:
        return f"{r[0]}.{r[1]:02d}"
    return str(v)


# --------------------------------------------------------------------------------------------
# host


@dataclass(frozen=True, slots=True, kw_only=True)
class HostFacts:
    """The operating system, kernel, C library, Python and CPU."""

    os_name: str | Unavailable  #: PRETTY_NAME from /etc/os-release, e.g. "Ubuntu 22.04.4 LTS"
    kernel: str  #: uname release, e.g. "5.15.0-105-generic"
    arch: str  #: machine, e.g. "x86_64"
    hostname: str
    glibc_version: Version | Unavailable
    python_version: Version  #: of the doctor's own interpreter
    python_executable: str
    cpu_model: str | Unavailable
    cpu_count: int  #: logical CPUs this process may run on
    memory_total_mib: int | Unavailable
    wsl2: bool  #: running under Windows Subsystem for Linux 2
    #: PCI addresses of NVIDIA display/3D controllers (vendor 0x10de, class 0x03xx) in /sys/bus/pci,
    #: seen whether or not a driver is loaded: tells "GPU without driver" from "no GPU at all"
    nvidia_pci_devices: tuple[str, ...] | Unavailable


# --------------------------------------------------------------------------------------------
# environment variables that change how CUDA and torch behave


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvFacts:
    """Environment variables relevant to CUDA/torch (an allow-list; never secrets)."""

    variables: dict[str, str]  #: only the names in probes/env.py's allow-list that are set
    working_directory: str


# --------------------------------------------------------------------------------------------
# container


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerFacts:
    """Whether we run in a container, its limits, and how GPUs were passed in."""

    in_container: bool
    #: "docker", "podman", "containerd", "kubernetes", "lxc", "unknown-container" or "none"
    runtime: str
    kubernetes: bool
    evidence: tuple[str, ...]  #: what the detection was based on, e.g. "/.dockerenv exists"
    cgroup_version: int | Unavailable  #: 1 or 2
    memory_limit_bytes: int | Literal["unlimited"] | Unavailable
    cpu_limit_cores: float | Literal["unlimited"] | Unavailable
    shm_size_bytes: int | Unavailable  #: size of /dev/shm
    device_nodes: tuple[str, ...]  #: /dev/nvidia* present, e.g. ("/dev/nvidia0", "/dev/nvidiactl")
    #: whether the working directory lives on the container's writable (overlay) layer
    workdir_on_writable_layer: bool | Unavailable
    workdir_filesystem: str | Unavailable  #: e.g. "overlay", "ext4", "nfs4"


# --------------------------------------------------------------------------------------------
# driver and GPUs


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    name: str | Unavailable
    used_memory_mib: int | Unavailable


@dataclass(frozen=True, slots=True, kw_only=True)
class MigDevice:
    """A MIG instance carved out of a physical GPU."""

    index: int
    uuid: str  #: "MIG-..." — what CUDA_VISIBLE_DEVICES must name
    name: str | Unavailable
    memory_total_mib: int | Unavailable


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuFacts:
    """One physical GPU as NVML reports it (indices are NVML's, i.e. PCI bus order)."""

    index: int
    name: str
    uuid: str  #: "GPU-..."
    pci_bus_id: str  #: e.g. "00000000:3B:00.0"
    compute_capability: Version | Unavailable  #: e.g. 8.6
    memory_total_mib: int | Unavailable
    memory_used_mib: int | Unavailable
    mig_enabled: bool | Unavailable  #: current MIG mode
    mig_devices: tuple[MigDevice, ...]
    ecc_enabled: bool | Unavailable
    ecc_uncorrectable_volatile: int | Unavailable  #: since the last driver load
    ecc_uncorrectable_aggregate: int | Unavailable  #: over the GPU's lifetime
    retired_pages_double_bit: int | Unavailable  #: pages retired for double-bit errors (pre-Ampere)
    retired_pages_pending: bool | Unavailable  #: a retirement waits for a GPU reset
    remapped_rows_pending: bool | Unavailable  #: row remap waits for a GPU reset (Ampere+)
    remapped_rows_failure: bool | Unavailable  #: row remapping failed: the GPU needs service
    persistence_mode: bool | Unavailable
    compute_mode: str | Unavailable  #: "default", "exclusive-process", "prohibited"
    pcie_gen_current: int | Unavailable
    pcie_gen_max: int | Unavailable  #: the max of GPU and link partner (what the slot can do)
    pcie_width_current: int | Unavailable
    pcie_width_max: int | Unavailable
    #: active clock-event (throttle) reasons, by name: "hw-slowdown", "hw-thermal",
    #: "hw-power-brake", "sw-thermal", "sw-power-cap", "gpu-idle", "applications-clocks",
    #: "sync-boost", "display-clocks"
    throttle_reasons: tuple[str, ...] | Unavailable
    temperature_c: int | Unavailable
    power_draw_w: float | Unavailable
    power_limit_w: float | Unavailable
    utilization_percent: int | Unavailable
    processes: tuple[GpuProcess, ...] | Unavailable
    #: False when MIG is on but the facts never saw the instance list (a pasted nvidia-smi table cut
    #: off before its "MIG devices:" block): an empty ``mig_devices`` then says nothing
    mig_devices_listed: bool = True


class NvmlStatus(str, Enum):
    """How NVML answered (DriverFacts.nvml_status). Values are the saved-facts and JSON spellings."""

    OK = "ok"
    LIBRARY_NOT_FOUND = "library-not-found"  #: NVML_ERROR_LIBRARY_NOT_FOUND: no libnvidia-ml.so.1
    DRIVER_NOT_LOADED = "driver-not-loaded"  #: NVML_ERROR_DRIVER_NOT_LOADED: nvidia.ko is not running
    DRIVER_LIBRARY_MISMATCH = "driver-library-mismatch"  #: NVML_ERROR_LIB_RM_VERSION_MISMATCH
    UNKNOWN_ERROR = "unknown-error"  #: NVML_ERROR_UNKNOWN (in containers: device access revoked)
    NO_PERMISSION = "no-permission"  #: NVML_ERROR_NO_PERMISSION on the device nodes
    TIMEOUT = "timeout"  #: an NVML call did not return in time
    OTHER = "other"  #: any other failure (the child crashed, the binding is missing, ...)

    def __str__(self) -> str:
        # NOTE: messages interpolate the status ("NVML: driver-not-loaded"); without this,
        # Python 3.11+ formats a str-mixin enum as "NvmlStatus.DRIVER_NOT_LOADED".
        return self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverFacts:
    """The NVIDIA driver as seen through NVML, /proc and libcuda, and the visible GPUs."""

    nvml_status: NvmlStatus
    nvml_error: str  #: NVML's own error text ("" when ok)
    driver_version: Version | Unavailable  #: user-space driver, e.g. 550.54.14
    cuda_driver_version: Version | Unavailable  #: highest CUDA the driver supports, e.g. 12.4
    kernel_module_version: Version | Unavailable  #: from /proc/driver/nvidia/version
    proc_version_text: str | Unavailable  #: first line of /proc/driver/nvidia/version
    libcuda_path: str | Unavailable  #: the libcuda.so.1 the loader resolves
    libcuda_version: Version | Unavailable  #: driver version of that file (libcuda.so.X.Y.Z)
    libcuda_cuda_version: Version | Unavailable  #: cuDriverGetVersion, as a CUDA version
    cu_init_result: int | Unavailable  #: cuInit(0) return code; 0 is success
    cu_init_error: str  #: e.g. "CUDA_ERROR_UNKNOWN" ("" on success)
    cu_device_count: int | Unavailable  #: cuDeviceGetCount after a successful cuInit
    gpus: tuple[GpuFacts, ...]
    #: the NVML child process was killed by a signal (a crash inside the library, not a timeout)
    nvml_crashed: bool = False
    #: indices of the GPUs whose NVML query hung or crashed, as the child's "(GPU N)" step names
    #: them (() when no failed query named a GPU)
    nvml_failed_gpus: tuple[int, ...] = ()
    #: False when ``gpus`` is not NVML's full list but only what pasted text named (triage): an
    #: empty or short list then says nothing about which GPUs exist
    gpus_listed: bool = True


# --------------------------------------------------------------------------------------------
# CUDA libraries on disk


@dataclass(frozen=True, slots=True, kw_only=True)
class LibraryCopy:
    """One copy of a CUDA library found on this machine."""

    library: str  #: family: "libcudart", "libcudnn", "libcudnn_ops", "libcublas", "libnccl", ...
    path: str  #: as found (the symlink name), e.g. /usr/local/cuda/lib64/libcudart.so.12
    real_path: str  #: after resolving symlinks
    soname_major: str  #: the ".so.N" suffix, e.g. "12" ("" when unversioned)
    #: where it was found: "loader-cache", "ld-library-path", "cuda-home", "usr-local-cuda",
    #: "conda", "pip-wheel", "torch-lib", "system"
    origin: str
    version: Version | Unavailable
    version_source: str  #: "library-call", "filename", "header", "metadata" or "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedLibrary:
    """What the dynamic loader picks for a soname in a clean child process."""

    soname: str  #: e.g. "libcudart.so.12"
    path: str | Unavailable  #: the file it loaded, or why it could not


@dataclass(frozen=True, slots=True, kw_only=True)
class CudaLibsFacts:
    """Every copy of the CUDA user-space libraries, and what the loader resolves."""

    copies: tuple[LibraryCopy, ...]
    resolved: tuple[ResolvedLibrary, ...]
    ld_library_path: tuple[str, ...]
    #: copies of the driver's libcuda.so* found on disk, loadable or not
    libcuda_files: tuple[str, ...]
    searched: tuple[str, ...]  #: directories scanned, in order
    #: sources that could not be read, each with why (a hung ldconfig, a failed library loader child)
    problems: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# toolkit for building extensions


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolkitFacts:
    """The CUDA compiler toolchain that torch.utils.cpp_extension would use."""

    cuda_home: str | Unavailable  #: CUDA_HOME / CUDA_PATH, else the nvcc location, else /usr/local/cuda
    cuda_home_source: str  #: "CUDA_HOME", "CUDA_PATH", "nvcc-on-path", "/usr/local/cuda" or "none"
    cuda_home_version: Version | Unavailable  #: version.json / version.txt / CUDART_VERSION in include/cuda_runtime_api.h
    nvcc_path: str | Unavailable
    nvcc_version: Version | Unavailable  #: "release X.Y" from nvcc --version
    gcc_path: str | Unavailable
    gcc_version: Version | Unavailable
    #: the cuda_runtime_api.h an extension build's host compiler finds ($CUDA_HOME/include, then
    #: CUDA_INC_PATH, CPATH, CPLUS_INCLUDE_PATH, C_INCLUDE_PATH, /usr/local/include, /usr/include)
    cuda_runtime_header: str | Unavailable = field(default_factory=lambda: Unavailable(probe="toolkit", reason=NOT_RECORDED))
    #: copies under $CUDA_HOME/targets/*/include, which only nvcc itself searches
    cuda_headers_elsewhere: tuple[str, ...] = ()
    #: whether the cuda_home directory exists (Unavailable when there is no cuda_home)
    cuda_home_exists: bool | Unavailable = field(default_factory=lambda: Unavailable(probe="toolkit", reason=NOT_RECORDED))
    #: whether the probe looked for the CUDA headers (False in facts from an older cudadoctor,
    #: whose cuda_runtime_header is then Unavailable because it was never recorded)
    cuda_headers_searched: bool = False
    #: the real nvcc behind nvcc_path (or the nvcc on PATH), symlinks and exec-wrapper scripts
    #: followed: /usr/local/bin/nvcc -> /usr/local/cuda-13.0/bin/nvcc. Its toolkit root can
    #: differ from cuda_home, which is torch's guess from the unresolved path.
    nvcc_real_path: str | Unavailable = field(default_factory=lambda: Unavailable(probe="toolkit", reason=NOT_RECORDED))
    #: the toolkit directory of nvcc_real_path where it is *not* cuda_home (symlinks of both
    #: resolved), e.g. "/usr/local/cuda-13.0" for cuda_home /usr/local; "" when they agree or unknown
    real_toolkit: str = ""


# --------------------------------------------------------------------------------------------
# torch, inspected inside the target interpreter


@dataclass(frozen=True, slots=True, kw_only=True)
class TorchDevice:
    """A CUDA device as torch sees it (indices honour CUDA_VISIBLE_DEVICES)."""

    index: int
    name: str
    capability: Version  #: e.g. 9.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedLibrary:
    """A shared object mapped into the torch process (from /proc/self/maps)."""

    path: str
    library: str  #: family, e.g. "libcudart", "libcudnn_ops"


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """An installed Python distribution relevant to torch (from package metadata)."""

    name: str  #: normalised, e.g. "torch", "torchvision", "nvidia-cudnn-cu12"
    version: str  #: as installed, e.g. "2.5.1+cu124"
    requires: tuple[str, ...]  #: Requires-Dist lines


@dataclass(frozen=True, slots=True, kw_only=True)
class TorchFacts:
    """torch as the inspected interpreter imports it."""

    python_executable: str
    python_version: Version
    #: "ok", "not-installed", "import-failed", "import-crashed", "import-timeout"
    status: str
    import_error: str  #: full error text when status is not "ok" ("" otherwise)
    location: str | Unavailable  #: directory of the torch package
    version: Version | Unavailable  #: e.g. 2.5.1+cu124
    build: str | Unavailable  #: "cuda", "rocm" or "cpu"
    cuda_version: Version | Unavailable  #: torch.version.cuda
    hip_version: Version | Unavailable
    cudnn_version: Version | Unavailable  #: torch.backends.cudnn.version() as X.Y.Z
    nccl_version: Version | Unavailable
    debug: bool | Unavailable
    git_version: str | Unavailable
    cuda_available: bool | Unavailable
    #: why torch.cuda.is_available() is False: the warning or error text ("" when True)
    cuda_unavailable_reason: str
    device_count: int | Unavailable
    devices: tuple[TorchDevice, ...]
    arch_list: tuple[str, ...] | Unavailable  #: torch.cuda.get_arch_list(), e.g. ("sm_80", "compute_90")
    build_config: str | Unavailable  #: torch.__config__.show()
    loaded_libraries: tuple[LoadedLibrary, ...] | Unavailable
    distributions: tuple[Distribution, ...]
    #: what import_error says went wrong (causes.classify of it)
    import_error_causes: tuple[ErrorCause, ...] = ()
    #: what cuda_unavailable_reason says went wrong (causes.classify of it)
    cuda_unavailable_causes: tuple[ErrorCause, ...] = ()
    #: what the reason and detail of an unknown cudnn_version say went wrong (() when it is known)
    cudnn_unavailable_causes: tuple[ErrorCause, ...] = ()


# --------------------------------------------------------------------------------------------
# Jupyter kernels (an optional area: ``torch`` works in the shell, not in the notebook)
#
# torch.cuda.is_available() True in the shell and False in the notebook is usually a kernel that
# runs another interpreter. The jupyter probe (probes/jupyter.py) reads every kernel.json on
# Jupyter's data path (as `jupyter --paths` lists it) without needing jupyter installed, and with
# `check --kernels` inspects each kernel's torch the way --python does.


#: Why ``Facts.jupyter`` is empty in facts from an older cudadoctor.
JUPYTER_NOT_RECORDED = "not recorded (these facts come from an older cudadoctor)"

#: Why a kernel's torch is unknown when ``--kernels`` was not given.
KERNEL_TORCH_NOT_PROBED = "the kernel's torch was not inspected (run `cudadoctor check --kernels`)"


def _not_probed() -> Unavailable:
    return Unavailable(probe="jupyter", reason=KERNEL_TORCH_NOT_PROBED)


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelSpec:
    """One installed Jupyter kernelspec (a ``kernels/<name>/kernel.json``)."""

    name: str  #: the kernel's directory name, e.g. "python3"
    display_name: str  #: what the notebook's kernel menu shows
    path: str  #: the kernel.json file
    language: str  #: e.g. "python"
    argv: tuple[str, ...]  #: the command Jupyter runs
    #: the interpreter argv[0] names, resolved through PATH, or why it is not a usable Python
    interpreter: str | Unavailable
    #: the directory holding that interpreter, symlinks resolved: what tells environments apart (a venv's
    #: bin/python is a symlink to the base interpreter, so the file's own realpath cannot)
    interpreter_dir: str | Unavailable
    #: torch as this kernel's interpreter imports it (``check --kernels``)
    torch: TorchFacts | Unavailable = field(default_factory=_not_probed)


@dataclass(frozen=True, slots=True, kw_only=True)
class JupyterFacts:
    """The kernelspecs found, where they were looked for, and whether we run inside a kernel."""

    search_path: tuple[str, ...]  #: the "kernels" directories searched, in Jupyter's order
    kernels: tuple[KernelSpec, ...]  #: the first kernelspec of each name (Jupyter's precedence)
    inspected_python: str  #: the interpreter whose torch `check` inspects
    inspected_dir: str  #: its directory, symlinks resolved (compared with each kernel's interpreter_dir)
    in_kernel: bool  #: this process is itself an IPython kernel (cudadoctor.check() in a notebook)
    kernels_probed: bool = False  #: whether each kernel's torch was inspected (--kernels)
    problems: tuple[str, ...] = ()  #: kernel.json files that could not be read, each with why


# --------------------------------------------------------------------------------------------
# everything


Area = Union[
    HostFacts, EnvFacts, ContainerFacts, DriverFacts, CudaLibsFacts, ToolkitFacts, TorchFacts, "BenchFacts", "RanksFacts",
    "DriftFacts", JupyterFacts, SessionFacts,
]


def optional_area_types() -> dict[str, type]:
    """The optional areas' classes by name (imports their modules): for resolving Facts' annotations."""
    from cudadoctor.facts_bench import BenchFacts
    from cudadoctor.facts_drift import DriftFacts
    from cudadoctor.facts_ranks import RanksFacts

    return {"BenchFacts": BenchFacts, "RanksFacts": RanksFacts, "DriftFacts": DriftFacts}


def __getattr__(name: str) -> Any:
    if name in ("BenchFacts", "RanksFacts", "DriftFacts"):
        return optional_area_types()[name]
    raise AttributeError(f"module 'cudadoctor.facts' has no attribute {name!r}")

#: Fact areas in report order; each is a field of :class:`Facts`.
AREAS: tuple[str, ...] = ("host", "env", "container", "driver", "cuda_libs", "toolkit", "torch")

#: Areas that only some commands gather (``bench``: the smoke benchmark; ``ranks``: what
#: ``gate --distributed`` gathers from every rank; ``drift``: what moved since ``--baseline``;
#: ``jupyter``: the kernelspecs; ``session``: SSH and PID 1's environment; both probed by ``check``
#: but absent from older facts files).
#: Not in :data:`AREAS`, which the probes fill: elsewhere they default to Unavailable ("not run"),
#: so every older facts file still loads.
OPTIONAL_AREAS: tuple[str, ...] = ("bench", "ranks", "drift", "jupyter", "session")


class _AreaOfType(dict):  # type: ignore[type-arg]
    """Fact-area class -> field name; the optional areas' classes are added on the first miss."""

    def __missing__(self, kind: type) -> str:
        types = optional_area_types()
        for name, area in (("BenchFacts", "bench"), ("RanksFacts", "ranks"), ("DriftFacts", "drift")):
            self[types[name]] = area
        return dict.__getitem__(self, kind)  # type: ignore[no-any-return]


#: Fact-area class -> its field name on :class:`Facts` (for the checks' typed accessor).
AREA_OF_TYPE: dict[type, str] = _AreaOfType({
    HostFacts: "host", EnvFacts: "env", ContainerFacts: "container", DriverFacts: "driver",
    CudaLibsFacts: "cuda_libs", ToolkitFacts: "toolkit", TorchFacts: "torch",
    JupyterFacts: "jupyter", SessionFacts: "session",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """Everything the probes learned about one machine."""

    schema_version: int = FACTS_SCHEMA_VERSION
    cudadoctor_version: str
    collected_at: str  #: ISO 8601 UTC timestamp
    host: HostFacts | Unavailable
    env: EnvFacts | Unavailable
    container: ContainerFacts | Unavailable
    driver: DriverFacts | Unavailable
    cuda_libs: CudaLibsFacts | Unavailable
    toolkit: ToolkitFacts | Unavailable
    torch: TorchFacts | Unavailable
    #: the smoke benchmark's results, annotated against the peaks (see facts_bench.py)
    bench: BenchFacts | Unavailable = field(default_factory=lambda: Unavailable(probe="bench", reason=BENCH_NOT_RUN))
    #: what gate --distributed gathered from every rank (see facts_ranks.py)
    ranks: RanksFacts | Unavailable = field(default_factory=lambda: Unavailable(probe="ranks", reason=RANKS_NOT_RUN))
    #: what moved since the known-good snapshot given with --baseline (see facts_drift.py)
    drift: DriftFacts | Unavailable = field(default_factory=lambda: Unavailable(probe="drift", reason=DRIFT_NOT_RUN))
    #: the Jupyter kernelspecs found (and with check --kernels, each kernel's torch)
    jupyter: JupyterFacts | Unavailable = field(
        default_factory=lambda: Unavailable(probe="jupyter", reason=JUPYTER_NOT_RECORDED))
    #: whether this is an SSH session, and PID 1's CUDA-relevant environment (see facts_session.py)
    session: SessionFacts | Unavailable = field(
        default_factory=lambda: Unavailable(probe="session", reason=SESSION_NOT_RECORDED))
    #: area -> age in seconds of the slow facts that came from the cache (probes/cached.py) rather
    #: than a probe this run; empty when everything was probed (and in files from older versions)
    cached: dict[str, float] = field(default_factory=dict)
    #: seconds each probe took (wall), for the report and the benchmarks (NOTE: kept last: the
    #: fleet's lean reader finds the end of a report's facts by it)
    probe_seconds: dict[str, float] = field(default_factory=dict)

    def area(self, name: str) -> Area | Unavailable:
        """Return one fact area by name (see :data:`AREAS` and :data:`OPTIONAL_AREAS`)."""
        if name not in AREAS and name not in OPTIONAL_AREAS:
            raise KeyError(name)
        return getattr(self, name)  # type: ignore[no-any-return]
