"""A run stopped from outside: SIGTERM, SIGHUP and SIGINT end it promptly, with no child left.

The CLI entry points call :func:`install_handlers`. SIGTERM (``docker stop``, ``kill``, a batch
scheduler's time limit) and SIGHUP (the SSH session went away) raise :class:`Terminated` in the
main thread; it derives from KeyboardInterrupt, so every path that already handles Ctrl-C (the
healthcheck's, click's) handles them too. :func:`end` then kills every child's tree and leaves with
the shell's convention, 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

#: Exit status for a run ended by a signal: 128 + its number, as a shell reports it.
SIGNAL_BASE = 128


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_installed = False


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def install_handlers() -> None:
    """Turn SIGTERM and SIGHUP into Terminated in the main thread (CLI entry points only)."""
    global _installed
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(signum, _raise)
        except (ValueError, OSError):  # not the main thread, or the signal cannot be caught here
            return
    _installed = True


def handlers_installed() -> bool:
    """Whether install_handlers() ran (this process is the CLI, so it may leave with os._exit)."""
    return _installed


def exit_code_for(exc: BaseException) -> int:
    """128 + the signal behind *exc*: a Terminated (or one that caused it), else SIGINT's 130."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, Terminated):
            return SIGNAL_BASE + exc.signum
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return SIGNAL_BASE + signal.SIGINT


def end(code: int, message: str | None = None) -> None:
    """Kill every child's tree, print *message* on stderr, and leave with *code*.

    NOTE: in the CLI process this is os._exit: the probe threads of an abandoned run may still be
    unwinding, and the interpreter would join them at exit; the children are already gone, and
    every file cudadoctor writes is written to a temporary name and renamed, so nothing is left
    half-written. Elsewhere (in-process callers, tests) it raises SystemExit.
    """
    from cudadoctor import output
    from cudadoctor.children import kill_children

    if _installed:
        # NOTE: a second signal while we clean up must not interrupt the cleanup.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                signal.signal(signum, signal.SIG_IGN)
            except (ValueError, OSError):
                break
    kill_children(block_new=True)
    if message:
        output.err(message + "\n")
    output.finish()
    if _installed:
        os._exit(code)
    sys.exit(code)
