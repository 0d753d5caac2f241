"""What the torch_build checks share: the GPUs to judge, the host driver, and the wheel to suggest."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from cudadoctor.archs import Coverage, cc_covered_by
from cudadoctor.checks.base import maybe
from cudadoctor.facts import DriverFacts, Facts, HostFacts, TorchFacts, nv_version
from cudadoctor.remedies import WheelChoice, best_wheels, driver_needed_for
from cudadoctor.tables import RuleTables
from cudadoctor.wheels import pip_from

#: The CPU wheel, for machines without an NVIDIA GPU.
CPU_WHEEL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True, slots=True)
class GpuCapability:
    """A GPU to judge: a label for messages and its compute capability."""

    label: str  #: "GPU 0 (NVIDIA H100 80GB HBM3)"
    cc: Version


def gpus_to_judge(facts: Facts) -> list[GpuCapability]:
    """GPUs as torch sees them when CUDA initialised, else as NVML lists them."""
    t = maybe(facts, TorchFacts)
    if t is not None and t.devices:
        return [GpuCapability(f"GPU {d.index} ({d.name})", d.capability) for d in t.devices]
    drv = maybe(facts, DriverFacts)
    if drv is not None:
        return [
            GpuCapability(f"GPU {g.index} ({g.name})", g.compute_capability)
            for g in drv.gpus
            if isinstance(g.compute_capability, Version)
        ]
    return []


def nvidia_gpu_present(facts: Facts) -> bool:
    """Whether the machine has an NVIDIA GPU (driver loaded or not)."""
    if isinstance(facts.driver, DriverFacts) and facts.driver.gpus:
        return True
    if isinstance(facts.host, HostFacts) and isinstance(facts.host.nvidia_pci_devices, tuple):
        return bool(facts.host.nvidia_pci_devices)
    return False


def host_driver(facts: Facts) -> Version | None:
    """NVML's driver version, when known."""
    d = maybe(facts, DriverFacts)
    if d is not None and isinstance(d.driver_version, Version):
        return d.driver_version
    return None


def has_or_have(labels: list[str]) -> str:
    """The verb agreeing with a list of GPU labels."""
    return "has" if len(labels) == 1 else "have"


def by_capability(gpus: list[GpuCapability]) -> dict[Version, list[str]]:
    """GPU labels grouped by compute capability, in first-seen order."""
    out: dict[Version, list[str]] = {}
    for g in gpus:
        out.setdefault(g.cc, []).append(g.label)
    return out


def suggest_wheel(
    tables: RuleTables,
    facts: Facts,
    ccs: list[Version],
    *,
    python: Version | None,
    sass_only: bool = False,
) -> tuple[WheelChoice | None, str]:
    """The best wheel for these GPUs, driver and Python, and a note on any compromise made."""
    driver = host_driver(facts)

    def pick(drv: Version | None, full: bool, py: Version | None) -> WheelChoice | None:
        for w in best_wheels(tables, driver=drv, gpu_ccs=ccs, python=py, full_driver_support=full):
            if not sass_only or all(cc_covered_by(cc, w.variant.sass, ()) is Coverage.SASS for cc in ccs):
                return w
        return None

    attempts: list[tuple[Version | None, str]] = [(python, "")]
    if python is not None:
        attempts.append((None, f" (no wheel in the tables supports Python {python.major}.{python.minor}: "
                               "use it from a supported Python)"))
    for py, py_note in attempts:
        w = pick(driver, True, py)
        if w is not None:
            return w, py_note
        if driver is None:
            continue
        w = pick(driver, False, py)
        if w is not None:
            return w, f" (runs on driver {nv_version(driver)} under CUDA minor-version compatibility){py_note}"
        w = pick(None, True, py)
        if w is not None:
            need_drv = driver_needed_for(tables, w.variant.cuda)
            return w, (f" (needs a newer driver than {nv_version(driver)}"
                       + (f": >= {nv_version(need_drv)}" if need_drv else "")
                       + f"){py_note}")
    return None, ""


def wheel_fix(t: TorchFacts, w: WheelChoice | None, note: str, fallback: str) -> str:
    """The pip line installing *w* for the inspected interpreter (with *note*), else *fallback*."""
    if w is None:
        return fallback
    return pip_from(t, w.pip_command) + note
