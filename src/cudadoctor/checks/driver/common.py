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
from cudadoctor.causes import decode_cuda_int
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import (
    Remedy,
    driver_needed_for,
    install_driver_command,
    major_minor,
    newest_wheel_line,
    parse_version,
)

#: A libcuda that lives in a CUDA forward-compatibility package directory
#: (/usr/local/cuda-12.8/compat/, /usr/local/cuda/compat/lib/, conda's $PREFIX/cuda-compat/).
_COMPAT_DIR = re.compile(r"/(?:cuda-)?compat(?:/|$)")


def sentence(text: str) -> str:
    """Upper-case the first letter only (str.capitalize would lower-case commands and paths)."""
    return text[:1].upper() + text[1:]


def driver_version_evidence(value: object) -> object:
    """Evidence form of a driver version: NVIDIA's spelling for a Version, the value otherwise."""
    return nv_version(value) if isinstance(value, Version) else value


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


# --------------------------------------------------------------------------------------------
# the fix for a driver too old for torch's CUDA, from what a text or the facts state


def driver_too_old_remedy(ctx: FixContext) -> Remedy:
    """Upgrade the driver to what torch's CUDA needs, or keep it and install the newest wheel that runs on it."""
    found = ctx.group("found_version")
    driver_cuda_v = parse_version(decode_cuda_int(found)) if found.isdigit() else None
    details = []
    if found and driver_cuda_v:
        details.append(f"found version {found} means the driver supports CUDA up to {major_minor(driver_cuda_v)}.")
    driver = ctx.driver
    if driver is None and driver_cuda_v is None and ctx.text.smi_driver:
        driver = parse_version(ctx.text.smi_driver)
    parts = []
    if ctx.torch_cuda is not None:
        need_driver = driver_needed_for(ctx.tables, ctx.torch_cuda)
        floor = ctx.tables.cuda_driver.minor_compat_floor(ctx.torch_cuda.major)
        tv = f"torch {ctx.torch_version}" if ctx.torch_version else "torch"
        if need_driver is not None:
            compat = (f" (>= {nv_version(floor.min_driver)} under minor-version compatibility)"
                      if floor and floor.min_driver < need_driver else "")
            details.append(f"{tv} is built for CUDA {major_minor(ctx.torch_cuda)}, which needs driver >= "
                           f"{nv_version(need_driver)}{compat}.")
            parts.append(f"(a) upgrade the driver to >= {nv_version(need_driver)} (branch {need_driver.major} or "
                         f"newer): {install_driver_command(need_driver.major)}")
    else:
        newest = ctx.tables.cuda_driver.newest
        need_driver = driver_needed_for(ctx.tables, newest)
        parts.append(
            "(a) upgrade the driver to the branch torch's CUDA build needs (the text does not show torch's CUDA "
            "version; `python -c \"import torch; print(torch.version.cuda)\"` prints it"
            + (f"; the newest, CUDA {major_minor(newest)}, needs >= {nv_version(need_driver)}: "
               f"{install_driver_command(need_driver.major)}" if need_driver else "")
            + ")"
        )
    # NOTE: with only "found version" known, the lowest driver of that CUDA stands in for the driver:
    # any wheel that runs on it runs on the real one.
    proxy = driver or (driver_needed_for(ctx.tables, driver_cuda_v) if driver_cuda_v else None)
    if proxy is not None:
        w = newest_wheel_line(ctx.tables, driver=proxy, ccs=ctx.gpu_ccs, python=ctx.python)
        label = (f"driver {nv_version(driver)}" if driver else
                 f"a CUDA {major_minor(driver_cuda_v)} driver" if driver_cuda_v else "this driver")
        if w:
            parts.append(f"(b) keep the driver and install {w[0]}, the newest torch build that runs on {label}: `{w[1]}`")
        else:
            parts.append(f"(b) no torch wheel in the rule tables runs on {label}, so upgrading the driver is the "
                         "only option")
    return Remedy("Either " + "; or ".join(parts) + ".", " ".join(details))
