"""cudadoctor.shutdown in a child interpreter: a stop signal ends the process with 128 + the
signal even when the main thread is stuck where no Python exception reaches it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from cudadoctor import shutdown

# The main thread blocks SIGTERM and sleeps in C: the Python handler cannot run, only the watcher
# thread (started before the mask, so it still receives the signal) can end the process.
_STUCK = """
import signal, sys, time
from cudadoctor import shutdown
shutdown.install_handlers()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
print("ready", flush=True)
time.sleep(60)
"""


def test_watcher_ends_a_stuck_main_thread() -> None:
    """SIGTERM to a process whose main thread cannot run the handler: exit 143 within FORCE_AFTER."""
    proc = subprocess.Popen([sys.executable, "-c", _STUCK], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - start
    finally:
        proc.kill()
    assert code == 128 + signal.SIGTERM
    assert took < shutdown.FORCE_AFTER + 5, took


def test_exit_code_for_follows_the_cause() -> None:
    """A Stopped wrapped by another exception (click's Abort) still gives 128 + its signal."""
    try:
        try:
            raise shutdown.Stopped(signal.SIGHUP)
        except shutdown.Stopped as e:
            raise RuntimeError("wrapped") from e
    except RuntimeError as outer:
        assert shutdown.exit_code_for(outer) == 129
    assert shutdown.exit_code_for(KeyboardInterrupt()) == 130
