"""Child processes after they start: the registry of running children, ending a child's whole
process tree, and reading its pipes against a deadline.

Every child leads its own session (``start_new_session=True`` in ``_util.run_command``), so one
``killpg`` ends it together with anything it forked. Each child also carries a token of its own in
its environment (``CUDADOCTOR_CHILD``), so a descendant that left the group (``setsid``, a
daemonising helper) is still found, in ``/proc``, and ended with it.

Reading never waits for end-of-file on its own: a grandchild that inherited the pipe (an
``import torch`` that forks a worker and sleeps) would hold it open long after the child exited.
The reader polls its pipes with a deadline, and once the child itself has exited it gives the pipes
a short grace, then ends the rest of the tree and returns what it read.
"""

from __future__ import annotations

import itertools
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The environment variable that marks every process a child tree holds (value: its token).
TOKEN_ENV = "CUDADOCTOR_CHILD"
#: Seconds the pipes may stay open after the child exited (a grandchild holding them) before the
#: tree is ended. Long enough for the kernel to deliver what the child wrote last.
PIPE_GRACE = 0.3
#: Seconds a killed child's pipes are still read (what it wrote before it died) before giving up.
KILL_GRACE = 1.0
#: Bytes of a child's stdout kept (the head: the probes' records come first). The rest is read and
#: dropped, so a tool printing without end can neither fill memory nor block on a full pipe.
STDOUT_LIMIT = 16 << 20
#: Bytes of a child's stderr kept (the tail: a traceback's last lines say what went wrong).
STDERR_LIMIT = 1 << 20

_counter = itertools.count(1)


def new_token() -> str:
    """A token unique to one child of this process (pid + sequence number)."""
    return f"{os.getpid()}.{next(_counter)}"


def tagged_env(env: Mapping[str, str], token: str) -> dict[str, str]:
    """*env* with this child's token added (inherited by everything the child starts)."""
    return {**env, TOKEN_ENV: token}


@dataclass
class Child:
    """One running child: its Popen, its token, and whether the registry killed it."""

    proc: subprocess.Popen[bytes]
    token: str
    killed_at: float | None = None  #: monotonic time kill_children() ended it
    #: re-entrant: a signal handler in the thread holding it may end the same tree
    lock: threading.RLock = field(default_factory=threading.RLock)


# --------------------------------------------------------------------------------------------
# the registry of running children, so a global deadline or a signal can end them all

#: re-entrant: a signal handler (kill_children) may run in the thread that holds it
_LOCK = threading.RLock()
#: pid -> every child a reader is waiting for (each leads its own session).
_CHILDREN: dict[int, Child] = {}
#: Set by kill_children(block_new=True): a child started afterwards is killed at once.
_BLOCKED = False


def register(child: Child) -> None:
    """Record a started child; when kill_children(block_new=True) is in force, end it at once."""
    with _LOCK:
        if not _BLOCKED:
            _CHILDREN[child.proc.pid] = child
            return
    # NOTE: a deadline fired between Popen and here; this child must not outlive the process.
    child.killed_at = time.monotonic()
    end_tree(child)


def unregister(child: Child) -> None:
    """Forget a child whose reader has returned."""
    with _LOCK:
        _CHILDREN.pop(child.proc.pid, None)


def running_children() -> list[int]:
    """Process ids of the children whose readers are still waiting."""
    with _LOCK:
        return sorted(_CHILDREN)


def kill_children(*, block_new: bool = True) -> list[int]:
    """SIGKILL the whole tree of every running child; returns their pids.

    Used when a global deadline fires or a signal ends the run: the threads waiting on the
    children are abandoned, so their children must not be left running. With *block_new*, a child
    started after this call is killed as soon as it starts (until allow_children()).
    """
    global _BLOCKED
    with _LOCK:
        _BLOCKED = _BLOCKED or block_new
        children = list(_CHILDREN.values())
    now = time.monotonic()
    for child in children:
        child.killed_at = now
        end_tree(child)
    return [child.proc.pid for child in children]


def children_blocked() -> bool:
    """Whether kill_children(block_new=True) is in force (new children are killed at once)."""
    with _LOCK:
        return _BLOCKED


def allow_children() -> None:
    """Undo kill_children(block_new=True): children may be started again (for in-process callers)."""
    global _BLOCKED
    with _LOCK:
        _BLOCKED = False


# --------------------------------------------------------------------------------------------
# ending a tree


def end_tree(child: Child, *, sweep: bool = True) -> None:
    """SIGKILL the child's process group and, with *sweep*, every process carrying its token.

    NOTE: the sweep reads /proc/*/environ (a few ms on a busy host), so a child that ended on its
    own, with its pipes closed, only gets the group kill.
    """
    with child.lock:
        try:
            os.killpg(child.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if child.proc.returncode is None:
                try:
                    child.proc.kill()
                except OSError:
                    pass
    if not sweep:
        return
    for pid in tagged_pids(child.token):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def tagged_pids(token: str, proc_dir: str = "/proc") -> list[int]:
    """Live processes whose environment holds ``CUDADOCTOR_CHILD=token`` (ones that left the group).

    NOTE: a process's initial environment is readable in /proc/PID/environ by its owner; a process
    that cleared its own environment cannot be found this way, but it also left the group on
    purpose, and the group kill already ended everything that did not.
    """
    needle = f"{TOKEN_ENV}={token}".encode()
    found: list[int] = []
    me = os.getpid()
    try:
        entries = os.listdir(proc_dir)
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"{proc_dir}/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry))
    return found


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the child has exited, without reaping it (its pid then still names the group)."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped by another thread's poll()
        return True


# --------------------------------------------------------------------------------------------
# reading


@dataclass
class Collected:
    """What a child wrote and how the reading ended."""

    stdout: bytes
    stderr: bytes
    timed_out: bool  #: the child itself was still running at the timeout


class _Sink:
    """One output stream's bytes: the head (stdout) or the tail (stderr), bounded."""

    def __init__(self, limit: int, keep_tail: bool) -> None:
        self.limit, self.keep_tail = limit, keep_tail
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        if self.keep_tail:
            self.parts.append(data)
            self.size += len(data)
            if self.size > 2 * self.limit:  # compact now and then, not on every chunk
                joined = b"".join(self.parts)[-self.limit:]
                self.parts, self.size = [joined], len(joined)
        elif self.size < self.limit:
            data = data[: self.limit - self.size]
            self.parts.append(data)
            self.size += len(data)

    def value(self) -> bytes:
        joined = b"".join(self.parts)
        return joined[-self.limit:] if self.keep_tail else joined


def collect(child: Child, *, timeout: float, input_bytes: bytes | None = None) -> Collected:
    """Read the child's stdout and stderr until it has exited and its pipes are closed, or until
    *timeout* — whichever comes first — then end whatever is left of its tree and reap it.

    Never blocks past ``timeout + KILL_GRACE`` (plus the reap), whatever the child's descendants do
    with the pipes.
    """
    proc = child.proc
    deadline = time.monotonic() + max(0.0, timeout)
    sinks: dict[int, _Sink] = {}
    out, err = _Sink(STDOUT_LIMIT, False), _Sink(STDERR_LIMIT, True)
    sel = selectors.DefaultSelector()
    for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
        if stream is not None:
            sel.register(stream.fileno(), selectors.EVENT_READ)
            sinks[stream.fileno()] = sink
    pending = memoryview(input_bytes or b"")
    if proc.stdin is not None:
        if input_bytes:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
    timed_out = False
    abnormal = True  # until the pipes closed and the child exited within its time
    exited_at: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and _exited(proc):
                exited_at = now
            if exited_at is not None and now - exited_at > PIPE_GRACE:
                break  # a descendant holds the pipes: it is ended below
            if child.killed_at is not None and now - child.killed_at > KILL_GRACE:
                break
            if now >= deadline:
                timed_out = exited_at is None
                break
            # NOTE: wake up now and then to notice the exit of a child whose pipes a grandchild holds.
            for key, _ in sel.select(min(deadline - now, 0.05 if exited_at is not None else 0.2)):
                fd = key.fd
                if fd in sinks:
                    try:
                        data = os.read(fd, 1 << 16)
                    except OSError:
                        data = b""
                    if data:
                        sinks[fd].add(data)
                    else:
                        sel.unregister(fd)
                else:
                    try:
                        pending = pending[os.write(fd, pending[: 1 << 16]):]
                    except (BrokenPipeError, OSError):
                        pending = memoryview(b"")
                    if not pending:
                        sel.unregister(fd)
                        _close(proc.stdin)
        # The pipes are closed; wait for the child itself (it may have closed them and gone on).
        while not _exited(proc):
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            if child.killed_at is not None and now - child.killed_at > KILL_GRACE:
                break
            time.sleep(min(0.02, max(0.0, deadline - now)))
        else:
            abnormal = bool(sel.get_map()) or child.killed_at is not None
    finally:
        sel.close()
        # Whatever is left of the tree (the child at its timeout, grandchildren in any case) ends
        # now, while the unreaped child still holds its pid, so the group id cannot be reused.
        end_tree(child, sweep=abnormal)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            _close(stream)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child that SIGKILL does not end (D state)
            pass
    return Collected(out.value(), err.value(), timed_out)


def _close(stream: object) -> None:
    try:
        stream.close()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        pass
