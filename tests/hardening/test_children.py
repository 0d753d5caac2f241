"""run_command and cudadoctor.children in-process: a child's whole tree ends with it, reading stops
at the deadline whatever holds the pipes, and output is bounded."""

from __future__ import annotations

import os
import sys
import time
import uuid

from cudadoctor import _util, children
from tests.hardening.faults import kill_strays

PY = sys.executable


def _survivors(marker: str) -> list[tuple[int, str]]:
    """Processes whose command line holds *marker*, after a moment to die."""
    end = time.monotonic() + 1.5
    while True:
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read()
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[-1].split()[0]
            except OSError:
                continue
            if marker.encode() in cmd and state != b"Z" and int(entry) != os.getpid():
                found.append((int(entry), cmd.decode(errors="replace")))
        if not found or time.monotonic() > end:
            return found
        time.sleep(0.05)


def _forker(hold: str, marker: str, *, setsid: bool = False) -> str:
    """A program that forks a sleeper (holding stdout unless *hold* is "closed"), prints, exits."""
    return (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        + ("    os.setsid()\n" if setsid else "")
        + ("    os.close(1); os.close(2)\n" if hold == "closed" else "")
        + f"    os.execv({PY!r}, [{PY!r}, '-c', 'import time; time.sleep(300)', {marker!r}])\n"
        "print('done', flush=True)\n"
    )


def test_grandchild_holding_stdout_does_not_stretch_the_call() -> None:
    """Issue 17: the child exits at once, a grandchild keeps the pipe open: the call returns in
    well under its timeout with what the child printed, and the grandchild is gone."""
    marker = f"cudadoctor-hold-{uuid.uuid4().hex}"
    start = time.monotonic()
    result = _util.run_command([PY, "-c", _forker("held", marker)], timeout=30, env=_util.child_env())
    took = time.monotonic() - start
    left = _survivors(marker)
    kill_strays(left)
    assert result.returncode == 0 and not result.timed_out and result.stdout == "done\n"
    assert took < 10, took
    assert left == []


def test_grandchild_in_its_own_session_is_found_by_token() -> None:
    """A grandchild that left the process group (setsid) is still ended, found by its token."""
    marker = f"cudadoctor-setsid-{uuid.uuid4().hex}"
    result = _util.run_command([PY, "-c", _forker("held", marker, setsid=True)], timeout=30, env=_util.child_env())
    left = _survivors(marker)
    kill_strays(left)
    assert result.returncode == 0 and left == []


def test_grandchild_that_closed_its_pipes_is_ended_with_the_group() -> None:
    """A grandchild that closed stdout/stderr (no pipe to hold) still dies with the group."""
    marker = f"cudadoctor-closed-{uuid.uuid4().hex}"
    result = _util.run_command([PY, "-c", _forker("closed", marker)], timeout=30, env=_util.child_env())
    left = _survivors(marker)
    kill_strays(left)
    assert result.returncode == 0 and left == []


def test_timeout_returns_partial_output_and_kills_the_tree() -> None:
    """At its timeout the child (and what it forked) is killed; what it printed is kept."""
    marker = f"cudadoctor-timeout-{uuid.uuid4().hex}"
    program = _forker("held", marker) + "time.sleep(300)\n"
    start = time.monotonic()
    result = _util.run_command([PY, "-c", program], timeout=1.5, env=_util.child_env())
    took = time.monotonic() - start
    left = _survivors(marker)
    kill_strays(left)
    assert result.timed_out and result.returncode is None and result.stdout == "done\n"
    assert took < 8, took
    assert left == []


def test_output_is_bounded_and_drained() -> None:
    """A child printing 40 MiB: it is not blocked (exits 0), and the kept head is bounded."""
    program = "import sys\nfor _ in range(40): sys.stdout.write('x' * (1 << 20))\nsys.stderr.write('e' * (3 << 20) + 'END')\n"
    result = _util.run_command([PY, "-c", program], timeout=60, env=_util.child_env())
    assert result.returncode == 0
    assert len(result.stdout) == children.STDOUT_LIMIT
    assert len(result.stderr) == children.STDERR_LIMIT and result.stderr.endswith("END")


def test_input_is_written_and_output_decoded() -> None:
    """input_text reaches the child's stdin; bytes that are not UTF-8 become U+FFFD."""
    program = "import sys\ndata = sys.stdin.read()\nsys.stdout.buffer.write(data.upper().encode() + b'\\xff')\n"
    result = _util.run_command([PY, "-c", program], timeout=30, env=_util.child_env(), input_text="hello " * 50_000)
    assert result.returncode == 0 and result.stdout == "HELLO " * 50_000 + "\ufffd"


def test_child_carries_its_token() -> None:
    """Every child's environment names its token (inherited by all it starts)."""
    result = _util.run_command([PY, "-c", f"import os; print(os.environ[{children.TOKEN_ENV!r}])"], timeout=30,
                               env=_util.child_env())
    pid, _, seq = result.stdout.strip().partition(".")
    assert pid == str(os.getpid()) and seq.isdigit()
