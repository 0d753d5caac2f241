"""Checks of the CUDA user-space libraries torch loads: cudart, cuDNN, libcuda, the nvidia-* wheels."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from packaging.requirements import Requirement

from cudadoctor.checks.base import Check, SkipCheck, need
from cudadoctor.findings import Finding, Severity
from cudadoctor.facts import (
    CudaLibsFacts,
    Distribution,
    Facts,
    HostFacts,
    LibraryCopy,
    TorchFacts,
    Unavailable,
    known,
)
from cudadoctor.remedies import variant_name
from cudadoctor.tables import RuleTables

# ============================================================================================
# Shared helpers (also used by checks/torch_build.py)

#: CUDA library families whose copies must match what torch was built and pinned with.
CUDA_FAMILIES = frozenset({
    "libcudart", "libcublas", "libcublasLt", "libnvJitLink", "libcusparse", "libcusparseLt",
    "libcufft", "libcurand", "libcusolver", "libnvrtc", "libcupti", "libnccl", "libnvToolsExt",
    "libcufile", "libnvshmem_host",
})

#: library family -> pip wheel base name (the wheel is "<base>-cuNN"), e.g. nvidia-cudnn-cu12.
WHEEL_OF_FAMILY = {
    "libcudart": "nvidia-cuda-runtime", "libcublas": "nvidia-cublas", "libcublasLt": "nvidia-cublas",
    "libnvJitLink": "nvidia-nvjitlink", "libcusparse": "nvidia-cusparse",
    "libcusparseLt": "nvidia-cusparselt", "libcufft": "nvidia-cufft", "libcurand": "nvidia-curand",
    "libcusolver": "nvidia-cusolver", "libnvrtc": "nvidia-cuda-nvrtc", "libcupti": "nvidia-cuda-cupti",
    "libnccl": "nvidia-nccl", "libcudnn": "nvidia-cudnn", "libnvToolsExt": "nvidia-nvtx",
    "libcufile": "nvidia-cufile", "libnvshmem_host": "nvidia-nvshmem",
}

#: library family -> extra of the ``cuda-toolkit`` meta-wheel that torch 2.11+ (CUDA 13) pins instead.
# NOTE: torch 2.11+ Requires-Dist `cuda-toolkit[cudart,cublas,...]==13.0.x` (PyPI wheel METADATA).
TOOLKIT_EXTRA_OF_FAMILY = {
    "libcudart": "cudart", "libcublas": "cublas", "libcublasLt": "cublas", "libnvJitLink": "nvjitlink",
    "libcusparse": "cusparse", "libcufft": "cufft", "libcurand": "curand", "libcusolver": "cusolver",
    "libnvrtc": "nvrtc", "libcupti": "cupti", "libcufile": "cufile", "libnvToolsExt": "nvtx",
}

#: symbol prefix -> the library family that defines it (for "undefined symbol" errors without a version).
_SYMBOL_PROVIDER = (
    ("__nvJitLink", "libnvJitLink"), ("nvJitLink", "libnvJitLink"), ("cublasLt", "libcublasLt"),
    ("cublas", "libcublas"), ("cudnn", "libcudnn"), ("nccl", "libnccl"), ("cusparseLt", "libcusparseLt"),
    ("cusparse", "libcusparse"), ("cufft", "libcufft"), ("curand", "libcurand"),
    ("cusolver", "libcusolver"), ("nvrtc", "libnvrtc"), ("cupti", "libcupti"), ("cuda", "libcudart"),
    ("__cuda", "libcudart"),
)

_STATUS_FAILED = ("import-failed", "import-crashed", "import-timeout")
_SONAME = re.compile(r"(lib[A-Za-z0-9_+]+?)(?:-[0-9a-f]{8})?\.so((?:\.\d+)*)")
_CANNOT_OPEN = re.compile(r"(lib[A-Za-z0-9_+\-]+\.so(?:\.\d+)*): cannot open shared object file")
# NOTE: torch/__init__.py _preload_cuda_deps raises "ValueError: libcublas.so.*[0-9] not found in the
# system path [...]" when a pip nvidia wheel it expects is absent.
_NOT_IN_PATH = re.compile(r"(lib[A-Za-z0-9_+\-]+\.so)\.\*\[0-9\]\S* not found in the system path")
_UNDEFINED = re.compile(
    r"(lib[A-Za-z0-9_+\-]+\.so(?:\.\d+)*): undefined symbol: ([^\s,]+)(?:, version (lib[A-Za-z0-9_+\-.]+))?"
)
_CUDNN_INCOMPAT = re.compile(
    r"compiled\s+against\s+\((\d+),\s*(\d+),\s*(\d+)\)\s+but\s+found\s+runtime\s+version\s+\((\d+),\s*(\d+),\s*(\d+)\)"
)


def library_family(soname: str) -> str:
    """'libcudart.so.12' -> 'libcudart'; 'libcudart-9335f6a2.so.11.0' -> 'libcudart' (auditwheel name)."""
    m = _SONAME.search(posixpath.basename(soname))
    return m.group(1) if m else soname


def is_cuda_family(family: str) -> bool:
    """Whether *family* is one of the CUDA libraries torch ships or pins (cuDNN included)."""
    return family in CUDA_FAMILIES or family.startswith("libcudnn")


@dataclass(frozen=True, slots=True)
class ImportCause:
    """A CUDA-library cause recognised in an ``import torch`` error, and the check that owns it."""

    code: str  #: "LIB001" (libcudart missing), "LIB002" (shadowed library), "LIB004" (cuDNN missing)
    soname: str  #: the library named in the error, e.g. "libcudnn.so.9"
    family: str  #: the library family at fault, e.g. "libnvJitLink"
    symbol: str = ""  #: for undefined-symbol errors
    line: str = ""  #: the error line itself


def classify_import_error(text: str) -> ImportCause | None:
    """Which cuda_libs check explains this ``import torch`` error (None: none does).

    TRC002 stays quiet when this returns a cause, so each broken import is reported once, by
    the check whose fix is specific.
    """
    for m in [*_CANNOT_OPEN.finditer(text), *_NOT_IN_PATH.finditer(text)]:
        fam = library_family(m.group(1))
        if fam == "libcudart":
            return ImportCause("LIB001", m.group(1), fam, line=_line_of(text, m.start()))
        if fam.startswith("libcudnn"):
            return ImportCause("LIB004", m.group(1), fam, line=_line_of(text, m.start()))
    for m in _UNDEFINED.finditer(text):
        lib, symbol, versioned = m.group(1), m.group(2), m.group(3)
        provider = library_family(versioned) if versioned else _provider_of(symbol)
        if provider is None and is_cuda_family(library_family(lib)):
            provider = library_family(lib)
        if provider is not None and is_cuda_family(provider):
            return ImportCause("LIB002", versioned or lib, provider, symbol, _line_of(text, m.start()))
    return None


def missing_library(text: str) -> str | None:
    """The shared library an import error says is missing ('libcublas.so.12'), if any."""
    m = _CANNOT_OPEN.search(text) or _NOT_IN_PATH.search(text)
    return m.group(1) if m else None


def _provider_of(symbol: str) -> str | None:
    for prefix, fam in _SYMBOL_PROVIDER:
        if symbol.startswith(prefix):
            return fam
    return None


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start: end if end >= 0 else len(text)].strip()


def error_tail(text: str, lines: int = 4) -> str:
    """The last non-empty lines of an error text (the part that names the problem)."""
    kept = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def find_distribution(t: TorchFacts, name: str) -> Distribution | None:
    """The installed distribution *name* (any spelling) in the inspected interpreter."""
    key = canonicalize_name(name)
    return next((d for d in t.distributions if canonicalize_name(d.name) == key), None)


def parse_version(text: str) -> Version | None:
    """A Version, or None for text that is not one."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def torch_version(t: TorchFacts) -> Version | None:
    """torch.__version__, or the installed distribution's version when import failed."""
    if known(t.version):
        return t.version  # type: ignore[return-value]
    dist = find_distribution(t, "torch")
    return parse_version(dist.version) if dist else None


def _marker_env(facts: Facts, t: TorchFacts) -> dict[str, str]:
    # NOTE: pins are evaluated for the inspected interpreter on Linux, as pip would, not for
    # the doctor's own interpreter.
    machine = facts.host.arch if isinstance(facts.host, HostFacts) else "x86_64"
    py = t.python_version
    return {
        "platform_system": "Linux", "sys_platform": "linux", "os_name": "posix",
        "platform_machine": machine, "python_version": f"{py.major}.{py.minor}",
        "python_full_version": str(py), "implementation_name": "cpython",
        "platform_python_implementation": "CPython", "extra": "",
    }


def torch_pins(facts: Facts, t: TorchFacts) -> tuple[Requirement, ...]:
    # NOTE: imported here: packaging.requirements costs ~25 ms, and healthcheck never needs it.
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement, Requirement

    """torch's Requires-Dist entries that apply to this machine (markers evaluated for Linux)."""
    dist = find_distribution(t, "torch")
    if dist is None:
        return ()
    env = _marker_env(facts, t)
    out: list[Requirement] = []
    for line in dist.requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None:
            try:
                if not req.marker.evaluate(env):
                    continue
            except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
                continue
        out.append(req)
    return tuple(out)


def cuda_pins(facts: Facts, t: TorchFacts) -> tuple[Requirement, ...]:
    """The pins on NVIDIA CUDA wheels (``nvidia-*``, ``cuda-toolkit``, ``cuda-bindings``)."""
    return tuple(r for r in torch_pins(facts, t) if canonicalize_name(r.name).startswith(("nvidia-", "cuda-")))


def requirement_text(req: Requirement, extras: Iterable[str] | None = None) -> str:
    """'nvidia-cudnn-cu12==9.1.0.70' (marker dropped), optionally with only the given extras."""
    chosen = sorted(req.extras if extras is None else extras)
    extra = f"[{','.join(chosen)}]" if chosen else ""
    return f"{req.name}{extra}{req.specifier}"


def pinned_version(req: Requirement) -> Version | None:
    """The exact version of an ``==`` pin (None for ranges)."""
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "==="):
        return parse_version(specs[0].version.rstrip(".*"))
    return None


def pin_for_family(facts: Facts, t: TorchFacts, family: str) -> tuple[str, Version | None] | None:
    """The pip requirement torch pins for the wheel that ships *family*, and its exact version."""
    base = WHEEL_OF_FAMILY.get("libcudnn" if family.startswith("libcudnn") else family)
    extra = TOOLKIT_EXTRA_OF_FAMILY.get(family)
    for req in cuda_pins(facts, t):
        name = canonicalize_name(req.name)
        if base and (name == base or re.fullmatch(re.escape(base) + r"-cu\d+", name)):
            return requirement_text(req), pinned_version(req)
        if extra and name == "cuda-toolkit" and extra in req.extras:
            return requirement_text(req, [extra]), pinned_version(req)
    return None


def quoted(spec: str) -> str:
    """A requirement spec in single quotes for the shell ('nvidia-cudnn-cu12==9.1.0.70')."""
    return f"'{spec}'" if "'" not in spec else shlex.quote(spec)


def pip(t: TorchFacts, args: str) -> str:
    """A pip command line for the inspected interpreter: '<python> -m pip <args>'."""
    return f"{shlex.quote(t.python_executable)} -m pip {args}"


def pip_from(t: TorchFacts, command: str) -> str:
    """Rewrite a 'pip install ...' line (remedies.WheelChoice.pip_command) for the inspected interpreter."""
    return pip(t, command.removeprefix("pip "))


def torch_variant_index(t: TorchFacts) -> str:
    """'--index-url https://download.pytorch.org/whl/cu124' for torch's own variant ('' when unknown)."""
    v = torch_version(t)
    local = v.local if v is not None else None
    if local and re.fullmatch(r"cu\d+|cpu|rocm[\d.]+", local):
        return f" --index-url https://download.pytorch.org/whl/{local}"
    if known(t.cuda_version):
        return f" --index-url https://download.pytorch.org/whl/{variant_name(t.cuda_version)}"  # type: ignore[arg-type]
    return ""


def reinstall_torch(t: TorchFacts) -> str:
    """Force-reinstall the same torch build (same version, same CUDA index)."""
    v = torch_version(t)
    spec = f"'torch=={v.public}'" if v is not None else "torch"
    return pip(t, f"install --force-reinstall --no-cache-dir {spec}{torch_variant_index(t)}")


def same_version(a: Version, b: Version) -> bool:
    """Equal at their common precision: 12.8 == 12.8.90, 9.10.2 == 9.10.2.21."""
    n = min(len(a.release), len(b.release))
    return a.release[:n] == b.release[:n]


def older(a: Version, b: Version) -> bool:
    """*a* is older than *b* at their common precision."""
    n = min(len(a.release), len(b.release))
    return a.release[:n] < b.release[:n]


def _norm(path: str) -> str:
    return posixpath.normpath(path) if path else path


def torch_owns(t: TorchFacts, path: str) -> bool:
    """Whether *path* is torch's own copy: under torch/lib or the nvidia/ wheels beside torch."""
    p = _norm(path)
    if known(t.location):
        loc = _norm(t.location)  # type: ignore[arg-type]
        site = posixpath.dirname(loc)
        return p.startswith(loc + "/") or p.startswith(site + "/nvidia/")
    # NOTE: without torch's location, fall back to the layout pip wheels always use.
    return bool(re.search(r"/(site|dist)-packages/(torch/lib|nvidia)/", p))


def copy_at(libs: CudaLibsFacts | Unavailable, path: str) -> LibraryCopy | None:
    """The scanned copy whose path or real path is *path* (what /proc/self/maps showed)."""
    if not isinstance(libs, CudaLibsFacts):
        return None
    p = _norm(path)
    return next((c for c in libs.copies if p in (_norm(c.real_path), _norm(c.path))), None)


def version_from_filename(path: str) -> Version | None:
    """'libcudart.so.12.1.105' -> 12.1.105 (None for a bare 'libcudart.so.12')."""
    m = re.search(r"\.so\.(\d+(?:\.\d+)+)$", path)
    return parse_version(m.group(1)) if m else None


def loaded_version(libs: CudaLibsFacts | Unavailable, path: str) -> Version | None:
    """Version of the library file mapped at *path*, from the scan or its file name."""
    c = copy_at(libs, path)
    if c is not None and known(c.version):
        return c.version  # type: ignore[return-value]
    if c is not None:
        return version_from_filename(c.real_path) or version_from_filename(path)
    return version_from_filename(path)


def ld_library_path(facts: Facts) -> tuple[str, ...]:
    """LD_LIBRARY_PATH entries, from the library scan or the environment."""
    if isinstance(facts.cuda_libs, CudaLibsFacts):
        return facts.cuda_libs.ld_library_path
    if known(facts.env):
        raw = facts.env.variables.get("LD_LIBRARY_PATH", "")  # type: ignore[union-attr]
        return tuple(e for e in raw.split(":") if e)
    return ()


def offending_entries(facts: Facts, family: str, loaded_path: str) -> list[str]:
    """LD_LIBRARY_PATH entries that provide the copy of *family* mapped at *loaded_path*."""
    dirs = {posixpath.dirname(_norm(loaded_path))}
    if isinstance(facts.cuda_libs, CudaLibsFacts):
        real = _norm(loaded_path)
        for c in facts.cuda_libs.copies:
            if c.library == family and real in (_norm(c.real_path), _norm(c.path)):
                dirs.add(posixpath.dirname(_norm(c.path)))
                dirs.add(posixpath.dirname(_norm(c.real_path)))
    return [e for e in ld_library_path(facts) if _norm(e) in dirs]


def ld_path_fix(facts: Facts, remove: Sequence[str]) -> str:
    """The exact command that drops *remove* from LD_LIBRARY_PATH."""
    drop = {_norm(e) for e in remove}
    keep = [e for e in ld_library_path(facts) if _norm(e) not in drop]
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
    return need(t.cuda_version, "torch CUDA version")  # type: ignore[no-any-return]


def cudart_soname(cuda: Version) -> str:
    """The libcudart soname a CUDA build links: 11.x -> libcudart.so.11.0, 12 -> .12, 13 -> .13."""
    # NOTE: CUDA 11 kept the soname libcudart.so.11.0 for every 11.x release; from 12 on it is
    # the major only (pytorch .ci/manywheel/build_cuda.sh DEPS_SONAME).
    return f"libcudart.so.{cuda.major}.0" if cuda.major == 11 else f"libcudart.so.{cuda.major}"


def _major_of(soname: str) -> str | None:
    """'libcudnn.so.9' -> '9'; None for a name without a version ('libcudnn.so')."""
    m = re.search(r"\.so\.(\d+)", soname)
    return m.group(1) if m else None


def _soname_major(copy: LibraryCopy) -> str:
    return copy.soname_major.split(".")[0]


def expected_cudnn(facts: Facts, tables: RuleTables, t: TorchFacts) -> tuple[Version, str] | None:
    """The cuDNN torch was built for, and where that came from (torch's pin, else the tables)."""
    pin = pin_for_family(facts, t, "libcudnn")
    if pin is not None and pin[1] is not None:
        return pin[1], f"torch's pin {pin[0]}"
    v = torch_version(t)
    if v is not None and known(t.cuda_version):
        var = tables.torch.variant(v, variant_name(t.cuda_version))  # type: ignore[arg-type]
        if var is not None and var.cudnn is not None:
            note = "" if var.confirmed else ", unconfirmed row"
            return var.cudnn, f"rules/torch.toml (torch {var.torch} {var.name}{note})"
    return None


def cudnn_pip(facts: Facts, t: TorchFacts, expected: Version | None) -> str:
    """pip line installing the cuDNN wheel torch expects."""
    pin = pin_for_family(facts, t, "libcudnn")
    if pin is not None:
        return pip(t, f"install {quoted(pin[0])}")
    if expected is not None and known(t.cuda_version):
        return pip(t, f"install 'nvidia-cudnn-cu{t.cuda_version.major}=={expected}'")  # type: ignore[union-attr]
    return reinstall_torch(t)


# ============================================================================================
# Checks


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

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on a libcudart load error, or a CUDA build with no libcudart anywhere."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        cause = classify_import_error(t.import_error) if t.status in _STATUS_FAILED else None
        if cause is not None and cause.code == self.code:
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
        have = [c for c in libs.copies if c.library == "libcudart" and _soname_major(c) == str(cuda.major)]
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
        major = _major_of(soname)
        found = [c.path for c in facts.cuda_libs.copies
                 if c.library == "libcudart" and (major is None or _soname_major(c) == major)]
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

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on undefined CUDA symbols at import, or on foreign, different-version CUDA libraries."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        if t.status in _STATUS_FAILED:
            cause = classify_import_error(t.import_error)
            if cause is not None and cause.code == self.code:
                yield self._undefined_symbol(facts, t, cause)
            return
        cuda_build(t)
        loaded = need(t.loaded_libraries, "libraries mapped into the torch process")
        for lib in loaded:
            if not is_cuda_family(lib.library) or torch_owns(t, lib.path):
                continue
            expected = self._expected(facts, t, lib.library)
            got = loaded_version(facts.cuda_libs, lib.path)
            if expected is None or got is None or same_version(got, expected[0]):
                continue
            yield self._shadowed(facts, t, lib.library, lib.path, got, expected)

    def _expected(self, facts: Facts, t: TorchFacts, family: str) -> tuple[Version, str] | None:
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            for c in facts.cuda_libs.copies:
                if c.library == family and known(c.version) and torch_owns(t, c.path):
                    return c.version, c.path  # type: ignore[return-value]
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

    def _undefined_symbol(self, facts: Facts, t: TorchFacts, cause: ImportCause) -> Finding:
        culprits: list[str] = []
        paths: list[str] = []
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            for c in facts.cuda_libs.copies:
                if c.library == cause.family and not torch_owns(t, c.path):
                    paths.append(f"{c.path} ({c.version if known(c.version) else 'version unknown'}, {c.origin})")
                    culprits += offending_entries(facts, cause.family, c.real_path)
        culprits = list(dict.fromkeys(culprits))
        ldp = ld_library_path(facts)
        if culprits:
            fix = ld_path_fix(facts, culprits)
        elif ldp:
            fix = "unset LD_LIBRARY_PATH   (it is searched before the libraries torch ships; currently " \
                  f"{':'.join(ldp)})"
        else:
            pin = pin_for_family(facts, t, cause.family)
            fix = (pip(t, f"install --force-reinstall {quoted(pin[0])}") if pin else reinstall_torch(t))
            fix += f"   (the {cause.family} torch pins)"
        return self.finding(
            message=f"`import torch` fails with an undefined symbol {cause.symbol} that {cause.family} should "
                    f"provide: an older or foreign {cause.family} is loaded instead of torch's own. "
                    f"Error: {cause.line}"
                    + (f" Other copies: {'; '.join(paths)}." if paths else ""),
            evidence={"torch.import_error": cause.line, "cuda_libs.ld_library_path": list(ldp),
                      "library": cause.family},
            fix=fix,
        )


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

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Compare the loaded cuDNN with the one torch was built for (torch's own rule)."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        cuda_build(t)
        text = " ".join(
            [t.cuda_unavailable_reason]
            + ([t.cudnn_version.reason, t.cudnn_version.detail] if isinstance(t.cudnn_version, Unavailable) else [])
        )
        m = _CUDNN_INCOMPAT.search(text)
        loaded_path = ""
        if isinstance(t.loaded_libraries, tuple):
            loaded_path = next((lib.path for lib in t.loaded_libraries if lib.library == "libcudnn"), "")
        if m:
            built = Version(".".join(m.group(1, 2, 3)))
            got = Version(".".join(m.group(4, 5, 6)))
            built_from = "torch's own error message"
        else:
            exp = expected_cudnn(facts, tables, t)
            if exp is None:
                raise SkipCheck("the cuDNN torch was built for is unknown (no nvidia-cudnn pin, no rules row)")
            built, built_from = exp
            got_v = loaded_version(facts.cuda_libs, loaded_path) if loaded_path else None
            got = got_v or (t.cudnn_version if known(t.cudnn_version) else None)  # type: ignore[assignment]
            if got is None:
                why = t.cudnn_version.reason if isinstance(t.cudnn_version, Unavailable) else "not mapped"
                raise SkipCheck(f"the loaded cuDNN version is unknown: {why}")
        if got.major != built.major:
            why = f"another major ({got.major} vs {built.major}): the API and the library files differ"
        elif got.minor < built.minor:
            why = f"an older minor ({got.major}.{got.minor} < {built.major}.{built.minor}): " \
                  "cuDNN minors are only backward compatible"
        else:
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

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on a libcudnn load error, or a CUDA build with cuDNN unavailable and no copy on disk."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        if t.status in _STATUS_FAILED:
            cause = classify_import_error(t.import_error)
            if cause is not None and cause.code == self.code:
                exp = expected_cudnn(facts, tables, t)
                yield self.finding(
                    message=f"`import torch` in {t.python_executable} fails because {cause.soname} cannot be "
                            f"loaded: {cause.line}" + self._copies_note(facts, cause.soname),
                    evidence={"torch.status": t.status, "torch.import_error": cause.line},
                    fix=cudnn_pip(facts, t, exp[0] if exp else None),
                )
            return
        cuda_build(t)
        if known(t.cudnn_version):
            return
        reason = t.cudnn_version.reason + " " + t.cudnn_version.detail  # type: ignore[union-attr]
        if _CUDNN_INCOMPAT.search(reason):
            return  # LIB003: a cuDNN loads, just the wrong one
        exp = expected_cudnn(facts, tables, t)
        if exp is None:
            raise SkipCheck("the cuDNN torch was built for is unknown (no nvidia-cudnn pin, no rules row)")
        libs = need(facts.cuda_libs, "CUDA library scan")
        major = str(exp[0].major)
        if any(c.library == "libcudnn" and _soname_major(c) == major for c in libs.copies):
            return
        entry = tables.cudnn.get(exp[0].major)
        files = ", ".join(entry.libraries[:2]) if entry else f"libcudnn.so.{major}"
        yield self.finding(
            message=f"torch {torch_version(t)} (CUDA {t.cuda_version}) was built for cuDNN {exp[0]} "
                    f"({exp[1]}), but torch reports no cuDNN ({t.cudnn_version.reason}) "  # type: ignore[union-attr]
                    f"and no {files} exists in {', '.join(libs.searched) or 'the scanned directories'}.",
            evidence={"torch.cudnn_version": t.cudnn_version, "cudnn_expected": exp[0],
                      "cuda_libs.copies[libcudnn]": [c.path for c in libs.copies if c.library == "libcudnn"]},
            fix=cudnn_pip(facts, t, exp[0]),
        )

    def _copies_note(self, facts: Facts, soname: str) -> str:
        if not isinstance(facts.cuda_libs, CudaLibsFacts):
            return ""
        major = _major_of(soname)
        found = [c.path for c in facts.cuda_libs.copies
                 if c.library.startswith("libcudnn") and (major is None or _soname_major(c) == major)]
        if not found:
            return f" No cuDNN {major or ''} library was found on this machine.".replace("  ", " ")
        return f" Copies exist at {', '.join(found)}, but not where torch looks."


class LibcudaNotOnLoaderPath(Check):
    """The driver's libcuda.so exists but the dynamic loader cannot find it.

    ## What it checks
    Whether copies of the driver library `libcuda.so*` exist on disk (stub libraries under
    `.../stubs/` excluded) while `dlopen("libcuda.so.1")` in a clean child process fails.

    ## Why it matters
    CUDA finds the driver only through the loader: torch reports "Found no NVIDIA driver on
    your system" even though the driver is installed. Classic cases: WSL2, where the driver
    lives in /usr/lib/wsl/lib and that directory is missing from the loader configuration;
    containers whose injected libraries sit in /usr/local/nvidia/lib64 without an ld.so.conf
    entry; a driver installed without running `ldconfig`, so the `libcuda.so.1` link is missing.

    ## Example
    WSL2 Ubuntu, /usr/lib/wsl/lib/libcuda.so.1 exists, /etc/ld.so.conf.d/ld.wsl.conf was
    deleted: "libcuda.so.1: cannot open shared object file".

    ## Fix
    Add the directory to the loader path: `echo DIR | sudo tee /etc/ld.so.conf.d/nvidia.conf &&
    sudo ldconfig` (or `export LD_LIBRARY_PATH=DIR:$LD_LIBRARY_PATH` for one shell).

    ## References
    - https://docs.nvidia.com/cuda/wsl-user-guide/index.html
    - https://man7.org/linux/man-pages/man8/ldconfig.8.html
    - https://github.com/NVIDIA/nvidia-container-toolkit
    """

    code = "LIB005"
    name = "libcuda-not-on-loader-path"
    severity = Severity.ERROR
    requires = frozenset({"cuda_libs"})
    tables = ()
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when a real libcuda is on disk but libcuda.so.1 does not resolve."""
        libs: CudaLibsFacts = facts.cuda_libs  # type: ignore[assignment]
        real = [f for f in libs.libcuda_files if "/stubs/" not in f]
        if not real:
            return  # no driver library on disk at all: no-nvidia-driver's business
        entry = next((r for r in libs.resolved if r.soname == "libcuda.so.1"), None)
        drv_path = facts.driver.libcuda_path if known(facts.driver) else None  # type: ignore[union-attr]
        if entry is not None:
            if known(entry.path):
                return
            error = entry.path.reason  # type: ignore[union-attr]
        elif drv_path is None:
            raise SkipCheck("whether libcuda.so.1 resolves was not recorded (driver facts unavailable)")
        elif known(drv_path):
            return
        else:
            error = drv_path.reason  # type: ignore[union-attr]
        by_dir: dict[str, list[str]] = {}
        for f in real:
            by_dir.setdefault(posixpath.dirname(f), []).append(posixpath.basename(f))
        wsl = isinstance(facts.host, HostFacts) and facts.host.wsl2
        dirs = sorted(by_dir, key=lambda d: (d != "/usr/lib/wsl/lib" if wsl else 0, "libcuda.so.1" not in by_dir[d]))
        best = dirs[0]
        names = by_dir[best]
        ldp = ld_library_path(facts)
        conf = "ld.wsl.conf" if best == "/usr/lib/wsl/lib" else "nvidia.conf"
        if "libcuda.so.1" not in names:
            target = next((n for n in names if re.fullmatch(r"libcuda\.so\.\d+(\.\d+)+", n)), names[0])
            fix = (f"sudo ldconfig   (creates the missing link {best}/libcuda.so.1 -> {target}; without root: "
                   f"ln -s {best}/{target} ~/lib/libcuda.so.1 && export LD_LIBRARY_PATH=~/lib:$LD_LIBRARY_PATH)")
            why = (f"{best} has {', '.join(names)} but no libcuda.so.1 link "
                   "(ldconfig was not run after the driver install)")
        elif best in ldp:
            fix = (f"file -L {best}/libcuda.so.1   (it is on LD_LIBRARY_PATH and still fails: check it is a "
                   f"64-bit {facts.host.arch if isinstance(facts.host, HostFacts) else ''} library and readable)")
            why = f"{best}/libcuda.so.1 is on LD_LIBRARY_PATH but does not load"
        else:
            fix = (f"echo {best} | sudo tee /etc/ld.so.conf.d/{conf} && sudo ldconfig   "
                   f"(or for this shell only: export LD_LIBRARY_PATH={best}:$LD_LIBRARY_PATH)")
            why = f"{best} is neither in the loader cache (/etc/ld.so.conf.d) nor on LD_LIBRARY_PATH"
        place = " (WSL2: the Windows driver exposes its libraries in /usr/lib/wsl/lib)" if wsl else ""
        yield self.finding(
            message=f"The NVIDIA driver library exists ({', '.join(real)}) but the loader cannot find "
                    f"libcuda.so.1 ({error}): {why}{place}. CUDA and torch will report no driver.",
            evidence={"cuda_libs.libcuda_files": real, "cuda_libs.resolved[libcuda.so.1]": error,
                      "cuda_libs.ld_library_path": list(ldp)},
            fix=fix,
        )


class NvidiaWheelsMismatch(Check):
    """Installed nvidia-*-cuXX wheels do not satisfy the versions torch pins.

    ## What it checks
    torch's `Requires-Dist` pins on NVIDIA wheels (`nvidia-cudnn-cu12==9.1.0.70;
    platform_system == "Linux" ...`, `cuda-toolkit[cudart,...]==13.0.2`), with markers
    evaluated for this Linux machine and the inspected Python, against the installed
    distributions: missing or different versions.

    ## Why it matters
    pip only checks pins at install time. A later `pip install` of another package (TensorRT,
    JAX, cupy, an older requirements lock) silently replaces a wheel torch relies on, giving
    cuDNN/cuBLAS version errors, undefined symbols, or slower kernels.

    ## Example
    torch 2.5.1 pins `nvidia-cudnn-cu12==9.1.0.70`; `pip install tensorflow` replaced it with
    9.3.0.75.

    ## Fix
    Reinstall the exact pinned versions (`pip install 'nvidia-cudnn-cu12==9.1.0.70' ...`), and
    keep the conflicting package in its own environment.

    ## References
    - https://packaging.python.org/en/latest/specifications/core-metadata/#requires-dist-multiple-use
    - https://pypi.org/project/torch/
    """

    code = "LIB006"
    name = "nvidia-wheels-mismatch"
    severity = Severity.WARNING
    requires = frozenset({"torch"})
    tables = ()

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Compare each pinned NVIDIA wheel with what is installed."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        dist = find_distribution(t, "torch")
        if dist is None:
            raise SkipCheck("torch's package metadata was not found (no Requires-Dist to compare)")
        problems: list[str] = []
        wanted: list[str] = []
        for req in cuda_pins(facts, t):
            have = find_distribution(t, req.name)
            if have is None:
                problems.append(f"{req.name} missing (torch pins {req.specifier})")
            else:
                v = parse_version(have.version)
                if v is not None and req.specifier.contains(v, prereleases=True):
                    continue
                problems.append(f"{req.name} {have.version} installed, torch pins {req.specifier}")
            wanted.append(quoted(requirement_text(req)))
        if not problems:
            return
        yield self.finding(
            message=f"torch {dist.version} in {t.python_executable} pins NVIDIA wheels that are not installed "
                    f"as pinned: {'; '.join(problems)}.",
            evidence={"torch.distributions[torch].requires": [r for r in dist.requires if "nvidia" in r or "cuda" in r],
                      "mismatches": problems},
            fix=pip(t, f"install {' '.join(wanted)}"),
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
        libs: CudaLibsFacts = facts.cuda_libs  # type: ignore[assignment]
        loaded: dict[str, str] = {}
        if isinstance(facts.torch, TorchFacts) and isinstance(facts.torch.loaded_libraries, tuple):
            loaded = {lib.library: lib.path for lib in facts.torch.loaded_libraries}
        for family, label in (("libcudart", "CUDA runtime"), ("libcudnn", "cuDNN")):
            files: dict[str, LibraryCopy] = {}
            for c in libs.copies:
                if c.library == family:
                    files.setdefault(_norm(c.real_path), c)
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


CHECKS: tuple[type[Check], ...] = (
    CudartMissing,
    CudaLibShadowed,
    CudnnVersionMismatch,
    CudnnMissing,
    LibcudaNotOnLoaderPath,
    NvidiaWheelsMismatch,
    MultipleCudaRuntimes,
)
