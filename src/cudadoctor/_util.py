"""Small shared helpers: running a subprocess safely, and exhaustiveness for enum dispatch."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn


def assert_never(value: NoReturn) -> NoReturn:
    """Fail loudly when an enum dispatch misses a member."""
    raise AssertionError(f"unhandled value: {value!r}")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a finished (or timed-out) subprocess left behind."""

    returncode: int | None  #: None when it timed out and was killed
    stdout: str
    stderr: str
    timed_out: bool


def child_env(overrides: Mapping[str, str] | None = None, *, drop: Sequence[str] = ()) -> dict[str, str]:
    """A copy of our environment for a child, with *overrides* applied and *drop* removed.

    Children get an explicit environment so nothing we do ever mutates ``os.environ``.
    """
    env = dict(os.environ)
    for name in drop:
        env.pop(name, None)
    env.update(overrides or {})
    return env


def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    cwd: str | None = None,
) -> CommandResult:
    """Run *argv* (never through a shell) with a hard *timeout* and an explicit environment.

    Never raises for a failing or hanging command: the result says what happened. A missing
    executable raises FileNotFoundError, which callers turn into an Unavailable fact.
    """
    proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
        list(argv),
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else child_env(),
        cwd=cwd,
        text=True,
        errors="replace",
        start_new_session=True,  # so a timeout can kill the whole process group
    )
    _register_child(proc)
    try:
        out, err = proc.communicate(input=input_text, timeout=timeout)
        return CommandResult(proc.returncode, out, err, False)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child ignoring SIGKILL
            out, err = "", ""
        return CommandResult(None, out or "", err or "", True)
    finally:
        _unregister_child(proc)


# --------------------------------------------------------------------------------------------
# the registry of running children, so a global deadline can end them all

_CHILDREN_LOCK = threading.Lock()
#: pid -> Popen of every child run_command is waiting for (each leads its own process group).
_CHILDREN: dict[int, subprocess.Popen[str]] = {}
#: Set by kill_children(block_new=True): a child started afterwards is killed at once.
_CHILDREN_BLOCKED = False


def _register_child(proc: subprocess.Popen[str]) -> None:
    with _CHILDREN_LOCK:
        if not _CHILDREN_BLOCKED:
            _CHILDREN[proc.pid] = proc
            return
    # NOTE: a deadline fired between Popen and here; this child must not outlive the process.
    _kill_group(proc)


def _unregister_child(proc: subprocess.Popen[str]) -> None:
    with _CHILDREN_LOCK:
        _CHILDREN.pop(proc.pid, None)


def running_children() -> list[int]:
    """Process ids of the children run_command is currently waiting for."""
    with _CHILDREN_LOCK:
        return sorted(_CHILDREN)


def kill_children(*, block_new: bool = True) -> list[int]:
    """SIGKILL the process group of every running child; returns their pids.

    Used when a global deadline fires (``healthcheck --timeout``): the threads waiting in
    run_command are abandoned, so their children must not be left running. With *block_new*,
    a child started after this call is killed as soon as it starts (until allow_children()).
    """
    global _CHILDREN_BLOCKED
    with _CHILDREN_LOCK:
        _CHILDREN_BLOCKED = _CHILDREN_BLOCKED or block_new
        procs = list(_CHILDREN.values())
    for proc in procs:
        _kill_group(proc)
    return [proc.pid for proc in procs]


def children_blocked() -> bool:
    """Whether kill_children(block_new=True) is in force (new children are killed at once)."""
    with _CHILDREN_LOCK:
        return _CHILDREN_BLOCKED


def allow_children() -> None:
    """Undo kill_children(block_new=True): children may be started again (for in-process callers)."""
    global _CHILDREN_BLOCKED
    with _CHILDREN_LOCK:
        _CHILDREN_BLOCKED = False


def _kill_group(proc: subprocess.Popen[str]) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def describe_returncode(code: int | None) -> str:
    """Human text for a child's exit status: 'exit code 3', 'killed by SIGSEGV', 'timed out'."""
    import signal

    if code is None:
        return "timed out"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def read_text(path: str, limit: int = 1 << 20) -> str:
    """Read at most *limit* characters of a text file (proc/sys files are small)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read(limit)
