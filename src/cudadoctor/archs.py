"""Which compiled GPU code in a torch build can run on a GPU of a given compute capability."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from packaging.version import Version

_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)([af]?)$")


class Coverage(str, Enum):
    """How a GPU is served by a build: native code, JIT from PTX, or not at all."""

    SASS = "sass"
    PTX = "ptx"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ArchTarget:
    """One entry of torch.cuda.get_arch_list(): 'sm_86' (SASS) or 'compute_90' (PTX)."""

    kind: str  #: "sm" or "compute"
    cc: Version
    suffix: str  #: "", "a" (arch-specific) or "f" (family)

    def __str__(self) -> str:
        return f"{self.kind}_{self.cc.major}{self.cc.minor}{self.suffix}"


def parse_arch(text: str) -> ArchTarget | None:
    """Parse 'sm_90a' / 'compute_120' (None for anything else)."""
    m = _ARCH.match(text.strip())
    if not m:
        return None
    return ArchTarget(m.group(1), Version(f"{m.group(2)}.{m.group(3)}"), m.group(4))


def sass_runs_on(target: Version, suffix: str, gpu: Version) -> bool:
    """Whether SASS built for *target* runs on a *gpu*.

    NOTE: cubins run on the same major with an equal or higher minor
    (https://docs.nvidia.com/cuda/cuda-c-programming-guide/#binary-compatibility); 'a' targets
    only on exactly that capability; 'f' targets within the family (same major, >= minor).
    """
    if suffix == "a":
        return gpu == target
    return gpu.major == target.major and gpu.minor >= target.minor


def coverage(gpu: Version, arch_list: Iterable[str]) -> tuple[Coverage, str]:
    """How *arch_list* covers a GPU of capability *gpu*, and the entry that does it."""
    targets = [t for t in (parse_arch(a) for a in arch_list) if t]
    for t in targets:
        if t.kind == "sm" and sass_runs_on(t.cc, t.suffix, gpu):
            return Coverage.SASS, str(t)
    # NOTE: PTX is JIT-compiled by the driver for any GPU of equal or higher capability;
    # arch-specific PTX ('compute_90a') is not forward compatible.
    for t in targets:
        if t.kind == "compute" and t.suffix != "a" and t.cc <= gpu:
            return Coverage.PTX, str(t)
    return Coverage.NONE, ""


def cc_covered_by(gpu: Version, sass: Iterable[Version], ptx: Iterable[Version]) -> Coverage:
    """Coverage of *gpu* by a table's SASS/PTX capability lists (no suffixes)."""
    if any(sass_runs_on(s, "", gpu) for s in sass):
        return Coverage.SASS
    if any(p <= gpu for p in ptx):
        return Coverage.PTX
    return Coverage.NONE
