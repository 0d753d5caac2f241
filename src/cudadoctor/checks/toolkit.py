"""Checks of the CUDA toolchain used to build C++/CUDA extensions: nvcc versus torch, gcc versus nvcc."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from packaging.version import Version

from cudadoctor.checks.base import Check, SkipCheck, need
from cudadoctor.findings import Finding, Severity
from cudadoctor.facts import (
    CudaLibsFacts,
    DriverFacts,
    EnvFacts,
    Facts,
    HostFacts,
    ToolkitFacts,
    TorchFacts,
    Unavailable,
)
from cudadoctor.remedies import WheelChoice, variant_name, variant_runs_on_driver
from cudadoctor.tables import HostCompilerRule, RuleTables
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy, major_minor, parse_version

#: A versioned toolkit directory in a path, e.g. /usr/local/cuda-12.4 or /opt/cuda-12.4/lib64.
_TOOLKIT_DIR = re.compile(r"^(/(?:[^/\s:]+/)*cuda-(\d+)\.(\d+))(?:/|$)")


def _major_minor(version: Version) -> str:
    """'12.4' for 12.4.131: the major.minor that CUDA compatibility is about."""
    return ".".join(str(p) for p in (*version.release, 0)[:2])


def _under(path: str, directory: str) -> bool:
    """Whether *path* lies inside *directory* (plain string test: both come from the same probe)."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def toolkit_cuda(tk: ToolkitFacts) -> tuple[Version, str]:
    """The CUDA version of the toolkit extension builds use, and the fact it was read from.

    ``torch.utils.cpp_extension`` runs ``$CUDA_HOME/bin/nvcc --version``, so nvcc's own answer
    counts when that nvcc is CUDA_HOME's. An nvcc elsewhere on PATH is not the one the build uses,
    so CUDA_HOME's version.json then wins. Raises SkipCheck when no toolkit was found at all.
    """
    # NOTE: https://github.com/pytorch/pytorch/blob/main/torch/utils/cpp_extension.py
    # (_check_cuda_version: nvcc = os.path.join(CUDA_HOME, 'bin', 'nvcc')).
    nvcc_is_cuda_homes = (
        not isinstance(tk.nvcc_path, Unavailable)
        and not isinstance(tk.cuda_home, Unavailable)
        and _under(tk.nvcc_path, tk.cuda_home)
    )
    if nvcc_is_cuda_homes and not isinstance(tk.nvcc_version, Unavailable):
        return tk.nvcc_version, "toolkit.nvcc_version"
    if not isinstance(tk.cuda_home_version, Unavailable):
        return tk.cuda_home_version, "toolkit.cuda_home_version"
    if not isinstance(tk.nvcc_version, Unavailable):
        return tk.nvcc_version, "toolkit.nvcc_version"
    reason = tk.cuda_home.reason if isinstance(tk.cuda_home, Unavailable) else tk.nvcc_version.reason
    raise SkipCheck(f"no CUDA toolkit (nvcc) found: {reason}")


def real_toolkit_root(tk: ToolkitFacts) -> str | None:
    """The toolkit directory of the real nvcc (wrappers and symlinks followed) where it is not CUDA_HOME.

    torch.utils.cpp_extension guesses CUDA_HOME as the directory above the nvcc on PATH without
    following anything, so /usr/local/bin/nvcc (a script that execs /usr/local/cuda-13.0/bin/nvcc)
    makes it /usr/local, where no headers or libraries are.
    """
    return tk.real_toolkit or None


def _toolkit_label(tk: ToolkitFacts) -> str:
    """How to name the toolkit in a message: its directory and how it was chosen."""
    if isinstance(tk.cuda_home, Unavailable):
        return "the CUDA toolkit"
    how = {
        "CUDA_HOME": "set by CUDA_HOME",
        "CUDA_PATH": "set by CUDA_PATH",
        "nvcc-on-path": "found from the nvcc on PATH",
        "/usr/local/cuda": "torch's default location",
    }.get(tk.cuda_home_source)
    return f"the CUDA toolkit at {tk.cuda_home}" + (f" ({how})" if how else "")


def _toolkit_and_cuda_torch(facts: Facts) -> tuple[ToolkitFacts, TorchFacts]:
    """The toolkit and torch facts, or SkipCheck unless torch is an importable CUDA build."""
    tk, t = facts.toolkit, facts.torch
    assert isinstance(tk, ToolkitFacts) and isinstance(t, TorchFacts)
    if t.status != "ok":
        raise SkipCheck(f"torch is not importable (status {t.status})")
    build = need(t.build, "torch build")
    if build != "cuda":
        raise SkipCheck(f"torch is a {build} build: CUDA extensions are not built against it")
    return tk, t


def known_toolkit_dirs(facts: Facts) -> dict[tuple[int, int], str]:
    """Versioned toolkit directories seen anywhere in the facts, by (major, minor).

    Only paths the probes actually saw are used (library search directories, library copies,
    LD_LIBRARY_PATH, PATH, CUDA_HOME), so a suggested ``export CUDA_HOME=...`` points at a
    directory that exists on this machine.
    """
    paths: list[str] = []
    libs = facts.cuda_libs
    if isinstance(libs, CudaLibsFacts):
        paths += list(libs.searched) + list(libs.ld_library_path)
        paths += [p for c in libs.copies for p in (c.path, c.real_path)]
    env = facts.env
    if isinstance(env, EnvFacts):
        for name in ("PATH", "LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH"):
            paths += env.variables.get(name, "").split(":")
    tk = facts.toolkit
    if isinstance(tk, ToolkitFacts):
        paths += [p for p in (tk.cuda_home, tk.nvcc_path, tk.nvcc_real_path) if isinstance(p, str)]
    found: dict[tuple[int, int], str] = {}
    for p in paths:
        m = _TOOLKIT_DIR.match(p)
        if m:
            found.setdefault((int(m.group(2)), int(m.group(3))), m.group(1))
    return found


def _export_line(directory: str) -> str:
    return f"export CUDA_HOME={directory} PATH={directory}/bin:$PATH"


def _install_line(cuda: Version) -> str:
    mm = _major_minor(cuda)
    dashed = mm.replace(".", "-")
    return (
        f"install the CUDA {mm} toolkit: `sudo apt install cuda-toolkit-{dashed}` (NVIDIA's CUDA apt "
        f"repository) or `conda install -c nvidia cuda-toolkit={mm}`, then "
        f"`{_export_line(f'/usr/local/cuda-{mm}')}` (conda: `export CUDA_HOME=$CONDA_PREFIX`)"
    )


class NvccTorchCudaMismatch(Check):
    """nvcc's CUDA version differs from the CUDA version torch was built with.

    ## What it checks
    Compares the CUDA version of the toolkit that `torch.utils.cpp_extension` would build with
    (`$CUDA_HOME/bin/nvcc --version`, else CUDA_HOME's version.json) with `torch.version.cuda`.
    A different major version is a warning; a different minor version is information.

    ## Why it matters
    Building a C++/CUDA extension (`pip install` of flash-attn, apex, xformers, DeepSpeed ops,
    `torch.utils.cpp_extension.load`, any `CUDAExtension`) checks this before compiling. On a
    major mismatch it raises `RuntimeError: The detected CUDA version (13.0) mismatches the version
    that was used to compile PyTorch (12.8). Please make sure to use the same CUDA versions.`
    On a minor mismatch it only warns, and the build usually works under CUDA minor-version
    compatibility. Running torch itself is not affected: wheels bring their own CUDA runtime.

    ## Example
    A `nvidia/cuda:13.0.1-devel` image (nvcc 13.0 at /usr/local/cuda) with
    `torch 2.8.0+cu128` from PyPI: `pip install flash-attn --no-build-isolation` fails.

    ## Fix
    Point `CUDA_HOME` at a toolkit with torch's CUDA major.minor (install it if needed), or
    install the torch wheel built for the toolkit's CUDA version.

    ## References
    - https://github.com/pytorch/pytorch/blob/main/torch/utils/cpp_extension.py (`_check_cuda_version`)
    - https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html
    - https://docs.nvidia.com/cuda/cuda-installation-guide-linux/
    """

    code = "TLK001"
    name = "nvcc-torch-cuda-mismatch"
    severity = Severity.WARNING
    requires = frozenset({"toolkit", "torch"})
    tables = ("torch", "cuda_driver")
    fast = False  # about building extensions, not runtime health
    explains = ("nvcc-mismatch", "nvcc-minor", "apex-cuda-mismatch", "deepspeed-cuda-mismatch")
    rank = 30

    def fix(self, ctx: FixContext) -> Remedy:
        """Build with a toolkit of torch's CUDA, or install a torch built for the toolkit's CUDA."""
        detected = parse_version(ctx.group("detected_cuda") or "x")
        torch_cuda = parse_version(ctx.group("torch_cuda") or "x")
        if detected is None or torch_cuda is None:
            return Remedy("Point CUDA_HOME at a toolkit with torch's CUDA version.")
        detail = (f"nvcc / CUDA_HOME is CUDA {major_minor(detected)}, torch is built for CUDA "
                  f"{major_minor(torch_cuda)}.")
        pkg = f"cuda-toolkit-{torch_cuda.major}-{torch_cuda.minor}"
        alt = ""
        for rel in reversed(ctx.tables.torch.releases):
            var = ctx.tables.torch.variant(rel.torch, variant_name(detected))
            if var is not None and var.name in rel.variants:
                alt = (f"; or install torch built for CUDA {major_minor(detected)}: "
                       f"`pip install torch=={rel.latest} --index-url {var.index_url}`")
                break
        mm = major_minor(torch_cuda)
        return Remedy(
            f"Build with a CUDA {mm} toolkit: `sudo apt install {pkg}` (NVIDIA's repo), then "
            f"`export CUDA_HOME=/usr/local/cuda-{mm} PATH=/usr/local/cuda-{mm}/bin:$PATH`{alt}.",
            detail,
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when the toolkit's CUDA major.minor differs from torch's."""
        tk, t = _toolkit_and_cuda_torch(facts)
        torch_cuda: Version = need(t.cuda_version, "torch's CUDA version")
        tk_cuda, source = toolkit_cuda(tk)
        if tk_cuda.release[:2] == torch_cuda.release[:2]:
            return
        # NOTE: torch's version only shapes the message and the alternative wheel: an extension
        # builder's error ("... used to compile PyTorch (12.4)") gives torch's CUDA without it.
        torch_version = t.version if isinstance(t.version, Version) else None
        named = f"torch {torch_version}" if torch_version is not None else "torch"
        where = _toolkit_label(tk)
        evidence = {
            source: tk_cuda,
            "toolkit.cuda_home": tk.cuda_home,
            "toolkit.cuda_home_source": tk.cuda_home_source,
            "torch.version": t.version,
            "torch.cuda_version": torch_cuda,
        }
        dirs = known_toolkit_dirs(facts)
        want = (torch_cuda.major, torch_cuda.minor)
        if tk_cuda.major != torch_cuda.major:
            yield self.finding(
                message=(
                    f"Extensions build with {where}, which is CUDA {_major_minor(tk_cuda)}, but {named} was "
                    f"built with CUDA {_major_minor(torch_cuda)}: a different major version. Building any CUDA "
                    f"extension fails with \"The detected CUDA version ({_major_minor(tk_cuda)}) mismatches the "
                    f"version that was used to compile PyTorch ({_major_minor(torch_cuda)})\"."
                ),
                evidence=evidence,
                fix=self._fix(facts, tables, torch_version, torch_cuda, tk_cuda, dirs, want),
            )
            return
        yield self.finding(
            severity=Severity.INFO,
            message=(
                f"Extensions build with {where}, which is CUDA {_major_minor(tk_cuda)}; {named} was built "
                f"with CUDA {_major_minor(torch_cuda)}. Same major version, so extension builds only warn "
                f"(\"The detected CUDA version ({_major_minor(tk_cuda)}) has a minor version mismatch with the "
                f"version that was used to compile PyTorch ({_major_minor(torch_cuda)})\") and normally work."
            ),
            evidence=evidence,
            fix=(
                f"Optional, to match exactly: `{_export_line(dirs[want])}`" if want in dirs
                else f"Optional, to match exactly: {_install_line(torch_cuda)}"
            ),
        )

    @staticmethod
    def _fix(
        facts: Facts,
        tables: RuleTables,
        torch_version: Version | None,
        torch_cuda: Version,
        tk_cuda: Version,
        dirs: dict[tuple[int, int], str],
        want: tuple[int, int],
    ) -> str:
        same_major = sorted((k for k in dirs if k[0] == torch_cuda.major), reverse=True)
        if want in dirs:
            first = (
                f"Build with the CUDA {_major_minor(torch_cuda)} toolkit already on this machine: "
                f"`{_export_line(dirs[want])}`"
            )
        elif same_major:
            d = dirs[same_major[0]]
            first = (
                f"Build with the CUDA {same_major[0][0]}.{same_major[0][1]} toolkit already on this machine "
                f"(same major as torch; only a minor-version warning remains): `{_export_line(d)}`"
            )
        else:
            first = f"To build against torch's CUDA, {_install_line(torch_cuda)}"
        alt = _wheel_for_toolkit(facts, tables, torch_version, tk_cuda) if torch_version is not None else None
        if alt is not None:
            return f"{first}. Or switch torch to the build for CUDA {_major_minor(tk_cuda)}: `{alt.pip_command}`"
        return first


def _wheel_for_toolkit(
    facts: Facts, tables: RuleTables, torch_version: Version, tk_cuda: Version
) -> WheelChoice | None:
    """torch's own release line built for the toolkit's CUDA, if it was published and the driver runs it."""
    release = tables.torch.release(torch_version)
    variant = tables.torch.variant(torch_version, variant_name(tk_cuda))
    if release is None or variant is None or variant.name not in release.variants:
        return None
    drv = facts.driver
    if (
        isinstance(drv, DriverFacts)
        and not isinstance(drv.driver_version, Unavailable)
        and not variant_runs_on_driver(tables, variant, drv.driver_version, full=False)
    ):
        return None
    return WheelChoice(release, variant)


# --------------------------------------------------------------------------------------------


def _gcc_install(host: HostFacts | Unavailable, major: int) -> tuple[str, str, str]:
    """How to install gcc/g++ *major* on this distribution: (command, C compiler, C++ compiler)."""
    os_name = host.os_name if isinstance(host, HostFacts) and isinstance(host.os_name, str) else ""
    low = os_name.lower()
    conda = (
        f"`conda install -c conda-forge gxx={major}`",
        "$CONDA_PREFIX/bin/x86_64-conda-linux-gnu-gcc",
        "$CONDA_PREFIX/bin/x86_64-conda-linux-gnu-g++",
    )
    if any(d in low for d in ("red hat", "rhel", "rocky", "alma", "centos", "oracle")):
        root = f"/opt/rh/gcc-toolset-{major}/root/usr/bin"
        return f"`sudo dnf install gcc-toolset-{major}`", f"{root}/gcc", f"{root}/g++"
    if any(d in low for d in ("ubuntu", "debian", "mint", "pop!_os")):
        return f"`sudo apt install gcc-{major} g++-{major}`", f"gcc-{major}", f"g++-{major}"
    # NOTE: Fedora, Arch and others ship only their newest gcc; conda-forge has every major.
    return conda


def _first_cuda_supporting(tables: RuleTables, gcc_major: int, at_least: Version) -> HostCompilerRule | None:
    """The oldest CUDA release newer than *at_least* whose nvcc accepts *gcc_major*."""
    return next(
        (r for r in tables.host_compiler.rules if r.cuda > at_least and r.max_gcc >= gcc_major),
        None,
    )


def _flag_values(env: EnvFacts | Unavailable, names: Iterable[str]) -> dict[str, str]:
    if not isinstance(env, EnvFacts):
        return {}
    return {n: env.variables[n] for n in names if env.variables.get(n)}


def _compiling_nvcc_cuda(tk: ToolkitFacts) -> tuple[Version, str]:
    """The CUDA release of the nvcc that would compile here, or SkipCheck when there is none.

    gcc only matters to nvcc: its ``host_config.h`` is what rejects a newer gcc. A runtime image
    (``nvidia/cuda:*-runtime``, ``pytorch/pytorch:*-runtime``) has a /usr/local/cuda with libraries
    and version.json but no nvcc, so nothing is compiled there and the pairing is moot.
    """
    if isinstance(tk.nvcc_path, Unavailable):
        raise SkipCheck(f"no nvcc would be used, so nothing is compiled here ({tk.nvcc_path.reason})")
    if not isinstance(tk.cuda_home, Unavailable) and not _under(tk.nvcc_path, tk.cuda_home):
        # CUDA_HOME has no nvcc of its own: the nvcc that runs (a plain `nvcc` call) is PATH's.
        if not isinstance(tk.nvcc_version, Unavailable):
            return tk.nvcc_version, "toolkit.nvcc_version"
    return toolkit_cuda(tk)


class HostCompilerUnsupported(Check):
    """The host gcc is newer than nvcc accepts.

    ## What it checks
    Compares the major version of the `gcc` on PATH with the newest gcc major the toolkit's nvcc
    release supports (`rules/host_compiler.toml`, from NVIDIA's host compiler support policy).
    Skipped where no nvcc would be used (runtime images): nothing is compiled there.

    ## Why it matters
    nvcc refuses to compile with a newer host compiler: `crt/host_config.h` stops the build with
    `#error -- unsupported GNU version! gcc versions later than 13 are not supported! The nvcc flag
    '-allow-unsupported-compiler' can be used to override this version check`. Every CUDA
    extension build (`pip install flash-attn`, `torch.utils.cpp_extension.load`, custom kernels)
    fails. Distributions move fast: Ubuntu 24.10 and Debian 13 ship gcc 14, Fedora and Arch gcc 15.

    ## Example
    CUDA 12.4 (nvcc accepts gcc up to 13) on Ubuntu 24.10 with gcc 14.2.

    ## Fix
    Install a supported gcc next to the default one and point nvcc at it: `export CC=gcc-13
    CXX=g++-13` (torch's cpp_extension passes `CC` to nvcc as `-ccbin`), or `export
    NVCC_CCBIN=g++-13`, or pass `-ccbin g++-13`. Or upgrade the CUDA toolkit to a release that
    supports the installed gcc. `-allow-unsupported-compiler` skips the check, but NVIDIA does not
    support the result: builds can fail later or miscompile.

    ## References
    - https://docs.nvidia.com/cuda/cuda-installation-guide-linux/#host-compiler-support-policy
    - https://docs.nvidia.com/cuda/cuda-compiler-driver-nvcc/#compiler-bindir-directory-ccbin
    - https://github.com/pytorch/pytorch/blob/main/torch/utils/cpp_extension.py (`-ccbin` from `CC`)
    """

    code = "TLK002"
    name = "host-compiler-unsupported"
    severity = Severity.WARNING
    requires = frozenset({"toolkit"})
    tables = ("host_compiler",)
    fast = False  # about building extensions, not runtime health
    explains = ("gcc-unsupported", "clang-unsupported")
    rank = 30

    def fix(self, ctx: FixContext) -> Remedy:
        """Build with the newest host compiler this nvcc accepts."""
        n = ctx.group("max_gcc")
        if n:
            return Remedy(
                f"Install gcc {n} and build with it: `sudo apt install gcc-{n} g++-{n}`, then "
                f"`export CC=gcc-{n} CXX=g++-{n} NVCC_CCBIN=g++-{n}` (torch's cpp_extension passes NVCC_CCBIN as "
                "-ccbin). Avoid `-allow-unsupported-compiler`: it builds code nvcc was not tested with.",
                f"This nvcc accepts gcc <= {n}.",
            )
        n = ctx.group("max_clang")
        if not n.isdigit():
            return Remedy("Build with a host compiler this nvcc supports (its release notes list them).")
        return Remedy(
            f"Build with an older clang (< {n}): `export CC=clang-{int(n) - 1} CXX=clang++-{int(n) - 1}`.",
            f"This nvcc accepts clang < {n}.",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when gcc's major is above the nvcc release's maximum."""
        tk = facts.toolkit
        assert isinstance(tk, ToolkitFacts)
        cuda, source = _compiling_nvcc_cuda(tk)
        gcc: Version = need(tk.gcc_version, "host gcc version")
        rule = tables.host_compiler.for_cuda(cuda)
        if rule is None:
            raise SkipCheck(
                f"rules/host_compiler.toml has no entry for CUDA {_major_minor(cuda)} (or an older {cuda.major}.x)"
            )
        if gcc.major <= rule.max_gcc:
            return
        gcc_where = f" ({tk.gcc_path})" if isinstance(tk.gcc_path, str) else ""
        row = f"CUDA {_major_minor(rule.cuda)}"
        if rule.cuda.release[:2] != cuda.release[:2]:
            row += f" (the nearest listed release at or below {_major_minor(cuda)})"
        message = (
            f"gcc {gcc}{gcc_where} is newer than nvcc of CUDA {_major_minor(cuda)} accepts (gcc up to {rule.max_gcc}, "
            f"per the {row} row): building CUDA extensions stops with \"#error -- unsupported GNU version! "
            f"gcc versions later than {rule.max_gcc} are not supported!\"."
        )
        if not rule.confirmed:
            home = tk.cuda_home if isinstance(tk.cuda_home, str) else "$CUDA_HOME"
            message += (
                f" Note: the rules' {row} limit is not confirmed against NVIDIA's own table; "
                f"check `grep -n 'unsupported GNU version' {home}/include/crt/host_config.h`."
            )
        severity = None
        overrides = _flag_values(facts.env, ("NVCC_CCBIN", "CC", "CXX", "NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS"))
        if any("allow-unsupported-compiler" in v for v in overrides.values()):
            severity = Severity.INFO
            message += (
                " -allow-unsupported-compiler is already set ("
                + ", ".join(f"{k}={v}" for k, v in overrides.items())
                + "): builds go ahead, but NVIDIA does not support the result."
            )
        elif any(k in overrides for k in ("NVCC_CCBIN", "CC")):
            severity = Severity.INFO
            message += (
                " A host-compiler override is set ("
                + ", ".join(f"{k}={v}" for k, v in overrides.items() if k in ("NVCC_CCBIN", "CC"))
                + "), so builds may use that compiler instead; this is information only."
            )
        ok = rule.max_gcc
        install, cc, cxx = _gcc_install(facts.host, ok)
        fix = (
            f"Install gcc {ok}: {install}, then build with it: "
            f"`export CC={cc} CXX={cxx} NVCC_CCBIN={cxx}` (or pass `-ccbin {cxx}` to nvcc)."
        )
        newer = _first_cuda_supporting(tables, gcc.major, cuda)
        if newer is not None:
            fix += f" Or use CUDA {_major_minor(newer.cuda)} or newer, whose nvcc accepts gcc {gcc.major}."
        fix += (
            " Last resort: `export NVCC_APPEND_FLAGS=-allow-unsupported-compiler` "
            "skips the check (unsupported; builds may fail or miscompile)."
        )
        yield self.finding(
            severity=severity,
            message=message,
            evidence={
                "toolkit.gcc_version": gcc,
                "toolkit.gcc_path": tk.gcc_path,
                source: cuda,
                "rules.host_compiler.max_gcc": rule.max_gcc,
                "rules.host_compiler.confirmed": rule.confirmed,
            },
            fix=fix,
        )


class CudaHomeIncomplete(Check):
    """The CUDA_HOME that extension builds use lacks nvcc or the CUDA headers.

    ## What it checks
    Follows `torch.utils.cpp_extension`: CUDA_HOME (or CUDA_PATH), else the directory above the
    first `nvcc` on PATH, else /usr/local/cuda. Checks that this directory exists, that
    `$CUDA_HOME/bin/nvcc` exists (the compiler the build runs), and that the host compiler can
    find `cuda_runtime_api.h` (`$CUDA_HOME/include`, `CUDA_INC_PATH`, `CPATH`,
    `CPLUS_INCLUDE_PATH`, `C_INCLUDE_PATH`, then /usr/local/include and /usr/include). Runs only
    for a CUDA build of torch, and only when some toolkit is there at all.

    ## Why it matters
    Building any CUDA extension (`pip install flash-attn`, apex, xformers or DeepSpeed ops from
    source, `torch.utils.cpp_extension.load`) then fails: `error: [Errno 2] No such file or
    directory: '/usr/local/cuda/bin/nvcc'` in a `-runtime` image whose /usr/local/cuda holds only
    libraries; `fatal error: cuda_runtime_api.h: No such file or directory` when CUDA_HOME is a
    directory list (`/usr/local/cuda:/usr/local/cuda`), a `bin` directory, or a guess from a
    wrapper script such as /usr/local/bin/nvcc (CUDA_HOME becomes /usr/local); and with conda's
    CUDA packages, whose headers sit in `targets/x86_64-linux/include`, which only nvcc searches.
    Running torch is not affected. Severity: a warning when CUDA_HOME, CUDA_PATH or an nvcc on
    PATH chose the directory (someone meant to build); information for torch's default
    /usr/local/cuda (a runtime image that never builds needs nothing).

    ## Example
    `pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime`: /usr/local/cuda exists with libraries only;
    `pip install flash-attn` fails looking for /usr/local/cuda/bin/nvcc.

    ## Fix
    Point CUDA_HOME at one complete toolkit directory (`export CUDA_HOME=/usr/local/cuda-12.4`), use
    a `-devel` image, or install the toolkit (`cuda-toolkit-12-4`, `conda install -c nvidia
    cuda-toolkit=12.4`). For conda headers under targets/: `export
    CPATH=$CUDA_HOME/targets/x86_64-linux/include:$CPATH`.

    ## References
    - https://github.com/pytorch/pytorch/blob/main/torch/utils/cpp_extension.py (`_find_cuda_home`, `include_paths`)
    - https://gcc.gnu.org/onlinedocs/cpp/Environment-Variables.html
    - https://github.com/NVIDIA/MinkowskiEngine/issues/223
    - https://hub.docker.com/r/pytorch/pytorch (runtime vs devel images)
    """

    code = "TLK003"
    name = "cuda-home-incomplete"
    severity = Severity.WARNING
    requires = frozenset({"toolkit", "torch"})
    tables = ("torch",)
    fast = False  # about building extensions, not runtime health

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding listing what the build would not find under CUDA_HOME."""
        tk, t = _toolkit_and_cuda_torch(facts)
        if isinstance(tk.cuda_home, Unavailable):
            raise SkipCheck(f"no CUDA toolkit at all ({tk.cuda_home.reason}): nothing is built here")
        if not tk.cuda_headers_searched:
            raise SkipCheck("the facts do not record where the CUDA headers are (an older cudadoctor saved them)")
        home = tk.cuda_home
        missing: list[str] = []
        if tk.cuda_home_exists is False:
            missing.append(f"{home} does not exist")
        else:
            if isinstance(tk.nvcc_path, Unavailable) or not _under(tk.nvcc_path, home):
                missing.append(f"no {home.rstrip('/')}/bin/nvcc")
            if isinstance(tk.cuda_runtime_header, Unavailable):
                missing.append(f"no cuda_runtime_api.h where the host compiler looks ({tk.cuda_runtime_header.reason})")
        if not missing:
            return
        real_root = real_toolkit_root(tk)
        if real_root is not None and tk.cuda_home_source == "nvcc-on-path":
            missing.append(
                f"{tk.nvcc_path} is a wrapper of (or link to) {tk.nvcc_real_path}: the real toolkit is {real_root}, "
                f"but torch guesses CUDA_HOME={home} from where the wrapper sits"
            )
        chosen = tk.cuda_home_source in ("CUDA_HOME", "CUDA_PATH", "nvcc-on-path")
        torch_cuda = t.cuda_version if isinstance(t.cuda_version, Version) else None
        yield self.finding(
            severity=Severity.WARNING if chosen else Severity.INFO,
            message=(
                f"Extensions build with {_toolkit_label(tk)}, but: {'; '.join(missing)}. Building a CUDA "
                "extension (flash-attn, apex, xformers from source, torch.utils.cpp_extension) will fail"
                + ("" if chosen else "; running torch is not affected, so this matters only if you build one")
                + "."
            ),
            evidence={
                "toolkit.cuda_home": home,
                "toolkit.cuda_home_source": tk.cuda_home_source,
                "toolkit.nvcc_path": tk.nvcc_path,
                "toolkit.cuda_runtime_header": tk.cuda_runtime_header,
                "toolkit.cuda_headers_elsewhere": list(tk.cuda_headers_elsewhere),
                "toolkit.nvcc_real_path": tk.nvcc_real_path,
            },
            fix=self._fix(facts, tk, home, torch_cuda),
        )

    def _fix(self, facts: Facts, tk: ToolkitFacts, home: str, torch_cuda: Version | None) -> str:
        if ":" in home:
            return (f"CUDA_HOME must be one directory, not a list: `export CUDA_HOME={home.split(':')[0]}` "
                    "(the toolkit root, the directory holding bin/nvcc and include/).")
        if home.rstrip("/").endswith("/bin"):
            root = home.rstrip("/")[: -len("/bin")]
            return f"CUDA_HOME is the toolkit root, not its bin directory: `export CUDA_HOME={root}`."
        real_root = real_toolkit_root(tk)
        if real_root is not None and tk.cuda_home_source == "nvcc-on-path":
            return (f"Point the build at the real toolkit: `{_export_line(real_root)}` (torch's guess from the wrapper "
                    f"{tk.nvcc_path} is {home}).")
        nvcc_ok = isinstance(tk.nvcc_path, str) and _under(tk.nvcc_path, home)
        if nvcc_ok and tk.cuda_headers_elsewhere:
            include = tk.cuda_headers_elsewhere[0].rsplit("/", 1)[0]
            return (f"Tell the host compiler where the headers are: `export CPATH={include}:$CPATH` "
                    "(conda CUDA packages keep them under targets/; only nvcc finds them by itself).")
        dirs = known_toolkit_dirs(facts)
        want = (torch_cuda.major, torch_cuda.minor) if torch_cuda is not None else None
        if want in dirs and dirs[want] != home:
            return f"Use the complete toolkit that is already here: `{_export_line(dirs[want])}`."
        if torch_cuda is not None:
            return ("Use a -devel image (e.g. `pytorch/pytorch:<version>-devel`, `nvidia/cuda:<version>-devel`) or "
                    + _install_line(torch_cuda) + ".")
        return "Point CUDA_HOME at a complete CUDA toolkit (one with bin/nvcc and include/cuda_runtime_api.h)."


CHECKS: tuple[type[Check], ...] = (NvccTorchCudaMismatch, HostCompilerUnsupported, CudaHomeIncomplete)
