"""What the cuda_libs checks share: torch's own copies, LD_LIBRARY_PATH fixes, cuDNN expectations, import causes."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.version import Version

from cudadoctor.causes import ErrorCause, ErrorKind, is_cuda_family, library_family, of_kind
from cudadoctor.checks.base import SkipCheck, maybe, need
from cudadoctor.facts import CudaLibsFacts, EnvFacts, Facts, LibraryCopy, TorchFacts, Unavailable
from cudadoctor.remedies import parse_version, variant_name
from cudadoctor.tables import RuleTables
from cudadoctor.wheels import pin_for_family, pip, quoted, reinstall_torch, torch_version

#: torch statuses for an import that did not complete.
STATUS_FAILED = ("import-failed", "import-crashed", "import-timeout")


@dataclass(frozen=True, slots=True)
class OwnedImportCause:
    """A CUDA-library cause of a failed ``import torch``, and the cuda_libs check that owns it."""

    code: str  #: "LIB001" (libcudart missing), "LIB002" (shadowed library), "LIB004" (cuDNN missing)
    cause: ErrorCause  #: what the error text says
    family: str  #: the library family at fault, e.g. "libnvJitLink"


def owning_import_cause(t: TorchFacts) -> OwnedImportCause | None:
    """Which cuda_libs check explains torch's import error (None: none does), from its typed causes.

    TRC002 stays quiet when this returns a cause, so each broken import is reported once, by
    the check whose fix is specific. A missing libcudart or libcudnn wins over an undefined
    symbol; "cannot open" lines are read before torch's "not found in the system path" ones.
    """
    causes = t.import_error_causes
    for c in of_kind(causes, ErrorKind.LIBRARY_CANNOT_OPEN) + of_kind(causes, ErrorKind.LIBRARY_NOT_IN_PATH):
        if c.library == "libcudart":
            return OwnedImportCause("LIB001", c, c.library)
        if c.library.startswith("libcudnn"):
            return OwnedImportCause("LIB004", c, c.library)
    for c in of_kind(causes, ErrorKind.UNDEFINED_SYMBOL):
        if not (c.soname and c.symbol):
            continue  # NOTE: a bare "undefined symbol" names no library to blame
        provider = c.library
        if not provider and is_cuda_family(library_family(c.soname)):
            provider = library_family(c.soname)
        if provider and is_cuda_family(provider):
            return OwnedImportCause("LIB002", c, provider)
    return None


def same_version(a: Version, b: Version) -> bool:
    """Equal at their common precision: 12.8 == 12.8.90, 9.10.2 == 9.10.2.21."""
    n = min(len(a.release), len(b.release))
    return a.release[:n] == b.release[:n]


def older(a: Version, b: Version) -> bool:
    """*a* is older than *b* at their common precision."""
    n = min(len(a.release), len(b.release))
    return a.release[:n] < b.release[:n]


def norm_path(path: str) -> str:
    """*path* normalised ('' stays '')."""
    return posixpath.normpath(path) if path else path


def torch_owns(t: TorchFacts, path: str) -> bool:
    """Whether *path* is torch's own copy: under torch/lib or the nvidia/ wheels beside torch."""
    p = norm_path(path)
    if isinstance(t.location, str):
        loc = norm_path(t.location)
        site = posixpath.dirname(loc)
        return p.startswith(loc + "/") or p.startswith(site + "/nvidia/")
    # NOTE: without torch's location, fall back to the layout pip wheels always use.
    return bool(re.search(r"/(site|dist)-packages/(torch/lib|nvidia)/", p))


def copy_at(libs: CudaLibsFacts | Unavailable, path: str) -> LibraryCopy | None:
    """The scanned copy whose path or real path is *path* (what /proc/self/maps showed)."""
    if not isinstance(libs, CudaLibsFacts):
        return None
    p = norm_path(path)
    return next((c for c in libs.copies if p in (norm_path(c.real_path), norm_path(c.path))), None)


def version_from_filename(path: str) -> Version | None:
    """'libcudart.so.12.1.105' -> 12.1.105 (None for a bare 'libcudart.so.12')."""
    m = re.search(r"\.so\.(\d+(?:\.\d+)+)$", path)
    return parse_version(m.group(1)) if m else None


def loaded_version(libs: CudaLibsFacts | Unavailable, path: str) -> Version | None:
    """Version of the library file mapped at *path*, from the scan or its file name."""
    c = copy_at(libs, path)
    if c is not None and isinstance(c.version, Version):
        return c.version
    if c is not None:
        return version_from_filename(c.real_path) or version_from_filename(path)
    return version_from_filename(path)


def ld_library_path(facts: Facts) -> tuple[str, ...]:
    """LD_LIBRARY_PATH entries, from the library scan or the environment."""
    if isinstance(facts.cuda_libs, CudaLibsFacts):
        return facts.cuda_libs.ld_library_path
    env = maybe(facts, EnvFacts)
    if env is not None:
        raw = env.variables.get("LD_LIBRARY_PATH", "")
        return tuple(e for e in raw.split(":") if e)
    return ()


def offending_entries(facts: Facts, family: str, loaded_path: str) -> list[str]:
    """LD_LIBRARY_PATH entries that provide the copy of *family* mapped at *loaded_path*."""
    dirs = {posixpath.dirname(norm_path(loaded_path))}
    if isinstance(facts.cuda_libs, CudaLibsFacts):
        real = norm_path(loaded_path)
        for c in facts.cuda_libs.copies:
            if c.library == family and real in (norm_path(c.real_path), norm_path(c.path)):
                dirs.add(posixpath.dirname(norm_path(c.path)))
                dirs.add(posixpath.dirname(norm_path(c.real_path)))
    return [e for e in ld_library_path(facts) if norm_path(e) in dirs]


def ld_path_fix(facts: Facts, remove: Sequence[str]) -> str:
    """The exact command that drops *remove* from LD_LIBRARY_PATH."""
    drop = {norm_path(e) for e in remove}
    keep = [e for e in ld_library_path(facts) if norm_path(e) not in drop]
    cmd = f"export LD_LIBRARY_PATH={shlex.quote(':'.join(keep))}" if keep else "unset LD_LIBRARY_PATH"
    return (
        f"{cmd}   (drops {', '.join(remove)}; also remove it where LD_LIBRARY_PATH is set: "
        "~/.bashrc, the module file, or the Dockerfile ENV)"
    )


def cuda_build(t: TorchFacts) -> Version:
    """torch's CUDA version, or skip the check when torch is not a CUDA build."""
    build = need(t.build, "torch build")
    if build != "cuda":
        raise SkipCheck(f"torch is a {build} build, not a CUDA build")
    cuda: Version = need(t.cuda_version, "torch CUDA version")
    return cuda


def cudart_soname(cuda: Version) -> str:
    """The libcudart soname a CUDA build links: 11.x -> libcudart.so.11.0, 12 -> .12, 13 -> .13."""
    # NOTE: CUDA 11 kept the soname libcudart.so.11.0 for every 11.x release; from 12 on it is
    # the major only (pytorch .ci/manywheel/build_cuda.sh DEPS_SONAME).
    return f"libcudart.so.{cuda.major}.0" if cuda.major == 11 else f"libcudart.so.{cuda.major}"


def major_of(soname: str) -> str | None:
    """'libcudnn.so.9' -> '9'; None for a name without a version ('libcudnn.so')."""
    m = re.search(r"\.so\.(\d+)", soname)
    return m.group(1) if m else None


def soname_major(copy: LibraryCopy) -> str:
    """The major of a copy's soname: '9' for libcudnn.so.9 (its soname_major may say '11.0')."""
    return copy.soname_major.split(".")[0]


def expected_cudnn(facts: Facts, tables: RuleTables, t: TorchFacts) -> tuple[Version, str] | None:
    """The cuDNN torch was built for, and where that came from (torch's pin, else the tables)."""
    pin = pin_for_family(facts, t, "libcudnn")
    if pin is not None and pin[1] is not None:
        return pin[1], f"torch's pin {pin[0]}"
    v = torch_version(t)
    if v is not None and isinstance(t.cuda_version, Version):
        var = tables.torch.variant(v, variant_name(t.cuda_version))
        if var is not None and var.cudnn is not None:
            note = "" if var.confirmed else ", unconfirmed row"
            return var.cudnn, f"rules/torch.toml (torch {var.torch} {var.name}{note})"
    return None


def cudnn_incompatibility(got: Version, built: Version) -> str | None:
    """Why torch refuses cuDNN *got* when built for *built* (its own rule), or None if it accepts it.

    torch.backends.cudnn: another major is always incompatible; from cuDNN 7 on a newer minor of
    the same major is accepted and an older one is not.
    """
    if got.major != built.major:
        return f"another major ({got.major} vs {built.major}): the API and the library files differ"
    if got.minor < built.minor:
        return (f"an older minor ({got.major}.{got.minor} < {built.major}.{built.minor}): "
                "cuDNN minors are only backward compatible")
    return None


def cudnn_pip(facts: Facts, t: TorchFacts, expected: Version | None) -> str:
    """pip line installing the cuDNN wheel torch expects."""
    pin = pin_for_family(facts, t, "libcudnn")
    if pin is not None:
        return pip(t, f"install {quoted(pin[0])}")
    if expected is not None and isinstance(t.cuda_version, Version):
        return pip(t, f"install 'nvidia-cudnn-cu{t.cuda_version.major}=={expected}'")
    return reinstall_torch(t)
