"""Compile stub C libraries (fake libnvidia-ml, libcuda, libcudart, libcudnn) for probe tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

STUBS = Path(__file__).parent


def have_gcc() -> bool:
    """Whether a C compiler is available (it is on every test machine)."""
    return shutil.which("gcc") is not None


def compile_stub(
    source: str,
    out_dir: Path,
    filename: str,
    *,
    soname: str | None = None,
    defines: Mapping[str, str | int] | None = None,
    links: Mapping[str, str] | None = None,
) -> Path:
    """Compile ``tests/stubs/<source>`` into ``out_dir/filename`` as a shared library.

    *defines* become ``-DNAME=VALUE``; *links* maps extra symlink names to create in out_dir
    (e.g. ``{"libcuda.so.1": "libcuda.so.550.54.14"}``). Returns the library path.
    """
    if not have_gcc():
        pytest.fail("gcc is required to build stub libraries (it is on every test machine)")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / filename
    argv = ["gcc", "-shared", "-fPIC", "-O0", "-o", str(target), str(STUBS / source)]
    if soname:
        argv.insert(1, f"-Wl,-soname,{soname}")
    for name, value in (defines or {}).items():
        argv.append(f"-D{name}={value}")
    subprocess.run(argv, check=True, timeout=60, capture_output=True, env={"PATH": "/usr/bin:/bin:/usr/local/bin"})
    for link, dest in (links or {}).items():
        (out_dir / link).unlink(missing_ok=True)
        (out_dir / link).symlink_to(dest)
    return target
