"""The driver probe: the NVIDIA driver and GPUs as NVML, /proc/driver/nvidia/version and libcuda each report them.

Three independent sources, each filled into its own fields so the checks can compare them
(a driver upgraded without a reboot shows up as the kernel module disagreeing with the
user-space libraries):

* NVML (libnvidia-ml.so.1 through pynvml): driver version, CUDA driver version, every GPU.
* /proc/driver/nvidia/version: the loaded kernel module's version.
* libcuda.so.1 loaded with ctypes: which file the loader picks, its version, cuInit(0).

NVML and libcuda can hang or crash on a sick machine, so both run in child processes of the
doctor's own interpreter (``_driver_child.py``), concurrently, each under ``ctx.timeout``. The
probe is a pair: :func:`start` launches both children at once and returns a :class:`DriverRun`;
:meth:`DriverRun.collect` waits for them and returns DriverFacts. ``check`` calls both at once
(:func:`probe_driver`); ``healthcheck`` starts the children first and collects them after its
other imports, so they overlap.

This module is the I/O half and stays light to import (the healthcheck imports it before
anything else); the pure ``parse_*`` half, tested on recorded samples under
tests/fixtures/raw/driver/, is probes/driver_parse.py, imported by :meth:`DriverRun.collect`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cudadoctor._util import CommandResult, child_env, read_text, run_command
from cudadoctor.childrecords import child_program

if TYPE_CHECKING:
    from cudadoctor.facts import DriverFacts, Unavailable
    from cudadoctor.probes.base import ProbeContext

PROBE = "driver"
PROC_VERSION_PATH = "/proc/driver/nvidia/version"
#: The two children, one per source; each answers for its own mode.
MODES = ("nvml", "libcuda")


def read_proc_version(path: str = PROC_VERSION_PATH) -> str | Unavailable:
    """The text of /proc/driver/nvidia/version, or why it cannot be read."""
    from cudadoctor.facts import Unavailable  # NOTE: on use: start() must not wait for the facts module

    try:
        return read_text(path, limit=8192)
    except FileNotFoundError:
        return Unavailable(probe=PROBE, reason=f"{path} does not exist: the NVIDIA kernel module (nvidia.ko) is not loaded")
    except OSError as e:
        return Unavailable(probe=PROBE, reason=f"{path} cannot be read: {e.strerror or e}", detail=repr(e))


# --------------------------------------------------------------------------------------------
# running the children


def child_source() -> str:
    """Source of the child script (stdlib + pynvml), shipped next to this module."""
    # NOTE: read next to this module rather than through importlib.resources, whose import costs
    # more than the read; see childrecords.prelude_source.
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_driver_child.py"), encoding="utf-8") as f:
        return f.read()


def watchdog_seconds(timeout: float) -> float:
    """How long the child's own watchdog waits: a little less than the parent's hard timeout.

    The child then still has time to print what it gathered before the parent kills it.
    """
    return max(0.05, timeout - min(2.0, timeout * 0.25))


def child_document(mode: str, result: CommandResult | OSError, *, timeout: float, watchdog: float) -> dict[str, Any]:
    """The child's section of the document, or a ``{"failed": ...}`` record saying what went wrong."""
    if isinstance(result, OSError):
        return {"failed": "not-started", "detail": f"{type(result).__name__}: {result}"}
    stderr_tail = result.stderr.strip()[-2000:]
    if result.timed_out:
        return {"failed": "timeout", "timeout": timeout, "detail": stderr_tail}
    try:
        section = json.loads(result.stdout)[mode]
        if not isinstance(section, dict):
            raise TypeError(f"{mode} is a {type(section).__name__}")
    except (ValueError, KeyError, TypeError) as e:
        if result.returncode not in (0, None):
            return {"failed": "crash", "returncode": result.returncode, "detail": stderr_tail}
        return {"failed": "garbage", "detail": f"{e}; stdout: {result.stdout[:500]!r}; stderr: {stderr_tail}"}
    section.setdefault("limit_s", round(watchdog, 3))
    return section


class DriverRun:
    """The driver probe's two children (NVML, libcuda), running; :meth:`collect` turns them into facts.

    Made by :func:`start`. Each child runs in a thread of its own through ``run_command`` (a hard
    timeout, its own process group, so a global deadline can kill it).
    """

    def __init__(self, timeout: float, on_done: Callable[[], None] | None = None) -> None:
        self.timeout = timeout  #: seconds each child may take before it is killed
        self.watchdog = watchdog_seconds(timeout)  #: when each child reports on its own
        self._on_done = on_done
        self._results: dict[str, CommandResult | OSError] = {}
        self._errors: dict[str, Exception] = {}
        self._threads: list[threading.Thread] = []
        self._left = len(MODES)
        self._lock = threading.Lock()

    def _launch(self) -> None:
        program = child_program(child_source())
        # NOTE: time.monotonic() is CLOCK_MONOTONIC on Linux, shared by every process, so the
        # child can compare it with its own clock.
        deadline = f"{time.monotonic() + self.watchdog:.3f}"
        env = child_env()
        for mode in MODES:
            argv = [sys.executable, "-c", program, mode, deadline]
            # NOTE: daemon threads: a healthcheck whose deadline fired exits without joining them.
            thread = threading.Thread(target=self._run, args=(mode, argv, env), name=f"driver-{mode}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, mode: str, argv: list[str], env: dict[str, str]) -> None:
        try:
            # cwd "/" so a stray json.py or pynvml.py in the user's directory cannot shadow ours.
            self._results[mode] = run_command(argv, timeout=self.timeout, env=env, cwd="/")
        except OSError as e:
            self._results[mode] = e
        except Exception as e:  # noqa: BLE001 - re-raised by collect(), in the caller's thread
            self._errors[mode] = e
        finally:
            with self._lock:
                self._left -= 1
                last = self._left == 0
            if last and self._on_done is not None:
                self._on_done()

    def _wait(self) -> dict[str, Any]:
        """Wait for both children; ``{"nvml": ..., "libcuda": ...}``, each a section or a failure record."""
        for thread in self._threads:
            thread.join()
        for mode in MODES:
            if mode in self._errors:
                raise self._errors[mode]
        return {
            mode: child_document(mode, self._results[mode], timeout=self.timeout, watchdog=self.watchdog)
            for mode in MODES
        }

    def collect(self) -> DriverFacts:
        """Wait for both children, read /proc, and parse it all into DriverFacts."""
        from cudadoctor.probes.driver_parse import parse_child_output

        documents = self._wait()
        return parse_child_output(documents, proc_version=read_proc_version(PROC_VERSION_PATH))


def start(ctx: ProbeContext, *, on_done: Callable[[], None] | None = None) -> DriverRun:
    """Launch the NVML and libcuda children at once, each under ``ctx.timeout``; collect() them later.

    *on_done* is called (from a child's thread) once both children have finished.
    """
    run = DriverRun(ctx.timeout, on_done)
    run._launch()
    return run


def probe_driver(ctx: ProbeContext) -> DriverFacts:
    """Ask NVML, /proc/driver/nvidia/version and libcuda about the driver and GPUs."""
    return start(ctx).collect()
