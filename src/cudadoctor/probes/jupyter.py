"""The jupyter probe: the installed kernelspecs and their interpreters, read from kernel.json (no jupyter needed).

The search path is Jupyter's own (jupyter_core.paths.jupyter_path, what `jupyter --paths` prints
under "data"): every JUPYTER_PATH entry, the user data directory (JUPYTER_DATA_DIR, else
$XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter), the environment's ``<prefix>/share/jupyter``
(before the user directory when JUPYTER_PREFER_ENV_PATH is set), then /usr/local/share/jupyter and
/usr/share/jupyter; kernels live in ``<dir>/kernels/<name>/kernel.json`` and the first of a name wins.
I/O is in :func:`read_kernelspecs`; :func:`search_path` and :func:`parse_kernelspec` are pure.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from cudadoctor.facts import Facts, JupyterFacts, KernelSpec, Unavailable
from cudadoctor.probes.base import ProbeContext

PROBE = "jupyter"

#: System-wide data directories on Linux (jupyter_core.paths.SYSTEM_JUPYTER_PATH).
SYSTEM_DIRS = ("/usr/local/share/jupyter", "/usr/share/jupyter")

#: Largest kernel.json read (real ones are a few hundred bytes).
MAX_KERNEL_JSON = 1024 * 1024


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def search_path(environ: Mapping[str, str], home: str, prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """Jupyter's data directories, in precedence order, for *environ* and the environments' *prefixes*."""
    dirs: list[str] = [p for p in environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if environ.get("JUPYTER_DATA_DIR"):
        user = environ["JUPYTER_DATA_DIR"]
    else:
        xdg = environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
        user = os.path.join(xdg, "jupyter")
    env_dirs = [os.path.join(p, "share", "jupyter") for p in prefixes]
    if _truthy(environ.get("JUPYTER_PREFER_ENV_PATH")):
        dirs += [*env_dirs, user]
    else:
        dirs += [user, *env_dirs]
    dirs += SYSTEM_DIRS
    out: list[str] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return tuple(out)


def resolve_interpreter(argv0: str, path_env: str) -> str | Unavailable:
    """The Python interpreter a kernel's argv[0] names, found through PATH like Jupyter's Popen does."""
    name = os.path.basename(argv0)
    if not name.startswith("python"):
        return Unavailable(probe=PROBE, reason=f"argv[0] {argv0!r} is not a Python interpreter (a wrapper or launcher)")
    if os.sep in argv0:
        if os.path.isfile(argv0) and os.access(argv0, os.X_OK):
            return argv0
        return Unavailable(probe=PROBE, reason=f"the kernel's interpreter {argv0} does not exist: the kernel cannot start")
    found = shutil.which(argv0, path=path_env)
    if found is None:
        return Unavailable(probe=PROBE, reason=f"{argv0!r} is not on PATH: the kernel cannot start")
    return found


def env_dir(python: str) -> str:
    """The environment an interpreter belongs to: its directory with symlinks resolved, not the file's.

    NOTE: a venv's bin/python is a symlink to the base interpreter; resolving the file would make
    every venv "the same" as the base Python. python3 -> python3.12 within one directory stays one.
    """
    return os.path.realpath(os.path.dirname(os.path.abspath(python)))


def parse_kernelspec(name: str, path: str, text: str, path_env: str) -> KernelSpec:
    """One kernel.json's content as a KernelSpec; raises ValueError for a file that is not a kernelspec."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("argv"), list) or not data["argv"]:
        raise ValueError("no argv list")
    argv = tuple(str(a) for a in data["argv"])
    language = str(data.get("language", ""))
    interpreter: str | Unavailable
    if language.lower() != "python":
        interpreter = Unavailable(probe=PROBE, reason=f"a {language or 'non-Python'} kernel")
    else:
        interpreter = resolve_interpreter(argv[0], path_env)
    real: str | Unavailable = env_dir(interpreter) if isinstance(interpreter, str) else interpreter
    return KernelSpec(
        name=name, display_name=str(data.get("display_name", name)), path=path, language=language, argv=argv,
        interpreter=interpreter, interpreter_dir=real,
    )


def read_kernelspecs(dirs: tuple[str, ...], path_env: str) -> tuple[tuple[KernelSpec, ...], tuple[str, ...]]:
    """Every kernelspec under ``<dir>/kernels`` (first of each name wins), and the files that could not be read."""
    kernels: dict[str, KernelSpec] = {}
    problems: list[str] = []
    for d in dirs:
        base = Path(d) / "kernels"
        try:
            entries = sorted(p for p in base.iterdir() if p.is_dir())
        except OSError:
            continue  # most of the search path does not exist on any given machine
        for kdir in entries:
            spec = kdir / "kernel.json"
            if kdir.name.lower() in kernels or not spec.is_file():
                continue
            try:
                with open(spec, encoding="utf-8") as f:
                    text = f.read(MAX_KERNEL_JSON)
                kernels[kdir.name.lower()] = parse_kernelspec(kdir.name, str(spec), text, path_env)
            except (OSError, UnicodeDecodeError, ValueError) as e:
                problems.append(f"{spec}: {type(e).__name__}: {str(e)[:120]}")
    return tuple(kernels.values()), tuple(problems)


def in_ipython_kernel() -> bool:
    """Whether this process is an IPython kernel (cudadoctor.check() called from a notebook cell)."""
    return "ipykernel" in sys.modules


def _prefix_of(python: str) -> str:
    """The environment prefix of an interpreter at <prefix>/bin/python."""
    return os.path.dirname(os.path.dirname(os.path.abspath(python)))


def probe_jupyter(ctx: ProbeContext) -> JupyterFacts:
    """Find the kernelspecs Jupyter would list, each with its interpreter."""
    prefixes = tuple(dict.fromkeys([_prefix_of(ctx.python), sys.prefix]))
    dirs = search_path(os.environ, os.path.expanduser("~"), prefixes)
    kernels, problems = read_kernelspecs(dirs, os.environ.get("PATH", os.defpath))
    return JupyterFacts(
        search_path=tuple(os.path.join(d, "kernels") for d in dirs), kernels=kernels,
        inspected_python=ctx.python, inspected_dir=env_dir(ctx.python),
        in_kernel=in_ipython_kernel(), problems=problems,
    )


def with_kernel_torch(facts: Facts, *, timeout: float) -> Facts:
    """*facts* with each other Jupyter kernel's torch inspected (``check --kernels``, ``check(kernels=True)``)."""
    if not isinstance(facts.jupyter, JupyterFacts):
        return facts
    return replace(facts, jupyter=probe_kernel_torch(facts.jupyter, timeout=timeout))


def probe_kernel_torch(j: JupyterFacts, *, timeout: float) -> JupyterFacts:
    """Inspect torch in every Python kernel whose interpreter is not the inspected one (``check --kernels``)."""
    from cudadoctor.probes.torch_build import inspect_torch

    todo = [k for k in j.kernels
            if isinstance(k.interpreter, str) and k.interpreter_dir != j.inspected_dir]
    if not todo:
        return replace(j, kernels_probed=True)
    with ThreadPoolExecutor(max_workers=min(4, len(todo)), thread_name_prefix="kernel") as pool:
        results = dict(zip([k.name for k in todo],
                           pool.map(lambda k: inspect_torch(str(k.interpreter), timeout=timeout), todo)))
    kernels = tuple(replace(k, torch=results[k.name]) if k.name in results else k for k in j.kernels)
    return replace(j, kernels=kernels, kernels_probed=True)
