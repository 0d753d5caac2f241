"""Checks of the CUDA runtime libraries torch loads: libcudart present, no foreign copy shadowing torch's own."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from packaging.version import Version

from cudadoctor.causes import is_cuda_family
from cudadoctor.checks.base import Check, SkipCheck, area, maybe, need
from cudadoctor.checks.cuda_libs.common import (
    STATUS_FAILED,
    OwnedImportCause,
    copy_at,
    cuda_build,
    cudart_soname,
    cudnn_incompatibility,
    expected_cudnn,
    ld_library_path,
    ld_path_fix,
    loaded_version,
    major_of,
    norm_path,
    offending_entries,
    older,
    owning_import_cause,
    same_version,
    soname_major,
    torch_owns,
)
from cudadoctor.facts import CudaLibsFacts, Facts, LibraryCopy, LoadedLibrary, TorchFacts, known
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.wheels import pin_for_family, pip, quoted, reinstall_torch, torch_version
from cudadoctor.causes import library_family, provider_of
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy, reinstall_torch_command
from cudadoctor.wheels import WHEEL_OF_FAMILY


class CudartMissing(Check):
    """torch needs a libcudart the dynamic loader cannot find.

    ## What it checks
    For a CUDA build of torch, whether the CUDA runtime soname it links (`libcudart.so.11.0`
    for CUDA 11.x, `libcudart.so.12`, `libcudart.so.13`) can be loaded: `import torch`
    failing with "libcudart.so.12: cannot open shared object file", or torch running without
    any libcudart mapped while no copy of that soname exists where torch looks (torch/lib,
    the nvidia-cuda-runtime wheel, the loader path).

    ## Why it matters
    Without libcudart, `import torch` fails outright, or every CUDA call does.

    ## Example
    torch 2.8.0+cu128 installed with `pip install --no-deps torch`, so the pinned
    `nvidia-cuda-runtime-cu12==12.8.90` wheel is missing: "ImportError: libcudart.so.12:
    cannot open shared object file: No such file or directory".

    ## Fix
    Install the runtime wheel torch pins (`pip install nvidia-cuda-runtime-cu12==<pin>`), or
    reinstall torch without `--no-deps`.

    ## References
    - https://docs.nvidia.com/cuda/cuda-runtime-api/
    - https://github.com/pytorch/pytorch/blob/main/.ci/manywheel/build_cuda.sh
    - https://pytorch.org/get-started/locally/
    """

    code = "LIB001"
    name = "cudart-missing"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ()
    fast = True
    explains = ("lib:libcudart",)
    rank = 22

    def fix(self, ctx: FixContext) -> Remedy:
        """Reinstall torch with its runtime wheel, or install the CUDA runtime the program needs."""
        soname = ctx.group("soname") or "libcudart"
        major = major_of(soname)
        wheel = (f"`pip install nvidia-cuda-runtime-cu{major}`" if major and int(major) <= 12 else
                 f"`pip install 'cuda-toolkit[cudart]=={major}.*'`" if major else "the CUDA runtime wheel")
        return Remedy(
            f"For pip torch: {reinstall_torch_command(ctx.torch_version)} (without --no-deps, so the runtime wheel "
            f"comes with it), or {wheel}. For other programs: install the CUDA {major or ''} runtime (e.g. "
            f"`sudo apt install cuda-cudart-{major or 'X'}-<minor>`) and add its lib64 directory to the loader path "
            f"(`echo /usr/local/cuda-{major or 'X'}.<minor>/lib64 | sudo tee /etc/ld.so.conf.d/cuda.conf && "
            "sudo ldconfig`).",
            f"{soname} is the CUDA {major or '?'} runtime.",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on a libcudart load error, or a CUDA build with no libcudart anywhere."""
        t = area(facts, TorchFacts)
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        owned = owning_import_cause(t) if t.status in STATUS_FAILED else None
        if owned is not None and owned.code == self.code:
            cause = owned.cause
            yield self.finding(
                message=f"`import torch` in {t.python_executable} fails because {cause.soname} cannot be "
                        f"loaded: {cause.line}" + self._copies_note(facts, cause.soname),
                evidence={"torch.status": t.status, "torch.import_error": cause.line},
                fix=self._fix(facts, t),
            )
            return
        if t.status != "ok":
            return
        cuda = cuda_build(t)
        soname = cudart_soname(cuda)
        if t.cuda_available is True:
            # NOTE: CUDA works in the torch process, so the runtime loaded (or is linked statically,
            # as in some source and conda builds); a scan that found no file must not contradict that.
            return
        loaded = need(t.loaded_libraries, "libraries mapped into the torch process")
        if any(lib.library == "libcudart" for lib in loaded):
            return
        libs = need(facts.cuda_libs, "CUDA library scan")
        have = [c for c in libs.copies if c.library == "libcudart" and soname_major(c) == str(cuda.major)]
        if have:
            # NOTE: a copy with the right soname exists; torch may link cudart statically.
            return
        yield self.finding(
            message=f"torch {torch_version(t)} (CUDA {cuda}) has no libcudart mapped and no {soname} exists "
                    f"in any scanned directory ({', '.join(libs.searched) or 'none'}).",
            evidence={"torch.cuda_version": cuda, "torch.loaded_libraries": [lib.path for lib in loaded],
                      "cuda_libs.copies[libcudart]": [c.path for c in libs.copies if c.library == "libcudart"]},
            fix=self._fix(facts, t),
        )

    def _copies_note(self, facts: Facts, soname: str) -> str:
        if not isinstance(facts.cuda_libs, CudaLibsFacts):
            return ""
        major = major_of(soname)
        found = [c.path for c in facts.cuda_libs.copies
                 if c.library == "libcudart" and (major is None or soname_major(c) == major)]
        if not found:
            return f" No copy of {soname} was found on this machine."
        return f" Copies exist at {', '.join(found)}, but not where torch looks (its RPATH and the loader path)."

    def _fix(self, facts: Facts, t: TorchFacts) -> str:
        pin = pin_for_family(facts, t, "libcudart")
        if pin is not None:
            return pip(t, f"install {quoted(pin[0])}") + "   (the CUDA runtime wheel torch pins)"
        return reinstall_torch(t) + "   (without --no-deps, so the CUDA runtime comes with it)"


class CudaLibShadowed(Check):
    """torch loads a different, incompatible copy of a CUDA library than the one it ships with.

    ## What it checks
    Each CUDA library mapped into the torch process (libcudart, libcublas, libcublasLt,
    libnvJitLink, libcusparse, libcudnn*, libnccl, ...) that comes from outside torch's own
    copies (torch/lib and the nvidia-* wheels beside it) — typically an LD_LIBRARY_PATH
    directory, /usr/local/cuda or a conda env — with a version different from torch's copy or
    pin; and `import torch` errors of the form "libcusparse.so.12: undefined symbol:
    __nvJitLinkAddData_12_1, version libnvJitLink.so.12".

    ## Why it matters
    LD_LIBRARY_PATH is searched before the RPATH of the pip wheels, so a system CUDA on it
    replaces the libraries torch was built and tested with. An older copy misses symbols
    (import fails with "undefined symbol") or runs slower/buggier kernels; mixing copies of
    libraries that must match (cuSPARSE + nvJitLink, cuBLAS + cuBLASLt) breaks at load time.

    ## Example
    torch 2.5.1+cu124 with `LD_LIBRARY_PATH=/usr/local/cuda-12.1/lib64`: libnvJitLink 12.1
    from the system is loaded instead of the 12.4.127 wheel, and `import torch` fails with
    "undefined symbol: __nvJitLinkComplete_12_4".

    ## Fix
    Remove the directory from LD_LIBRARY_PATH (`export LD_LIBRARY_PATH=<the other entries>` or
    `unset LD_LIBRARY_PATH`), or install the library version torch pins.

    ## References
    - https://github.com/pytorch/pytorch/issues/111469
    - https://man7.org/linux/man-pages/man8/ld.so.8.html
    - https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#cuda-compatibility
    """

    code = "LIB002"
    name = "cuda-lib-shadowed"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ()
    fast = True
    explains = ("symbol:cuda-family",)
    rank = 25

    def fix(self, ctx: FixContext) -> Remedy:
        """Drop the directory of the other copy from LD_LIBRARY_PATH (or pin the wheel torch needs)."""
        symbol, vlib, lib = ctx.group("symbol"), ctx.group("version_library"), ctx.group("library")
        provider = (library_family(vlib) if vlib else provider_of(symbol)
                    or (library_family(lib) if lib else "the library"))
        m = re.search(r"_(\d+)_(\d+)$", symbol)
        need_v = f" >= {m.group(1)}.{m.group(2)}" if m else ""
        detail = (f"{lib.rsplit('/', 1)[-1] or 'a library'} needs {symbol} from {provider}{need_v}, but an "
                  f"older/other copy of {provider} was loaded first." if symbol else "")
        wheel = WHEEL_OF_FAMILY.get(provider)
        cu = ctx.torch_cuda.major if ctx.torch_cuda else 12
        pin = (f", or `pip install --force-reinstall '{wheel}-cu{cu}{'>=' + need_v.strip(' >=') if need_v else ''}'`"
               if wheel else "")
        return Remedy(
            f"Remove the directory holding the other {provider} from LD_LIBRARY_PATH (typically "
            "/usr/local/cuda*/lib64; `echo $LD_LIBRARY_PATH`, then `export LD_LIBRARY_PATH=<the other entries>` or "
            f"`unset LD_LIBRARY_PATH`) so torch loads its own copy{pin}.",
            detail,
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on undefined CUDA symbols at import, or on foreign, different-version CUDA libraries."""
        t = area(facts, TorchFacts)
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        if t.status in STATUS_FAILED:
            owned = owning_import_cause(t)
            if owned is not None and owned.code == self.code:
                yield self._undefined_symbol(facts, t, owned)
            return
        cuda_build(t)
        loaded = need(t.loaded_libraries, "libraries mapped into the torch process")
        cudnn_refused = self._cudnn_refused(facts, tables, t, loaded)
        for lib in loaded:
            if not is_cuda_family(lib.library) or torch_owns(t, lib.path):
                continue
            if cudnn_refused and lib.library.startswith("libcudnn"):
                # NOTE: one condition, one check: a cuDNN torch refuses outright (older minor or
                # another major) is cudnn-version-mismatch, the root cause to act on, wherever it
                # came from; its sub-libraries (libcudnn_ops, ...) follow the shim that loaded them.
                continue
            expected = self._expected(facts, t, lib.library)
            got = loaded_version(facts.cuda_libs, lib.path)
            if expected is None or got is None or same_version(got, expected[0]):
                continue
            yield self._shadowed(facts, t, lib.library, lib.path, got, expected)

    @staticmethod
    def _cudnn_refused(facts: Facts, tables: RuleTables, t: TorchFacts, loaded: tuple[LoadedLibrary, ...]) -> bool:
        """Whether the mapped libcudnn is one torch refuses (cudnn-version-mismatch reports it then)."""
        path = next((lib.path for lib in loaded if lib.library == "libcudnn"), "")
        exp = expected_cudnn(facts, tables, t) if path else None
        got = loaded_version(facts.cuda_libs, path) if path else None
        return exp is not None and got is not None and cudnn_incompatibility(got, exp[0]) is not None

    def _expected(self, facts: Facts, t: TorchFacts, family: str) -> tuple[Version, str] | None:
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            for c in facts.cuda_libs.copies:
                if c.library == family and isinstance(c.version, Version) and torch_owns(t, c.path):
                    return c.version, c.path
        pin = pin_for_family(facts, t, family)
        if pin is not None and pin[1] is not None:
            return pin[1], f"torch's pin {pin[0]}"
        return None

    def _shadowed(
        self, facts: Facts, t: TorchFacts, family: str, path: str, got: Version, expected: tuple[Version, str]
    ) -> Finding:
        entries = offending_entries(facts, family, path)
        newer = not older(got, expected[0])
        why = (
            "newer than torch's copy: it usually works within the same major, but it is not what torch was "
            "tested with, and libraries that must match each other can break"
            if newer else "older than the one torch was built with: missing symbols and old bugs"
        )
        if entries:
            fix = ld_path_fix(facts, entries)
        else:
            pin = pin_for_family(facts, t, family)
            tail = f", or install torch's own copy: {pip(t, 'install ' + quoted(pin[0]))}" if pin else ""
            fix = (f"{posixpath.dirname(path)} is not on LD_LIBRARY_PATH: remove it from /etc/ld.so.conf.d/ "
                   f"(then `sudo ldconfig`) or from LD_PRELOAD, or import torch before other CUDA packages{tail}")
        return self.finding(
            message=f"torch loads {family} {got} from {path}, not its own {expected[0]} ({expected[1]}); "
                    f"the loaded copy is {why}."
                    + (f" It comes from LD_LIBRARY_PATH entry {', '.join(entries)}." if entries else ""),
            evidence={"torch.loaded_libraries": path, "loaded_version": got, "expected_version": expected[0],
                      "expected_from": expected[1], "cuda_libs.ld_library_path": list(ld_library_path(facts))},
            fix=fix,
            severity=Severity.WARNING if newer else None,
        )

    def _undefined_symbol(self, facts: Facts, t: TorchFacts, owned: OwnedImportCause) -> Finding:
        family, cause = owned.family, owned.cause
        culprits: list[str] = []
        paths: list[str] = []
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            for c in facts.cuda_libs.copies:
                if c.library == family and not torch_owns(t, c.path):
                    paths.append(f"{c.path} ({c.version if known(c.version) else 'version unknown'}, {c.origin})")
                    culprits += offending_entries(facts, family, c.real_path)
        culprits = list(dict.fromkeys(culprits))
        ldp = ld_library_path(facts)
        if culprits:
            fix = ld_path_fix(facts, culprits)
        elif ldp:
            fix = "unset LD_LIBRARY_PATH   (it is searched before the libraries torch ships; currently " \
                  f"{':'.join(ldp)})"
        else:
            pin = pin_for_family(facts, t, family)
            fix = (pip(t, f"install --force-reinstall {quoted(pin[0])}") if pin else reinstall_torch(t))
            fix += f"   (the {family} torch pins)"
        return self.finding(
            message=f"`import torch` fails with an undefined symbol {cause.symbol} that {family} should "
                    f"provide: an older or foreign {family} is loaded instead of torch's own. "
                    f"Error: {cause.line}"
                    + (f" Other copies: {'; '.join(paths)}." if paths else ""),
            evidence={"torch.import_error": cause.line, "cuda_libs.ld_library_path": list(ldp),
                      "library": family},
            fix=fix,
        )


class MultipleCudaRuntimes(Check):
    """Several copies of libcudart / libcudnn are installed.

    ## What it checks
    Distinct files (after resolving symlinks) of libcudart and of libcudnn found on the
    machine: pip wheels, torch/lib, /usr/local/cuda*, conda envs, LD_LIBRARY_PATH.

    ## Why it matters
    Not an error by itself, but which copy a process loads depends on LD_LIBRARY_PATH, RPATH,
    import order and the loader cache: the usual root of "works in one shell, not in another"
    and of the shadowing and cuDNN-mismatch findings.

    ## Example
    libcudart 12.8.90 from the nvidia-cuda-runtime-cu12 wheel, 12.1.105 under
    /usr/local/cuda-12.1 and 11.8.89 in a conda env.

    ## Fix
    Nothing to do while torch works; know which copy it loads, and remove unused toolkits or
    wheels when they cause trouble.

    ## References
    - https://man7.org/linux/man-pages/man8/ld.so.8.html
    - https://docs.nvidia.com/cuda/cuda-installation-guide-linux/#removing-cuda-toolkit
    """

    code = "LIB007"
    name = "multiple-cuda-runtimes"
    severity = Severity.INFO
    requires = frozenset({"cuda_libs"})
    tables = ()

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per library family with more than one real file."""
        libs = area(facts, CudaLibsFacts)
        loaded: dict[str, str] = {}
        t = maybe(facts, TorchFacts)
        if t is not None and isinstance(t.loaded_libraries, tuple):
            loaded = {lib.library: lib.path for lib in t.loaded_libraries}
        for family, label in (("libcudart", "CUDA runtime"), ("libcudnn", "cuDNN")):
            files: dict[str, LibraryCopy] = {}
            for c in libs.copies:
                if c.library == family:
                    files.setdefault(norm_path(c.real_path), c)
            if len(files) < 2:
                continue
            listed = [f"{real} ({c.origin}, {c.version if known(c.version) else 'version unknown'})"
                      for real, c in files.items()]
            used = loaded.get(family)
            used_copy = copy_at(libs, used) if used else None
            uses = (f"torch loads {used_copy.real_path if used_copy else used}" if used
                    else "which one torch loads is unknown")
            yield self.finding(
                message=f"{len(files)} copies of {family} ({label}) exist: {'; '.join(listed)}. {uses}.",
                evidence={f"cuda_libs.copies[{family}]": list(files),
                          f"torch.loaded_libraries[{family}]": used or "(unknown)"},
                fix=f"Informational: {uses}. To remove an unused copy: "
                    + "; ".join(dict.fromkeys(_removal(c) for c in files.values()
                                              if not (used_copy and c.real_path == used_copy.real_path))),
            )


def _removal(c: LibraryCopy) -> str:
    if c.origin == "pip-wheel":
        m = re.search(r"^(.*?/(?:site|dist)-packages)/nvidia/", c.real_path)
        env = f" in the environment of {m.group(1)}" if m else ""
        return f"pip uninstall the nvidia-* wheel{env}"
    if c.origin == "conda":
        return f"conda remove the CUDA package that owns {c.real_path}"
    if c.origin == "torch-lib":
        return f"{c.real_path} ships inside a torch install: remove that torch"
    m = re.match(r"(/usr/local/cuda-[\d.]+)", c.real_path)
    if m:
        return f"remove the toolkit {m.group(1)} with the package manager that installed it"
    return f"remove {c.real_path} with the package manager that owns it (dpkg -S / rpm -qf)"
