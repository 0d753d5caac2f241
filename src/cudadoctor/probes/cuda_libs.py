"""The cuda_libs probe: every copy of the CUDA user-space libraries on disk, and what the loader resolves.

Reading (directory listings, ``ldconfig -p``, the inspected interpreter's ``sys.path``, two
child processes that dlopen libraries) is kept apart from the pure parsers, which the tests
feed recorded samples. Only known library directories are listed, never whole trees, because
this probe runs on every ``cudadoctor check``.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import re
import struct
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from cudadoctor._util import CommandResult, child_env, describe_returncode, run_command
from cudadoctor.childrecords import child_program
from cudadoctor.facts import CudaLibsFacts, LibraryCopy, ResolvedLibrary, Unavailable
from cudadoctor.probes.base import ProbeContext

PROBE = "cuda_libs"

#: cuDNN 9 splits the library into these (https://docs.nvidia.com/deeplearning/cudnn/latest/api/overview.html).
CUDNN9_SUBLIBS = (
    "libcudnn_graph", "libcudnn_ops", "libcudnn_cnn", "libcudnn_adv",
    "libcudnn_engines_precompiled", "libcudnn_engines_runtime_compiled", "libcudnn_heuristic",
)
#: cuDNN 8's infer/train split.
CUDNN8_SUBLIBS = (
    "libcudnn_ops_infer", "libcudnn_ops_train", "libcudnn_cnn_infer", "libcudnn_cnn_train",
    "libcudnn_adv_infer", "libcudnn_adv_train",
)
#: Library families reported as LibraryCopy.library.
FAMILIES: tuple[str, ...] = (
    "libcudart", "libcudnn", *CUDNN9_SUBLIBS, *CUDNN8_SUBLIBS, "libcublas", "libcublasLt",
    "libnvJitLink", "libnccl", "libcusparse", "libcufft", "libcurand", "libcusolver", "libnvrtc",
    "libcupti",
)

# NOTE: auditwheel-repaired torch wheels bundle hashed copies such as libcudart-d0da41ae.so.11.0
# in torch/lib (https://github.com/pypa/auditwheel#overview), so an optional -<8 hex> is allowed.
_LIB_NAME = re.compile(
    r"^(?P<family>" + "|".join(re.escape(f) for f in sorted(FAMILIES, key=len, reverse=True)) + r")"
    r"(?:-[0-9a-f]{8})?\.so(?:\.(?P<suffix>\d+(?:\.\d+)*))?$"
)
_LIBCUDA_NAME = re.compile(r"^libcuda\.so(?:\.\d+)*$")

#: Sonames whose loader resolution is reported when some copy carries them (libcuda.so.1 always).
RESOLVE_CANDIDATES: tuple[str, ...] = (
    "libcudart.so.11.0", "libcudart.so.12", "libcudart.so.13", "libcudnn.so.8", "libcudnn.so.9",
    "libcublas.so.11", "libcublas.so.12", "libcublas.so.13", "libnvJitLink.so.12",
    "libnvJitLink.so.13", "libnccl.so.2",
)
LIBCUDA_SONAME = "libcuda.so.1"
#: cuDNN 8's sub-libraries (libcudnn_cnn_infer.so.8, ...) dlopen the *unversioned* driver library,
#: which resolves only where a libcuda.so file or link is on the loader path (WSL2's
#: /usr/lib/wsl/lib is reached through ld.so.cache, which holds only libcuda.so.1); resolved
#: whenever a cuDNN 8 copy is present, so libcuda-not-on-loader-path can judge it.
LIBCUDA_UNVERSIONED = "libcuda.so"

#: family -> the exported function the child calls to ask a library its own version.
VERSION_CALLS: dict[str, str] = {
    "libcudart": "cudaRuntimeGetVersion",
    "libcudnn": "cudnnGetVersion",
    "libnccl": "ncclGetVersion",
    "libcublasLt": "cublasLtGetVersion",
    "libnvJitLink": "nvJitLinkVersion",
}

#: Prefix of the toolkit trees a runfile/deb install creates (/usr/local/cuda, /usr/local/cuda-12.4).
USR_LOCAL = "/usr/local"
_MULTIARCH = f"{platform.machine()}-linux-gnu"
#: Standard loader directories, plus where the NVIDIA container runtime and WSL2 put driver libs.
# NOTE: WSL2 exposes libcuda under /usr/lib/wsl/lib
# (https://docs.nvidia.com/cuda/wsl-user-guide/index.html#known-limitations-for-linux-cuda-applications).
SYSTEM_DIRS: tuple[str, ...] = (
    f"/usr/lib/{_MULTIARCH}", "/usr/lib64", "/usr/lib", f"/lib/{_MULTIARCH}",
    "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib",
)

_SYS_PATH_SOURCE = "import json, sys; print(json.dumps(sys.path))"


# --------------------------------------------------------------------------------------------
# pure parsers


def parse_ldconfig(text: str) -> list[tuple[str, str, str]]:
    """Parse ``ldconfig -p`` into (name, flags, path) rows, e.g. ("libcudart.so.12", "libc6,x86-64", "/usr/...")."""
    rows: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        m = re.match(r"^\s+(\S+)\s+\(([^)]*)\)\s+=>\s+(/.*?)\s*$", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def cache_dirs_from(rows: Sequence[tuple[str, str, str]], *, native_only: bool = sys.maxsize > 2**32) -> list[str]:
    """Directories in which the loader cache lists CUDA libraries or libcuda, in cache order.

    32-bit rows ("libc6" without an architecture, e.g. the driver's i386 libcuda) are left out of
    a 64-bit process's search: its loader would never pick them.
    """
    dirs: list[str] = []
    for name, flags, path in rows:
        tokens = {t.strip() for t in flags.split(",")}
        if native_only and not tokens & {"x86-64", "AArch64", "64bit"}:
            continue
        d = os.path.dirname(path)
        if (match_library(name) or is_libcuda(name)) and d not in dirs:
            dirs.append(d)
    return dirs


def match_library(name: str) -> tuple[str, str] | None:
    """(family, ".so." suffix) for a CUDA library file name we track, else None."""
    m = _LIB_NAME.match(name)
    if not m:
        return None
    return m.group("family"), m.group("suffix") or ""


def is_libcuda(name: str) -> bool:
    """Whether *name* is a file name of the driver's libcuda (libcuda.so, libcuda.so.1, libcuda.so.550.54.14)."""
    return bool(_LIBCUDA_NAME.match(name))


def version_from_filename(name: str) -> Version | Unavailable:
    """The full version in a library file name: libcudart.so.12.4.127 -> 12.4.127.

    Only three or more components count: libcudart.so.12 and libcudart.so.11.0 carry the
    soname, not the release.
    """
    # NOTE: ASCII digits only: \d also matches other scripts' digits, which Version rejects.
    m = re.search(r"\.so\.([0-9]+(?:\.[0-9]+){2,})$", name)
    if not m:
        return Unavailable(probe=PROBE, reason=f"the file name {name} carries no full version")
    try:
        return Version(m.group(1))
    except ValueError:  # NOTE: ValueError too: Version raises it for a part over 4300 digits
        return Unavailable(probe=PROBE, reason=f"the file name {name} carries no readable version")


def soname_suffix(soname: str) -> str:
    """The ".so.N" suffix of a soname: libcudart.so.12 -> "12", libcudart.so.11.0 -> "11.0"."""
    m = re.search(r"\.so\.(\d+(?:\.\d+)*)$", soname)
    return m.group(1) if m else ""


def parse_cudart_version(value: int) -> Version | Unavailable:
    """cudaRuntimeGetVersion's integer as a version: 12040 -> 12.4 (1000*major + 10*minor)."""
    if value <= 0:
        return Unavailable(probe=PROBE, reason=f"cudaRuntimeGetVersion returned {value}")
    return Version(f"{value // 1000}.{(value % 1000) // 10}")


def parse_cudnn_version(value: int) -> Version | Unavailable:
    """cudnnGetVersion's integer as a version: 90100 -> 9.1.0, 8902 -> 8.9.2.

    cuDNN 9 encodes major*10000 + minor*100 + patch; cuDNN 8 and older major*1000 + minor*100 + patch.
    """
    # NOTE: https://docs.nvidia.com/deeplearning/cudnn/latest/api/cudnn-graph-library.html#cudnngetversion
    if value <= 0:
        return Unavailable(probe=PROBE, reason=f"cudnnGetVersion returned {value}")
    if value >= 90000:
        return Version(f"{value // 10000}.{(value % 10000) // 100}.{value % 100}")
    return Version(f"{value // 1000}.{(value % 1000) // 100}.{value % 100}")


def parse_nccl_version(value: int) -> Version | Unavailable:
    """ncclGetVersion's integer as a version: 22703 -> 2.27.3, 2804 -> 2.8.4.

    NCCL 2.9 changed the code from major*1000 + minor*100 + patch to major*10000 + minor*100 + patch.
    """
    # NOTE: NCCL_VERSION_CODE in nccl.h (https://github.com/NVIDIA/nccl/blob/master/src/nccl.h.in).
    if value <= 0:
        return Unavailable(probe=PROBE, reason=f"ncclGetVersion returned {value}")
    if value >= 10000:
        return Version(f"{value // 10000}.{(value % 10000) // 100}.{value % 100}")
    return Version(f"{value // 1000}.{(value % 1000) // 100}.{value % 100}")


def parse_cublaslt_version(value: int) -> Version | Unavailable:
    """cublasLtGetVersion's integer as a version: 120405 -> 12.4.5 (major*10000 + minor*100 + patch)."""
    if value <= 0:
        return Unavailable(probe=PROBE, reason=f"cublasLtGetVersion returned {value}")
    return Version(f"{value // 10000}.{(value % 10000) // 100}.{value % 100}")


def parse_call_result(call: str, result: Mapping[str, Any]) -> Version | Unavailable:
    """Turn one of the child's version answers into a version."""
    value = result.get("value")
    status = result.get("status", 0)
    if status != 0:
        return Unavailable(probe=PROBE, reason=f"{call} returned error status {status}")
    try:
        if call == "nvJitLinkVersion":
            major, minor = (int(v) for v in value)  # type: ignore[union-attr]
            if major <= 0:
                return Unavailable(probe=PROBE, reason=f"nvJitLinkVersion returned {major}.{minor}")
            return Version(f"{major}.{minor}")
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return Unavailable(probe=PROBE, reason=f"{call} gave an unreadable answer", detail=repr(value)[:200])
    parser = {
        "cudaRuntimeGetVersion": parse_cudart_version,
        "cudnnGetVersion": parse_cudnn_version,
        "ncclGetVersion": parse_nccl_version,
        "cublasLtGetVersion": parse_cublaslt_version,
    }[call]
    return parser(number)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchRoots:
    """Where CUDA libraries may live on this machine; every field is a plain path string."""

    ld_library_path: tuple[str, ...] = ()
    cuda_homes: tuple[str, ...] = ()  #: CUDA_HOME, CUDA_PATH
    usr_local: str = USR_LOCAL
    conda_prefix: str = ""
    site_dirs: tuple[str, ...] = ()  #: site-packages of the inspected interpreter
    cache_dirs: tuple[str, ...] = ()  #: directories the loader cache names CUDA libraries in
    system_dirs: tuple[str, ...] = SYSTEM_DIRS


def _norm(path: str) -> str:
    return os.path.normpath(path) if path else path


def _under(path: str, root: str) -> bool:
    if not root:
        return False
    path, root = _norm(path), _norm(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def classify_origin(directory: str, roots: SearchRoots) -> str:
    """Which source a library directory belongs to (pure: compares path strings, no I/O).

    Priority follows how much the label tells: LD_LIBRARY_PATH overrides everything at load time;
    then the installer that put the file there; then the loader cache; then the system dirs.
    """
    d = _norm(directory)
    if d in {_norm(p) for p in roots.ld_library_path}:
        return "ld-library-path"
    for site in roots.site_dirs:
        if _under(d, os.path.join(site, "nvidia")):
            return "pip-wheel"
        if _under(d, os.path.join(site, "torch", "lib")):
            return "torch-lib"
    if any(_under(d, home) for home in roots.cuda_homes):
        return "cuda-home"
    rel = os.path.relpath(d, _norm(roots.usr_local)) if _under(d, roots.usr_local) else ""
    if re.match(r"^cuda(-[^/]+)?(/|$)", rel):
        return "usr-local-cuda"
    if roots.conda_prefix and _under(d, roots.conda_prefix):
        return "conda"
    if d in {_norm(p) for p in roots.cache_dirs}:
        return "loader-cache"
    return "system"


def _cuda_tree_dirs(root: str) -> list[str]:
    """The library directories of a CUDA toolkit tree (lib64, lib, targets/<arch>/lib)."""
    return [os.path.join(root, "lib64"), os.path.join(root, "lib"),
            *sorted(glob.glob(os.path.join(glob.escape(root), "targets", "*", "lib")))]


def plan_dirs(roots: SearchRoots) -> list[str]:
    """Directories to list, in loader-like order (globs the few known patterns, lists nothing)."""
    dirs: list[str] = list(roots.ld_library_path)
    for home in roots.cuda_homes:
        dirs += _cuda_tree_dirs(home)
    local = glob.escape(roots.usr_local)
    for tree in [os.path.join(roots.usr_local, "cuda"), *sorted(glob.glob(os.path.join(local, "cuda-*")))]:
        dirs += _cuda_tree_dirs(tree)
    if roots.conda_prefix:
        dirs.append(os.path.join(roots.conda_prefix, "lib"))
    for site in roots.site_dirs:
        dirs += sorted(glob.glob(os.path.join(glob.escape(site), "nvidia", "*", "lib")))
        dirs.append(os.path.join(site, "torch", "lib"))
    dirs += roots.cache_dirs
    dirs += roots.system_dirs
    return dirs


# --------------------------------------------------------------------------------------------
# reading


def read_loader_cache(env: Mapping[str, str], timeout: float) -> tuple[str, str]:
    """(``ldconfig -p`` output, "") or ("", why it could not be read; "" when there is no ldconfig)."""
    why = ""
    # NOTE: /sbin is not on a normal user's PATH on Debian/Ubuntu, so fall back to full paths.
    for argv0 in ("ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"):
        try:
            result = run_command([argv0, "-p"], timeout=timeout, env=env)
        except (FileNotFoundError, PermissionError):
            continue
        if result.returncode == 0:
            return result.stdout, ""
        why = why or f"`{argv0} -p` failed ({describe_returncode(result.returncode)}); the loader cache was not searched"
        if result.timed_out:
            break  # NOTE: another ldconfig binary would most likely hang the same way
    return "", why


def read_sys_path(python: str, timeout: float, env: Mapping[str, str]) -> list[str]:
    """``sys.path`` of the inspected interpreter ([] when it cannot be run)."""
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        # NOTE: the same interpreter in the same environment has the same sys.path; skip a child.
        return list(sys.path)
    try:
        result = run_command([python, "-c", _SYS_PATH_SOURCE], timeout=timeout, env=env)
    except (FileNotFoundError, PermissionError):
        return []
    try:
        value = json.loads(result.stdout)
    except ValueError:
        return []
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


def read_soname(path: str) -> str:
    """DT_SONAME of a 64-bit little-endian ELF shared object ("" when absent or unreadable)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return ""
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
            loads: list[tuple[int, int, int]] = []
            dynamic: tuple[int, int] | None = None
            for i in range(phnum):
                p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
                    "<IIQQQQ", table, i * phentsize
                )
                if p_type == 1:  # PT_LOAD
                    loads.append((p_vaddr, p_offset, p_filesz))
                elif p_type == 2:  # PT_DYNAMIC
                    dynamic = (p_offset, p_filesz)
            if dynamic is None:
                return ""
            f.seek(dynamic[0])
            data = f.read(dynamic[1])
            strtab = soname = -1
            for off in range(0, len(data) - 15, 16):
                tag, val = struct.unpack_from("<qQ", data, off)
                if tag == 0:
                    break
                if tag == 5:  # DT_STRTAB (a virtual address)
                    strtab = val
                elif tag == 14:  # DT_SONAME (an offset into the string table)
                    soname = val
            if strtab < 0 or soname < 0:
                return ""
            for vaddr, offset, size in loads:
                if vaddr <= strtab < vaddr + size:
                    f.seek(offset + (strtab - vaddr) + soname)
                    return f.read(256).split(b"\0", 1)[0].decode("ascii", "replace")
    except (OSError, struct.error):
        return ""
    return ""


def read_wheel_versions(site_dirs: Sequence[str]) -> dict[str, Version]:
    """Installed-file path -> version of the nvidia-* wheel that installed it (from dist-info RECORD)."""
    out: dict[str, Version] = {}
    for site in site_dirs:
        if not os.path.isdir(os.path.join(site, "nvidia")):
            continue
        for info in glob.glob(os.path.join(glob.escape(site), "nvidia_*.dist-info")):
            m = re.match(r"^[^-]+-(.+)\.dist-info$", os.path.basename(info))
            try:
                version = Version(m.group(1)) if m else None
                record = Path(info, "RECORD").read_text(encoding="utf-8", errors="replace")
            except (InvalidVersion, OSError):
                continue
            if version is None:
                continue
            for line in record.splitlines():
                rel = line.split(",", 1)[0]
                if ".so" in rel:
                    out[os.path.normpath(os.path.join(site, rel))] = version
    return out


@dataclass(slots=True)
class _Found:
    """All names seen for one real file while listing directories."""

    family: str
    real_path: str
    first_dir: str
    origin: str
    names: list[str] = field(default_factory=list)  #: paths in first_dir that point at real_path
    all_paths: list[str] = field(default_factory=list)


def _list_dirs(dirs: Sequence[str], roots: SearchRoots) -> tuple[list[str], dict[str, _Found], list[str]]:
    """List each existing directory once; return (searched, real path -> _Found, libcuda files)."""
    searched: list[str] = []
    seen_real_dirs: set[str] = set()
    found: dict[str, _Found] = {}
    libcuda: list[str] = []
    for d in dirs:
        real_dir = os.path.realpath(d)
        if real_dir in seen_real_dirs or not os.path.isdir(real_dir):
            continue
        seen_real_dirs.add(real_dir)
        searched.append(d)
        origin = classify_origin(d, roots)
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            path = os.path.join(d, name)
            if is_libcuda(name):
                if os.path.exists(path) and path not in libcuda:
                    libcuda.append(path)
                continue
            matched = match_library(name)
            if matched is None:
                continue
            real = os.path.realpath(path)
            if not os.path.isfile(real):
                continue  # a dangling symlink is not a copy
            entry = found.get(real)
            if entry is None:
                entry = found[real] = _Found(family=matched[0], real_path=real, first_dir=d, origin=origin)
            if d == entry.first_dir:
                entry.names.append(path)
            entry.all_paths.append(path)
    return searched, found, libcuda


def _pick_name(entry: _Found, soname: str) -> str:
    """The name a loader would open: the soname link, else the shortest versioned name."""
    by_base = {os.path.basename(p): p for p in entry.names}
    if soname and soname in by_base:
        return by_base[soname]
    versioned = [p for p in entry.names if soname_suffix(os.path.basename(p))]
    if versioned:
        return min(versioned, key=lambda p: (soname_suffix(os.path.basename(p)).count("."), p))
    return entry.names[0]


def _run_child(python: str, request: dict[str, Any], timeout: float, env: Mapping[str, str]) -> CommandResult:
    source = child_program(Path(__file__).with_name("_libs_child.py").read_text(encoding="utf-8"))
    # NOTE: -S skips site: the script is stdlib-only and starts faster; the loader sees the same env.
    return run_command([python, "-S", "-c", source], timeout=timeout, env=env, input_text=json.dumps(request))


def _child_failure(result: CommandResult) -> str:
    """Why a child gave no usable answer: its exit status and stderr tail."""
    tail = result.stderr.strip().splitlines()[-3:]
    return describe_returncode(result.returncode) + (f": {' | '.join(tail)}" if tail else "")


def _decode(result: CommandResult, key: str) -> list[dict[str, Any]] | None:
    if result.returncode != 0 or result.timed_out:
        return None
    try:
        doc = json.loads(result.stdout)
    except (ValueError, RecursionError):  # NOTE: garbage on the child's stdout is not trusted
        return None
    rows = doc.get(key) if isinstance(doc, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else None


def _child_problems(resolve: CommandResult, load: CommandResult | None) -> list[str]:
    """One line per library-loader child that gave no usable answer."""
    problems = []
    if _decode(resolve, "resolved") is None:
        problems.append(f"the child process resolving sonames with dlopen failed ({_child_failure(resolve)})")
    if load is not None and _decode(load, "versions") is None:
        problems.append("the child process loading libraries to read their versions failed "
                        f"({_child_failure(load)}); versions come from file names where they can")
    return problems


def _resolve(sonames: list[str], result: CommandResult) -> tuple[ResolvedLibrary, ...]:
    rows = _decode(result, "resolved")
    if rows is None:
        why = _child_failure(result)
        return tuple(
            ResolvedLibrary(soname=s, path=Unavailable(
                probe=PROBE, reason=f"the child process resolving {s} failed ({why})", detail=result.stderr[-2000:]))
            for s in sonames
        )
    by_name = {r["soname"]: r for r in rows if isinstance(r.get("soname"), str)}
    out: list[ResolvedLibrary] = []
    for s in sonames:
        row = by_name.get(s, {})
        path = row.get("path")
        if isinstance(path, str) and path:
            out.append(ResolvedLibrary(soname=s, path=path))
        else:
            error = str(row.get("error") or "no answer from the child process")
            out.append(ResolvedLibrary(soname=s, path=Unavailable(
                probe=PROBE, reason=f"dlopen('{s}') in a clean process failed: {error}", detail=error)))
    return tuple(out)


def _fallback_version(
    entry: _Found, path: str, wheel_versions: Mapping[str, Version]
) -> tuple[Version | Unavailable, str]:
    """Version from the file name, else from the pip wheel that installed the file."""
    for name in (os.path.basename(entry.real_path), os.path.basename(path)):
        v = version_from_filename(name)
        if not isinstance(v, Unavailable):
            return v, "filename"
    for p in (path, entry.real_path, *entry.all_paths):
        if os.path.normpath(p) in wheel_versions:
            return wheel_versions[os.path.normpath(p)], "metadata"
    return Unavailable(
        probe=PROBE,
        reason=f"{os.path.basename(path)} has no version in its file name and no package metadata",
    ), "unknown"


def _versions(
    entries: list[tuple[_Found, str]],
    result: CommandResult | None,
    wheel_versions: Mapping[str, Version],
) -> list[tuple[Version | Unavailable, str]]:
    """Version and version_source for each (entry, chosen path), using the child's library calls."""
    rows = _decode(result, "versions") if result is not None else None
    by_path = {r["path"]: r for r in rows or [] if isinstance(r.get("path"), str)}
    culprit = ""
    if result is not None and rows is None:
        loading = [ln[8:] for ln in result.stderr.splitlines() if ln.startswith("loading ")]
        culprit = loading[-1] if loading else ""
    out: list[tuple[Version | Unavailable, str]] = []
    for entry, path in entries:
        call = VERSION_CALLS.get(entry.family)
        fallback, source = _fallback_version(entry, path, wheel_versions)
        row = by_path.get(entry.real_path) if call else None
        if call and result is not None and rows is None and culprit == entry.real_path:
            why = _child_failure(result)
            known = f" (its file name or package says {fallback})" if source != "unknown" else ""
            out.append((Unavailable(
                probe=PROBE, reason=f"loading {entry.real_path} to call {call} failed: {why}{known}",
                detail=result.stderr[-2000:]), "unknown"))
            continue
        if row is None:
            out.append((fallback, source))
            continue
        if "error" in row:
            known = f" (its file name or package says {fallback})" if source != "unknown" else ""
            out.append((Unavailable(
                probe=PROBE, reason=f"{entry.real_path} cannot be loaded: {row['error']}{known}",
                detail=str(row["error"])), "unknown"))
            continue
        if "missing" in row:
            out.append((fallback, source))  # e.g. nvJitLinkVersion only exists since CUDA 12.3
            continue
        version = parse_call_result(call or "", row)
        out.append((version, "library-call") if not isinstance(version, Unavailable) else (fallback, source))
    return out


def collect_cuda_libs(
    *,
    python: str,
    timeout: float,
    environ: Mapping[str, str] | None = None,
    usr_local: str = USR_LOCAL,
    system_dirs: Sequence[str] = SYSTEM_DIRS,
    use_loader_cache: bool = True,
    child_python: str = sys.executable,
) -> CudaLibsFacts:
    """Find every copy of the CUDA libraries and what the loader resolves; roots are injectable for tests.

    *environ* is the environment both read (LD_LIBRARY_PATH, CUDA_HOME, CUDA_PATH, CONDA_PREFIX)
    and handed to the children (default: a copy of ours).
    """
    env = dict(environ) if environ is not None else child_env()
    ld_library_path = tuple(p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cuda_libs") as pool:
        cache_future = pool.submit(read_loader_cache, env, timeout) if use_loader_cache else None
        sys_path = pool.submit(read_sys_path, python, timeout, env).result()
        cache_text, cache_problem = cache_future.result() if cache_future else ("", "")
    problems = [cache_problem] if cache_problem else []

    cache_dirs = cache_dirs_from(parse_ldconfig(cache_text))
    site_dirs = tuple(p for p in sys_path if p and os.path.isdir(p))
    roots = SearchRoots(
        ld_library_path=ld_library_path,
        cuda_homes=tuple(env[k] for k in ("CUDA_HOME", "CUDA_PATH") if env.get(k)),
        usr_local=usr_local,
        conda_prefix=env.get("CONDA_PREFIX", ""),
        site_dirs=site_dirs,
        cache_dirs=tuple(cache_dirs),
        system_dirs=tuple(system_dirs),
    )
    searched, found, libcuda_files = _list_dirs(plan_dirs(roots), roots)

    entries: list[tuple[_Found, str, str]] = []  # (found, chosen path, soname)
    for entry in found.values():
        soname = read_soname(entry.real_path)
        if soname and match_library(soname) is None:
            soname = ""  # e.g. a hashed torch/lib copy whose soname names another family
        entries.append((entry, _pick_name(entry, soname), soname))

    sonames_present = {
        s for entry, path, soname in entries
        for s in (soname, *(os.path.basename(p) for p in entry.all_paths))
    }
    to_resolve = [LIBCUDA_SONAME, *(s for s in RESOLVE_CANDIDATES if s in sonames_present)]
    if any(s.startswith("libcudnn") and s.endswith(".so.8") for s in sonames_present):
        to_resolve.append(LIBCUDA_UNVERSIONED)
    to_load = [
        {"path": entry.real_path, "call": VERSION_CALLS[entry.family]}
        for entry, _path, _soname in entries if entry.family in VERSION_CALLS
    ]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cuda_libs") as pool:
        resolve_future = pool.submit(
            _run_child, child_python, {"mode": "resolve", "sonames": to_resolve}, timeout, env)
        load_future = pool.submit(
            _run_child, child_python, {"mode": "versions", "load": to_load}, timeout, env) if to_load else None
        resolve_result = resolve_future.result()
        resolved = _resolve(to_resolve, resolve_result)
        load_result = load_future.result() if load_future else None

    wheel_versions = read_wheel_versions(site_dirs)
    versions = _versions([(e, p) for e, p, _s in entries], load_result, wheel_versions)
    copies = tuple(
        LibraryCopy(
            library=entry.family,
            path=path,
            real_path=entry.real_path,
            soname_major=soname_suffix(soname) or _suffix_major(os.path.basename(path)),
            origin=entry.origin,
            version=version,
            version_source=source,
        )
        for (entry, path, soname), (version, source) in zip(entries, versions)
    )
    return CudaLibsFacts(
        copies=copies,
        resolved=resolved,
        ld_library_path=ld_library_path,
        libcuda_files=tuple(libcuda_files),
        searched=tuple(searched),
        problems=tuple(problems + _child_problems(resolve_result, load_result)),
    )


def _suffix_major(name: str) -> str:
    """Soname suffix guessed from a file name without DT_SONAME: one or two components are the soname."""
    suffix = soname_suffix(name)
    return suffix if suffix.count(".") <= 1 else suffix.split(".", 1)[0]


def probe_cuda_libs(ctx: ProbeContext) -> CudaLibsFacts:
    """Every copy of libcudart/cuDNN/cuBLAS/NCCL/... on this machine, and what the loader picks."""
    return collect_cuda_libs(python=ctx.python, timeout=ctx.timeout)
