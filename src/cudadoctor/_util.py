"""Small shared helpers: running a subprocess safely, and exhaustiveness for enum dispatch."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from cudadoctor import children


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

    The child leads its own session and carries a token of its own (see cudadoctor.children), so
    at its end — on time, at *timeout*, or at a global deadline — its whole tree is ended: nothing
    it forked outlives the call, and a grandchild holding the pipes cannot stretch it.

    Never raises for a failing or hanging command: the result says what happened. A missing
    executable raises FileNotFoundError, which callers turn into an Unavailable fact.
    """
    token = children.new_token()
    proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
        list(argv),
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=children.tagged_env(env if env is not None else child_env(), token),
        cwd=cwd,
        start_new_session=True,  # so the whole process group can be killed
    )
    child = children.Child(proc, token)
    children.register(child)
    try:
        got = children.collect(
            child, timeout=timeout, input_bytes=None if input_text is None else input_text.encode("utf-8")
        )
    finally:
        children.unregister(child)
    returncode = None if got.timed_out else proc.returncode
    return CommandResult(returncode, _decode(got.stdout), _decode(got.stderr), got.timed_out)


def _decode(data: bytes) -> str:
    # NOTE: tools print in the locale's encoding, and broken ones print anything: bytes that are
    # not UTF-8 become U+FFFD rather than an exception.
    return data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# the registry of running children lives in cudadoctor.children; these names are its API here

running_children = children.running_children
kill_children = children.kill_children
children_blocked = children.children_blocked
allow_children = children.allow_children


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
