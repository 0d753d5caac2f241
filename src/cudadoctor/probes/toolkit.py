"""The toolkit probe: the CUDA_HOME, nvcc and gcc that torch.utils.cpp_extension would build with."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping

from packaging.version import InvalidVersion, Version

from cudadoctor._util import child_env, describe_returncode, run_command
from cudadoctor.facts import ToolkitFacts, Unavailable, parse_version
from cudadoctor.probes.base import ProbeContext

PROBE = "toolkit"

#: torch's last-resort guess for CUDA_HOME on Linux.
DEFAULT_CUDA_HOME = "/usr/local/cuda"


# --------------------------------------------------------------------------------------------
# pure parsers


def resolve_cuda_home(
    environ: Mapping[str, str], nvcc_on_path: str | None, default_exists: bool, default: str = DEFAULT_CUDA_HOME
) -> tuple[str | Unavailable, str]:
    """(cuda_home, cuda_home_source) in torch.utils.cpp_extension._find_cuda_home's order.

    CUDA_HOME, then CUDA_PATH (an empty value counts as unset), then the directory above the
    ``nvcc`` found on PATH (not following symlinks, as torch does not), then /usr/local/cuda
    if it exists.
    """
    # NOTE: https://github.com/pytorch/pytorch/blob/main/torch/utils/cpp_extension.py (_find_cuda_home)
    for name in ("CUDA_HOME", "CUDA_PATH"):
        if environ.get(name):
            return environ[name], name
    if nvcc_on_path:
        return os.path.dirname(os.path.dirname(nvcc_on_path)), "nvcc-on-path"
    if default_exists:
        return default, default
    return Unavailable(
        probe=PROBE,
        reason=f"no CUDA toolkit found: CUDA_HOME and CUDA_PATH are unset, nvcc is not on PATH "
        f"and {default} does not exist (torch.utils.cpp_extension cannot build CUDA extensions)",
    ), "none"


#: An exec line of a wrapper script that hands over to another nvcc, e.g. ``exec /usr/local/cuda-13.0/bin/nvcc "$@"``.
_EXEC_NVCC = re.compile(r"""^\s*exec\s+["']?(/[^\s"';]*/nvcc)["']?(?:\s|$)""", re.MULTILINE)
#: A wrapper is a short script; anything larger is the real (ELF) nvcc or not something we read.
_WRAPPER_MAX_BYTES = 4096


def resolve_nvcc(path: str, *, depth: int = 8) -> str | Unavailable:
    """The real nvcc behind *path*: symlinks resolved, and wrapper scripts that ``exec`` another nvcc followed.

    A distribution or image may put a two-line script at /usr/local/bin/nvcc that execs the
    toolkit's own nvcc; torch.utils.cpp_extension then guesses CUDA_HOME=/usr/local from the
    script's location. Only an ``exec /abs/path/nvcc`` line is followed (no shell is run).
    """
    seen: list[str] = []
    current = path
    for _ in range(depth):
        real = os.path.realpath(current)
        if real in seen:
            return Unavailable(probe=PROBE, reason=f"{path}: the nvcc wrappers exec each other in a loop")
        seen.append(real)
        try:
            with open(real, "rb") as fh:
                head = fh.read(_WRAPPER_MAX_BYTES + 1)
        except OSError as e:
            return Unavailable(probe=PROBE, reason=f"cannot read {real}: {e.strerror or e}")
        if not head.startswith(b"#!") or len(head) > _WRAPPER_MAX_BYTES:
            return real
        m = _EXEC_NVCC.search(head.decode("utf-8", "replace"))
        if m is None or not os.path.isfile(m.group(1)):
            return real  # a script that does something else: it is the nvcc that runs
        current = m.group(1)
    return Unavailable(probe=PROBE, reason=f"{path}: more than {depth} nested nvcc wrappers")


def _version(text: str, what: str) -> Version | Unavailable:
    return parse_version(text, probe=PROBE, what=what)


def parse_nvcc_version(text: str) -> Version | Unavailable:
    """The "release X.Y" of ``nvcc --version`` output ("Cuda compilation tools, release 13.0, V13.0.88" -> 13.0)."""
    # NOTE: re.ASCII: \d also matches other scripts' digits, which Version rejects.
    m = re.search(r"\brelease (\d+\.\d+)\b", text, re.ASCII)
    if not m:
        return Unavailable(
            probe=PROBE, reason="nvcc --version did not print a 'release X.Y' line", detail=text[-500:]
        )
    return _version(m.group(1), "nvcc's release")


def parse_gcc_version(text: str) -> Version | Unavailable:
    """gcc's version from ``gcc -dumpfullversion`` ("12.2.0") or the first line of ``gcc --version``.

    Parenthesised vendor notes are skipped: "gcc (GCC) 8.5.0 20210514 (Red Hat 8.5.0-4)" -> 8.5.0.
    """
    lines = text.strip().splitlines()
    if not lines:
        return Unavailable(probe=PROBE, reason="gcc printed no version")
    first = re.sub(r"\([^)]*\)", " ", lines[0])
    m = re.search(r"(?<![\w.])(\d+(?:\.\d+){0,2})(?![\w.])", first, re.ASCII)
    if not m:
        return Unavailable(probe=PROBE, reason="gcc's version output has no version number", detail=text[-500:])
    return _version(m.group(1), "gcc's version")


def parse_version_json(text: str) -> Version | Unavailable:
    """The toolkit version in CUDA's version.json ({"cuda": {"version": "12.4.1"}})."""
    try:
        value = json.loads(text)["cuda"]["version"]
        return Version(str(value))
    except (ValueError, KeyError, TypeError, InvalidVersion, RecursionError) as e:
        return Unavailable(probe=PROBE, reason="version.json has no readable cuda.version", detail=str(e)[:500])


def parse_version_txt(text: str) -> Version | Unavailable:
    """The toolkit version in the version.txt of CUDA <= 11.0 ("CUDA Version 11.0.228")."""
    m = re.search(r"CUDA Version\s+(\d+(?:\.\d+)+)", text, re.ASCII)
    if not m:
        return Unavailable(probe=PROBE, reason="version.txt has no 'CUDA Version X.Y.Z' line", detail=text[:200])
    return _version(m.group(1), "version.txt's CUDA Version")


def parse_cudart_header(text: str) -> Version | Unavailable:
    """X.Y from ``#define CUDART_VERSION 12040`` in include/cuda_runtime_api.h."""
    # NOTE: at most 9 ASCII digits (12040): a longer run is not a CUDART_VERSION, and int() refuses
    # more than 4300 digits.
    m = re.search(r"^\s*#\s*define\s+CUDART_VERSION\s+([0-9]{1,9})(?![0-9])", text, re.MULTILINE)
    if not m:
        return Unavailable(probe=PROBE, reason="cuda_runtime_api.h defines no CUDART_VERSION")
    value = int(m.group(1))
    return Version(f"{value // 1000}.{(value % 1000) // 10}")


# --------------------------------------------------------------------------------------------
# reading


def read_cuda_home_version(cuda_home: str) -> Version | Unavailable:
    """The toolkit version under *cuda_home*: version.json, else version.txt, else the runtime header.

    Toolkits assembled from pip wheels or conda packages ship no version.json, so the header's
    CUDART_VERSION (major.minor only) is the last resort.
    """
    if not os.path.isdir(cuda_home):
        return Unavailable(probe=PROBE, reason=f"CUDA home {cuda_home} does not exist")
    sources = (
        ("version.json", parse_version_json),
        ("version.txt", parse_version_txt),
        (os.path.join("include", "cuda_runtime_api.h"), parse_cudart_header),
    )
    for name, parse in sources:
        try:
            with open(os.path.join(cuda_home, name), encoding="utf-8", errors="replace") as f:
                text = f.read(1 << 20)
        except OSError:
            continue
        version = parse(text)
        if not isinstance(version, Unavailable):
            return version
    return Unavailable(
        probe=PROBE,
        reason=f"{cuda_home} has no version.json, version.txt or include/cuda_runtime_api.h with a version",
    )


def read_tool_version(argv: list[str], timeout: float, env: Mapping[str, str]) -> tuple[str, str, bool]:
    """Run a ``--version``-style command: (stdout+stderr, "", False), or ("", why it failed, whether it hung)."""
    try:
        result = run_command(argv, timeout=timeout, env=env)
    except (FileNotFoundError, PermissionError, OSError) as e:
        return "", f"{argv[0]} could not be run: {e}", False
    if result.timed_out or result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-300:]
        why = f"{' '.join(argv)} failed ({describe_returncode(result.returncode)}){': ' + tail if tail else ''}"
        return "", why, result.timed_out
    return result.stdout + result.stderr, "", False


def _nvcc(cuda_home: str | Unavailable, on_path: str | None, timeout: float, env: Mapping[str, str]
          ) -> tuple[str | Unavailable, Version | Unavailable]:
    if isinstance(cuda_home, Unavailable):
        return cuda_home, cuda_home
    # NOTE: cpp_extension builds with $CUDA_HOME/bin/nvcc, not whatever nvcc is first on PATH.
    path = os.path.join(cuda_home, "bin", "nvcc")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        elsewhere = f"; the nvcc on PATH is {on_path}" if on_path and on_path != path else ""
        missing = Unavailable(
            probe=PROBE,
            reason=f"{path} does not exist (torch.utils.cpp_extension compiles CUDA code with "
            f"$CUDA_HOME/bin/nvcc){elsewhere}",
        )
        return missing, missing
    text, why, _ = read_tool_version([path, "--version"], timeout, env)
    if why:
        return path, Unavailable(probe=PROBE, reason=why)
    return path, parse_nvcc_version(text)


def _gcc(timeout: float, env: Mapping[str, str]) -> tuple[str | Unavailable, Version | Unavailable]:
    path = shutil.which("gcc", path=env.get("PATH", os.defpath))
    if path is None:
        missing = Unavailable(probe=PROBE, reason="gcc is not on PATH (nvcc needs it as the host compiler)")
        return missing, missing
    text, why, hung = read_tool_version([path, "-dumpfullversion"], timeout, env)
    version = parse_gcc_version(text) if not why else Unavailable(probe=PROBE, reason=why)
    # NOTE: -dumpfullversion exists since gcc 7; older gccs need the --version banner. A gcc that
    # hung once is not asked again: that would spend a second timeout on the same hang.
    if not hung and (isinstance(version, Unavailable) or not re.fullmatch(r"\s*\d+(\.\d+)*\s*", text)):
        banner, why, _ = read_tool_version([path, "--version"], timeout, env)
        version = parse_gcc_version(banner) if not why else Unavailable(probe=PROBE, reason=why)
    return path, version


def collect_toolkit(
    *, timeout: float, environ: Mapping[str, str] | None = None, default_cuda_home: str = DEFAULT_CUDA_HOME
) -> ToolkitFacts:
    """Toolkit facts from *environ* (default: a copy of ours); the default CUDA home is injectable for tests."""
    env = dict(environ) if environ is not None else child_env()
    on_path = shutil.which("nvcc", path=env.get("PATH", os.defpath))
    cuda_home, source = resolve_cuda_home(env, on_path, os.path.exists(default_cuda_home), default_cuda_home)
    # NOTE: nvcc and gcc run side by side, so one hung tool costs one timeout, not two in a row,
    # and the other's version still arrives before the global deadline.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="toolkit-gcc") as pool:
        gcc = pool.submit(_gcc, timeout, env)
        nvcc_path, nvcc_version = _nvcc(cuda_home, on_path, timeout, env)
        gcc_path, gcc_version = gcc.result()
    header, elsewhere = find_cuda_header(cuda_home, env)
    which = nvcc_path if isinstance(nvcc_path, str) else on_path
    real = resolve_nvcc(which) if which else Unavailable(probe=PROBE, reason="no nvcc to resolve")
    real_toolkit = ""
    if isinstance(real, str) and real.endswith("/bin/nvcc"):
        root = real[: -len("/bin/nvcc")] or "/"
        home_real = os.path.realpath(cuda_home) if isinstance(cuda_home, str) else None
        if root != home_real:
            real_toolkit = root
    return ToolkitFacts(
        cuda_home=cuda_home,
        cuda_home_source=source,
        cuda_home_version=cuda_home if isinstance(cuda_home, Unavailable) else read_cuda_home_version(cuda_home),
        nvcc_path=nvcc_path,
        nvcc_version=nvcc_version,
        gcc_path=gcc_path,
        gcc_version=gcc_version,
        cuda_runtime_header=header,
        cuda_headers_elsewhere=elsewhere,
        cuda_home_exists=cuda_home if isinstance(cuda_home, Unavailable) else os.path.isdir(cuda_home),
        cuda_headers_searched=True,
        nvcc_real_path=real,
        real_toolkit=real_toolkit,
    )


#: The header every CUDA extension's C++ sources reach through torch's CUDA headers (c10/cuda).
CUDA_HEADER = "cuda_runtime_api.h"
#: The host compiler's own default include directories (gcc and clang on Linux).
DEFAULT_INCLUDE_DIRS = ("/usr/local/include", "/usr/include")


def header_search_dirs(cuda_home: str | Unavailable, env: Mapping[str, str]) -> list[str]:
    """Where an extension build's host compiler looks for CUDA headers, in order.

    torch.utils.cpp_extension.include_paths() passes $CUDA_HOME/include and CUDA_INC_PATH; gcc adds
    CPATH, CPLUS_INCLUDE_PATH and C_INCLUDE_PATH, then its defaults.
    https://gcc.gnu.org/onlinedocs/cpp/Environment-Variables.html
    """
    dirs = [os.path.join(cuda_home, "include")] if isinstance(cuda_home, str) else []
    if env.get("CUDA_INC_PATH"):
        dirs.append(env["CUDA_INC_PATH"])
    for name in ("CPATH", "CPLUS_INCLUDE_PATH", "C_INCLUDE_PATH"):
        dirs += [d for d in env.get(name, "").split(":") if d]
    dirs += [d for d in DEFAULT_INCLUDE_DIRS if d not in dirs]
    return dirs


def find_cuda_header(cuda_home: str | Unavailable, env: Mapping[str, str]) -> tuple[str | Unavailable, tuple[str, ...]]:
    """(the cuda_runtime_api.h the host compiler finds, or why none; copies only nvcc would find)."""
    dirs = header_search_dirs(cuda_home, env)
    elsewhere: tuple[str, ...] = ()
    if isinstance(cuda_home, str):
        # NOTE: toolkits from conda packages keep headers in targets/<arch>/include; nvcc's own
        # nvcc.profile adds that directory, the host compiler does not know it.
        elsewhere = tuple(sorted(glob.glob(os.path.join(glob.escape(cuda_home), "targets", "*", "include", CUDA_HEADER))))
    for d in dirs:
        path = os.path.join(d, CUDA_HEADER)
        if os.path.isfile(path):
            return path, elsewhere
    return Unavailable(probe=PROBE, reason=f"no {CUDA_HEADER} in {', '.join(dirs)}"), elsewhere


def probe_toolkit(ctx: ProbeContext) -> ToolkitFacts:
    """The CUDA_HOME, nvcc and gcc that torch.utils.cpp_extension would use to build extensions."""
    return collect_toolkit(timeout=ctx.timeout)
