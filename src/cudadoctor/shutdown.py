"""A run stopped from outside: SIGTERM, SIGHUP and SIGINT end it promptly, with no child left.

The CLI entry points call :func:`install_handlers`. The handler first kills every child's tree
(so a thread waiting on one — a probe, a benchmark — returns at once, instead of at its deadline),
then raises :class:`Stopped` in the main thread. Stopped is not a KeyboardInterrupt, so no layer in
between (typer turns a KeyboardInterrupt into a silent "return 130") can swallow it; the CLI's
error boundary calls :func:`end`, which leaves with the shell's convention, 128 + the signal
number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP). The healthcheck, which already treats a
KeyboardInterrupt as "unhealthy, interrupted", gets :class:`StoppedInterrupt`, which is both.

A Python signal handler only runs when the main thread executes bytecode; one blocked in C (a
collective of the distributed gate, a driver call) would never see it. So the signal is also
written to a wake-up pipe (``signal.set_wakeup_fd``) that a watcher thread reads: it kills the
children at once and, if the main thread has not left through its boundary within
:data:`FORCE_AFTER` seconds, ends the process itself with the same exit code.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

#: Exit status for a run ended by a signal: 128 + its number, as a shell reports it.
SIGNAL_BASE = 128
#: The signals that stop a run: Ctrl-C, `kill`/`docker stop`/a scheduler's limit, a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Seconds the main thread has, after a stop signal, to leave on its own before the watcher ends it.
FORCE_AFTER = 3.0


class Stopped(BaseException):
    """The process received SIGINT, SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StoppedInterrupt(Stopped, KeyboardInterrupt):
    """Stopped, raised where KeyboardInterrupt handling already does the right thing (healthcheck)."""


_installed = False


def install_handlers(*, as_keyboard_interrupt: bool = False) -> None:
    """Stop the run on SIGINT/SIGTERM/SIGHUP (CLI entry points only: the main thread's handlers).

    *as_keyboard_interrupt* (healthcheck): raise StoppedInterrupt, and a forced exit is 1.
    """
    global _installed
    kind = StoppedInterrupt if as_keyboard_interrupt else Stopped

    def stop(signum: int, frame: FrameType | None) -> None:
        from cudadoctor.children import kill_children

        kill_children(block_new=True)
        raise kind(signum)

    caught: list[int] = []
    for signum in STOP_SIGNALS:
        try:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue  # NOTE: nohup and `&` in a non-interactive shell ignore these on purpose
            signal.signal(signum, stop)
            caught.append(signum)
        except (ValueError, OSError):  # not the main thread, or the signal cannot be caught here
            return
    _installed = True
    _start_watcher(set(caught), (lambda signum: 1) if as_keyboard_interrupt else (lambda signum: SIGNAL_BASE + signum))


def _start_watcher(caught: set[int], code_for: Callable[[int], int]) -> None:
    """Read the signal wake-up pipe in a daemon thread (see the module docstring)."""
    try:
        read, write = os.pipe()
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except (OSError, ValueError):
        return

    def watch() -> None:
        while True:
            try:
                data = os.read(read, 64)
            except OSError:
                return
            stops = [b for b in data if b in caught]
            if not stops:
                continue
            from cudadoctor import output
            from cudadoctor.children import kill_children

            kill_children(block_new=True)
            time.sleep(FORCE_AFTER)
            # NOTE: still here: the main thread is stuck where no Python exception reaches it.
            output.err("cudadoctor: stopped by a signal\n")
            os._exit(code_for(stops[0]))

    threading.Thread(target=watch, name="cudadoctor-signal-watch", daemon=True).start()


def exit_code_for(exc: BaseException) -> int:
    """128 + the signal behind *exc*: a Stopped (or one that caused it), else SIGINT's 130."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, Stopped):
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
        for signum in STOP_SIGNALS:
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
