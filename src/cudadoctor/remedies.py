"""Fix text: which torch wheel fits this driver and GPU (from the rule tables), and how to install a driver."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.version import Version

from cudadoctor.archs import Coverage, cc_covered_by
from cudadoctor.facts import ContainerFacts, Facts
from cudadoctor.tables import RuleTables, TorchRelease, TorchVariant

DRIVER_DOWNLOAD_URL = "https://www.nvidia.com/Download/index.aspx"
CONTAINER_TOOLKIT_URL = "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html"


@dataclass(frozen=True, slots=True)
class WheelChoice:
    """A torch release + CUDA variant, and the pip command that installs it."""

    release: TorchRelease
    variant: TorchVariant

    @property
    def pip_command(self) -> str:
        """The exact install line (companions pinned to the paired release line)."""
        pkgs = [f"torch=={self.release.latest}"]
        if self.release.torchvision is not None:
            pkgs.append(f"'torchvision=={self.release.torchvision}.*'")
        if self.release.torchaudio is not None:
            pkgs.append(f"'torchaudio=={self.release.torchaudio}.*'")
        return f"pip install {' '.join(pkgs)} --index-url {self.variant.index_url}"

    def __str__(self) -> str:
        return f"torch {self.release.latest} ({self.variant.name})"


def variant_runs_on_driver(tables: RuleTables, variant: TorchVariant, driver: Version, *, full: bool) -> bool:
    """Whether *driver* runs *variant*: full support, or (``full=False``) minor-version compat."""
    rel = tables.cuda_driver.min_driver_for(variant.cuda)
    if rel is not None and driver >= rel.min_driver:
        return True
    if full:
        return False
    floor = tables.cuda_driver.minor_compat_floor(variant.cuda.major)
    return floor is not None and driver >= floor.min_driver


def driver_ceiling(tables: RuleTables, gpu_ccs: Iterable[Version]) -> int | None:
    """The newest driver branch every GPU still supports (None when all run current branches).

    NOTE: Kepler stops at R470 and Maxwell/Pascal/Volta at R580 (NVIDIA's driver/architecture
    matrix), so a fix must never ask for a driver the GPU cannot run.
    """
    branches = []
    for cc in gpu_ccs:
        info = tables.compute_capability.get(cc)
        if info is not None and info.last_driver_branch is not None:
            branches.append(info.last_driver_branch)
    return min(branches) if branches else None


def _min_driver_branch(tables: RuleTables, variant: TorchVariant, *, full: bool) -> int | None:
    rel = tables.cuda_driver.min_driver_for(variant.cuda)
    floor = tables.cuda_driver.minor_compat_floor(variant.cuda.major)
    if not full and floor is not None:
        return floor.min_driver.major
    return rel.min_driver.major if rel else (floor.min_driver.major if floor else None)


def best_wheels(
    tables: RuleTables,
    *,
    driver: Version | None,
    gpu_ccs: Iterable[Version] = (),
    python: Version | None = None,
    full_driver_support: bool = True,
) -> list[WheelChoice]:
    """Wheels the tables say exist and fit: newest release first; within a release, confirmed
    variants first, then newest CUDA first.

    Only combinations present in the tables are returned, so a suggestion can never name a
    wheel that was not published. Within one release a variant marked ``confirmed = false`` (its
    arch list or its very existence not read off the wheel) comes after the confirmed ones, so a
    V100 + B200 host on R575 gets 2.10 cu128 rather than an unconfirmed 2.10 cu129. Across
    releases newest still wins: sending someone to a much older torch only because a newer
    row's arch list came from a build script would cost more than the doubt it removes.
    """
    ccs = tuple(gpu_ccs)
    ceiling = driver_ceiling(tables, ccs)
    out: list[WheelChoice] = []
    for rel in reversed(tables.torch.releases):
        if python is not None and not (rel.python_min <= Version(f"{python.major}.{python.minor}") <= rel.python_max):
            continue
        candidates = [v for v in tables.torch.variants_of(rel.torch) if v.name in rel.variants]
        for var in sorted(candidates, key=lambda v: (v.confirmed, v.cuda), reverse=True):
            if driver is not None and not variant_runs_on_driver(tables, var, driver, full=full_driver_support):
                continue
            if any(cc_covered_by(cc, var.sass, var.ptx) is Coverage.NONE for cc in ccs):
                continue
            need = _min_driver_branch(tables, var, full=full_driver_support)
            if ceiling is not None and need is not None and need > ceiling:
                continue  # needs a driver branch these GPUs cannot run
            out.append(WheelChoice(rel, var))
    return out


def first_wheel_supporting(tables: RuleTables, cc: Version) -> WheelChoice | None:
    """The oldest release/variant whose build has SASS for *cc* (for 'which torch first ran here')."""
    for rel in tables.torch.releases:
        for var in sorted(tables.torch.variants_of(rel.torch), key=lambda v: v.cuda):
            if var.name in rel.variants and cc_covered_by(cc, var.sass, ()) is Coverage.SASS:
                return WheelChoice(rel, var)
    return None


def last_wheel_supporting(tables: RuleTables, cc: Version) -> WheelChoice | None:
    """The newest release/variant whose build has SASS for *cc* (for GPUs newer builds dropped)."""
    for rel in reversed(tables.torch.releases):
        for var in sorted(tables.torch.variants_of(rel.torch), key=lambda v: v.cuda, reverse=True):
            if var.name in rel.variants and cc_covered_by(cc, var.sass, ()) is Coverage.SASS:
                return WheelChoice(rel, var)
    return None


def driver_needed_for(tables: RuleTables, cuda: Version) -> Version | None:
    """Minimum driver for full support of *cuda* (None when the table lacks that release)."""
    rel = tables.cuda_driver.min_driver_for(cuda)
    return rel.min_driver if rel else None


def variant_name(cuda: Version) -> str:
    """'cu124' for CUDA 12.4."""
    return f"cu{cuda.major}{cuda.minor}"


def install_driver_command(branch: int) -> str:
    """The usual way to install a driver branch on Ubuntu/Debian, with the generic fallback."""
    return (
        f"`sudo apt install nvidia-driver-{branch}` (Ubuntu; or `sudo ubuntu-drivers install`), "
        f"or NVIDIA's installer for branch {branch}+ from {DRIVER_DOWNLOAD_URL}; then reboot"
    )


def in_container(facts: Facts) -> bool:
    """Whether the container probe says we run inside a container."""
    return isinstance(facts.container, ContainerFacts) and facts.container.in_container


def host_side(facts: Facts) -> str:
    """A note that driver-level fixes happen on the host when we run in a container."""
    return (
        " (This runs inside a container: do this on the host, then restart the container.)"
        if in_container(facts)
        else ""
    )


# --------------------------------------------------------------------------------------------
# what a check's fix() returns, and the pieces several checks' fixes share


@dataclass(frozen=True, slots=True)
class Remedy:
    """A check's fix for one finding: the exact action, and a sentence of detail for the message."""

    fix: str  #: an exact command or action
    detail: str = ""  #: what the values show (appended to the finding's message; "" for none)


def major_minor(v: Version) -> str:
    """'12.4' for 12.4.1."""
    return ".".join(str(p) for p in v.release[:2])


def parse_version(text: str) -> Version | None:
    """*text* as a Version, or None when it is not one."""
    try:
        return Version(text)
    except ValueError:  # NOTE: InvalidVersion is a ValueError; a part over 4300 digits raises the plain one
        return None


def reinstall_torch_command(torch_version: Version | None) -> str:
    """The pip line that reinstalls this torch with its CUDA dependencies (same version and index)."""
    if torch_version is not None:
        local = torch_version.local or ""
        index = f" --index-url https://download.pytorch.org/whl/{local}" if re.fullmatch(r"cu\d+|cpu", local) else ""
        return f"`pip install --force-reinstall torch=={torch_version.public}{index}`"
    return "`pip install --force-reinstall torch` (same version and index as before)"


def newest_wheel_line(
    tables: RuleTables, *, driver: Version | None, ccs: Iterable[Version] = (), python: Version | None = None,
) -> tuple[str, str] | None:
    """(label, pip command) of the newest wheel for *driver* and *ccs* (full support, else minor compat)."""
    ccs = tuple(ccs)
    for full in (True, False):
        wheels = best_wheels(tables, driver=driver, gpu_ccs=ccs, python=python, full_driver_support=full)
        if wheels:
            note = "" if full or driver is None else " (under minor-version compatibility)"
            return f"{wheels[0]}{note}", wheels[0].pip_command
        if driver is None:
            break
    return None


def generic_remedy(code: str) -> str:
    """The standing fix of a check that has no more specific one for the evidence at hand."""
    return f"See `cudadoctor explain {code}` and run `cudadoctor check` on the affected machine."
