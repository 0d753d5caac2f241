"""Child script of the cuda_libs probe: dlopen CUDA libraries and report what the loader did.

Runs as ``python -S -c <prelude + this source>`` with a JSON request on stdin, because loading a
CUDA library can hang or crash the process. Standard library only; it never imports cudadoctor.
stdout carries exactly one JSON document; stderr carries ``loading <path>`` progress lines so
the parent can name the library that killed the child (``write_document`` and ``progress`` come
from the shared prelude, ``cudadoctor/childprelude.py``).

Request: ``{"mode": "resolve", "sonames": [...]}`` -> ``{"resolved": [{"soname", "path"|"error"}]}``
or ``{"mode": "versions", "load": [{"path", "call"}]}`` -> ``{"versions": [{"path", "value"|...}]}``.
"""

import ctypes
import json
import os
import sys
from typing import Any

#: dlinfo() request for the struct link_map of a handle (<dlfcn.h>).
RTLD_DI_LINKMAP = 2


class _LinkMap(ctypes.Structure):
    """The public head of glibc's struct link_map (<link.h>)."""

    _fields_ = [
        ("l_addr", ctypes.c_void_p),
        ("l_name", ctypes.c_char_p),
        ("l_ld", ctypes.c_void_p),
        ("l_next", ctypes.c_void_p),
        ("l_prev", ctypes.c_void_p),
    ]


def _dlinfo() -> Any:
    """glibc's dlinfo (in libc since 2.34, in libdl before), or None."""
    for name in (None, "libdl.so.2"):
        try:
            fn = ctypes.CDLL(name).dlinfo
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        fn.restype = ctypes.c_int
        return fn
    return None


def _loaded_path(lib: ctypes.CDLL, soname: str, dlinfo: Any) -> str:
    """The file the loader mapped for *lib*, symlinks resolved (as /proc/self/maps shows it)."""
    if dlinfo is not None:
        lm = ctypes.POINTER(_LinkMap)()
        if dlinfo(lib._handle, RTLD_DI_LINKMAP, ctypes.byref(lm)) == 0 and lm and lm.contents.l_name:
            return os.path.realpath(os.fsdecode(lm.contents.l_name))
    # NOTE: without dlinfo, fall back to the first mapping whose file name starts with the stem.
    stem = soname.split(".so", 1)[0] + ".so"
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and os.path.basename(parts[5].strip()).startswith(stem):
                return parts[5].strip()
    return ""


def _close(lib: ctypes.CDLL) -> None:
    """dlclose a handle so the next soname is resolved as in a fresh process."""
    try:
        import _ctypes

        _ctypes.dlclose(lib._handle)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        pass


def resolve(sonames: list[str]) -> list[dict[str, str]]:
    """dlopen each soname the way a program would, and say which file the loader picked."""
    dlinfo = _dlinfo()
    out: list[dict[str, str]] = []
    for soname in sonames:
        try:
            lib = ctypes.CDLL(soname, mode=os.RTLD_LOCAL)
        except OSError as e:
            out.append({"soname": soname, "error": str(e)})
            continue
        out.append({"soname": soname, "path": _loaded_path(lib, soname, dlinfo)})
        _close(lib)
    return out


def _int_out(lib: ctypes.CDLL, symbol: str) -> dict[str, Any]:
    """Call ``status fn(int *out)`` and return the int."""
    fn = getattr(lib, symbol)
    fn.argtypes = [ctypes.POINTER(ctypes.c_int)]
    fn.restype = ctypes.c_int
    value = ctypes.c_int(0)
    status = fn(ctypes.byref(value))
    return {"value": value.value, "status": status}


def _size_ret(lib: ctypes.CDLL, symbol: str) -> dict[str, Any]:
    """Call ``size_t fn(void)`` and return its result."""
    fn = getattr(lib, symbol)
    fn.argtypes = []
    fn.restype = ctypes.c_size_t
    return {"value": int(fn()), "status": 0}


def _two_uint_out(lib: ctypes.CDLL, symbol: str) -> dict[str, Any]:
    """Call ``status fn(unsigned *major, unsigned *minor)`` and return [major, minor]."""
    fn = getattr(lib, symbol)
    fn.argtypes = [ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint)]
    fn.restype = ctypes.c_int
    major, minor = ctypes.c_uint(0), ctypes.c_uint(0)
    status = fn(ctypes.byref(major), ctypes.byref(minor))
    return {"value": [major.value, minor.value], "status": status}


#: call name -> (exported symbol, calling convention)
CALLS = {
    "cudaRuntimeGetVersion": _int_out,
    "cudnnGetVersion": _size_ret,
    "ncclGetVersion": _int_out,
    "cublasLtGetVersion": _size_ret,
    "nvJitLinkVersion": _two_uint_out,
}


def versions(load: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Load each library by absolute path and ask it for its version."""
    out: list[dict[str, Any]] = []
    for item in load:
        path, call = item["path"], item["call"]
        progress("loading " + path)
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_LOCAL)
        except OSError as e:
            out.append({"path": path, "error": str(e)})
            continue
        try:
            result = CALLS[call](lib, call)
        except AttributeError:
            out.append({"path": path, "missing": call})
            continue
        out.append({"path": path, **result})
    return out


def main() -> None:
    """Read the request on stdin, answer with one JSON document on stdout."""
    request = json.loads(sys.stdin.read())
    if request["mode"] == "resolve":
        answer: dict[str, Any] = {"resolved": resolve(request["sonames"])}
    else:
        answer = {"versions": versions(request["load"])}
    write_document(answer)


if __name__ == "__main__":
    main()
