"""Plumbing for the outside-faults campaign: run the real CLI as a subprocess with any stdout, cwd,
environment (bytes allowed), stdin or signal, and judge the run by the promises of
docs/hardening.md (exit code, no traceback, bounded time, no surviving process).

The fake host (stub NVML/libcuda, fake torch, fake tools) comes from tests/hardening/faults.py;
every process a run starts carries a unique marker variable, so survivors are found in /proc.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.hardening.faults import REPO, TAG, kill_strays, stray_processes

FAKES = Path(__file__).with_name("fakes")
#: The doctor's own crash at the start of a line (a child's traceback quoted inside the JSON
#: report is data: escaped, never at the start of a line).
TRACEBACK = re.compile(rb"^\s*(Traceback \(most recent call last\)|Exception ignored|Fatal Python error)", re.MULTILINE)
#: Seconds beyond a run's own --timeout that interpreter start-up and judging may take on a busy
#: 2-core CI box (the hangs under test would cost the whole deadline or far more).
MARGIN = 10.0
#: The bound for a run that has nothing to wait for (a replay, a refused option): generous for a
#: loaded box (load 14 on 2 cores stretched a 0.9 s run to 15 s), far below any hang under test.
QUICK = 25.0

Env = Mapping[str, str | bytes]


@dataclass
class Run:
    """One finished (or killed) CLI run."""

    args: list[str]
    returncode: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    strays: list[tuple[int, str]]

    def describe(self) -> str:
        """Everything useful for an assertion message."""
        return (f"args={self.args} rc={self.returncode} {self.seconds:.1f}s strays={self.strays}\n"
                f"--- stdout (tail)\n{self.stdout[-1500:].decode(errors='replace')}\n"
                f"--- stderr (tail)\n{self.stderr[-3000:].decode(errors='replace')}")

    @property
    def text(self) -> str:
        """stdout as text."""
        return self.stdout.decode("utf-8", errors="replace")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(
    args: Sequence[str | bytes],
    env: Env,
    *,
    limit: float,
    cwd: str | bytes | Path | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    stdin: bytes | int | IO[Any] | None = None,
    send: tuple[int, float] | None = None,
) -> Run:
    """Run ``python -m cudadoctor *args`` with exactly *env* (bytes values allowed: os.environb).

    *stdout*/*stderr*: a descriptor or file instead of a pipe. *send*: (signal, seconds) delivers
    the signal to the CLI process (not its group) that long after the start. The whole group is
    SIGKILLed after *limit* seconds. Survivors are looked for, and killed, before returning.
    """
    tag = uuid.uuid4().hex
    full = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    full[TAG.encode()] = tag.encode()
    argv = [os.fsencode(sys.executable), b"-m", b"cudadoctor", *(os.fsencode(a) for a in args)]
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, env=full, cwd=cwd if cwd is not None else str(REPO), start_new_session=True,
        # NOTE: a suite started in the background by a non-interactive shell inherits SIGINT
        # ignored, and the CLI rightly keeps an inherited SIG_IGN (as nohup would have it); the
        # CLI under test starts with the default disposition, as at a terminal.
        preexec_fn=_default_sigint,
        stdin=subprocess.PIPE if isinstance(stdin, bytes) else (stdin if stdin is not None else subprocess.DEVNULL),
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE if stderr is None else stderr,
    )
    if send is not None:
        sig, after = send
        time.sleep(after)
        try:
            proc.send_signal(sig)
        except OSError:
            pass
    try:
        out, err = proc.communicate(stdin if isinstance(stdin, bytes) else None, timeout=limit)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    seconds = time.monotonic() - start
    strays = stray_processes(tag, settle=1.5)
    kill_strays(strays)
    return Run([os.fsdecode(a) for a in args], code, out or b"", err or b"", seconds, strays)


def assert_clean(r: Run, codes: Collection[int], *, within: float, quiet_stderr: bool = False) -> None:
    """The campaign's promises: exit code in *codes*, no traceback, finished *within* seconds, no
    process left running; with *quiet_stderr*, nothing at all on stderr."""
    assert r.returncode is not None, f"hung: killed at the limit\n{r.describe()}"
    assert r.returncode in codes, f"exit code {r.returncode}, expected one of {sorted(codes)}\n{r.describe()}"
    assert not TRACEBACK.search(r.stdout) and not TRACEBACK.search(r.stderr), f"traceback\n{r.describe()}"
    assert r.seconds <= within, f"took {r.seconds:.1f} s, promised {within:.1f} s\n{r.describe()}"
    assert not r.strays, f"processes left running: {r.strays}\n{r.describe()}"
    if quiet_stderr:
        assert r.stderr == b"", f"stderr not empty\n{r.describe()}"


def one_line_error(r: Run, *needles: str) -> None:
    """stderr is a single ``cudadoctor...: error:`` line naming every needle."""
    lines = [line for line in r.stderr.decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, f"expected one error line\n{r.describe()}"
    for needle in needles:
        assert needle in errors[0], f"the error does not name {needle!r}\n{r.describe()}"


def closed_pipe() -> int:
    """The write end of a pipe whose reader is already gone (every write gets EPIPE)."""
    read, write = os.pipe()
    os.close(read)
    return write


def script(path: Path, body: str) -> Path:
    """An executable /bin/sh script at *path*."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def fake_tool(bin_dir: Path, name: str, fake: str, **env: str) -> Path:
    """*name* on PATH running tests/hardening/fakes/<fake>.py with *env* set."""
    assignments = " ".join(f"{k}={v}" for k, v in env.items())
    return script(bin_dir / name, f"{assignments} exec {sys.executable} {FAKES / (fake + '.py')} \"$@\"")


def compile_preload(out: Path, body: str) -> Path:
    """A shared library whose constructor runs *body* (C statements) in every process loading it."""
    source = out.with_suffix(".c")
    source.write_text(
        "#include <stdlib.h>\n#include <unistd.h>\n"
        f"__attribute__((constructor)) static void cudadoctor_test_preload(void) {{ {body} }}\n",
        encoding="utf-8",
    )
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(source)], check=True, timeout=60,
                   capture_output=True, env={"PATH": "/usr/bin:/bin:/usr/local/bin"})
    return out
