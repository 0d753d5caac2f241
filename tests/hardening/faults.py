"""Fault-injection plumbing: sick fake hosts (stub libraries, fake torch, fake tools) and a runner for the real CLI.

Every fault is a set of environment variables and files that a real broken machine would
present to ``python -m cudadoctor``; the runner starts the command as a subprocess with an
explicit environment (nothing secret in it), bounds it by a wall-clock limit and tags the whole
process tree with a unique variable, so stray children can be found in /proc afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES
from tests.stubs import compile_stub

FAKE_TORCH = FIXTURES / "fake_torch"
FAKES = Path(__file__).with_name("fakes")
REPO = Path(__file__).resolve().parents[2]
#: The variable that marks every process a test run starts (children inherit the environment).
TAG = "CUDADOCTOR_FAULT_TAG"
#: Seconds a command may take beyond its own --timeout (interpreter start-up, judging, a busy CI box).
MARGIN = 7.0


@dataclass(frozen=True)
class Stubs:
    """Directories of compiled stub libraries, each usable as LD_LIBRARY_PATH."""

    driver: Path  #: libnvidia-ml.so.1 + libcuda.so.1 (behaviour from STUB_NVML_* / STUB_CUDA_*)
    empty: Path  #: nothing at all: "the library is missing"
    cudart_crash: Path  #: libcudart.so.12 whose version call segfaults
    cudart_hang: Path  #: libcudart.so.12 whose version call never returns


def build_stubs(root: Path) -> Stubs:
    """Compile every stub library the faults need under *root*."""
    driver = root / "driver"
    compile_stub("nvml_stub.c", driver, "libnvidia-ml.so.1", soname="libnvidia-ml.so.1")
    compile_stub("cuda_stub.c", driver, "libcuda.so.550.54.14", soname="libcuda.so.1",
                 links={"libcuda.so.1": "libcuda.so.550.54.14"})
    crash, hang = root / "cudart_crash", root / "cudart_hang"
    compile_stub("cudart_stub.c", crash, "libcudart.so.12.6.77", soname="libcudart.so.12",
                 defines={"STUB_CRASH": 1}, links={"libcudart.so.12": "libcudart.so.12.6.77"})
    compile_stub("cudart_stub.c", hang, "libcudart.so.12.6.77", soname="libcudart.so.12",
                 defines={"STUB_HANG": 1}, links={"libcudart.so.12": "libcudart.so.12.6.77"})
    empty = root / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    return Stubs(driver=driver, empty=empty, cudart_crash=crash, cudart_hang=hang)


def install_tool(bin_dir: Path, name: str, behaviour: str) -> Path:
    """Put a fake *name* (nvcc, gcc, ldconfig) into *bin_dir*: behaviour garbage, hang or fail."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = FAKES / f"{behaviour}.py"
    tool = bin_dir / name
    # A /bin/sh wrapper, so the fake runs with this interpreter whatever PATH says.
    tool.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n", encoding="utf-8")
    tool.chmod(0o755)
    return tool


def base_env(tmp: Path, stubs: Stubs) -> dict[str, str]:
    """A healthy fake host: stub driver (one H100, 550.54.14), fake torch 2.5.1+cu124, no secrets."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{tmp / 'bin'}:/usr/local/cuda/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        # NOTE: the doctor itself runs from the source tree (editable install); the fake torch
        # goes first on PYTHONPATH so the torch child imports it instead of the CPU wheel.
        "PYTHONPATH": str(FAKE_TORCH / "cu124"),
        "LD_LIBRARY_PATH": str(stubs.driver),
        "STUB_NVML_DRIVER": "550.54.14",
        "STUB_NVML_CUDA": "12040",
        "STUB_CUDA_VERSION": "12040",
        "XDG_CACHE_HOME": str(tmp / "cache"),
    }


@dataclass
class Result:
    """One finished (or killed) CLI run."""

    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    tag: str
    timed_out: bool = False
    json: Any = field(default=None)

    def describe(self) -> str:
        """Everything useful for an assertion message."""
        return (f"argv={self.argv[3:]} rc={self.returncode} {self.seconds:.1f}s\n"
                f"--- stdout (tail)\n{self.stdout[-1500:]}\n--- stderr (tail)\n{self.stderr[-3000:]}")


def run_cli(args: Sequence[str], env: Mapping[str, str], *, limit: float, cwd: Path | None = None) -> Result:
    """Run ``python -m cudadoctor *args`` with exactly *env*; kill it (group) after *limit* seconds."""
    tag = uuid.uuid4().hex
    full_env = {**env, TAG: tag}
    argv = [sys.executable, "-m", "cudadoctor", *args]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            env=full_env, cwd=str(cwd or REPO), start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    seconds = time.monotonic() - start
    result = Result(argv, None if timed_out else proc.returncode, out, err, seconds, tag, timed_out)
    try:
        result.json = json.loads(out)
    except ValueError:
        result.json = None
    return result


def tagged_processes(tag: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose environment carries ``TAG=tag``."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[-1].split()[0]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")[:200]
        except OSError:
            continue
        if state == b"Z":  # a zombie holds no resources; its parent is gone or reaping it
            continue
        if needle in environ.split(b"\0"):
            found.append((int(entry), cmdline))
    return found


def stray_processes(tag: str, settle: float = 1.0) -> list[tuple[int, str]]:
    """Tagged processes still alive after *settle* seconds (a killed group needs a moment to go)."""
    end = time.monotonic() + settle
    while True:
        left = tagged_processes(tag)
        if not left or time.monotonic() >= end:
            return left
        time.sleep(0.05)


def kill_strays(found: Sequence[tuple[int, str]]) -> None:
    """SIGKILL the stray processes a test found (so one failure does not slow the next test)."""
    for pid, _ in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def dig(doc: Any, dotted: str) -> Any:
    """``dig(report, "facts.driver.nvml_status")``; None where a step is missing."""
    for part in dotted.split("."):
        if isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(doc, dict):
            doc = doc.get(part)
        else:
            return None
    return doc
