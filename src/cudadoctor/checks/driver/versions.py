"""Driver checks of versions: can this driver run torch's CUDA build, and the CUDA runtimes that will load."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from packaging.version import Version

from cudadoctor.archs import Coverage, coverage
from cudadoctor.causes import ErrorKind
from cudadoctor.checks.base import Check, SkipCheck, area, maybe, need
from cudadoctor.checks.driver.common import (
    cu_init,
    driver_cuda,
    driver_version,
    driver_version_evidence,
    env_vars,
    forward_compat_unsupported,
    gpu_ccs,
    is_compat_path,
)
from cudadoctor.facts import CudaLibsFacts, DriverFacts, Facts, GpuFacts, TorchFacts, Unavailable, nv_version
from cudadoctor.findings import Finding, Severity
from cudadoctor.remedies import best_wheels, driver_ceiling, host_side, install_driver_command
from cudadoctor.tables import RuleTables
from cudadoctor.visible_devices import gpu_label
from cudadoctor.checks.context import FixContext
from cudadoctor.checks.driver.common import driver_too_old_remedy
from cudadoctor.remedies import Remedy, driver_needed_for, major_minor, parse_version


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
    #: False when only the driver's CUDA version is known (pasted text: "found version 12040");
    #: ``driver`` is then the lowest driver that supports that CUDA version
    driver_known: bool = True


def _verdict_from_driver_cuda(d_cuda: Version, cuda: Version, tables: RuleTables) -> _TorchDriverVerdict:
    """The verdict from the driver's CUDA version alone (its version number unknown).

    The driver is at least the first one that supports *d_cuda* and older than any that supports
    a newer CUDA, which decides most cases; the rest (a minor-version floor inside that range) skip.
    """
    rel_d = tables.cuda_driver.min_driver_for(d_cuda)
    lowest = rel_d.min_driver if rel_d else Version("0")
    rel = tables.cuda_driver.min_driver_for(cuda)
    floor = tables.cuda_driver.minor_compat_floor(cuda.major)
    full_min = rel.min_driver if rel else None
    floor_v = floor.min_driver if floor else None
    src = "driver.cuda_driver_version"

    def verdict(level: str, why: str = "") -> _TorchDriverVerdict:
        return _TorchDriverVerdict(level, lowest, src, d_cuda, cuda, full_min, floor_v, why, driver_known=False)

    if cuda.major > d_cuda.major:
        return verdict("too-old", f"CUDA {cuda.major} is a newer major than the driver's CUDA {major_minor(d_cuda)}; "
                                  "minor-version compatibility only works within one major")
    if d_cuda.release[:2] >= cuda.release[:2]:
        return verdict("full")
    if floor_v is None:
        needed = f" >= {nv_version(full_min)}" if full_min else " of that CUDA version"
        return verdict("too-old", f"CUDA {cuda.major}.x has no minor-version compatibility, so it needs a driver{needed}")
    if rel_d is not None and lowest >= floor_v:
        return verdict("minor-compat")
    raise SkipCheck(
        f"the driver's version is unknown and its CUDA {major_minor(d_cuda)} does not tell whether it reaches "
        f"{nv_version(floor_v)}, the CUDA {cuda.major}.x minor-version compatibility floor"
    )


def _torch_driver_verdict(facts: Facts, tables: RuleTables) -> _TorchDriverVerdict:
    """Compare torch's CUDA build with the driver (skips when either is unknown)."""
    t = area(facts, TorchFacts)
    drv = area(facts, DriverFacts)
    if t.status != "ok":
        raise SkipCheck(f"torch does not import (status {t.status})")
    if t.build != "cuda":
        raise SkipCheck(f"torch is not a CUDA build (build: {t.build if isinstance(t.build, str) else 'unknown'})")
    cuda: Version = need(t.cuda_version, "torch's CUDA version")
    found = driver_version(drv)
    if found is None and isinstance(drv.cuda_driver_version, Version):
        return _verdict_from_driver_cuda(drv.cuda_driver_version, cuda, tables)
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
        if not any(forward_compat_unsupported(g, tables) for g in drv.gpus) and cu_init(drv) in (None, 0):
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
            f"CUDA {cuda.major} is a newer major than the driver's CUDA {major_minor(d_cuda)}; minor-version "
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
            f"the rule tables do not know CUDA {major_minor(cuda)} and the driver's CUDA version is unknown "
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
    if not v.driver_known:
        return f"The NVIDIA driver (version unknown; it supports CUDA up to {major_minor(v.driver_cuda or v.cuda)})"
    supports = f" (supports CUDA up to {major_minor(v.driver_cuda)})" if v.driver_cuda else ""
    compat = " (a cuda-compat forward-compatibility libcuda)" if v.compat else ""
    return f"NVIDIA driver {nv_version(v.driver)}{compat}{supports}"


def _found_version_note(t: TorchFacts) -> str:
    """torch's own words when it reports the driver's CUDA version ("found version 11040")."""
    cause = next((c for c in t.cuda_unavailable_causes if c.kind is ErrorKind.DRIVER_TOO_OLD and c.version), None)
    if cause is None:
        return ""
    n = int(cause.version)
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
    explains = ("torch-driver-too-old", "refine:runtime-too-old-in-torch", "driver-old-prose")
    rank = 20

    def fix(self, ctx: FixContext) -> Remedy:
        """Upgrade the driver to what torch's CUDA needs, or keep it and install a wheel that runs on it."""
        return driver_too_old_remedy(ctx)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when the driver cannot run torch's CUDA build even under minor-version compat."""
        v = _torch_driver_verdict(facts, tables)
        if v.level != "too-old":
            return
        t = area(facts, TorchFacts)
        nvml_check = env_vars(facts).get("PYTORCH_NVML_BASED_CUDA_CHECK", "") not in ("", "0")
        if t.cuda_available is True and isinstance(t.device_count, int) and t.device_count > 0 and not nvml_check:
            # NOTE: torch itself initialised CUDA with this driver, so the tables must be wrong
            # about this combination; saying "cannot run" would contradict the machine.
            raise SkipCheck(
                f"torch reports CUDA available with driver {nv_version(v.driver)}, contradicting the rule tables "
                f"(CUDA {major_minor(v.cuda)}); see rules-outdated"
            )
        needs = []
        if v.floor is not None:
            needs.append(f"at least {nv_version(v.floor)} (CUDA {v.cuda.major}.x minor-version compatibility)")
        if v.full_min is not None and v.full_min != v.floor:
            needs.append(f"{nv_version(v.full_min)} for full support")
        message = (
            f"{_driver_desc(v)} cannot run torch {t.version}, built for CUDA {major_minor(v.cuda)}: {v.why}. "
            + (f"CUDA {major_minor(v.cuda)} needs driver " + " and ".join(needs) + ". " if needs else "")
            + "torch.cuda.is_available() is False on this machine."
            + _found_version_note(t)
        )
        yield self.finding(
            message=message,
            evidence={
                v.driver_source: nv_version(v.driver) if v.driver_known else major_minor(v.driver_cuda or v.cuda),
                "driver.cuda_driver_version": area(facts, DriverFacts).cuda_driver_version,
                "torch.version": t.version,
                "torch.cuda_version": t.cuda_version,
                "torch.cuda_unavailable_reason": t.cuda_unavailable_reason or "(none)",
            },
            fix=_upgrade_or_wheel_fix(facts, tables, v, full=False),
        )


def _upgrade_or_wheel_fix(facts: Facts, tables: RuleTables, v: _TorchDriverVerdict, *, full: bool) -> str:
    """Both remedies: the driver to install, and the newest wheel that runs on the current driver."""
    t = area(facts, TorchFacts)
    target = v.full_min or v.floor
    parts = []
    ccs = gpu_ccs(facts)
    ceiling = driver_ceiling(tables, ccs)
    if target is not None and ceiling is not None and target.major > ceiling:
        parts.append(
            f"(a) no driver upgrade can help: compute capability {', '.join(str(c) for c in ccs)} is supported "
            f"only up to driver branch R{ceiling}, and CUDA {major_minor(v.cuda)} needs >= {nv_version(target)}"
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
    # NOTE: with only the driver's CUDA version known, v.driver is the lowest driver of that CUDA.
    shown = nv_version(v.driver) if v.driver_known else f"(CUDA {major_minor(v.driver_cuda or v.cuda)})"
    if wheels:
        w = wheels[0]
        parts.append(
            f"(b) keep driver {shown} and install {w}{note}, the newest torch build that runs on it"
            + (f" and covers compute capability {', '.join(str(c) for c in ccs)}" if ccs else "")
            + f": `{w.pip_command}`"
        )
    else:
        parts.append(
            f"(b) no torch wheel in the rule tables runs on driver {shown}"
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
        t = area(facts, TorchFacts)
        drv = area(facts, DriverFacts)
        ptx_only = self._ptx_only_gpus(t, drv, tables)
        message = (
            f"{_driver_desc(v)} is below {nv_version(v.full_min) if v.full_min else '?'}, the full-support minimum for "
            f"CUDA {major_minor(v.cuda)} (torch {t.version}), but at or above the CUDA {v.cuda.major}.x minor-version "
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
                v.driver_source: nv_version(v.driver) if v.driver_known else major_minor(v.driver_cuda or v.cuda),
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
    explains = ("container-cli-requirement", "cuda-35", "ptx-toolchain")
    rank = 20

    def fix(self, ctx: FixContext) -> Remedy:
        """Upgrade the host driver to what the loaded CUDA runtime needs, or use a build for the driver's CUDA."""
        if ctx.group("found_version"):
            return driver_too_old_remedy(ctx)
        required = parse_version(ctx.group("required_cuda")) if ctx.group("required_cuda") else None
        if required is None:
            return Remedy(
                "Upgrade the host driver to one that supports the program's CUDA version (`nvidia-smi` shows the "
                "driver's highest CUDA in its header; the CUDA release notes list the minimum driver per CUDA "
                "version), or run a build/container made for a CUDA the driver supports.",
                "The driver is older than the CUDA runtime the program loads.",
            )
        need_driver = driver_needed_for(ctx.tables, required)
        detail = f"The container requires CUDA >= {major_minor(required)}" + (
            f", which needs driver >= {nv_version(need_driver)}." if need_driver else ".")
        parts = []
        if need_driver:
            parts.append(f"upgrade the host driver to >= {nv_version(need_driver)}: {install_driver_command(need_driver.major)}")
        top = ctx.tables.cuda_driver.max_cuda_for_driver(ctx.driver) if ctx.driver is not None else None
        if top is not None and ctx.driver is not None:
            parts.append(f"use an image built for CUDA <= {major_minor(top)} (what driver {nv_version(ctx.driver)} supports)")
        else:
            parts.append("use an image built for the CUDA version the host driver supports (the `nvidia-smi` header)")
        return Remedy("Either " + "; or ".join(parts) + ".", detail)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per libcudart copy that will load and needs a newer driver."""
        drv = area(facts, DriverFacts)
        libs = area(facts, CudaLibsFacts)
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
        t = maybe(facts, TorchFacts)
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
        drv = area(facts, DriverFacts)
        libs = area(facts, CudaLibsFacts)
        who = "torch loads" if origin == "torch" else "the dynamic loader resolves"
        vtext = major_minor(version) if len(version.release) >= 2 else f"{version.major}.x"
        driver_text = nv_version(driver) if driver else "unknown"
        message = (
            f"{who.capitalize()} {path} (CUDA runtime {vtext}), but NVIDIA driver {driver_text} supports CUDA up to "
            f"{major_minor(d_cuda)}: a CUDA {version.major} runtime cannot run on it (minor-version compatibility only "
            'works within one CUDA major). Programs using it fail with "CUDA driver version is insufficient for CUDA '
            'runtime version".'
        )
        t = maybe(facts, TorchFacts)
        if severity is Severity.WARNING and t is not None and isinstance(t.cuda_version, Version):
            # NOTE: a warning is only given when torch is a CUDA build of known version (_severity).
            message += (
                f" torch {t.version} uses its own CUDA {major_minor(t.cuda_version)} runtime and never loads this one, "
                f"so only programs linked against CUDA {version.major} (for example ones built with this toolkit's "
                "nvcc) are affected: a warning, not an error."
            )
        rel = tables.cuda_driver.min_driver_for(version) if len(version.release) >= 2 else None
        floor = tables.cuda_driver.minor_compat_floor(version.major)
        target = rel.min_driver if rel else (floor.min_driver if floor else None)
        if rel is not None and not rel.confirmed:
            message += (
                f" Note: the rules' driver minimum for CUDA {major_minor(rel.version)} ({nv_version(rel.min_driver)}) is not "
                "confirmed in NVIDIA's release notes (rules/README.md lists what would confirm it)."
            )
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
                f"use a CUDA {d_cuda.major}.x build/base image (CUDA <= {major_minor(d_cuda)}) instead of this CUDA "
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
                "driver.driver_version": driver_version_evidence(drv.driver_version),
                "driver.cuda_driver_version": d_cuda,
            },
            fix="Either " + "; or ".join(options) + ".",
            severity=severity,
        )

