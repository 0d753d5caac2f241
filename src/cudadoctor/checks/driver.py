"""Checks of the NVIDIA driver: is one loaded, does it match itself, and can it run this CUDA code."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from packaging.version import Version

from cudadoctor.archs import Coverage, coverage
from cudadoctor.checks.base import Check, SkipCheck, need
from cudadoctor.findings import Finding, Severity
from cudadoctor.facts import (
    ContainerFacts,
    CudaLibsFacts,
    DriverFacts,
    Facts,
    GpuFacts,
    HostFacts,
    TorchFacts,
    Unavailable,
    known,
    nv_version,
)
from cudadoctor.remedies import best_wheels, driver_ceiling
from cudadoctor.tables import RuleTables

# --------------------------------------------------------------------------------------------
# shared helpers (pure)

#: cuInit / cudaError codes this module reasons about.
#: NOTE: values from the CUDA driver API's CUresult enum
#: (https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__TYPES.html).
CUDA_SUCCESS = 0
CUDA_ERROR_NO_DEVICE = 100
CUDA_ERROR_SYSTEM_NOT_READY = 802
CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804
CUDA_ERROR_UNKNOWN = 999

#: A libcuda that lives in a CUDA forward-compatibility package directory
#: (/usr/local/cuda-12.8/compat/, /usr/local/cuda/compat/lib/, conda's $PREFIX/cuda-compat/).
_COMPAT_DIR = re.compile(r"/(?:cuda-)?compat(?:/|$)")

DRIVER_DOWNLOAD_URL = "https://www.nvidia.com/Download/index.aspx"
CONTAINER_TOOLKIT_URL = "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html"


def _sentence(text: str) -> str:
    """Upper-case the first letter only (str.capitalize would lower-case commands and paths)."""
    return text[:1].upper() + text[1:]


def drv_ev(value: object) -> object:
    """Evidence form of a driver version: NVIDIA's spelling for a Version, the value otherwise."""
    return nv_version(value) if isinstance(value, Version) else value


def cuda_text(v: Version) -> str:
    """'12.4' for a CUDA version (drops patch levels)."""
    return ".".join(str(p) for p in v.release[:2])


def env_vars(facts: Facts) -> dict[str, str]:
    """The allow-listed environment variables, or {} when the env probe failed."""
    return facts.env.variables if known(facts.env) else {}  # type: ignore[union-attr]


def torch_facts(facts: Facts) -> TorchFacts | None:
    """torch facts when the torch probe ran, else None."""
    return facts.torch if isinstance(facts.torch, TorchFacts) else None


def container_facts(facts: Facts) -> ContainerFacts | None:
    """Container facts when known, else None."""
    return facts.container if isinstance(facts.container, ContainerFacts) else None


def torch_reason(facts: Facts) -> str:
    """Why torch said CUDA is unavailable ("" when unknown or available)."""
    t = torch_facts(facts)
    return t.cuda_unavailable_reason if t else ""


def cu_init(drv: DriverFacts) -> int | None:
    """cuInit's return code, or None when it was not measured."""
    return drv.cu_init_result if isinstance(drv.cu_init_result, int) else None


def is_compat_path(path: str) -> bool:
    """Whether *path* is a libcuda from a cuda-compat (forward compatibility) directory."""
    return bool(_COMPAT_DIR.search(path.rsplit("/", 1)[0] + "/"))


def driver_version(drv: DriverFacts) -> tuple[Version, str] | None:
    """The host driver version and the fact it came from (NVML, else libcuda, else kernel module)."""
    for name in ("driver_version", "libcuda_version", "kernel_module_version"):
        value = getattr(drv, name)
        if isinstance(value, Version):
            # NOTE: a cuda-compat libcuda carries a newer version than the host driver; it is
            # not the host driver's version.
            if name == "libcuda_version" and isinstance(drv.libcuda_path, str) and is_compat_path(drv.libcuda_path):
                continue
            return value, f"driver.{name}"
    return None


def driver_cuda(drv: DriverFacts, tables: RuleTables, driver: Version | None) -> Version | None:
    """Highest CUDA the host driver runs natively (NVML, else cuDriverGetVersion, else the tables)."""
    if isinstance(drv.cuda_driver_version, Version):
        return drv.cuda_driver_version
    compat = isinstance(drv.libcuda_path, str) and is_compat_path(drv.libcuda_path)
    if isinstance(drv.libcuda_cuda_version, Version) and not compat:
        return drv.libcuda_cuda_version
    if driver is not None:
        return tables.cuda_driver.max_cuda_for_driver(driver)
    return None


def gpu_ccs(facts: Facts) -> list[Version]:
    """Compute capabilities of the GPUs (NVML first, else what torch saw)."""
    ccs: list[Version] = []
    if isinstance(facts.driver, DriverFacts):
        ccs = [g.compute_capability for g in facts.driver.gpus if isinstance(g.compute_capability, Version)]
    t = torch_facts(facts)
    if not ccs and t:
        ccs = [d.capability for d in t.devices]
    return sorted(set(ccs))


def gpu_label(g: GpuFacts) -> str:
    """'GPU 0 (NVIDIA A100-SXM4-80GB, 00000000:07:00.0)'."""
    return f"GPU {g.index} ({g.name}, {g.pci_bus_id})"


def in_container(facts: Facts) -> bool:
    """Whether the container probe says we run inside a container."""
    c = container_facts(facts)
    return bool(c and c.in_container)


def host_side(facts: Facts) -> str:
    """A note that driver-level fixes happen on the host when we run in a container."""
    return (
        " (This runs inside a container: do this on the host, then restart the container.)"
        if in_container(facts)
        else ""
    )


def install_driver_command(branch: int) -> str:
    """The usual way to install a driver branch on Ubuntu/Debian, with the generic fallback."""
    return (
        f"`sudo apt install nvidia-driver-{branch}` (Ubuntu; or `sudo ubuntu-drivers install`), "
        f"or NVIDIA's installer for branch {branch}+ from {DRIVER_DOWNLOAD_URL}; then reboot"
    )


# --------------------------------------------------------------------------------------------
# CUDA_VISIBLE_DEVICES, parsed the way CUDA parses it


@dataclass(slots=True)
class VisibleDevices:
    """CUDA_VISIBLE_DEVICES resolved against the GPUs NVML lists."""

    raw: str
    tokens: list[str]
    #: (token, what it selects) for every entry CUDA accepts, in order
    selected: list[tuple[str, str]] = field(default_factory=list)
    #: index of the entry where CUDA stopped parsing, or None
    stopped_at: int | None = None
    #: why CUDA stopped there ("" when it did not)
    stop_reason: str = ""
    #: the stop was a deliberate negative index (the documented "-1" idiom)
    deliberate_stop: bool = False
    duplicate: str = ""  #: the first repeated entry ("" when none)
    mig_uuids: list[str] = field(default_factory=list)  #: MIG UUIDs that were selected
    uses_indices: bool = False  #: some accepted entry is an integer index

    @property
    def ignored(self) -> list[str]:
        """Entries after the one CUDA stopped at (never looked at)."""
        return self.tokens[self.stopped_at + 1 :] if self.stopped_at is not None else []

    @property
    def visible_count(self) -> int:
        """How many devices CUDA ends up exposing (0 when a repeat empties the list)."""
        return 0 if self.duplicate else len(self.selected)


def parse_visible_devices(value: str, gpus: Sequence[GpuFacts]) -> VisibleDevices:
    """Parse CUDA_VISIBLE_DEVICES like CUDA: comma list, stop at the first invalid entry.

    NOTE: semantics from the CUDA programming guide's environment-variable table
    (https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables):
    integer indices or GPU UUIDs (a unique prefix is enough), "MIG-<uuid>" for MIG devices; "if
    one of the indices is invalid, only the devices whose index precedes the invalid index are
    visible". torch mirrors this in torch/cuda/__init__.py `_parse_visible_devices`, including
    "Repeated ordinal results in empty set" and strtoul-style parsing ("1gpu" -> 1).
    """
    tokens = [t.strip() for t in value.split(",")]
    vd = VisibleDevices(raw=value, tokens=tokens)
    seen: set[str] = set()
    mig_all = [(m.uuid, g) for g in gpus for m in g.mig_devices]
    for i, tok in enumerate(tokens):
        key, what, problem = _resolve_token(tok, gpus, mig_all)
        if problem:
            vd.stopped_at, vd.stop_reason = i, problem
            vd.deliberate_stop = bool(re.match(r"^-\d+$", tok))
            break
        if key in seen:
            vd.duplicate = tok
            break
        seen.add(key)
        vd.selected.append((tok, what))
        if tok.upper().startswith("MIG-"):
            vd.mig_uuids.append(key)
        elif not tok.upper().startswith("GPU-"):
            vd.uses_indices = True
    return vd


def _resolve_token(tok: str, gpus: Sequence[GpuFacts], migs: list[tuple[str, GpuFacts]]) -> tuple[str, str, str]:
    """(identity key, description, problem) for one CUDA_VISIBLE_DEVICES entry."""
    upper = tok.upper()
    if upper.startswith("GPU-"):
        hits = [g for g in gpus if g.uuid.upper().startswith(upper)]
        if len(hits) == 1:
            return hits[0].uuid, gpu_label(hits[0]), ""
        if not hits:
            return "", "", f"{tok!r} matches no GPU UUID on this machine"
        return "", "", f"{tok!r} is ambiguous: it is a prefix of {len(hits)} GPU UUIDs"
    if upper.startswith("MIG-GPU-"):
        # NOTE: the pre-R470 MIG form "MIG-GPU-<uuid>/<gi>/<ci>"; only the GPU part is checkable.
        gpu_part = upper[4:].split("/", 1)[0]
        hits = [g for g in gpus if g.uuid.upper().startswith(gpu_part)]
        if len(hits) == 1:
            return tok, f"a MIG device of {gpu_label(hits[0])}", ""
        return "", "", f"{tok!r} names no MIG-enabled GPU on this machine"
    if upper.startswith("MIG-"):
        mhits = [(u, g) for u, g in migs if u.upper().startswith(upper)]
        if len(mhits) == 1:
            return mhits[0][0], f"MIG device {mhits[0][0]} on {gpu_label(mhits[0][1])}", ""
        if not mhits:
            return "", "", f"{tok!r} matches no MIG device UUID on this machine"
        return "", "", f"{tok!r} is ambiguous: it is a prefix of {len(mhits)} MIG UUIDs"
    m = re.match(r"\d+", tok)
    if not m:
        if re.match(r"^-\d+$", tok):
            return "", "", f"{tok!r} is a negative index (hides it and everything after it)"
        return "", "", f"{tok!r} is neither an index nor a GPU-/MIG- UUID"
    index = int(m.group())
    if index >= len(gpus):
        have = f"indices 0-{len(gpus) - 1}" if gpus else "none"
        return "", "", f"index {index} does not exist (this process can see {len(gpus)} GPU(s): {have})"
    return f"#{index}", f"CUDA device {index}", ""


def visible_devices(facts: Facts) -> str | None:
    """CUDA_VISIBLE_DEVICES when set (possibly ""), else None."""
    return env_vars(facts).get("CUDA_VISIBLE_DEVICES")


def gpu_list(drv: DriverFacts) -> tuple[GpuFacts, ...]:
    """NVML's GPU list, or a skip when NVML could not list GPUs."""
    if drv.nvml_status != "ok":
        raise SkipCheck(f"GPU list unknown: NVML status is {drv.nvml_status} ({drv.nvml_error or 'no detail'})")
    return drv.gpus


# --------------------------------------------------------------------------------------------
# DRV001


class NoNvidiaDriver(Check):
    """No NVIDIA driver is installed.

    ## What it checks
    That some part of the NVIDIA driver exists: NVML (`libnvidia-ml.so.1`), the kernel module
    (`/proc/driver/nvidia/version`) or `libcuda.so.1` (loadable, or at least present on disk).
    It fires only when all of them are missing, and says whether an NVIDIA GPU is on the PCI bus.

    ## Why it matters
    Without a driver nothing can use the GPU: `torch.cuda.is_available()` is False and
    `nvidia-smi` is missing or fails. CUDA's own message for this case, "CUDA driver version is
    insufficient for CUDA runtime version", is misleading: there is no driver at all.

    ## Example
    A fresh Ubuntu server with an A100 in its PCI slot and no `nvidia-driver-*` package; or a
    container started without `--gpus`; or a CPU-only CI runner.

    ## Fix
    Bare metal: install the driver branch torch's CUDA build needs (e.g.
    `sudo apt install nvidia-driver-580`), then reboot. In a container: start it with GPUs
    (`docker run --gpus all`, with the NVIDIA Container Toolkit on the host; on Kubernetes request
    `nvidia.com/gpu`). The driver belongs on the host, never in the image.

    ## References
    - https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/index.html
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html
    - https://docs.nvidia.com/cuda/wsl-user-guide/index.html
    """

    code = "DRV001"
    name = "no-nvidia-driver"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ("cuda_driver",)
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire only when NVML, the kernel module and libcuda are all absent."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        if drv.nvml_status not in ("library-not-found", "driver-not-loaded"):
            return
        if known(drv.kernel_module_version) or known(drv.proc_version_text) or known(drv.libcuda_path):
            return
        libcuda_files: tuple[str, ...] = ()
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            libcuda_files = facts.cuda_libs.libcuda_files
            if libcuda_files:
                # NOTE: libcuda exists but does not load: libcuda-not-on-loader-path's case.
                return
        host = facts.host if isinstance(facts.host, HostFacts) else None
        pci = host.nvidia_pci_devices if host else Unavailable(probe="host", reason="host facts unavailable")
        wsl = bool(host and host.wsl2)
        container = container_facts(facts)

        if drv.nvml_status == "library-not-found":
            what = "No NVIDIA driver is installed: NVML (libnvidia-ml.so.1) is not found"
        else:
            what = "No NVIDIA driver is installed or loaded: NVML is present but reports no driver loaded"
        what += ", the kernel module is not loaded (/proc/driver/nvidia/version is absent) and libcuda.so.1 cannot be loaded"
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            what += " (no libcuda.so* anywhere on disk)"
        if wsl:
            gpu = " This is WSL2: the GPU driver lives on Windows and is exposed through /usr/lib/wsl/lib."
        elif isinstance(pci, tuple) and pci:
            gpu = f" An NVIDIA GPU is on the PCI bus at {', '.join(pci)} but no driver is loaded for it."
        elif isinstance(pci, tuple):
            gpu = " There is no NVIDIA GPU on the PCI bus either — this looks like a CPU-only machine."
        else:
            gpu = f" Whether an NVIDIA GPU is on the PCI bus is unknown ({pci.reason})."
        message = f"{what}.{gpu}"

        cpu_only = isinstance(pci, tuple) and not pci and not wsl
        fix = self._fix(facts, tables, container, wsl=wsl, cpu_only=cpu_only)
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": drv.nvml_status,
                "driver.nvml_error": drv.nvml_error or "(none)",
                "driver.kernel_module_version": drv_ev(drv.kernel_module_version),
                "driver.libcuda_path": drv.libcuda_path,
                "cuda_libs.libcuda_files": libcuda_files
                if isinstance(facts.cuda_libs, CudaLibsFacts)
                else facts.cuda_libs,
                "host.nvidia_pci_devices": pci,
                "container.in_container": container.in_container if container else facts.container,
            },
            fix=fix,
        )

    def _fix(
        self, facts: Facts, tables: RuleTables, container: ContainerFacts | None, *, wsl: bool, cpu_only: bool
    ) -> str:
        branch, why = self._branch(facts, tables)
        if wsl:
            return (
                "Install the current NVIDIA Windows driver (it includes WSL2 support) on the Windows host and "
                "restart WSL (`wsl --shutdown`); do not install a Linux NVIDIA driver inside WSL2. "
                "See https://docs.nvidia.com/cuda/wsl-user-guide/index.html"
            )
        if container and container.in_container:
            if container.kubernetes:
                start = (
                    "Request a GPU for this pod (`resources: limits: nvidia.com/gpu: 1`) on a node with the NVIDIA "
                    "device plugin / GPU Operator"
                )
            else:
                start = (
                    "Start the container with GPUs: `docker run --gpus all ...` (or `--device nvidia.com/gpu=all` with CDI); "
                    f"the host needs the NVIDIA driver and the NVIDIA Container Toolkit ({CONTAINER_TOOLKIT_URL})"
                )
            tail = (
                " This host shows no NVIDIA GPU on its PCI bus, so run the container on a GPU machine"
                " (or install a CPU-only torch if you do not need a GPU)."
                if cpu_only
                else f" The host needs NVIDIA driver branch {branch} or newer ({why}); the driver is installed on the "
                "host, never in the image."
            )
            return start + "." + tail
        if cpu_only:
            return (
                "This machine has no NVIDIA GPU, so no driver can help: run on a machine with an NVIDIA GPU, "
                "or install the CPU-only torch (`pip install torch --index-url https://download.pytorch.org/whl/cpu`)."
            )
        return (
            f"Install the NVIDIA driver, branch {branch} or newer ({why}): {install_driver_command(branch)}. "
            "Check with `nvidia-smi`."
        )

    @staticmethod
    def _branch(facts: Facts, tables: RuleTables) -> tuple[int, str]:
        t = torch_facts(facts)
        if t and t.build == "cuda" and isinstance(t.cuda_version, Version):
            rel = tables.cuda_driver.min_driver_for(t.cuda_version)
            if rel is not None:
                return rel.min_driver.major, (
                    f"torch {t.version} is built for CUDA {cuda_text(t.cuda_version)}, which needs driver >= "
                    f"{nv_version(rel.min_driver)}"
                )
        newest = tables.cuda_driver.newest
        floor = tables.cuda_driver.minor_compat_floor(newest.major)
        if floor is not None:
            return (
                floor.min_driver.major,
                f"runs every CUDA {newest.major}.x build: driver >= {nv_version(floor.min_driver)}",
            )
        rel = tables.cuda_driver.releases[-1]
        return rel.min_driver.major, f"runs CUDA {cuda_text(rel.version)}: driver >= {nv_version(rel.min_driver)}"


# --------------------------------------------------------------------------------------------
# DRV002


class DriverLibraryMismatch(Check):
    """The loaded NVIDIA kernel module and the user-space driver libraries are different versions.

    ## What it checks
    NVML's "Driver/library version mismatch" error, or a kernel module version
    (`/proc/driver/nvidia/version`) that differs from the user-space driver NVML or libcuda
    reports.

    ## Why it matters
    `nvidia-smi` fails with "Failed to initialize NVML: Driver/library version mismatch" and CUDA
    cannot initialise. It almost always follows a driver upgrade (often by unattended-upgrades)
    while the old kernel module stays loaded until the next reboot.

    ## Example
    Kernel module 535.161.08 still loaded after `apt` upgraded the libraries to 535.183.01.

    ## Fix
    Reboot. Or, with nothing using the GPU, reload the modules:
    `sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia nvidia_uvm`.
    In a container the host has to do this.

    ## References
    - https://stackoverflow.com/questions/43022843/nvidia-nvml-driver-library-version-mismatch
    - https://github.com/NVIDIA/nvidia-container-toolkit/issues/394
    """

    code = "DRV002"
    name = "driver-library-mismatch"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Compare the kernel module with NVML's and libcuda's versions."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        kernel = drv.kernel_module_version
        user: list[str] = []
        if isinstance(kernel, Version):
            if isinstance(drv.driver_version, Version) and drv.driver_version != kernel:
                user.append(f"NVML reports {nv_version(drv.driver_version)}")
            # NOTE: a cuda-compat libcuda is *meant* to differ from the kernel module
            # (https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html).
            compat = isinstance(drv.libcuda_path, str) and is_compat_path(drv.libcuda_path)
            if isinstance(drv.libcuda_version, Version) and drv.libcuda_version != kernel and not compat:
                user.append(f"libcuda.so is {nv_version(drv.libcuda_version)}")
        if drv.nvml_status != "driver-library-mismatch" and not user:
            return
        kernel_text = nv_version(kernel) if isinstance(kernel, Version) else "unknown"
        if not user and isinstance(drv.libcuda_version, Version):
            user.append(f"libcuda.so is {nv_version(drv.libcuda_version)}")
        user_text = " and ".join(user) if user else "the user-space libraries are another version"
        message = (
            f"The loaded NVIDIA kernel module is {kernel_text} but {user_text}"
            + (f"; NVML says: {drv.nvml_error!r}" if drv.nvml_status == "driver-library-mismatch" else "")
            + ". The driver was upgraded without reloading the kernel module, so CUDA cannot initialise until it is."
        )
        fix = (
            "Reboot the machine; or, with no process using the GPU (`sudo lsof /dev/nvidia*`; stop nvidia-persistenced, "
            "dcgm and the display manager), reload the modules: "
            "`sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia nvidia_uvm`."
            + host_side(facts)
        )
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": drv.nvml_status,
                "driver.kernel_module_version": drv_ev(kernel),
                "driver.driver_version": drv_ev(drv.driver_version),
                "driver.libcuda_version": drv_ev(drv.libcuda_version),
                "driver.proc_version_text": drv.proc_version_text,
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV003


class GpuAccessLost(Check):
    """The container has GPU device nodes but lost access to them ("Unknown Error").

    ## What it checks
    Inside a container whose `/dev/nvidia*` nodes exist, NVML fails with "Unknown Error" or
    `cuInit` returns 999 (`CUDA_ERROR_UNKNOWN`).

    ## Why it matters
    This is the signature of a container whose device-cgroup rules were dropped: when systemd
    manages the container's cgroups and the host runs `systemctl daemon-reload` (package
    upgrades do this), runc's device rules for the NVIDIA nodes are lost. Jobs that ran fine
    suddenly fail with "Failed to initialize NVML: Unknown Error" and
    `RuntimeError: CUDA unknown error`, and they keep failing until the container is recreated.

    ## Example
    A training container on a Kubernetes node; an apt upgrade on the host reloads systemd; from
    then on `nvidia-smi` in the container prints "Failed to initialize NVML: Unknown Error".

    ## Fix
    Restart (recreate) the container. To stop it recurring, pass GPUs through CDI
    (`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, `docker run --device
    nvidia.com/gpu=all`), create the /dev/char symlinks (`sudo nvidia-ctk system
    create-dev-char-symlinks --create-all`), or use Docker's cgroupfs cgroup driver.

    ## References
    - https://github.com/NVIDIA/nvidia-container-toolkit/issues/48
    - https://github.com/NVIDIA/nvidia-docker/issues/1730
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/troubleshooting.html
    """

    code = "DRV003"
    name = "gpu-access-lost"
    severity = Severity.ERROR
    requires = frozenset({"driver", "container"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on NVML unknown-error / cuInit 999 inside a container with device nodes."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        c: ContainerFacts = facts.container  # type: ignore[assignment]
        if not applies_gpu_access_lost(drv, c):
            return
        symptoms = []
        if drv.nvml_status == "unknown-error":
            symptoms.append(f"NVML fails with {drv.nvml_error or 'Unknown Error'!r}")
        if cu_init(drv) == CUDA_ERROR_UNKNOWN:
            symptoms.append(f"cuInit returns 999 ({drv.cu_init_error or 'CUDA_ERROR_UNKNOWN'})")
        message = (
            f"This {c.runtime} container has the GPU device nodes ({', '.join(c.device_nodes)}) but "
            + " and ".join(symptoms)
            + ": the container has lost access to its GPUs. The usual cause is the host running "
            "`systemctl daemon-reload` (e.g. during a package upgrade), which drops the container's device cgroup rules."
        )
        restart = (
            "delete the pod so it is recreated"
            if c.kubernetes
            else "restart the container (`docker restart <container>`)"
        )
        fix = (
            f"Now: {restart}; it regains the GPUs. Permanently (on the host): use CDI "
            "(`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, then `docker run --device nvidia.com/gpu=all`), "
            "or create the device symlinks runc needs (`sudo nvidia-ctk system create-dev-char-symlinks --create-all`), "
            'or switch Docker to the cgroupfs driver (`"exec-opts": ["native.cgroupdriver=cgroupfs"]` in '
            "/etc/docker/daemon.json). See https://github.com/NVIDIA/nvidia-container-toolkit/issues/48"
        )
        yield self.finding(
            message=message,
            evidence={
                "container.in_container": c.in_container,
                "container.runtime": c.runtime,
                "container.device_nodes": c.device_nodes,
                "driver.nvml_status": drv.nvml_status,
                "driver.nvml_error": drv.nvml_error or "(none)",
                "driver.cu_init_result": drv.cu_init_result,
            },
            fix=fix,
        )


def applies_gpu_access_lost(drv: DriverFacts, c: ContainerFacts | None) -> bool:
    """DRV003's condition (shared with DRV004, which must stay quiet when it holds)."""
    if c is None or not c.in_container or not c.device_nodes:
        return False
    # NOTE: cuInit 999 with /dev/nvidia-uvm missing is a container started without the UVM node
    # (cuda-unknown-error explains it); NVML does not need that node, so its "Unknown Error"
    # with the nodes present is the dropped-cgroup signature either way.
    return drv.nvml_status == "unknown-error" or (cu_init(drv) == CUDA_ERROR_UNKNOWN and _has_uvm(c))


def _has_uvm(c: ContainerFacts) -> bool:
    """Whether /dev/nvidia-uvm (needed by every CUDA context) exists."""
    return "/dev/nvidia-uvm" in c.device_nodes


# --------------------------------------------------------------------------------------------
# DRV004


class CudaUnknownError(Check):
    """CUDA initialisation fails with an unknown error (999).

    ## What it checks
    `cuInit` returns 999 (`CUDA_ERROR_UNKNOWN`), or torch reports "Error 999: unknown error",
    outside the container case that `gpu-access-lost` explains.

    ## Why it matters
    `torch.cuda.is_available()` is False with "CUDA unknown error - this may be due to an
    incorrectly set up environment". The common causes are a missing `/dev/nvidia-uvm` (the
    `nvidia_uvm` module is not loaded) and a laptop or workstation resumed from suspend, after
    which the UVM module is in a bad state.

    ## Example
    A desktop after suspend/resume: `nvidia-smi` works, but every CUDA program fails with error 999.

    ## Fix
    Load or reload the UVM module: `sudo modprobe nvidia_uvm`, or
    `sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm` (no CUDA process may be running); reboot if
    that does not help.

    ## References
    - https://docs.nvidia.com/cuda/cuda-installation-guide-linux/index.html#device-node-verification
    - https://github.com/pytorch/pytorch/issues/49081
    - https://github.com/pytorch/pytorch/issues/88639
    - https://github.com/pytorch/pytorch/issues/43281
    """

    code = "DRV004"
    name = "cuda-unknown-error"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on cuInit 999 (or torch's Error 999) unless DRV003 explains it."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        reason = torch_reason(facts)
        code = cu_init(drv)
        torch_says = bool(re.search(r"error 999|unknown error", reason, re.IGNORECASE))
        if not (code == CUDA_ERROR_UNKNOWN or (code is None and torch_says)):
            return
        c = container_facts(facts)
        if applies_gpu_access_lost(drv, c) or (
            c and c.in_container and c.device_nodes and _has_uvm(c) and code is None and torch_says
        ):
            return
        seen = (
            f"cuInit returns 999 ({drv.cu_init_error or 'CUDA_ERROR_UNKNOWN'})"
            if code == CUDA_ERROR_UNKNOWN
            else f"torch reports {reason.strip()!r}"
        )
        uvm_missing = c is not None and not _has_uvm(c)
        if uvm_missing and c is not None and c.in_container:
            cause = (
                "/dev/nvidia-uvm is missing inside this container: it was started without the UVM device node "
                "(e.g. with --device for /dev/nvidia0 only, or the host had not created the node yet), and CUDA "
                "cannot initialise without it"
            )
            fix = (
                "On the host, create the node (`sudo nvidia-modprobe -c 0 -u`, or `sudo modprobe nvidia_uvm`), then "
                "recreate the container through the NVIDIA runtime (`docker run --gpus all ...`), which passes "
                "/dev/nvidia-uvm in."
            )
        elif uvm_missing:
            cause = (
                "/dev/nvidia-uvm does not exist: the nvidia_uvm kernel module is not loaded, and CUDA cannot "
                "initialise without it"
            )
            fix = (
                "Load the module and create its device node: `sudo modprobe nvidia_uvm` (or `sudo nvidia-modprobe -c 0 -u`); "
                "to load it at boot: `echo nvidia_uvm | sudo tee /etc/modules-load.d/nvidia-uvm.conf`."
            )
        else:
            cause = (
                "the driver is loaded but CUDA cannot initialise; this typically follows a suspend/resume, after which "
                "the nvidia_uvm module is in a bad state"
            )
            fix = (
                "Reload the UVM module with no CUDA process running: `sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`; "
                "reboot if that does not help. For suspend/resume, enable NVIDIA's suspend services "
                "(`sudo systemctl enable nvidia-suspend nvidia-resume nvidia-hibernate`)."
            )
        yield self.finding(
            message=f"CUDA fails to initialise with an unknown error: {seen}; {cause}.",
            evidence={
                "driver.cu_init_result": drv.cu_init_result,
                "driver.cu_init_error": drv.cu_init_error or "(none)",
                "torch.cuda_unavailable_reason": reason or "(none)",
                "container.device_nodes": c.device_nodes if c else facts.container,
            },
            fix=fix + ("" if uvm_missing else host_side(facts)),
        )


# --------------------------------------------------------------------------------------------
# DRV005 / DRV006


@dataclass(frozen=True, slots=True)
class _TorchDriverVerdict:
    """How the driver relates to torch's CUDA build."""

    level: str  #: "full", "minor-compat" or "too-old"
    driver: Version
    driver_source: str
    driver_cuda: Version | None
    cuda: Version
    full_min: Version | None
    floor: Version | None
    why: str  #: for too-old: the reason in words
    compat: bool = False  #: the driver is a working cuda-compat libcuda, not the host driver


def _torch_driver_verdict(facts: Facts, tables: RuleTables) -> _TorchDriverVerdict:
    """Compare torch's CUDA build with the driver (skips when either is unknown)."""
    t: TorchFacts = facts.torch  # type: ignore[assignment]
    drv: DriverFacts = facts.driver  # type: ignore[assignment]
    if t.status != "ok":
        raise SkipCheck(f"torch does not import (status {t.status})")
    if t.build != "cuda":
        raise SkipCheck(f"torch is not a CUDA build (build: {t.build if isinstance(t.build, str) else 'unknown'})")
    cuda: Version = need(t.cuda_version, "torch's CUDA version")
    found = driver_version(drv)
    if found is None:
        raise SkipCheck(
            "driver version unknown: "
            + (drv.driver_version.reason if isinstance(drv.driver_version, Unavailable) else "no source")
        )
    driver, source = found
    compat = False
    # NOTE: with a working cuda-compat package the effective driver is the compat libcuda.
    if (
        isinstance(drv.libcuda_path, str)
        and is_compat_path(drv.libcuda_path)
        and isinstance(drv.libcuda_version, Version)
    ):
        if not any(_forward_compat_unsupported(g, tables) for g in drv.gpus) and cu_init(drv) in (None, 0):
            driver, source = drv.libcuda_version, "driver.libcuda_version"
            compat = True
    d_cuda = (
        drv.libcuda_cuda_version
        if compat and isinstance(drv.libcuda_cuda_version, Version)
        else driver_cuda(drv, tables, driver)
    )
    rel = tables.cuda_driver.min_driver_for(cuda)
    floor = tables.cuda_driver.minor_compat_floor(cuda.major)
    full_min = rel.min_driver if rel else None
    floor_v = floor.min_driver if floor else None

    if d_cuda is not None and cuda.major > d_cuda.major:
        why = (
            f"CUDA {cuda.major} is a newer major than the driver's CUDA {cuda_text(d_cuda)}; minor-version "
            "compatibility only works within one major"
        )
        return _TorchDriverVerdict("too-old", driver, source, d_cuda, cuda, full_min, floor_v, why, compat)
    if floor_v is not None and driver < floor_v:
        why = f"it is below {nv_version(floor_v)}, the lowest driver that runs any CUDA {cuda.major}.x build"
        return _TorchDriverVerdict("too-old", driver, source, d_cuda, cuda, full_min, floor_v, why, compat)
    if full_min is not None:
        full = driver >= full_min
    elif d_cuda is not None:
        full = d_cuda.release[:2] >= cuda.release[:2]
    else:
        raise SkipCheck(
            f"the rule tables do not know CUDA {cuda_text(cuda)} and the driver's CUDA version is unknown "
            "(rules-outdated covers out-of-date tables)"
        )
    if full:
        return _TorchDriverVerdict("full", driver, source, d_cuda, cuda, full_min, floor_v, "", compat)
    if floor_v is None:
        needed = nv_version(full_min) if full_min else "?"
        why = f"CUDA {cuda.major}.x has no minor-version compatibility, so it needs driver >= {needed}"
        return _TorchDriverVerdict("too-old", driver, source, d_cuda, cuda, full_min, floor_v, why, compat)
    return _TorchDriverVerdict("minor-compat", driver, source, d_cuda, cuda, full_min, floor_v, "", compat)


def _driver_desc(v: _TorchDriverVerdict) -> str:
    supports = f" (supports CUDA up to {cuda_text(v.driver_cuda)})" if v.driver_cuda else ""
    compat = " (a cuda-compat forward-compatibility libcuda)" if v.compat else ""
    return f"NVIDIA driver {nv_version(v.driver)}{compat}{supports}"


def _found_version_note(reason: str) -> str:
    """torch's own words when it reports the driver's CUDA version ("found version 11040")."""
    m = re.search(r"found version (\d+)", reason)
    if not m:
        return ""
    n = int(m.group(1))
    return f" torch itself reports the driver as too old (found version {n} = CUDA {n // 1000}.{(n % 1000) // 10})."


class DriverTooOldForTorch(Check):
    """The NVIDIA driver is too old for the CUDA version torch was built with.

    ## What it checks
    Compares `torch.version.cuda` with the driver: below the CUDA major's minor-version
    compatibility floor (or a CUDA major newer than the driver supports), torch cannot use the
    GPU at all. The numbers come from `rules/cuda_driver.toml`.

    ## Why it matters
    torch warns "The NVIDIA driver on your system is too old (found version 11040)" and
    `torch.cuda.is_available()` returns False; CUDA calls fail with "CUDA driver version is
    insufficient for CUDA runtime version".

    ## Example
    Driver 470.256.02 (CUDA 11.4) with `torch 2.5.1+cu124`. A 535 driver with a `+cu124` wheel is
    *not* this finding: it runs under minor-version compatibility (`driver-minor-compat-only`).

    ## Fix
    Upgrade the driver to at least the full-support minimum for torch's CUDA, or install the
    newest torch wheel built for a CUDA this driver runs (the exact pip command is in the finding).

    ## References
    - https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#cuda-driver
    - https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html
    - https://pytorch.org/get-started/previous-versions/
    """

    code = "DRV005"
    name = "driver-too-old-for-torch"
    severity = Severity.ERROR
    requires = frozenset({"driver", "torch"})
    tables = ("cuda_driver", "torch", "gpus")

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when the driver cannot run torch's CUDA build even under minor-version compat."""
        v = _torch_driver_verdict(facts, tables)
        if v.level != "too-old":
            return
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        nvml_check = env_vars(facts).get("PYTORCH_NVML_BASED_CUDA_CHECK", "") not in ("", "0")
        if t.cuda_available is True and isinstance(t.device_count, int) and t.device_count > 0 and not nvml_check:
            # NOTE: torch itself initialised CUDA with this driver, so the tables must be wrong
            # about this combination; saying "cannot run" would contradict the machine.
            raise SkipCheck(
                f"torch reports CUDA available with driver {nv_version(v.driver)}, contradicting the rule tables "
                f"(CUDA {cuda_text(v.cuda)}); see rules-outdated"
            )
        needs = []
        if v.floor is not None:
            needs.append(f"at least {nv_version(v.floor)} (CUDA {v.cuda.major}.x minor-version compatibility)")
        if v.full_min is not None and v.full_min != v.floor:
            needs.append(f"{nv_version(v.full_min)} for full support")
        message = (
            f"{_driver_desc(v)} cannot run torch {t.version}, built for CUDA {cuda_text(v.cuda)}: {v.why}. "
            + (f"CUDA {cuda_text(v.cuda)} needs driver " + " and ".join(needs) + ". " if needs else "")
            + "torch.cuda.is_available() is False on this machine."
            + _found_version_note(t.cuda_unavailable_reason)
        )
        yield self.finding(
            message=message,
            evidence={
                v.driver_source: nv_version(v.driver),
                "driver.cuda_driver_version": facts.driver.cuda_driver_version,  # type: ignore[union-attr]
                "torch.version": t.version,
                "torch.cuda_version": t.cuda_version,
                "torch.cuda_unavailable_reason": t.cuda_unavailable_reason or "(none)",
            },
            fix=_upgrade_or_wheel_fix(facts, tables, v, full=False),
        )


def _upgrade_or_wheel_fix(facts: Facts, tables: RuleTables, v: _TorchDriverVerdict, *, full: bool) -> str:
    """Both remedies: the driver to install, and the newest wheel that runs on the current driver."""
    t: TorchFacts = facts.torch  # type: ignore[assignment]
    target = v.full_min or v.floor
    parts = []
    ccs = gpu_ccs(facts)
    ceiling = driver_ceiling(tables, ccs)
    if target is not None and ceiling is not None and target.major > ceiling:
        parts.append(
            f"(a) no driver upgrade can help: compute capability {', '.join(str(c) for c in ccs)} is supported "
            f"only up to driver branch R{ceiling}, and CUDA {cuda_text(v.cuda)} needs >= {nv_version(target)}"
        )
    elif target is not None:
        parts.append(
            f"(a) upgrade the driver to >= {nv_version(target)} (branch {target.major} or newer): "
            f"{install_driver_command(target.major)}" + host_side(facts)
        )
    wheels = best_wheels(tables, driver=v.driver, gpu_ccs=ccs, python=t.python_version)
    note = ""
    if not wheels and not full:
        wheels = best_wheels(tables, driver=v.driver, gpu_ccs=ccs, python=t.python_version, full_driver_support=False)
        note = " (runs under minor-version compatibility)"
    if wheels:
        w = wheels[0]
        parts.append(
            f"(b) keep driver {nv_version(v.driver)} and install {w}{note}, the newest torch build that runs on it"
            + (f" and covers compute capability {', '.join(str(c) for c in ccs)}" if ccs else "")
            + f": `{w.pip_command}`"
        )
    else:
        parts.append(
            f"(b) no torch wheel in the rule tables runs on driver {nv_version(v.driver)}"
            + (f" for compute capability {', '.join(str(c) for c in ccs)}" if ccs else "")
            + ", so upgrading the driver is the only option"
        )
    return "Either " + "; or ".join(parts) + "."


class DriverMinorCompatOnly(Check):
    """The driver runs torch's CUDA build only under minor-version compatibility.

    ## What it checks
    The driver is at or above the CUDA major's minor-version-compatibility floor but below the
    full-support minimum for torch's CUDA version (`rules/cuda_driver.toml`).

    ## Why it matters
    torch works, with a limited feature set: APIs that need a newer driver fail with
    `cudaErrorCallRequiresNewerDriver`, and PTX generated by the newer toolkit cannot be JIT
    compiled ("the provided PTX was compiled with an unsupported toolchain"). A GPU that the
    wheel covers only through PTX (no SASS) therefore cannot run torch's kernels at all; the
    finding is raised to an error in that case.

    ## Example
    Driver 535.183.01 (CUDA 12.2) with `torch 2.5.1+cu124`: works on an A100 (SASS sm_80 in the
    wheel), fails on a GPU that only the wheel's PTX covers.

    ## Fix
    Upgrade the driver to the full-support minimum, or install a torch wheel built for a CUDA
    version this driver fully supports.

    ## References
    - https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html
    - https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#cuda-driver
    """

    code = "DRV006"
    name = "driver-minor-compat-only"
    severity = Severity.WARNING
    requires = frozenset({"driver", "torch"})
    tables = ("cuda_driver", "torch", "gpus")

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire between the minor-compat floor and the full-support minimum."""
        v = _torch_driver_verdict(facts, tables)
        if v.level != "minor-compat":
            return
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        ptx_only = self._ptx_only_gpus(t, drv, tables)
        message = (
            f"{_driver_desc(v)} is below {nv_version(v.full_min) if v.full_min else '?'}, the full-support minimum for "
            f"CUDA {cuda_text(v.cuda)} (torch {t.version}), but at or above the CUDA {v.cuda.major}.x minor-version "
            f"compatibility floor {nv_version(v.floor) if v.floor else '?'}. torch runs with a limited feature set: "
            "calls that need a newer driver fail (cudaErrorCallRequiresNewerDriver) and PTX from the newer toolkit "
            "cannot be JIT-compiled by this driver (cudaErrorUnsupportedPtxVersion)."
        )
        severity = None
        if ptx_only:
            severity = Severity.ERROR
            message += (
                " Raised to an error: "
                + "; ".join(f"{gpu_label(g)} is covered only by PTX {entry}" for g, entry in ptx_only)
                + " in this build, and this driver cannot JIT that PTX, so torch's kernels cannot run there."
            )
        yield self.finding(
            message=message,
            evidence={
                v.driver_source: nv_version(v.driver),
                "driver.cuda_driver_version": drv.cuda_driver_version,
                "torch.version": t.version,
                "torch.cuda_version": t.cuda_version,
                "torch.arch_list": t.arch_list,
            },
            fix=_upgrade_or_wheel_fix(facts, tables, v, full=True),
            severity=severity,
        )

    @staticmethod
    def _ptx_only_gpus(t: TorchFacts, drv: DriverFacts, tables: RuleTables) -> list[tuple[GpuFacts, str]]:
        archs: tuple[str, ...] | None = t.arch_list if isinstance(t.arch_list, tuple) else None
        if archs is None and isinstance(t.version, Version) and isinstance(t.cuda_version, Version):
            var = tables.torch.variant(t.version, f"cu{t.cuda_version.major}{t.cuda_version.minor}")
            if var is not None:
                archs = tuple(f"sm_{c.major}{c.minor}" for c in var.sass) + tuple(
                    f"compute_{c.major}{c.minor}" for c in var.ptx
                )
        if not archs:
            return []
        out = []
        for g in drv.gpus:
            if isinstance(g.compute_capability, Version):
                cov, entry = coverage(g.compute_capability, archs)
                if cov is Coverage.PTX:
                    out.append((g, entry))
        return out


# --------------------------------------------------------------------------------------------
# DRV007


class DriverTooOldForCudart(Check):
    """A CUDA runtime (libcudart) that will be loaded needs a newer driver than this one.

    ## What it checks
    Every libcudart the loader resolves (and the one torch actually mapped), with its version
    from the library scan, against the CUDA version the driver supports. It fires when the
    runtime's CUDA major is newer than the driver's (minor-version compatibility works only within
    a major) or the driver is below the major's minor-compatibility floor. torch's own runtime of
    the same CUDA version is left to `driver-too-old-for-torch`. A runtime the loader merely finds
    (say a system toolkit) while torch uses its own runtime of another CUDA major is a warning, not
    an error, unless LD_LIBRARY_PATH forces it in.

    ## Why it matters
    Programs linked against that runtime fail at their first CUDA call with
    "CUDA driver version is insufficient for CUDA runtime version" (cudaErrorInsufficientDriver).

    ## Example
    An `nvidia/cuda:12.4.1-runtime` image (libcudart.so.12.4) on a host with driver 470 (CUDA 11.4).

    ## Fix
    Upgrade the host driver; or use an image / LD_LIBRARY_PATH entry with a CUDA the driver
    supports; on data-center GPUs the cuda-compat package provides forward compatibility.

    ## References
    - https://docs.nvidia.com/deploy/cuda-compatibility/index.html
    - https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html
    """

    code = "DRV007"
    name = "driver-too-old-for-cudart"
    severity = Severity.ERROR
    requires = frozenset({"driver", "cuda_libs"})
    tables = ("cuda_driver", "gpus")

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per libcudart copy that will load and needs a newer driver."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        libs: CudaLibsFacts = facts.cuda_libs  # type: ignore[assignment]
        found = driver_version(drv)
        driver = found[0] if found else None
        # NOTE: libcudart talks to whatever libcuda loads, so a working compat libcuda counts.
        d_cuda: Version | None = None
        if isinstance(drv.libcuda_cuda_version, Version):
            d_cuda = drv.libcuda_cuda_version
        else:
            d_cuda = driver_cuda(drv, tables, driver)
        if d_cuda is None:
            reason = drv.cuda_driver_version.reason if isinstance(drv.cuda_driver_version, Unavailable) else "unknown"
            raise SkipCheck(f"the driver's CUDA version is unknown: {reason}")
        t = torch_facts(facts)
        for path, origin, version in self._loaded_runtimes(libs, t):
            if version is None:
                continue
            major_only = len(version.release) < 2
            if (
                t
                and isinstance(t.cuda_version, Version)
                and origin == "torch"
                and (
                    version.release[:2] == t.cuda_version.release[:2]
                    or (major_only and version.major == t.cuda_version.major)
                )
            ):
                continue  # torch's own runtime: driver-too-old-for-torch reports it
            floor = tables.cuda_driver.minor_compat_floor(version.major)
            too_new_major = version.major > d_cuda.major
            below_floor = (
                driver is not None and floor is not None and driver < floor.min_driver and version.major == d_cuda.major
            )
            if not (too_new_major or below_floor):
                continue
            yield self._finding(
                facts, tables, path, origin, version, driver, d_cuda, severity=self._severity(libs, t, path, origin, version)
            )

    @staticmethod
    def _severity(
        libs: CudaLibsFacts, t: TorchFacts | None, path: str, origin: str, version: Version
    ) -> Severity | None:
        """Warning (not error) for a runtime the loader could find but torch does not use.

        NOTE: a system toolkit newer than the driver is common on machines that only use it to
        compile; torch ships its own runtime of another CUDA major and never loads that one. Only
        programs linked against it fail, so it is a warning unless LD_LIBRARY_PATH forces it in.
        """
        if origin != "loader":
            return None
        directory = path.rsplit("/", 1)[0].rstrip("/")
        if any(d.rstrip("/") == directory for d in libs.ld_library_path):
            return None
        if t and t.build == "cuda" and isinstance(t.cuda_version, Version) and t.cuda_version.major != version.major:
            return Severity.WARNING
        return None

    @staticmethod
    def _loaded_runtimes(libs: CudaLibsFacts, t: TorchFacts | None) -> list[tuple[str, str, Version | None]]:
        """(path, 'loader' | 'torch', version) for each libcudart that will be loaded, deduplicated."""
        paths: list[tuple[str, str]] = []
        for r in libs.resolved:
            if r.soname.startswith("libcudart.so") and isinstance(r.path, str):
                paths.append((r.path, "loader"))
        if t and isinstance(t.loaded_libraries, tuple):
            paths += [(lib.path, "torch") for lib in t.loaded_libraries if lib.library == "libcudart"]
        out: dict[str, tuple[str, str, Version | None]] = {}
        for path, origin in paths:
            version = None
            for copy in libs.copies:
                if (
                    copy.library == "libcudart"
                    and path in (copy.path, copy.real_path)
                    and isinstance(copy.version, Version)
                ):
                    version = copy.version
                    break
            if version is None:
                m = re.search(r"libcudart\.so\.(\d+(?:\.\d+)*)$", path)
                version = Version(m.group(1)) if m else None
            if path not in out or origin == "torch":
                out[path] = (path, origin, version)
        return list(out.values())

    def _finding(
        self,
        facts: Facts,
        tables: RuleTables,
        path: str,
        origin: str,
        version: Version,
        driver: Version | None,
        d_cuda: Version,
        *,
        severity: Severity | None = None,
    ) -> Finding:
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        libs: CudaLibsFacts = facts.cuda_libs  # type: ignore[assignment]
        who = "torch loads" if origin == "torch" else "the dynamic loader resolves"
        vtext = cuda_text(version) if len(version.release) >= 2 else f"{version.major}.x"
        driver_text = nv_version(driver) if driver else "unknown"
        message = (
            f"{who.capitalize()} {path} (CUDA runtime {vtext}), but NVIDIA driver {driver_text} supports CUDA up to "
            f"{cuda_text(d_cuda)}: a CUDA {version.major} runtime cannot run on it (minor-version compatibility only "
            'works within one CUDA major). Programs using it fail with "CUDA driver version is insufficient for CUDA '
            'runtime version".'
        )
        t = torch_facts(facts)
        if severity is Severity.WARNING and t is not None:
            message += (
                f" torch {t.version} uses its own CUDA {cuda_text(t.cuda_version)} runtime and never loads this one, "  # type: ignore[arg-type]
                f"so only programs linked against CUDA {version.major} (for example ones built with this toolkit's "
                "nvcc) are affected: a warning, not an error."
            )
        rel = tables.cuda_driver.min_driver_for(version) if len(version.release) >= 2 else None
        floor = tables.cuda_driver.minor_compat_floor(version.major)
        target = rel.min_driver if rel else (floor.min_driver if floor else None)
        options = []
        if target is not None:
            options.append(
                f"upgrade the host driver to >= {nv_version(target)}: {install_driver_command(target.major)}"
                + host_side(facts)
            )
        directory = path.rsplit("/", 1)[0]
        in_ldpath = [d for d in libs.ld_library_path if d.rstrip("/") == directory.rstrip("/")]
        if in_ldpath:
            options.append(f"remove {in_ldpath[0]} from LD_LIBRARY_PATH so this runtime is not picked up")
        else:
            options.append(
                f"use a CUDA {d_cuda.major}.x build/base image (CUDA <= {cuda_text(d_cuda)}) instead of this CUDA "
                f"{version.major} runtime"
            )
        models = [tables.gpus.lookup(g.name) for g in drv.gpus]
        if drv.gpus and all(m is not None and m.forward_compat for m in models):
            options.append(
                f"on these data-center GPUs, install NVIDIA's forward-compatibility package "
                f"(`apt install cuda-compat-{version.major}-{version.minor if len(version.release) >= 2 else 'X'}`) and put "
                "/usr/local/cuda/compat on LD_LIBRARY_PATH"
            )
        return self.finding(
            message=message,
            evidence={
                "cuda_libs.libcudart": path,
                "cuda_libs.libcudart.version": version,
                "driver.driver_version": drv_ev(drv.driver_version),
                "driver.cuda_driver_version": d_cuda,
            },
            fix="Either " + "; or ".join(options) + ".",
            severity=severity,
        )


# --------------------------------------------------------------------------------------------
# DRV008


def _forward_compat_unsupported(g: GpuFacts, tables: RuleTables) -> bool:
    """Whether *g* is known not to support CUDA forward compatibility (cuda-compat)."""
    model = tables.gpus.lookup(g.name)
    if model is not None:
        return not model.forward_compat
    # NOTE: forward compatibility is for data-center GPUs, select NGC-ready RTX and Jetson only
    # (https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html); GeForce never.
    return bool(re.search(r"geforce|titan", g.name, re.IGNORECASE))


class ForwardCompatUnsupportedGpu(Check):
    """A cuda-compat (forward-compatibility) libcuda is in use on a GPU that does not support it.

    ## What it checks
    Whether the libcuda that loads comes from a cuda-compat directory (e.g.
    `/usr/local/cuda-12.8/compat/`), or CUDA init fails with error 804, while the GPU is not one
    of the classes forward compatibility supports (data-center GPUs, select NGC-ready RTX,
    Jetson).

    ## Why it matters
    CUDA fails to initialise with error 804 "forward compatibility was attempted on non
    supported HW" and torch sees no GPU. This happens when a CUDA container image that enables
    cuda-compat runs on a GeForce/workstation card.

    ## Example
    An image with `/usr/local/cuda/compat` on LD_LIBRARY_PATH on a GeForce RTX 3090 host.

    ## Fix
    Remove the compat directory from LD_LIBRARY_PATH (or from /etc/ld.so.conf.d/, then
    `sudo ldconfig`), or upgrade the host driver so no compat package is needed.

    ## References
    - https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html
    - https://gitlab.com/nvidia/container-images/cuda/-/issues/183
    """

    code = "DRV008"
    name = "forward-compat-unsupported-gpu"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ("gpus", "cuda_driver")
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when cuda-compat is in use (or error 804) on an unsupported GPU."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        compat_paths = self._compat_paths(facts)
        reason = torch_reason(facts)
        err804 = cu_init(drv) == CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE or bool(
            re.search(r"error 804|forward compatibility was attempted on non supported hw", reason, re.IGNORECASE)
        )
        if not compat_paths and not err804:
            return
        bad = [g for g in drv.gpus if _forward_compat_unsupported(g, tables)]
        if not err804 and not bad:
            return
        parts = []
        if compat_paths:
            parts.append(
                f"the libcuda in use comes from a CUDA forward-compatibility package ({', '.join(compat_paths)})"
            )
        if err804:
            parts.append(
                "CUDA initialisation fails with error 804 (CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE: "
                '"forward compatibility was attempted on non supported HW")'
            )
        gpus = bad or list(drv.gpus)
        gpu_text = (
            "; ".join(gpu_label(g) for g in gpus)
            + (" does not" if len(gpus) == 1 else " do not")
            + " support forward compatibility (only data-center GPUs, select NGC-ready RTX cards and Jetson do)"
            if gpus
            else "the GPU does not support forward compatibility"
        )
        message = _sentence(" and ".join(parts)) + f", but {gpu_text}. CUDA cannot initialise, so torch sees no GPU."
        dirs = sorted({p.rsplit("/", 1)[0] for p in compat_paths})
        fix_dir = (
            f"Remove {', '.join(dirs)} from LD_LIBRARY_PATH and from /etc/ld.so.conf.d/*.conf (then `sudo ldconfig`)"
            if dirs
            else "Remove the cuda-compat directory (e.g. /usr/local/cuda/compat) from LD_LIBRARY_PATH and "
            "/etc/ld.so.conf.d/ (then `sudo ldconfig`)"
        )
        host_fix = ""
        t = torch_facts(facts)
        if t and isinstance(t.cuda_version, Version):
            rel = tables.cuda_driver.min_driver_for(t.cuda_version)
            if rel is not None:
                host_fix = f" (>= {nv_version(rel.min_driver)} for torch's CUDA {cuda_text(t.cuda_version)})"
        yield self.finding(
            message=message,
            evidence={
                "driver.libcuda_path": drv.libcuda_path,
                "driver.libcuda_version": drv_ev(drv.libcuda_version),
                "driver.driver_version": drv_ev(drv.driver_version),
                "driver.cu_init_result": drv.cu_init_result,
                "driver.gpus": [g.name for g in gpus],
            },
            fix=(
                f"{fix_dir}, so the host driver's own libcuda is used; or upgrade the host driver{host_fix} so no "
                "compat package is needed."
            ),
        )

    @staticmethod
    def _compat_paths(facts: Facts) -> list[str]:
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        paths: list[str] = []
        if isinstance(drv.libcuda_path, str):
            paths.append(drv.libcuda_path)
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            paths += [
                r.path
                for r in facts.cuda_libs.resolved
                if r.soname.startswith("libcuda.so") and isinstance(r.path, str)
            ]
        t = torch_facts(facts)
        if t and isinstance(t.loaded_libraries, tuple):
            paths += [lib.path for lib in t.loaded_libraries if lib.library == "libcuda"]
        return list(dict.fromkeys(p for p in paths if is_compat_path(p)))


# --------------------------------------------------------------------------------------------
# DRV009


class FabricManagerMissing(Check):
    """An NVSwitch system whose NVLink fabric is not initialised (Fabric Manager not running).

    ## What it checks
    CUDA init fails with error 802 (`CUDA_ERROR_SYSTEM_NOT_READY`, "system not yet
    initialized") on a system whose GPUs are sold in NVSwitch (HGX/DGX) baseboards.

    ## Why it matters
    On NVSwitch systems CUDA refuses to start until the NVIDIA Fabric Manager has configured
    the NVLink fabric: `torch.cuda.is_available()` is False with "Error 802: system not yet
    initialized", while `nvidia-smi` looks healthy.

    ## Example
    An HGX H100 8-GPU server after a driver upgrade: the `nvidia-fabricmanager` package was not
    upgraded to the same version, so the service fails to start.

    ## Fix
    Install the Fabric Manager package whose version equals the driver's exactly and enable it:
    `sudo apt install nvidia-fabricmanager-<branch>=<driver version>-1 && sudo systemctl enable --now
    nvidia-fabricmanager`.

    ## References
    - https://docs.nvidia.com/datacenter/tesla/fabric-manager-user-guide/index.html
    - https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__TYPES.html
    """

    code = "DRV009"
    name = "fabric-manager-missing"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ("gpus",)
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on error 802 unless the GPUs are known non-NVSwitch models."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        reason = torch_reason(facts)
        err802 = cu_init(drv) == CUDA_ERROR_SYSTEM_NOT_READY or bool(
            re.search(r"error 802|system not yet initiali[sz]ed", reason, re.IGNORECASE)
        )
        if not err802:
            return
        models = [tables.gpus.lookup(g.name) for g in drv.gpus]
        nvswitch = [g for g, m in zip(drv.gpus, models, strict=True) if m is not None and m.nvswitch]
        sxm = [g for g in drv.gpus if "SXM" in g.name.upper()]
        if drv.gpus and not nvswitch and len(sxm) < 4 and all(m is not None for m in models):
            return  # NOTE: known non-NVSwitch GPUs: 802 has another cause here.
        found = driver_version(drv)
        if nvswitch:
            system = f"{len(drv.gpus)} × {nvswitch[0].name} (a GPU sold in NVSwitch HGX/DGX systems)"
        elif len(sxm) >= 4:
            system = f"{len(drv.gpus)} SXM GPUs ({sxm[0].name}), an NVSwitch baseboard"
        else:
            system = "an NVSwitch system (GPU model not in the rule tables)" if drv.gpus else "this system"
        seen = (
            "cuInit returns 802 (CUDA_ERROR_SYSTEM_NOT_READY)"
            if cu_init(drv) == CUDA_ERROR_SYSTEM_NOT_READY
            else f"torch reports {reason.strip()!r}"
        )
        message = (
            f"CUDA is not ready on {system}: {seen}. The NVLink fabric has not been initialised, which means the NVIDIA "
            "Fabric Manager service is not running or its version differs from the driver's."
        )
        if found:
            dv = nv_version(found[0])
            pkg = f"`sudo apt install nvidia-fabricmanager-{found[0].major}={dv}-1`"
            match = f"the Fabric Manager version must equal the driver version {dv} exactly"
        else:
            pkg = "`sudo apt install nvidia-fabricmanager-<branch>=<driver version>-1`"
            match = "the Fabric Manager version must equal the driver version exactly"
        fix = (
            f"Install Fabric Manager ({match}; `apt list -a nvidia-fabricmanager-*` shows the exact package version): {pkg}, "
            "then `sudo systemctl enable --now nvidia-fabricmanager` and check `systemctl status nvidia-fabricmanager`."
            + host_side(facts)
        )
        yield self.finding(
            message=message,
            evidence={
                "driver.cu_init_result": drv.cu_init_result,
                "torch.cuda_unavailable_reason": reason or "(none)",
                "driver.driver_version": drv_ev(drv.driver_version),
                "driver.gpus": [g.name for g in drv.gpus],
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV010


class NoGpuVisible(Check):
    """The NVIDIA driver works, but this process can see no GPU.

    ## What it checks
    NVML or `cuInit` works, yet NVML lists zero GPUs, `cuInit` returns 100
    (`CUDA_ERROR_NO_DEVICE`) / `cuDeviceGetCount` is 0, or torch counts zero devices while NVML
    lists GPUs. It names the cause it can see: `CUDA_VISIBLE_DEVICES` empty or invalid,
    `NVIDIA_VISIBLE_DEVICES=void/none`, or MIG mode without instances.

    ## Why it matters
    `torch.cuda.is_available()` is False ("No CUDA GPUs are available") although the driver is fine.

    ## Example
    `CUDA_VISIBLE_DEVICES=""` left over from a CPU-only test, or a job launcher that sets
    `CUDA_VISIBLE_DEVICES=-1`.

    ## Fix
    Unset or correct `CUDA_VISIBLE_DEVICES`; start the container with `--gpus`; create MIG instances.

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html
    """

    code = "DRV010"
    name = "no-gpu-visible"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when the driver answers but reports no usable device."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        code = cu_init(drv)
        if drv.nvml_status != "ok" and code not in (CUDA_SUCCESS, CUDA_ERROR_NO_DEVICE):
            return
        env = env_vars(facts)
        cvd = env.get("CUDA_VISIBLE_DEVICES")
        vd = parse_visible_devices(cvd, drv.gpus) if cvd is not None and drv.nvml_status == "ok" else None
        cvd_hides = cvd is not None and (cvd.strip() == "" or (vd is not None and vd.visible_count == 0))

        symptoms: list[str] = []
        nvml_zero = drv.nvml_status == "ok" and not drv.gpus
        if nvml_zero:
            symptoms.append("NVML lists no GPU")
        if code == CUDA_ERROR_NO_DEVICE:
            symptoms.append(f"cuInit returns 100 ({drv.cu_init_error or 'CUDA_ERROR_NO_DEVICE'})")
        elif code == CUDA_SUCCESS and drv.cu_device_count == 0:
            symptoms.append("cuDeviceGetCount is 0")
        t = torch_facts(facts)
        if (
            t
            and t.build == "cuda"
            and t.device_count == 0
            and drv.gpus
            and not symptoms
            and (
                cvd_hides
                or re.search(r"no cuda gpus|error 100|no cuda-capable device", t.cuda_unavailable_reason, re.IGNORECASE)
            )
        ):
            symptoms.append(f"torch counts 0 CUDA devices while NVML lists {len(drv.gpus)} GPU(s)")
        if not symptoms:
            return

        causes, fixes = [], []
        if cvd is not None and cvd.strip() == "":
            causes.append("CUDA_VISIBLE_DEVICES is set to the empty string, which hides every GPU from CUDA")
            fixes.append(
                "`unset CUDA_VISIBLE_DEVICES` (or set it to the GPUs you want, e.g. `export CUDA_VISIBLE_DEVICES=0`)"
            )
        elif vd is not None and vd.visible_count == 0:
            why = f"the repeated entry {vd.duplicate!r} empties the list" if vd.duplicate else vd.stop_reason
            causes.append(f"CUDA_VISIBLE_DEVICES={cvd!r} selects no GPU ({why}; CUDA stops at the first invalid entry)")
            fixes.append("`unset CUDA_VISIBLE_DEVICES` or set it to existing GPUs (`nvidia-smi -L` lists them)")
        nvd = env.get("NVIDIA_VISIBLE_DEVICES")
        if nvd is not None and nvd.strip().lower() in ("void", "none", ""):
            causes.append(
                f"NVIDIA_VISIBLE_DEVICES={nvd!r}: the NVIDIA container runtime passed no GPU into this container"
            )
            fixes.append("start the container with `--gpus all` (or NVIDIA_VISIBLE_DEVICES=all)")
        elif nvml_zero and in_container(facts):
            causes.append("no GPU device was passed into this container")
            fixes.append("start the container with `docker run --gpus all` (Kubernetes: request `nvidia.com/gpu`)")
        mig_empty = [g for g in drv.gpus if g.mig_enabled is True and not g.mig_devices]
        if drv.gpus and len(mig_empty) == len(drv.gpus):
            causes.append("every GPU has MIG mode enabled but no MIG instance exists")
            fixes.append(
                "create MIG instances (`sudo nvidia-smi mig -i 0 -lgip`, then `sudo nvidia-smi mig -i 0 -cgi <profile> -C`) "
                "or disable MIG (`sudo nvidia-smi -i 0 -mig 0`)"
            )
        if not causes:
            causes.append("no cause is visible in the environment (check device permissions and the compute mode)")
            fixes.append(
                "compare `nvidia-smi -L` with what the job sees; check `ls -l /dev/nvidia*` permissions and "
                "`nvidia-smi -q -d COMPUTE`"
            )
        message = (
            "The NVIDIA driver works but this process sees no GPU: "
            + "; ".join(symptoms)
            + ". Cause: "
            + "; ".join(causes)
            + "."
        )
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": drv.nvml_status,
                "driver.gpus": len(drv.gpus),
                "driver.cu_init_result": drv.cu_init_result,
                "driver.cu_device_count": drv.cu_device_count,
                "env.CUDA_VISIBLE_DEVICES": cvd if cvd is not None else "(unset)",
                "env.NVIDIA_VISIBLE_DEVICES": nvd if nvd is not None else "(unset)",
            },
            fix=_sentence("; ".join(dict.fromkeys(fixes))) + ".",
        )


# --------------------------------------------------------------------------------------------
# DRV011


class CudaVisibleDevicesInvalid(Check):
    """CUDA_VISIBLE_DEVICES names GPUs that do not exist, or repeats one.

    ## What it checks
    Parses `CUDA_VISIBLE_DEVICES` the way CUDA does (indices, `GPU-` UUID prefixes, `MIG-` UUIDs)
    against the GPUs NVML lists: indices past the last GPU, UUIDs that match nothing or more
    than one GPU, garbage entries, and repeated devices. A lone negative index (`-1`), the
    documented way to hide GPUs, is not reported here.

    ## Why it matters
    CUDA stops at the first invalid entry and silently ignores everything after it, so a job
    gets fewer GPUs than asked for (or none); a repeated device empties the whole list.

    ## Example
    `CUDA_VISIBLE_DEVICES=0,1,2,3` copied from an 8-GPU node to a 2-GPU container.

    ## Fix
    Set it to devices that exist; UUIDs (`nvidia-smi -L`) are robust against re-numbering.

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables
    - https://github.com/pytorch/pytorch/blob/main/torch/cuda/__init__.py
    """

    code = "DRV011"
    name = "cuda-visible-devices-invalid"
    severity = Severity.ERROR
    requires = frozenset({"driver", "env"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire for entries CUDA rejects (unless it is the deliberate '-1') and for repeats."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        cvd = visible_devices(facts)
        if cvd is None or cvd.strip() == "":
            return
        gpus = gpu_list(drv)
        vd = parse_visible_devices(cvd, gpus)
        if vd.duplicate:
            message = (
                f"CUDA_VISIBLE_DEVICES={cvd!r} names {vd.duplicate!r} twice: a repeated device makes the whole list "
                "invalid, and torch (mirroring CUDA) then sees no GPU at all."
            )
        elif vd.stopped_at is not None and not vd.deliberate_stop:
            kept = ", ".join(tok for tok, _ in vd.selected) or "none"
            ignored = vd.ignored
            message = (
                f"CUDA_VISIBLE_DEVICES={cvd!r}: entry {vd.stopped_at + 1} is invalid — {vd.stop_reason}. CUDA stops at the "
                f"first invalid entry, so only the entries before it are visible ({kept})"
                + (f" and {', '.join(repr(t) for t in ignored)} after it are ignored" if ignored else "")
                + "."
            )
        else:
            return
        valid = ",".join(g.uuid for g in gpus) if gpus else ""
        fix = (
            "Set CUDA_VISIBLE_DEVICES to GPUs that exist (listed by `nvidia-smi -L`), each once"
            + (
                f", e.g. `export CUDA_VISIBLE_DEVICES={','.join(str(g.index) for g in gpus)}` or by UUID: "
                f"`export CUDA_VISIBLE_DEVICES={valid}`"
                if gpus
                else "; this process sees no GPU at all"
            )
            + ". Or `unset CUDA_VISIBLE_DEVICES` to use every GPU."
        )
        yield self.finding(
            message=message,
            evidence={
                "env.CUDA_VISIBLE_DEVICES": cvd,
                "driver.gpus": [f"{g.index}: {g.uuid}" for g in gpus],
                "driver.gpus.mig_devices": [m.uuid for g in gpus for m in g.mig_devices],
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV012


class CudaDeviceOrderMismatch(Check):
    """CUDA_VISIBLE_DEVICES uses indices on a host with mixed GPU models, without PCI_BUS_ID order.

    ## What it checks
    `CUDA_VISIBLE_DEVICES` selects GPUs by integer index, the host has GPUs of more than one
    model, and `CUDA_DEVICE_ORDER` is not `PCI_BUS_ID`.

    ## Why it matters
    CUDA numbers devices FASTEST_FIRST by default, while `nvidia-smi` (and NVML) number them in
    PCI bus order. With identical GPUs the two agree; with mixed models `CUDA_VISIBLE_DEVICES=1`
    can select a different card than `nvidia-smi`'s GPU 1 — e.g. the display card instead of
    the big one.

    ## Example
    A workstation with an RTX 4090 and an RTX 3060: `CUDA_VISIBLE_DEVICES=1` picks the 3060
    under one numbering and the 4090 under the other.

    ## Fix
    `export CUDA_DEVICE_ORDER=PCI_BUS_ID` (so indices match `nvidia-smi`), or select by UUID.

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables
    """

    code = "DRV012"
    name = "cuda-device-order-mismatch"
    severity = Severity.WARNING
    requires = frozenset({"driver", "env"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when indices are used across different GPU models in FASTEST_FIRST order."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        env = env_vars(facts)
        cvd = env.get("CUDA_VISIBLE_DEVICES")
        if cvd is None or cvd.strip() == "":
            return
        order = env.get("CUDA_DEVICE_ORDER", "")
        if order.strip().upper() == "PCI_BUS_ID":
            return
        gpus = gpu_list(drv)
        models = sorted({g.name for g in gpus})
        if len(models) < 2:
            return
        vd = parse_visible_devices(cvd, gpus)
        if not vd.uses_indices:
            return  # NOTE: UUIDs name a physical GPU whatever the numbering.
        listing = "; ".join(f"{g.index}: {g.name} [{g.pci_bus_id}]" for g in gpus)
        message = (
            f"CUDA_VISIBLE_DEVICES={cvd!r} selects GPUs by index on a host with different GPU models ({listing}), and "
            f"CUDA_DEVICE_ORDER is {repr(order) if order else 'unset'}: CUDA then numbers devices FASTEST_FIRST, not "
            "in nvidia-smi's PCI bus order, so an index may select a different GPU than the one nvidia-smi shows."
        )
        indices = [int(m.group()) for tok, _ in vd.selected if (m := re.match(r"\d+", tok))]
        by_uuid = ",".join(gpus[i].uuid for i in indices if i < len(gpus))
        fix = (
            "`export CUDA_DEVICE_ORDER=PCI_BUS_ID` so CUDA's indices match nvidia-smi's"
            + (
                f"; or select by UUID, which always names the same card: `export CUDA_VISIBLE_DEVICES={by_uuid}` "
                "(the GPUs nvidia-smi numbers " + ",".join(str(i) for i in indices) + ")"
                if by_uuid
                else ""
            )
            + "."
        )
        yield self.finding(
            message=message,
            evidence={
                "env.CUDA_VISIBLE_DEVICES": cvd,
                "env.CUDA_DEVICE_ORDER": order or "(unset)",
                "driver.gpus": [f"{g.index}: {g.name}" for g in gpus],
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV013


class MigInstanceNotSelected(Check):
    """MIG is enabled and the visible devices do not select a MIG instance the way CUDA needs.

    ## What it checks
    GPUs with MIG mode enabled: that MIG instances exist at all, and, when this process can see
    more than one MIG device, that `CUDA_VISIBLE_DEVICES` names exactly one `MIG-<uuid>`.

    ## Why it matters
    A MIG-enabled GPU without instances cannot run any CUDA work. And a CUDA process enumerates
    only one MIG device: with several visible and none selected by UUID, the process gets
    whichever one CUDA picks (several workers land on the same slice); listing several MIG UUIDs
    still gives only the first.

    ## Example
    An A100 split into 7 × 1g.10gb; a job started with `CUDA_VISIBLE_DEVICES=0` or unset.

    ## Fix
    Give each process one MIG device: `export CUDA_VISIBLE_DEVICES=MIG-<uuid>` (`nvidia-smi -L`
    lists them); create instances with `sudo nvidia-smi mig -cgi <profiles> -C`.

    ## References
    - https://docs.nvidia.com/datacenter/tesla/mig-user-guide/index.html#cuda-device-enumeration
    - https://docs.nvidia.com/datacenter/tesla/mig-user-guide/mig-device-names.html
    """

    code = "DRV013"
    name = "mig-instance-not-selected"
    severity = Severity.WARNING
    requires = frozenset({"driver", "env"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire for MIG GPUs without instances, and for unselected / over-selected MIG devices."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        gpus = gpu_list(drv)
        if gpus and all(isinstance(g.mig_enabled, Unavailable) for g in gpus):
            first = gpus[0].mig_enabled
            raise SkipCheck(f"MIG mode unknown: {first.reason if isinstance(first, Unavailable) else ''}")
        mig_gpus = [g for g in gpus if g.mig_enabled is True]
        if not mig_gpus:
            return
        empty = [g for g in mig_gpus if not g.mig_devices]
        if empty:
            usable = [g for g in gpus if g.mig_enabled is not True or g.mig_devices]
            labels = ", ".join(gpu_label(g) for g in empty)
            yield self.finding(
                message=(
                    f"MIG mode is enabled on {labels} but no MIG instance exists there, so CUDA cannot use "
                    + ("it" if len(empty) == 1 else "them")
                    + (" — and no other GPU is usable: raised to an error." if not usable else ".")
                ),
                evidence={f"driver.gpus[{g.index}].mig_enabled": g.mig_enabled for g in empty}
                | {f"driver.gpus[{g.index}].mig_devices": g.mig_devices for g in empty},
                fix=_sentence(
                    "; ".join(
                        f"list the profiles with `sudo nvidia-smi mig -i {g.index} -lgip`, then create instances with their "
                        f"compute instances: `sudo nvidia-smi mig -i {g.index} -cgi <profile-id>[,<profile-id>...] -C` "
                        f"(or turn MIG off: `sudo nvidia-smi -i {g.index} -mig 0`)"
                        for g in empty
                    )
                )
                + ".",
                severity=Severity.ERROR if not usable else None,
            )
        devices = [(m, g) for g in mig_gpus for m in g.mig_devices]
        cvd = visible_devices(facts)
        vd = parse_visible_devices(cvd, gpus) if cvd is not None and cvd.strip() else None
        selected = vd.mig_uuids if vd else []
        listing = "; ".join(
            f"`export CUDA_VISIBLE_DEVICES={m.uuid}`"
            + (f" ({m.name}, GPU {g.index})" if isinstance(m.name, str) else f" (GPU {g.index})")
            for m, g in devices
        )
        evidence = {
            "env.CUDA_VISIBLE_DEVICES": cvd if cvd is not None else "(unset)",
            "driver.gpus.mig_devices": [m.uuid for m, _ in devices],
        }
        if len(selected) > 1:
            yield self.finding(
                message=(
                    f"CUDA_VISIBLE_DEVICES={cvd!r} lists {len(selected)} MIG devices, but a CUDA process enumerates only "
                    f"one MIG device: this process uses only {selected[0]} and the others are ignored."
                ),
                evidence=evidence,
                fix=f"Run one process per MIG device, each with one UUID: {listing}.",
            )
        elif not selected and len(devices) > 1:
            how = f"CUDA_VISIBLE_DEVICES={cvd!r} names no MIG device" if cvd else "CUDA_VISIBLE_DEVICES is unset"
            yield self.finding(
                message=(
                    f"MIG is enabled with {len(devices)} MIG devices ("
                    + ", ".join(f"{m.uuid} on GPU {g.index}" for m, g in devices)
                    + f") and {how}: a CUDA process enumerates only one MIG device, so this process gets whichever one "
                    "CUDA picks, not one you chose (parallel workers end up on the same slice)."
                ),
                evidence=evidence,
                fix=f"Give each process exactly one MIG device by UUID: {listing}.",
            )


# --------------------------------------------------------------------------------------------
# DRV014


class NvidiaKernelModuleNotLoaded(Check):
    """The NVIDIA user-space driver is installed but its kernel module is not loaded.

    ## What it checks
    That the kernel half of the driver is running whenever the user-space half is installed:
    NVML reports "Driver Not Loaded", or `libcuda.so*` exists, while `/proc/driver/nvidia/version`
    is absent (the `nvidia` kernel module is not loaded).

    ## Why it matters
    Everything CUDA fails: `nvidia-smi` prints "NVIDIA-SMI has failed because it couldn't
    communicate with the NVIDIA driver", `torch.cuda.is_available()` is False and `cuInit`
    returns an error. The usual causes are a kernel upgrade whose DKMS rebuild of the module
    failed (the module exists only for the previous kernel), Secure Boot refusing the unsigned
    module ("Key was rejected by service"), the nouveau driver holding the GPU, or a driver
    installed without a reboot.

    ## Example
    Ubuntu upgraded from kernel 6.5 to 6.8 overnight; `nvidia-driver-550` is installed but
    `modprobe nvidia` says "Module nvidia not found in directory /lib/modules/6.8.0-45-generic".

    ## Fix
    `sudo modprobe nvidia` and read its error. "Module not found": rebuild it for the running
    kernel (`sudo apt install linux-headers-$(uname -r) && sudo dkms autoinstall`, or reinstall
    the driver package), then reboot. "Key was rejected": enrol the DKMS signing key with
    `sudo mokutil --import /var/lib/shim-signed/mok/MOK.der` or disable Secure Boot. nouveau
    loaded: blacklist it and rebuild the initramfs.

    ## References
    - https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/index.html
    - https://wiki.ubuntu.com/UEFI/SecureBoot/DKMS
    - https://download.nvidia.com/XFree86/Linux-x86_64/550.54.14/README/installdriver.html
    """

    code = "DRV014"
    name = "nvidia-kernel-module-not-loaded"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ()
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when user-space driver pieces exist but /proc/driver/nvidia does not."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        if known(drv.kernel_module_version) or known(drv.proc_version_text):
            return
        if drv.nvml_status == "ok" or drv.cu_init_result == CUDA_SUCCESS:
            # NOTE: NVML or cuInit answered, so the module is loaded; /proc/driver/nvidia is only
            # hidden from us (some sandboxes mask /proc).
            return
        host = facts.host if isinstance(facts.host, HostFacts) else None
        if host and host.wsl2:
            return  # WSL2 has no Linux kernel module: the Windows driver serves /usr/lib/wsl/lib.
        files: tuple[str, ...] = ()
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            # NOTE: a cuda-compat libcuda (shipped inside CUDA images) is not an installed driver.
            files = tuple(f for f in facts.cuda_libs.libcuda_files if not is_compat_path(f))
        pieces = []
        if drv.nvml_status == "driver-not-loaded":
            pieces.append("NVML is installed but reports \"Driver Not Loaded\"")
        if known(drv.libcuda_path) and not is_compat_path(str(drv.libcuda_path)):
            pieces.append(f"libcuda.so.1 loads from {drv.libcuda_path}")
        elif files:
            pieces.append(f"libcuda is on disk ({', '.join(files[:3])})")
        if not pieces:
            return
        container = container_facts(facts)
        if container and container.in_container and not container.device_nodes:
            return  # a container started without GPUs: container-without-gpus explains it
        version = drv.libcuda_version if known(drv.libcuda_version) else drv.driver_version
        kernel = host.kernel if host else "the running kernel"
        message = (
            f"The NVIDIA user-space driver{f' {drv_ev(version)}' if known(version) else ''} is installed "
            f"({'; '.join(pieces)}), but the nvidia kernel module is not loaded for kernel {kernel} "
            "(/proc/driver/nvidia/version is absent), so no CUDA call can reach the GPU."
        )
        pci = host.nvidia_pci_devices if host else ()
        if isinstance(pci, tuple) and pci:
            message += f" The GPU is on the PCI bus at {', '.join(pci)}."
        fix = (
            "Run `sudo modprobe nvidia` and read its error. \"Module nvidia not found\": the module was not built "
            f"for kernel {kernel} — `sudo apt install linux-headers-$(uname -r) && sudo dkms autoinstall` "
            "(or reinstall the driver package), then reboot. \"Key was rejected by service\": Secure Boot blocks the "
            "unsigned module — enrol the key (`sudo mokutil --import /var/lib/shim-signed/mok/MOK.der`) or disable "
            "Secure Boot. `lsmod | grep nouveau` non-empty: blacklist nouveau and rebuild the initramfs."
            + host_side(facts)
        )
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": drv.nvml_status,
                "driver.kernel_module_version": drv.kernel_module_version,
                "driver.libcuda_path": drv.libcuda_path,
                "driver.libcuda_version": drv_ev(drv.libcuda_version),
                "cuda_libs.libcuda_files": files,
                "host.kernel": kernel,
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV015


class NvmlNotResponding(Check):
    """NVML hung, crashed or failed with an unknown error while the driver is installed.

    ## What it checks
    The outcome of initialising NVML (the library behind `nvidia-smi`) and querying every GPU in
    a child process with a deadline: a call that never returns, a crash inside the library, or
    NVML's "Unknown Error" where neither a lost container cgroup (`gpu-access-lost`) nor a missing
    driver explains it.

    ## Why it matters
    A GPU that has fallen off the bus (Xid 79), a wedged driver or a GPU stuck in a bad state makes
    NVML calls hang or fail; `nvidia-smi` hangs too, and CUDA work on that node hangs or dies. Such a
    node must be drained, not trusted with a job — even when libcuda still loads.

    ## Example
    `nvidia-smi` never returns on one node of a cluster; `dmesg` shows
    "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus".

    ## Fix
    Read the kernel log (`sudo dmesg -T | grep -i -E "xid|nvrm"`), then reset the GPU
    (`sudo nvidia-smi -r -i <index>` when nothing uses it) or reboot the node; if it recurs, drain
    the node and contact the vendor (power, PCIe seating, GPU health).

    ## References
    - https://docs.nvidia.com/deploy/xid-errors/index.html
    - https://docs.nvidia.com/deploy/nvml-api/nvml-api-reference.html#nvml-api-reference
    """

    code = "DRV015"
    name = "nvml-not-responding"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ()
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on an NVML timeout, a crash of the NVML child, or an unexplained NVML Unknown Error."""
        drv: DriverFacts = facts.driver  # type: ignore[assignment]
        status = drv.nvml_status
        crashed = status == "other" and "killed by" in drv.nvml_error
        if status == "timeout":
            what = f"NVML did not answer: {drv.nvml_error or 'the query timed out'}"
        elif crashed:
            what = f"NVML crashed: {drv.nvml_error}"
        elif status == "unknown-error" and not applies_gpu_access_lost(drv, container_facts(facts)):
            what = f"NVML failed with an unknown error ({drv.nvml_error or 'NVML_ERROR_UNKNOWN'})"
        else:
            return
        hung_gpu = re.search(r"\(GPU (\d+)\)", drv.nvml_error)
        message = (
            f"{what}. A GPU that fell off the bus (Xid 79), a wedged driver or a GPU in a bad state does this; "
            "`nvidia-smi` will hang or fail the same way, and CUDA work on this node cannot be trusted."
        )
        if known(drv.libcuda_path):
            message += " libcuda.so.1 still loads, so only the driver's management path shows the problem so far."
        target = f"-i {hung_gpu.group(1)}" if hung_gpu else "-i <index>"
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": status,
                "driver.nvml_error": drv.nvml_error or "(none)",
                "driver.driver_version": drv_ev(drv.driver_version),
                "driver.cu_init_result": drv.cu_init_result,
            },
            fix=(
                "Check the kernel log for Xid errors (`sudo dmesg -T | grep -i -E 'xid|nvrm'`); reset the GPU when "
                f"nothing uses it (`sudo nvidia-smi -r {target}`) or reboot the node; if it comes back, drain the node "
                "and have the GPU checked." + host_side(facts)
            ),
        )


CHECKS: tuple[type[Check], ...] = (
    NoNvidiaDriver,
    DriverLibraryMismatch,
    GpuAccessLost,
    CudaUnknownError,
    DriverTooOldForTorch,
    DriverMinorCompatOnly,
    DriverTooOldForCudart,
    ForwardCompatUnsupportedGpu,
    FabricManagerMissing,
    NoGpuVisible,
    CudaVisibleDevicesInvalid,
    CudaDeviceOrderMismatch,
    MigInstanceNotSelected,
    NvidiaKernelModuleNotLoaded,
    NvmlNotResponding,
)
