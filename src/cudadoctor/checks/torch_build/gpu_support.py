"""Checks of torch's build against the GPUs: compiled architectures (SASS / PTX) and NCCL support."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Union

from packaging.version import Version

from cudadoctor.archs import Coverage, cc_covered_by, coverage, parse_arch
from cudadoctor.checks.base import Check, SkipCheck, area, maybe, need
from cudadoctor.checks.torch_build.common import (
    by_capability,
    gpus_to_judge,
    has_or_have,
    host_driver,
    suggest_wheel,
    wheel_fix,
)
from cudadoctor.facts import DriverFacts, Facts, TorchFacts, Unavailable
from cudadoctor.findings import Finding, Severity
from cudadoctor.remedies import best_wheels, first_wheel_supporting, last_wheel_supporting, variant_name
from cudadoctor.tables import RuleTables, TorchVariant
from cudadoctor.wheels import pin_for_family, pip, pip_from, torch_version, variant_label
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy, newest_wheel_line, parse_version

#: Where the list of compiled architectures comes from: torch's own arch list, or the tables' row.
ArchSource = Union[tuple[str, ...], TorchVariant]


def _arch_source(facts: Facts, tables: RuleTables, t: TorchFacts) -> tuple[ArchSource, str]:
    """(arch_list, note) from torch, or (variant, note) from rules/torch.toml."""
    if isinstance(t.arch_list, tuple) and t.arch_list:
        return t.arch_list, "torch.cuda.get_arch_list()"
    v = torch_version(t)
    if v is not None and tables.torch.release(v) is None and tables.torch.releases and v < tables.torch.releases[0].torch:
        # NOTE: facts from pasted text name old torch releases (1.3, 1.7) the tables do not cover.
        cu = f" {variant_name(t.cuda_version)}" if isinstance(t.cuda_version, Version) else ""
        raise SkipCheck(f"torch's arch list is unknown and rules/torch.toml has no row for torch {v.base_version}{cu} "
                        f"(its rows start at {tables.torch.releases[0].torch}); its architectures are not guessed")
    cuda = need(t.cuda_version, "torch CUDA version")
    if v is None:
        raise SkipCheck("torch's arch list and version are both unknown")
    if v.local and variant_label(v) is None:
        # NOTE: a source/custom build (2.8.0a0+git...) has its own TORCH_CUDA_ARCH_LIST.
        raise SkipCheck(f"torch's arch list is unknown and {v} is a custom build the tables do not describe")
    var = tables.torch.variant(v, variant_name(cuda))
    if var is None:
        why = t.arch_list.reason if isinstance(t.arch_list, Unavailable) else "empty (CUDA did not initialise)"
        raise SkipCheck(f"torch's arch list is unknown ({why}) and rules/torch.toml has no row for "
                        f"torch {v.base_version} {variant_name(cuda)}")
    state = "confirmed" if var.confirmed else "unconfirmed"
    return var, (f"rules/torch.toml for torch {var.torch} {var.name} ({state} row), because torch's "
                 "own arch list is unavailable")


def _cover(src: ArchSource, cc: Version) -> tuple[Coverage, str]:
    """How the build covers *cc* (SASS, PTX or not at all), and the PTX entry when PTX does."""
    if isinstance(src, tuple):
        return coverage(cc, src)
    cov = cc_covered_by(cc, src.sass, src.ptx)
    if cov is Coverage.SASS:
        return cov, ""
    if cov is Coverage.PTX:
        p = max(x for x in src.ptx if x <= cc)
        return cov, f"compute_{p.major}{p.minor}"
    return cov, ""


def _older_than_build(src: ArchSource, cc: Version) -> bool:
    """Whether *cc* is older than every SASS target of the build (a GPU the build dropped)."""
    if isinstance(src, tuple):
        targets = [a.cc for a in (parse_arch(x) for x in src) if a and a.kind == "sm"]
    else:
        targets = list(src.sass)
    return bool(targets) and cc < min(targets)


def _arch_text(src: ArchSource) -> str:
    """The build's architectures as torch spells them ('sm_80 sm_90 compute_90')."""
    if isinstance(src, tuple):
        return " ".join(src)
    sass = " ".join(f"sm_{v.major}{v.minor}" for v in src.sass)
    ptx = " ".join(f"compute_{v.major}{v.minor}" for v in src.ptx)
    return f"{sass} {ptx}".strip()


def _ptx_unusable(facts: Facts, t: TorchFacts) -> str:
    """Why the driver cannot JIT torch's PTX ('' when it can or it is unknown)."""
    d = maybe(facts, DriverFacts)
    if d is None or not isinstance(d.cuda_driver_version, Version) or not isinstance(t.cuda_version, Version):
        return ""
    drv_cuda, cuda = d.cuda_driver_version, t.cuda_version
    if drv_cuda.release[:2] < cuda.release[:2]:
        # NOTE: PTX produced by CUDA X.Y can only be JIT-compiled by a driver supporting X.Y;
        # minor-version compatibility explicitly excludes PTX JIT
        # (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html).
        return (f"the driver supports CUDA {drv_cuda} only, older than the CUDA {cuda} that produced the PTX, "
                "so the JIT fails with \"the provided PTX was compiled with an unsupported toolchain\"")
    return ""


class GpuArchNotInTorchBuild(Check):
    """A GPU's compute capability has neither SASS nor usable PTX in torch's build.

    ## What it checks
    For every visible GPU, whether torch's arch list (`torch.cuda.get_arch_list()`, or the
    tables' list for this release and CUDA variant when CUDA did not initialise) holds SASS for
    its compute capability (same major, equal or lower minor) or PTX it can JIT (lower or
    equal capability, and a driver new enough for that PTX).

    ## Why it matters
    Every kernel launch fails: "CUDA error: no kernel image is available for execution on the
    device", after the warning "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not
    compatible with the current PyTorch installation".

    ## Example
    RTX 5090 (12.0) with torch 2.5.1+cu124 (sm_50..sm_90); GTX 1080 (6.1) with torch
    2.8.0+cu128, which dropped sm_50/sm_60.

    ## Fix
    Install a release and CUDA variant whose arch list covers the GPU (cu128+ for Blackwell,
    cu126 for Maxwell/Pascal on torch 2.8+).

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/#binary-compatibility
    - https://github.com/pytorch/pytorch/issues/157517
    - https://github.com/pytorch/pytorch/blob/main/RELEASE.md
    """

    code = "TRC004"
    name = "gpu-arch-not-in-torch-build"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ("torch", "cuda_driver")
    fast = True
    explains = ("no-kernel-image", "sm-not-compatible", "sm-supported-list", "cc-unsupported", "cublas-exec-failed",
                "gpu-dropped-prose", "incompatible-device-warn-source")
    rank = 30

    def fix(self, ctx: FixContext) -> Remedy:
        """Install the newest build with kernels for the GPU's capability (or build for it)."""
        cc: Version | None = None
        if ctx.group("sm"):
            sm = ctx.group("sm")
            cc = Version(f"{sm[:-1]}.{sm[-1]}")
        elif ctx.group("cc"):
            cc = parse_version(ctx.group("cc"))
        name = ctx.group("gpu_name").split(" with CUDA")[0].strip().strip(":").strip()
        if cc is None and name:
            model = ctx.tables.gpus.lookup(name)
            cc = model.cc if model else None
        if cc is None and ctx.gpu_ccs:
            cc = ctx.gpu_ccs[-1]
        details = []
        if name or cc:
            details.append(f"GPU {name or '?'} has compute capability {cc or '?'}.")
        if ctx.group("supported"):
            details.append(f"This torch was built for {ctx.group('supported')}.")
        detail = " ".join(details)
        if cc is None:
            return Remedy(
                "Install a torch build whose arch list covers your GPU (`nvidia-smi --query-gpu=name,compute_cap "
                "--format=csv` shows its capability; `cudadoctor check` on that machine prints the exact wheel). If "
                "the error comes from a custom extension, rebuild it with `TORCH_CUDA_ARCH_LIST=<capability>`.",
                detail,
            )
        w = (newest_wheel_line(ctx.tables, driver=ctx.driver, ccs=[cc], python=ctx.python)
             or newest_wheel_line(ctx.tables, driver=None, ccs=[cc], python=ctx.python))
        if w is None:
            return Remedy(
                f"No torch wheel in the rule tables has kernels for compute capability {cc}: build torch from "
                f"source with `TORCH_CUDA_ARCH_LIST={cc}`.",
                detail,
            )
        return Remedy(
            f"Install {w[0]}, the newest build with kernels for compute capability {cc}: `{w[1]}`"
            + ("" if ctx.driver else " (its CUDA needs a matching driver: check `nvidia-smi`)")
            + f". For a custom extension, rebuild it with `TORCH_CUDA_ARCH_LIST={cc}`.",
            detail,
        )

    def contradicted(self, ctx: FixContext) -> str:
        """Not torch's build when every build of the text's torch covers its GPUs, or the failing kernel is an extension's.

        Only for the errors any CUDA code can raise (no kernel image, cuBLAS failing, prose); torch's own
        warning naming the GPU's sm_XX stands on its own.
        """
        if set(ctx.signatures) - {"cublas-exec-failed", "gpu-dropped-prose", "no-kernel-image"}:
            return ""
        if "no-kernel-image" in ctx.signatures and ctx.text.extension_named:
            # NOTE: TORCH_CUDA_ARCH_LIST and a package's compiled ops are an extension's build: its arch list, not
            # torch's, decides whether it has a kernel image for the GPU.
            return f"the text names a CUDA extension's build ({ctx.text.extension_named})"
        if "no-kernel-image" in ctx.signatures:
            return ""  # NOTE: CUDA's own error names the kernel image; only the guesses below yield to the facts
        if ctx.torch_version is None or not ctx.gpu_ccs:
            return ""
        variants = [v for v in ctx.tables.torch.variants_of(ctx.torch_version) if v.name.startswith("cu")]
        if ctx.torch_cuda is not None:
            variants = [v for v in variants if v.name == variant_name(ctx.torch_cuda)] or variants
        if variants and all(_cover(v, cc)[0] is Coverage.SASS for v in variants for cc in ctx.gpu_ccs):
            return f"every build of torch {ctx.torch_version} has SASS for compute capability " + ", ".join(
                map(str, ctx.gpu_ccs))
        return ""

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per uncovered compute capability."""
        t = area(facts, TorchFacts)
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        _need_cuda(t)
        gpus = gpus_to_judge(facts)
        if not gpus:
            raise SkipCheck("no GPU compute capability known (torch saw no device, NVML listed none)")
        below = _below_cuda_floor(tables, t, gpus)
        if below:
            yield from (self.finding(**kw) for kw in below)
            return
        every = _every_variant(tables, t)
        if every is not None:
            yield from _any_variant(self, facts, tables, t, gpus, every)
            return
        src, note = _arch_source(facts, tables, t)
        ptx_bad = _ptx_unusable(facts, t)
        for cc, labels in by_capability(gpus).items():
            cov, entry = _cover(src, cc)
            if cov is Coverage.SASS or (cov is Coverage.PTX and not ptx_bad):
                continue
            w, wnote = suggest_wheel(tables, facts, [cc], python=t.python_version, sass_only=True)
            if w is None:
                w, wnote = suggest_wheel(tables, facts, [cc], python=t.python_version)
            ptx_txt = f" Only PTX {entry} covers it, but {ptx_bad}." if cov is Coverage.PTX else ""
            if _older_than_build(src, cc):
                # NOTE: an old GPU that this build dropped: the useful fact is the newest build with it.
                last = last_wheel_supporting(tables, cc)
                if last is not None:
                    ptx_txt += f" The newest official build with SASS for it is {last}."
            else:
                first = first_wheel_supporting(tables, cc)
                if first is not None:
                    ptx_txt += f" The first official build with SASS for it is {first}."
            yield self.finding(
                message=f"{', '.join(labels)} {has_or_have(labels)} compute capability {cc} (sm_{cc.major}{cc.minor}), "
                        "which torch "
                        f"{torch_version(t)} cannot run: its arch list ({_arch_text(src)}, from {note}) has no "
                        f"SASS for it.{ptx_txt} Kernels fail with \"no kernel image is available for execution on "
                        f"the device\" (\"sm_{cc.major}{cc.minor} is not compatible with the current PyTorch "
                        "installation\").",
                evidence={"gpu.compute_capability": cc, "torch.version": torch_version(t),
                          "torch.arch_list": _arch_text(src), "arch_list_source": note},
                fix=wheel_fix(t, w, wnote, f"no torch wheel in the rules tables covers sm_{cc.major}{cc.minor}; "
                                            "build torch from source with TORCH_CUDA_ARCH_LIST="
                                            f"{cc.major}.{cc.minor}"),
            )


class GpuArchPtxJitOnly(Check):
    """A GPU is covered only by PTX, JIT-compiled at first use.

    ## What it checks
    For every visible GPU, whether torch's arch list covers it only through PTX (a
    `compute_XY` entry of lower capability) and not with SASS.

    ## Why it matters
    The driver JIT-compiles every kernel on first use: minutes of start-up, repeated whenever
    the JIT cache (~/.nv/ComputeCache, 256 MiB by default) is cold or too small, and sometimes
    slower kernels. It also needs a driver at least as new as the CUDA that produced the PTX.

    ## Example
    An RTX 5090 (12.0) with a build listing up to sm_90 plus compute_90.

    ## Fix
    Install a wheel with SASS for the GPU; meanwhile enlarge the JIT cache
    (`export CUDA_CACHE_MAXSIZE=4294967296`).

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/#just-in-time-compilation
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/#env-vars
    """

    code = "TRC005"
    name = "gpu-arch-ptx-jit-only"
    severity = Severity.WARNING
    requires = frozenset({"torch"})
    tables = ("torch", "cuda_driver")

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per compute capability served by PTX alone."""
        t = area(facts, TorchFacts)
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        _need_cuda(t)
        gpus = gpus_to_judge(facts)
        if not gpus:
            raise SkipCheck("no GPU compute capability known (torch saw no device, NVML listed none)")
        src, note = _arch_source(facts, tables, t)
        if _ptx_unusable(facts, t):
            return  # the PTX cannot be JIT-compiled at all: TRC004 reports it
        for cc, labels in by_capability(gpus).items():
            cov, entry = _cover(src, cc)
            if cov is not Coverage.PTX:
                continue
            w, wnote = suggest_wheel(tables, facts, [cc], python=t.python_version, sass_only=True)
            cache = "export CUDA_CACHE_MAXSIZE=4294967296   (keeps the JIT results between runs)"
            yield self.finding(
                message=f"{', '.join(labels)} (compute capability {cc}) {has_or_have(labels)} no SASS in torch "
                        f"{torch_version(t)} "
                        f"(arch list {_arch_text(src)}, from {note}); it runs only by JIT-compiling PTX "
                        f"{entry}: minutes of delay at first use of every kernel, and possibly slower kernels.",
                evidence={"gpu.compute_capability": cc, "torch.arch_list": _arch_text(src),
                          "ptx_entry": entry, "arch_list_source": note},
                fix=(wheel_fix(t, w, wnote, "") + f"; meanwhile {cache}") if w else cache,
            )


def _any_variant(
    check: Check, facts: Facts, tables: RuleTables, t: TorchFacts, gpus: list, variants: list[TorchVariant]
) -> Iterator[Finding]:
    """torch's CUDA variant unknown (pasted text): fire only when no variant of its release covers a GPU."""
    names = ", ".join(var.name for var in variants)
    for cc, labels in by_capability(gpus).items():
        covs = [_cover(var, cc)[0] for var in variants]
        if all(c is Coverage.NONE for c in covs):
            w, wnote = suggest_wheel(tables, facts, [cc], python=t.python_version, sass_only=True)
            yield check.finding(
                message=f"{', '.join(labels)} {has_or_have(labels)} compute capability {cc} (sm_{cc.major}{cc.minor}), "
                        f"which torch {torch_version(t)} cannot run whichever CUDA variant it is: none of its builds "
                        f"in rules/torch.toml ({names}) has SASS or PTX for it. Kernels fail with \"no kernel image "
                        "is available for execution on the device\".",
                evidence={"gpu.compute_capability": cc, "torch.version": torch_version(t),
                          "torch.cuda_version": t.cuda_version, "arch_list_source": f"rules/torch.toml ({names})"},
                fix=wheel_fix(t, w, wnote, f"no torch wheel in the rules tables covers sm_{cc.major}{cc.minor}; "
                                            "build torch from source with TORCH_CUDA_ARCH_LIST="
                                            f"{cc.major}.{cc.minor}"),
            )
        elif any(c is Coverage.NONE for c in covs):
            raise SkipCheck(f"torch's CUDA variant is unknown and its builds differ for sm_{cc.major}{cc.minor} "
                            f"({names}): which one is installed decides")



def _below_cuda_floor(tables: RuleTables, t: TorchFacts, gpus: list) -> list[dict]:
    """Findings for GPUs older than anything torch's CUDA can compile for (torch releases the tables lack).

    SASS runs only on its own major and PTX only on equal or higher capabilities, so a GPU below the
    lowest capability a CUDA toolkit targets has no kernel in any build made with it, whatever the
    release's arch list was (rules/compute_capability.toml first_cuda/last_cuda).
    """
    v = torch_version(t)
    if (isinstance(t.arch_list, tuple) and t.arch_list) or not isinstance(t.cuda_version, Version):
        return []
    if v is not None and tables.torch.release(v) is not None:
        return []  # NOTE: the release's own arch lists decide (below)
    targets = tables.compute_capability.supported_by(t.cuda_version)
    if not targets:
        return []
    lowest = min(e.cc for e in targets)
    out = []
    for cc, labels in by_capability(gpus).items():
        if cc >= lowest:
            continue
        out.append({
            "message": f"{', '.join(labels)} {has_or_have(labels)} compute capability {cc}, below sm_{lowest.major}"
                       f"{lowest.minor}, the lowest that CUDA {t.cuda_version} compiles for: torch "
                       f"{v or ''} built with CUDA {t.cuda_version} has no kernel for it in any build (SASS runs only "
                       "on its own major, PTX only on equal or newer GPUs).",
            "evidence": {"gpu.compute_capability": cc, "torch.version": v or "unknown",
                         "torch.cuda_version": t.cuda_version, "lowest_target": lowest},
            "fix": f"This GPU cannot run a CUDA {t.cuda_version.major} torch: use a GPU of compute capability >= "
                   f"{lowest} (or an old torch built with a CUDA that still targets {cc}, if one exists).",
        })
    return out


def _every_variant(tables: RuleTables, t: TorchFacts) -> list[TorchVariant] | None:
    """All CUDA variants of torch's release when only its version is known (no arch list, no torch CUDA)."""
    if (isinstance(t.arch_list, tuple) and t.arch_list) or isinstance(t.cuda_version, Version):
        return None
    v = torch_version(t)
    rel = tables.torch.release(v) if v is not None else None
    if v is None or rel is None or (v.local and variant_label(v) is None):
        return None
    found = [var for name in rel.variants if name.startswith("cu") and (var := tables.torch.variant(v, name)) is not None]
    return found or None


def _need_cuda(t: TorchFacts) -> None:
    """Skip the check unless torch is a CUDA build."""
    build = need(t.build, "torch build")
    if build != "cuda":
        raise SkipCheck(f"torch is a {build} build (see TRC003)")

class NcclTooOldForGpu(Check):
    """The NCCL torch uses predates support for a visible GPU architecture.

    ## What it checks
    `torch.cuda.nccl.version()` against the first NCCL release that supports each visible
    GPU's compute capability (rules/compute_capability.toml `nccl_min`), or, with more than one
    GPU visible, the first whose multi-GPU path works there (`nccl_min_multi_gpu`, consumer
    Blackwell 12.0). A floor not read in NVIDIA's own release notes (`nccl_confirmed = false`)
    says so in the message.

    ## Why it matters
    An NCCL without kernels for the architecture fails at the first collective of a multi-GPU
    job ("Cuda failure: named symbol not found", "NCCL error: unhandled cuda error"), although
    single-GPU runs work.

    ## Example
    A B200 (10.0) node with torch 2.6 (NCCL 2.21.5), which predates Blackwell support.

    ## Fix
    Install a torch whose pinned NCCL supports the GPU, or upgrade the NCCL wheel
    (`pip install -U nvidia-nccl-cu12`; NCCL 2.x keeps its ABI).

    ## References
    - https://docs.nvidia.com/deeplearning/nccl/release-notes/index.html
    - https://github.com/NVIDIA/nccl/releases/tag/v2.25.1-1 ("Add Blackwell/SM100 support")
    """

    code = "TRC008"
    name = "nccl-too-old-for-gpu"
    severity = Severity.WARNING
    requires = frozenset({"torch"})
    tables = ("compute_capability", "torch")
    explains = ("nccl-min-comp-cap", "refine:nccl-failure-with-version")
    rank = 35

    def _judged(self, ctx: FixContext) -> tuple[Version | None, list[tuple[Version, Version]]]:
        """(the text's NCCL version, [(compute capability, NCCL floor)] for the GPUs it names that floor excludes)."""
        m = re.match(r"\d+\.\d+\.\d+", ctx.text.nccl_version)
        nccl = Version(m.group(0)) if m else None
        ccs = list(ctx.gpu_ccs)
        for major in ctx.groups("min_cc"):
            ccs.append(Version(f"{major}.0"))
        short: list[tuple[Version, Version]] = []
        for cc in dict.fromkeys(ccs):
            info = ctx.tables.compute_capability.get(cc)
            # NOTE: an NCCL job spans several GPUs: the multi-GPU floor
            nmin = info.nccl_min_for(2) if info is not None else None
            if nccl is not None and nmin is not None and nccl < nmin:
                short.append((cc, nmin))
        return nccl, short

    def contradicted(self, ctx: FixContext) -> str:
        """Only an NCCL the text states, older than the floor of a GPU the text names, is this finding."""
        nccl, short = self._judged(ctx)
        if nccl is None:
            return "the text states no NCCL version"
        return "" if short else f"NCCL {nccl} supports every GPU the text names (or it names none)"

    def fix(self, ctx: FixContext) -> Remedy:
        """Upgrade NCCL past the floor of the GPU the text names (torch's pinned nvidia-nccl wheel)."""
        nccl, short = self._judged(ctx)
        if not short:
            return Remedy("Install a torch whose NCCL supports your GPUs, or `pip install -U nvidia-nccl-cu12`.")
        cc, nmin = max(short, key=lambda p: p[1])
        return Remedy(
            f"Install a torch whose NCCL is >= {nmin}, or upgrade the NCCL wheel in place "
            "(`pip install -U nvidia-nccl-cu12`, or nvidia-nccl-cu11 for a CUDA 11 build; NCCL 2.x keeps its ABI); "
            "in a container, use an image with the newer NCCL.",
            f"NCCL {nccl} predates compute capability {cc}, which needs NCCL >= {nmin}.",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per compute capability whose NCCL minimum is not met."""
        t = area(facts, TorchFacts)
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        nccl: Version = need(t.nccl_version, "torch's NCCL version")
        gpus = gpus_to_judge(facts)
        if not gpus:
            raise SkipCheck("no GPU compute capability known")
        groups = by_capability(gpus)
        # NOTE: a job on this host spans every visible GPU, so more than one GPU means the
        # multi-GPU transports (P2P, shared memory) run on each of them: the multi-GPU floor.
        count = len(gpus)
        infos = {cc: info for cc in groups if (info := tables.compute_capability.get(cc)) and info.nccl_min_for(count)}
        if not infos:
            raise SkipCheck("rules/compute_capability.toml has no NCCL minimum for "
                            + ", ".join(f"cc {cc}" for cc in groups))
        for cc, info in infos.items():
            nmin = info.nccl_min_for(count)
            assert nmin is not None
            if nccl >= nmin:
                continue
            multi_only = info.nccl_min is not None and nccl >= info.nccl_min
            who = f"{', '.join(groups[cc])} (compute capability {cc})"
            if multi_only:
                message = (
                    f"torch {torch_version(t)} uses NCCL {nccl}, which runs on {who} but not between {count} GPUs: "
                    f"NCCL's multi-GPU path (P2P / shared-memory transports) works there from NCCL {nmin}. "
                    "Single-GPU work is fine; collectives across the GPUs fail or hang."
                )
            else:
                message = (
                    f"torch {torch_version(t)} uses NCCL {nccl}, but {who} {'needs' if len(groups[cc]) == 1 else 'need'} "
                    f"NCCL >= {nmin}: multi-GPU collectives on it fail (\"named symbol not found\", \"unhandled cuda error\")."
                )
            if not info.nccl_confirmed:
                message += (
                    f" Note: the NCCL {nmin} floor for compute capability {cc} is not confirmed in NVIDIA's NCCL release "
                    "notes (rules/README.md, unconfirmed facts); treat it as likely, not certain."
                )
            yield self.finding(
                message=message,
                evidence={"torch.nccl_version": nccl, "gpu.compute_capability": cc, "nccl_min": nmin,
                          "gpus": count, "rules.compute_capability.nccl_confirmed": info.nccl_confirmed},
                fix=self._fix(facts, tables, t, cc, nmin),
            )

    def _fix(self, facts: Facts, tables: RuleTables, t: TorchFacts, cc: Version, nmin: Version) -> str:
        parts: list[str] = []
        for w in best_wheels(tables, driver=host_driver(facts), gpu_ccs=[cc], python=t.python_version):
            if w.variant.nccl is not None and w.variant.nccl >= nmin:
                parts.append(pip_from(t, w.pip_command))
                break
        pin = pin_for_family(facts, t, "libnccl")
        if pin is not None:
            name = re.split(r"[\[=<>!~ ]", pin[0])[0]
            parts.append(pip(t, f"install -U '{name}>={nmin}'") + "   (NCCL 2.x keeps its ABI; pip will warn "
                                                                  "about torch's pin)")
        return "; or: ".join(parts) or f"install a torch build with NCCL >= {nmin}"
