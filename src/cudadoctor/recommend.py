"""Which torch, CUDA variant and official image fit a driver and GPUs: pure, from the rule tables.

``cudadoctor recommend`` answers "what should I install here?" with the newest torch release and
CUDA variant this driver runs (full support first, then under CUDA minor-version compatibility),
the exact pip line, and the pytorch/pytorch and NGC images that fit (rules/images.toml). A request
for a combination that was never published ("PyTorch 2.8 with CUDA 11.8") gets the truth and the
nearest builds that exist. The wheel choice is remedies.best_wheels, the same one every fix uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from cudadoctor.archs import Coverage, cc_covered_by
from cudadoctor.facts import nv_version
from cudadoctor.remedies import WheelChoice, best_wheels, driver_ceiling, variant_name
from cudadoctor.tables import RuleTables

#: How many images of each kind a recommendation lists.
IMAGES_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Gpu:
    """A GPU the recommendation must serve: its name as given and its compute capability."""

    name: str
    cc: Version


@dataclass(frozen=True, slots=True)
class ImageChoice:
    """An official image that fits, and how the driver runs its CUDA."""

    ref: str  #: e.g. pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime
    torch: Version
    cuda: Version
    support: str  #: "full", "minor-compat", or "unknown" (no driver given)
    min_driver: Version | None
    confirmed: bool
    source: str


@dataclass(frozen=True, slots=True)
class RequestVerdict:
    """The answer to "torch X with CUDA Y": does that official build exist, and what is nearest."""

    torch: Version
    cuda: Version | None
    exists: WheelChoice | None  #: the build itself, when it was published
    nearest: tuple[WheelChoice, ...]  #: published builds closest to the request (same torch; same CUDA)
    message: str
    #: per nearest build: "" when it runs on the driver and GPUs, else why not
    nearest_notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What to install for one driver and set of GPUs."""

    driver: Version | None
    gpus: tuple[Gpu, ...]
    full: WheelChoice | None  #: newest torch + variant the driver fully supports
    compat: WheelChoice | None  #: newer one that runs only under minor-version compatibility
    images: tuple[ImageChoice, ...]
    notes: tuple[str, ...]
    request: RequestVerdict | None = None


def support_level(tables: RuleTables, cuda: Version, driver: Version | None) -> str | None:
    """"full" / "minor-compat" when *driver* runs a *cuda* build, None when it cannot, "unknown" without a driver."""
    if driver is None:
        return "unknown"
    rel = tables.cuda_driver.min_driver_for(cuda)
    if rel is not None and driver >= rel.min_driver:
        return "full"
    floor = tables.cuda_driver.minor_compat_floor(cuda.major)
    newest = tables.cuda_driver.max_cuda_for_driver(driver)
    # NOTE: minor-version compatibility works within one CUDA major only
    # (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html).
    if floor is not None and driver >= floor.min_driver and (newest is None or newest.major >= cuda.major):
        return "minor-compat"
    return None


def _covers(tables: RuleTables, torch: Version, cuda: Version, gpus: tuple[Gpu, ...]) -> bool:
    """Whether the torch build (torch, cuda) has code for every GPU (True when the tables lack the row)."""
    var = tables.torch.variant(torch, variant_name(cuda))
    if var is None:
        return True
    return all(cc_covered_by(g.cc, var.sass, var.ptx) is not Coverage.NONE for g in gpus)


def fitting_images(tables: RuleTables, driver: Version | None, gpus: tuple[Gpu, ...]) -> tuple[ImageChoice, ...]:
    """The newest pytorch/pytorch and NGC images this driver runs and whose builds cover the GPUs."""
    ceiling = driver_ceiling(tables, [g.cc for g in gpus])
    hub: list[ImageChoice] = []
    for img in tables.images.pytorch:
        level = support_level(tables, img.cuda, driver)
        if level is None or not _covers(tables, img.torch, img.cuda, gpus):
            continue
        rel = tables.cuda_driver.min_driver_for(img.cuda)
        if ceiling is not None and rel is not None and rel.min_driver.major > ceiling and level == "full":
            continue
        flavor = "runtime" if "runtime" in img.flavors else img.flavors[0]
        hub.append(ImageChoice(img.tag(flavor), img.torch, img.cuda, level, rel.min_driver if rel else None,
                               img.confirmed, img.source))
    # NOTE: full driver support first: minor-version compatibility has limits (no PTX JIT of newer code).
    hub.sort(key=lambda i: (i.support != "minor-compat", i.torch, i.cuda), reverse=True)
    out = hub[:IMAGES_SHOWN]
    shown = 0
    for ngc in sorted(tables.images.ngc, key=lambda i: i.release, reverse=True):
        if any(g.cc < ngc.min_cc for g in gpus):
            continue
        if driver is not None and driver.release[0] < ngc.min_driver.release[0]:
            continue
        out.append(ImageChoice(ngc.tag, ngc.torch, ngc.cuda, "full" if driver is not None else "unknown",
                               ngc.min_driver, ngc.confirmed, ngc.source))
        shown += 1
        if shown >= IMAGES_SHOWN - 1:
            break
    return tuple(out)


def judge_request(tables: RuleTables, torch: Version, cuda: Version | None, driver: Version | None,
                  gpus: tuple[Gpu, ...]) -> RequestVerdict:
    """Whether an official build of *torch* for *cuda* exists, and the nearest published ones."""
    rel = tables.torch.release(torch)
    if rel is None:
        known = ", ".join(str(r.torch) for r in tables.torch.releases)
        return RequestVerdict(torch, cuda, None, (), f"torch {torch} is not a release the rule tables know ({known}).")
    if cuda is None:
        var = tables.torch.default_variant(rel.torch)
        choice = WheelChoice(rel, var) if var else None
        return RequestVerdict(torch, None, choice, (), f"torch {rel.latest} ships {', '.join(rel.variants)} "
                              f"(the plain PyPI wheel is {rel.default_variant}).")
    name = variant_name(cuda)
    var = tables.torch.variant(rel.torch, name)
    if var is not None and name in rel.variants:
        return RequestVerdict(torch, cuda, WheelChoice(rel, var), (),
                              f"torch {rel.latest} with CUDA {cuda} is an official build ({name}).")
    nearest: list[WheelChoice] = []
    same_torch = [v for v in tables.torch.variants_of(rel.torch) if v.name in rel.variants]
    if same_torch:
        closest = min(same_torch, key=lambda v: (abs(_cuda_number(v.cuda) - _cuda_number(cuda)), -_cuda_number(v.cuda)))
        nearest.append(WheelChoice(rel, closest))
    for other in reversed(tables.torch.releases):
        ov = tables.torch.variant(other.torch, name)
        if ov is not None and name in other.variants:
            nearest.append(WheelChoice(other, ov))
            break
    message = (
        f"There is no official torch {rel.torch} build for CUDA {cuda}: torch {rel.torch} ships "
        f"{', '.join(rel.variants)} (rules/torch.toml)."
    )
    if len(nearest) < 2:
        message += f" No torch release the tables know was built for {name}."
    notes = tuple(why_not(tables, w, driver, gpus) for w in nearest)
    return RequestVerdict(torch, cuda, None, tuple(nearest), message, notes)


def why_not(tables: RuleTables, w: WheelChoice, driver: Version | None, gpus: tuple[Gpu, ...]) -> str:
    """Why the build *w* does not run on *driver* and *gpus* ("" when it does, or nothing is known)."""
    missing = [g for g in gpus if cc_covered_by(g.cc, w.variant.sass, w.variant.ptx) is Coverage.NONE]
    if missing:
        return "does not run here: no code for " + ", ".join(f"{g.name} (sm_{g.cc.major}{g.cc.minor})" for g in missing)
    if support_level(tables, w.variant.cuda, driver) is None:
        return f"does not run here: driver {nv_version(driver) if driver else '?'} is too old for CUDA {w.variant.cuda}"
    return ""


def _cuda_number(v: Version) -> int:
    return v.major * 100 + v.minor


def recommend(
    tables: RuleTables,
    *,
    driver: Version | None,
    gpus: tuple[Gpu, ...] = (),
    python: Version | None = None,
    torch: Version | None = None,
    cuda: Version | None = None,
) -> Recommendation:
    """The newest torch + variant for *driver* and *gpus*, the images that fit, and (with *torch*) the request's verdict."""
    ccs = [g.cc for g in gpus]
    full = best_wheels(tables, driver=driver, gpu_ccs=ccs, python=python, full_driver_support=True)
    compat = best_wheels(tables, driver=driver, gpu_ccs=ccs, python=python, full_driver_support=False)
    best_full = full[0] if full else None
    best_compat = compat[0] if compat else None
    if best_compat is not None and best_full is not None and (best_compat.release.torch, best_compat.variant.cuda) <= (
        best_full.release.torch, best_full.variant.cuda
    ):
        best_compat = None
    notes: list[str] = []
    if driver is None:
        notes.append("No driver given and none found on this host: the choice ignores the driver (pass --driver).")
    else:
        newest = tables.cuda_driver.max_cuda_for_driver(driver)
        if newest is not None:
            notes.append(f"Driver {nv_version(driver)} fully supports CUDA up to {newest}.")
    ceiling = driver_ceiling(tables, ccs)
    if ceiling is not None:
        notes.append(f"These GPUs are supported by driver branches up to R{ceiling} only.")
    if best_full is None and best_compat is None:
        notes.append("No published torch build runs with this driver on these GPUs: upgrade the driver.")
    request = judge_request(tables, torch, cuda, driver, gpus) if torch is not None else None
    return Recommendation(driver=driver, gpus=gpus, full=best_full, compat=best_compat,
                          images=fitting_images(tables, driver, gpus), notes=tuple(notes), request=request)
