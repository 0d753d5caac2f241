"""What several driver checks read the same way: the host driver's version, its CUDA, GPUs and containers (pure)."""

from __future__ import annotations

import re

from packaging.version import Version

from cudadoctor.causes import ErrorKind
from cudadoctor.checks.base import SkipCheck, maybe
from cudadoctor.facts import (
    ContainerFacts,
    DriverFacts,
    EnvFacts,
    Facts,
    GpuFacts,
    TorchFacts,
    nv_version,
)
from cudadoctor.tables import RuleTables

#: A libcuda that lives in a CUDA forward-compatibility package directory
#: (/usr/local/cuda-12.8/compat/, /usr/local/cuda/compat/lib/, conda's $PREFIX/cuda-compat/).
_COMPAT_DIR = re.compile(r"/(?:cuda-)?compat(?:/|$)")


def sentence(text: str) -> str:
    """Upper-case the first letter only (str.capitalize would lower-case commands and paths)."""
    return text[:1].upper() + text[1:]


def driver_version_evidence(value: object) -> object:
    """Evidence form of a driver version: NVIDIA's spelling for a Version, the value otherwise."""
    return nv_version(value) if isinstance(value, Version) else value


def cuda_text(v: Version) -> str:
    """'12.4' for a CUDA version (drops patch levels)."""
    return ".".join(str(p) for p in v.release[:2])


def env_vars(facts: Facts) -> dict[str, str]:
    """The allow-listed environment variables, or {} when the env probe failed."""
    env = maybe(facts, EnvFacts)
    return env.variables if env is not None else {}


def torch_reason(facts: Facts) -> str:
    """Why torch said CUDA is unavailable ("" when unknown or available), for messages and evidence."""
    t = maybe(facts, TorchFacts)
    return t.cuda_unavailable_reason if t else ""


def torch_reports(facts: Facts, kind: ErrorKind) -> bool:
    """Whether torch's reason for CUDA being unavailable names a cause of *kind* (its typed causes)."""
    t = maybe(facts, TorchFacts)
    return t is not None and any(c.kind is kind for c in t.cuda_unavailable_causes)


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
    drv = maybe(facts, DriverFacts)
    if drv is not None:
        ccs = [g.compute_capability for g in drv.gpus if isinstance(g.compute_capability, Version)]
    t = maybe(facts, TorchFacts)
    if not ccs and t:
        ccs = [d.capability for d in t.devices]
    return sorted(set(ccs))


def visible_devices(facts: Facts) -> str | None:
    """CUDA_VISIBLE_DEVICES when set (possibly ""), else None."""
    return env_vars(facts).get("CUDA_VISIBLE_DEVICES")


def gpu_list(drv: DriverFacts) -> tuple[GpuFacts, ...]:
    """NVML's GPU list, or a skip when NVML could not list GPUs."""
    if drv.nvml_status != "ok":
        raise SkipCheck(f"GPU list unknown: NVML status is {drv.nvml_status} ({drv.nvml_error or 'no detail'})")
    if not drv.gpus_listed:
        raise SkipCheck("GPU list unknown: the facts hold only the GPUs the text names (no nvidia-smi -L or collect_env list)")
    return drv.gpus


def has_uvm(c: ContainerFacts) -> bool:
    """Whether /dev/nvidia-uvm (needed by every CUDA context) exists."""
    return "/dev/nvidia-uvm" in c.device_nodes


def applies_gpu_access_lost(drv: DriverFacts, c: ContainerFacts | None) -> bool:
    """DRV003's condition (shared with DRV004 and DRV015, which must stay quiet when it holds)."""
    if c is None or not c.in_container or not c.device_nodes:
        return False
    # NOTE: decided from NVML, not from being in a container. Dropped device-cgroup rules make
    # every open of /dev/nvidiactl and /dev/nvidia<N> fail, so a fresh NVML init (the probe's)
    # answers "Unknown Error" too. When NVML answers normally the container still reaches the
    # GPUs, and cuInit 999 alone is cuda-unknown-error's case (nvidia-uvm missing, or wedged
    # after a suspend/resume). NVML does not need /dev/nvidia-uvm, so its Unknown Error with the
    # nodes present is the dropped-cgroup signature either way.
    return drv.nvml_status == "unknown-error"


def forward_compat_unsupported(g: GpuFacts, tables: RuleTables) -> bool:
    """Whether *g* is known not to support CUDA forward compatibility (cuda-compat)."""
    model = tables.gpus.lookup(g.name)
    if model is not None:
        return not model.forward_compat
    # NOTE: forward compatibility is for data-center GPUs, select NGC-ready RTX and Jetson only
    # (https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html); GeForce never.
    return bool(re.search(r"geforce|titan", g.name, re.IGNORECASE))
