"""Checks of cuDNN: the one that loads is the one torch was built for, and one can be loaded at all."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from packaging.version import Version

from cudadoctor.causes import ErrorKind, first
from cudadoctor.checks.base import Check, SkipCheck, area, need
from cudadoctor.checks.cuda_libs.common import (
    STATUS_FAILED,
    cuda_build,
    cudnn_incompatibility,
    cudnn_pip,
    expected_cudnn,
    ld_path_fix,
    loaded_version,
    major_of,
    offending_entries,
    owning_import_cause,
    soname_major,
    torch_owns,
)
from cudadoctor.facts import CudaLibsFacts, Facts, TorchFacts, Unavailable
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.wheels import torch_version
from cudadoctor.causes import decode_cudnn_int
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy, reinstall_torch_command


class CudnnVersionMismatch(Check):
    """The cuDNN that loads is not the one torch was built for.

    ## What it checks
    The cuDNN version torch loads (the scanned copy at the mapped path, or
    `torch.backends.cudnn.version()`, or the versions in torch's "cuDNN version
    incompatibility" error) against the one torch was built for (the pinned
    `nvidia-cudnn-cuNN` wheel, else rules/torch.toml). Another major, or an older minor, is
    an error; a newer minor of the same major is accepted, as torch itself does.

    ## Why it matters
    torch refuses to use cuDNN: "RuntimeError: cuDNN version incompatibility: PyTorch was
    compiled against (9, 1, 0) but found runtime version (8, 9, 2)". Convolutions and RNNs fail.

    ## Example
    torch 2.5.1+cu124 (built for cuDNN 9.1) with a system cuDNN 8.9.2 first on LD_LIBRARY_PATH.

    ## Fix
    Let torch load the cuDNN it pins: remove the other cuDNN from LD_LIBRARY_PATH, or install
    `nvidia-cudnn-cuNN==<pin>`.

    ## References
    - https://github.com/pytorch/pytorch/blob/main/torch/backends/cudnn/__init__.py
    - https://docs.nvidia.com/deeplearning/cudnn/latest/reference/support-matrix.html
    """

    code = "LIB003"
    name = "cudnn-version-mismatch"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ("torch",)
    fast = True
    explains = ("cudnn-incompat", "cudnn-mismatch-int")
    rank = 25

    def fix(self, ctx: FixContext) -> Remedy:
        """Let torch load its bundled cuDNN, or install the one it was built with."""
        compiled, runtime = ctx.group("compiled"), ctx.group("runtime")
        if compiled.isdigit():
            compiled, runtime = decode_cudnn_int(compiled), decode_cudnn_int(runtime)
        else:
            compiled = ".".join(p.strip() for p in compiled.split(",")) if compiled else ""
            runtime = ".".join(p.strip() for p in runtime.split(",")) if runtime else ""
        major = compiled.split(".")[0] if compiled else ""
        cu = ctx.torch_cuda.major if ctx.torch_cuda else 12
        pin = f"`pip install 'nvidia-cudnn-cu{cu}=={compiled}.*'`" if compiled else "the nvidia-cudnn wheel torch pins"
        return Remedy(
            "Remove the cuDNN directory from LD_LIBRARY_PATH (`echo $LD_LIBRARY_PATH`; often /usr/local/cuda/lib64 "
            f"or a conda env's lib) so torch loads its bundled cuDNN {major or ''}; or install the matching one: "
            f"{pin}.",
            f"torch was built with cuDNN {compiled} but cuDNN {runtime} loaded." if compiled else "",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Compare the loaded cuDNN with the one torch was built for (torch's own rule)."""
        t = area(facts, TorchFacts)
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        cuda_build(t)
        # NOTE: torch names both versions when it refuses the cuDNN that loads.
        told = first(t.cuda_unavailable_causes + t.cudnn_unavailable_causes, ErrorKind.CUDNN_VERSION_INCOMPATIBLE)
        loaded_path = ""
        if isinstance(t.loaded_libraries, tuple):
            loaded_path = next((lib.path for lib in t.loaded_libraries if lib.library == "libcudnn"), "")
        got: Version | None
        if told is not None:
            built = Version(told.required)
            got = Version(told.version)
            built_from = "torch's own error message"
        else:
            exp = expected_cudnn(facts, tables, t)
            if exp is None:
                raise SkipCheck("the cuDNN torch was built for is unknown (no nvidia-cudnn pin, no rules row)")
            built, built_from = exp
            got_v = loaded_version(facts.cuda_libs, loaded_path) if loaded_path else None
            got = got_v or (t.cudnn_version if isinstance(t.cudnn_version, Version) else None)
            if got is None:
                why = t.cudnn_version.reason if isinstance(t.cudnn_version, Unavailable) else "not mapped"
                raise SkipCheck(f"the loaded cuDNN version is unknown: {why}")
        why = cudnn_incompatibility(got, built)
        if why is None:
            return
        where = f" from {loaded_path}" if loaded_path else ""
        entries = offending_entries(facts, "libcudnn", loaded_path) if loaded_path else []
        fix = cudnn_pip(facts, t, built)
        if entries:
            fix = ld_path_fix(facts, entries) + f"; if cuDNN is still missing: {fix}"
        elif loaded_path and not torch_owns(t, loaded_path):
            fix += f"   (and make sure {posixpath.dirname(loaded_path)} is not searched before torch's copy)"
        yield self.finding(
            message=f"torch {torch_version(t)} was built for cuDNN {built} ({built_from}) but loads cuDNN "
                    f"{got}{where}: {why}. torch raises \"cuDNN version incompatibility\" at the first "
                    "convolution.",
            evidence={"cudnn_built_for": built, "cudnn_built_for_source": built_from, "cudnn_loaded": got,
                      "torch.loaded_libraries[libcudnn]": loaded_path or "(not mapped)"},
            fix=fix,
        )


class CudnnMissing(Check):
    """torch needs cuDNN and none can be loaded.

    ## What it checks
    `import torch` failing with "libcudnn.so.9: cannot open shared object file" (or any
    libcudnn sub-library), or a CUDA build where `torch.backends.cudnn.version()` is
    unavailable and no libcudnn of the major torch was built for exists on the machine.

    ## Why it matters
    pip wheels of torch link cuDNN from the `nvidia-cudnn-cuNN` wheel; installing torch with
    `--no-deps`, from a requirements lock that dropped the wheel, or into a different
    site-packages leaves torch unable to import, or without convolutions.

    ## Example
    torch 2.5.1+cu124 after `pip uninstall nvidia-cudnn-cu12`: "OSError: libcudnn.so.9: cannot
    open shared object file: No such file or directory".

    ## Fix
    `pip install nvidia-cudnn-cu12==<the version torch pins>`.

    ## References
    - https://docs.nvidia.com/deeplearning/cudnn/latest/installation/linux.html
    - https://pypi.org/project/nvidia-cudnn-cu12/
    """

    code = "LIB004"
    name = "cudnn-missing"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ("torch", "cudnn")
    fast = True
    explains = ("cudnn-load", "lib:libcudnn")
    rank = 24
    follows_from = ("libcuda-not-on-loader-path",)

    def fix(self, ctx: FixContext) -> Remedy:
        """Reinstall torch with its cuDNN wheel (or install that wheel), and drop a stray cuDNN from the path."""
        soname = ctx.group("soname") or ctx.group("candidates").split(",")[0].strip()
        major = major_of(soname)
        cu = ctx.torch_cuda.major if ctx.torch_cuda else None
        other = ""
        if major and cu is None:
            # NOTE: torch's CUDA is not known: name the wheel for each CUDA major this cuDNN ships for.
            entry = ctx.tables.cudnn.get(int(major))
            majors = [m for m in (entry.cuda_majors if entry else ()) if m >= 11]
            if majors:
                cu = 12 if 12 in majors else majors[-1]
                rest = [f"-cu{m}" for m in majors if m != cu]
                other = f" (use {' / '.join(rest)} for a CUDA {' / '.join(r[3:] for r in rest)} torch)" if rest else ""
        wheel = (f"`pip install 'nvidia-cudnn-cu{cu}=={major}.*'`{other}" if major and cu
                 else "the nvidia-cudnn-cuXX wheel torch pins")
        return Remedy(
            f"{reinstall_torch_command(ctx.torch_version)} (without --no-deps, so nvidia-cudnn comes with it), or "
            f"{wheel}; if an LD_LIBRARY_PATH entry holds another cuDNN, remove it (`echo $LD_LIBRARY_PATH`).",
            f"{soname} is cuDNN {major}." if major else "",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on a libcudnn load error, or a CUDA build with cuDNN unavailable and no copy on disk."""
        t = area(facts, TorchFacts)
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        if t.status in STATUS_FAILED:
            owned = owning_import_cause(t)
            if owned is not None and owned.code == self.code:
                cause = owned.cause
                exp = expected_cudnn(facts, tables, t)
                yield self.finding(
                    message=f"`import torch` in {t.python_executable} fails because {cause.soname} cannot be "
                            f"loaded: {cause.line}" + self._copies_note(facts, cause.soname),
                    evidence={"torch.status": t.status, "torch.import_error": cause.line},
                    fix=cudnn_pip(facts, t, exp[0] if exp else None),
                )
            return
        cuda_build(t)
        unknown = t.cudnn_version
        if not isinstance(unknown, Unavailable):
            return
        if first(t.cudnn_unavailable_causes, ErrorKind.CUDNN_VERSION_INCOMPATIBLE):
            return  # LIB003: a cuDNN loads, just the wrong one
        exp = expected_cudnn(facts, tables, t)
        if exp is None:
            raise SkipCheck("the cuDNN torch was built for is unknown (no nvidia-cudnn pin, no rules row)")
        libs = need(facts.cuda_libs, "CUDA library scan")
        major = str(exp[0].major)
        if any(c.library == "libcudnn" and soname_major(c) == major for c in libs.copies):
            return
        entry = tables.cudnn.get(exp[0].major)
        files = ", ".join(entry.libraries[:2]) if entry else f"libcudnn.so.{major}"
        yield self.finding(
            message=f"torch {torch_version(t)} (CUDA {t.cuda_version}) was built for cuDNN {exp[0]} "
                    f"({exp[1]}), but torch reports no cuDNN ({unknown.reason}) "
                    f"and no {files} exists in {', '.join(libs.searched) or 'the scanned directories'}.",
            evidence={"torch.cudnn_version": t.cudnn_version, "cudnn_expected": exp[0],
                      "cuda_libs.copies[libcudnn]": [c.path for c in libs.copies if c.library == "libcudnn"]},
            fix=cudnn_pip(facts, t, exp[0]),
        )

    def _copies_note(self, facts: Facts, soname: str) -> str:
        if not isinstance(facts.cuda_libs, CudaLibsFacts):
            return ""
        major = major_of(soname)
        found = [c.path for c in facts.cuda_libs.copies
                 if c.library.startswith("libcudnn") and (major is None or soname_major(c) == major)]
        if not found:
            return f" No cuDNN {major or ''} library was found on this machine.".replace("  ", " ")
        return f" Copies exist at {', '.join(found)}, but not where torch looks."
