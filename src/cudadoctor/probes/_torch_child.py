"""Child script run inside the inspected interpreter: report what ``import torch`` actually gives.

This file is executed as ``[python, "-c", <prelude + this source>, <timeout seconds>]`` by
``cudadoctor.probes.torch_build``. It must stay standard-library only and must never import
cudadoctor: it runs in *another* interpreter (``--python``), which may not have cudadoctor, and
it may be an older Python (so no syntax newer than 3.7 here).

Protocol: the records of the shared prelude (``cudadoctor/childprelude.py``, which defines
``marker``, ``claim_stdout`` and ``emit``): every fact is one line on the original stdout, written
as soon as it is known, so that whatever was learned before a crash (SIGSEGV in a CUDA library)
or a hang (CUDA init) survives. Before each stage a ``{"stage": "begin", "name": ...}`` line says
what the child is about to try, so the parent can tell *where* it died.
"""

import faulthandler
import os
import re
import sys
import traceback
import warnings
from typing import Any, Callable

#: Prefix of this child's record lines (the parent ignores any line without it).
MARKER = marker("torch")

#: Distributions worth reporting besides the nvidia-* and cuda-* families.
DISTRIBUTIONS = ("torch", "torchvision", "torchaudio", "triton", "pytorch-triton")
DISTRIBUTION_PREFIXES = ("nvidia-", "cuda-")

#: Warning categories that are noise, never a reason for CUDA being unavailable.
NOISE_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def error_text(exc: BaseException) -> str:
    """One line naming the exception, e.g. ``RuntimeError: ...``."""
    text = str(exc).strip()
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


def stage(name: str, fn: Callable[[], Any]) -> Any:
    """Announce *name*, run *fn*, emit its value (or the error); return the value or None."""
    emit({"stage": "begin", "name": name})
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - every failure is a fact for the parent
        emit({"stage": name, "error": error_text(exc)})
        return None
    emit({"stage": name, "value": value})
    return value


def python_info() -> dict[str, Any]:
    """The interpreter that runs this child."""
    return {
        "executable": sys.executable,
        "version_info": list(sys.version_info),
        "implementation": sys.implementation.name,
    }


def torch_spec() -> dict[str, Any]:
    """Whether ``torch`` can be found, without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None:
        return {"found": False, "location": None}
    locations = list(spec.submodule_search_locations or [])
    location = locations[0] if locations else (os.path.dirname(spec.origin) if spec.origin else None)
    return {"found": True, "location": location}


def _normalise(name: str) -> str:
    # NOTE: PEP 503 name normalisation, https://peps.python.org/pep-0503/#normalized-names
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions() -> list[dict[str, Any]]:
    """torch, its companions, and every nvidia-* / cuda-* distribution (first on sys.path wins)."""
    try:
        import importlib.metadata as metadata
    except ImportError:  # pragma: no cover - Python 3.7
        import importlib_metadata as metadata  # type: ignore[no-redef]
    found: dict[str, dict[str, Any]] = {}
    for dist in metadata.distributions():
        try:
            name = _normalise(dist.metadata["Name"] or "")
        except Exception:  # noqa: BLE001 - a broken METADATA file is skipped, not fatal
            continue
        if not name or name in found:
            continue
        if name in DISTRIBUTIONS or name.startswith(DISTRIBUTION_PREFIXES):
            found[name] = {
                "name": name,
                "version": dist.version or "",
                "requires": list(dist.requires or []),
            }
    return sorted(found.values(), key=lambda d: d["name"])


def import_torch() -> Any:
    """``import torch``; any failure, even SystemExit, is reported with its full traceback."""
    emit({"stage": "begin", "name": "import"})
    try:
        import torch
    except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt are facts too
        emit({
            "stage": "import",
            "ok": False,
            "error": error_text(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        })
        return None
    emit({"stage": "import", "ok": True})
    return torch


def cudnn_version(torch: Any) -> Any:
    """torch.backends.cudnn.version() as the raw integer (None when cuDNN is unavailable)."""
    import importlib

    cudnn = importlib.import_module("torch.backends.cudnn")
    return cudnn.version()


def nccl_version(torch: Any) -> Any:
    """torch.cuda.nccl.version(): a tuple in recent torch, an int in old releases."""
    import importlib

    nccl = importlib.import_module("torch.cuda.nccl")
    value = nccl.version()
    return list(value) if isinstance(value, tuple) else value


def arch_flags(torch: Any) -> list[str] | None:
    """The compiled arch list, read without initialising CUDA.

    NOTE: torch.cuda.get_arch_list() returns [] whenever CUDA is unavailable, hiding what the
    build supports; it is torch._C._cuda_getArchFlags() split on spaces
    (https://github.com/pytorch/pytorch/blob/main/torch/cuda/__init__.py).
    """
    getter = getattr(torch._C, "_cuda_getArchFlags", None)
    if getter is None:
        return None
    flags = getter()
    return flags.split() if flags else []


def cuda_init(torch: Any) -> dict[str, Any]:
    """torch.cuda.is_available(), with the warnings that explain a False, and init()'s error."""
    cuda = torch.cuda
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = bool(cuda.is_available())
    messages = [
        str(w.message) for w in caught if not issubclass(w.category, NOISE_WARNINGS)
    ]
    result: dict[str, Any] = {"available": available, "warnings": messages, "init_error": None}
    if not available:
        # NOTE: is_available() swallows the error; init() re-raises it with torch's own text,
        # e.g. "Found no NVIDIA driver on your system" or "No CUDA GPUs are available".
        try:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                cuda.init()
        except Exception as exc:  # noqa: BLE001
            result["init_error"] = error_text(exc)
    return result


def devices(torch: Any) -> list[dict[str, Any]]:
    """Name and capability of every visible device (errors per device are kept)."""
    cuda = torch.cuda
    out: list[dict[str, Any]] = []
    for index in range(int(cuda.device_count())):
        entry: dict[str, Any] = {"index": index}
        try:
            entry["name"] = str(cuda.get_device_name(index))
            entry["capability"] = list(cuda.get_device_capability(index))
        except Exception as exc:  # noqa: BLE001
            entry["error"] = error_text(exc)
        out.append(entry)
    return out


def mapped_libraries() -> list[str]:
    """Paths of the shared objects mapped into this process, in first-mapped order."""
    seen: list[str] = []
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) < 6:
                continue
            path = parts[5].strip()
            if path.endswith(" (deleted)"):
                path = path[: -len(" (deleted)")]
            base = os.path.basename(path)
            if path.startswith("/") and base.startswith("lib") and ".so" in base and path not in seen:
                seen.append(path)
    return seen


def main() -> None:
    """Run every stage in order, emitting each result as soon as it is known."""
    claim_stdout()
    # NOTE: on SIGSEGV/SIGABRT faulthandler prints the Python stack to stderr, and shortly
    # before the parent's timeout it dumps every thread's stack, so the parent's stderr tail
    # shows where torch crashed or hung. https://docs.python.org/3/library/faulthandler.html
    faulthandler.enable()
    try:
        timeout = float(sys.argv[1])
    except (IndexError, ValueError):
        timeout = 0.0
    if timeout > 1.0:
        faulthandler.dump_traceback_later(max(timeout - 0.5, timeout * 0.8), exit=False)

    stage("python", python_info)
    spec = stage("spec", torch_spec)
    stage("distributions", distributions)
    if isinstance(spec, dict) and spec.get("found") is False:
        emit({"stage": "done"})
        return
    torch = import_torch()
    if torch is not None:
        version = torch.version
        stage("version", lambda: str(torch.__version__))
        stage("cuda", lambda: version.cuda)
        stage("hip", lambda: getattr(version, "hip", None))
        stage("debug", lambda: bool(version.debug))
        stage("git_version", lambda: str(version.git_version))
        stage("cudnn", lambda: cudnn_version(torch))
        stage("nccl", lambda: nccl_version(torch))
        stage("arch_flags", lambda: arch_flags(torch))
        stage("config", lambda: str(torch.__config__.show()))
        stage("cuda_init", lambda: cuda_init(torch))
        stage("devices", lambda: devices(torch))
        stage("arch_list", lambda: list(torch.cuda.get_arch_list()))
    # Even after a failed import the mapped libraries show which copies were picked up.
    stage("loaded_libraries", mapped_libraries)
    faulthandler.cancel_dump_traceback_later()
    emit({"stage": "done"})


if __name__ == "__main__":
    main()
