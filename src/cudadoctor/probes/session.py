"""The session probe: is this an SSH login, and does PID 1 (the container's entry point) see another CUDA environment?

Split into :func:`read_session` (I/O: the environment and ``<proc>/1/environ``, with the /proc
root injectable for tests) and :func:`parse_environ` (pure).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cudadoctor.facts_session import COMPARED, PROBE, SSH_MARKERS, SessionFacts
from cudadoctor.probes.base import ProbeContext
from cudadoctor.unavailable import Unavailable

#: Largest /proc/1/environ read (the kernel caps a process's environment far below this).
MAX_ENVIRON_BYTES = 4 * 1024 * 1024


def parse_environ(data: bytes) -> dict[str, str]:
    """The COMPARED variables in a NUL-separated ``/proc/<pid>/environ`` image."""
    out: dict[str, str] = {}
    for item in data.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if not sep:
            continue
        key = name.decode("utf-8", "replace")
        if key in COMPARED:
            out[key] = value.decode("utf-8", "replace")
    return out


def read_pid1_environ(proc_root: Path) -> dict[str, str] | Unavailable:
    """PID 1's COMPARED variables, or why they cannot be read."""
    path = proc_root / "1" / "environ"
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_ENVIRON_BYTES)
    except PermissionError:
        # NOTE: /proc/1/environ is readable only by PID 1's owner (or root): a non-root SSH user in a
        # container whose entry point runs as root cannot read it (proc(5), ptrace access mode).
        return Unavailable(probe=PROBE, reason=f"{path} is not readable by this user (PID 1 runs as another user)")
    except OSError as e:
        return Unavailable(probe=PROBE, reason=f"cannot read {path}: {e.strerror or e}")
    return parse_environ(data)


def read_session(environ: Mapping[str, str], proc_root: Path = Path("/proc"), pid: int | None = None) -> SessionFacts:
    """Build the session facts from *environ* (this process's) and PID 1's under *proc_root*."""
    return SessionFacts(
        ssh_markers=tuple(m for m in SSH_MARKERS if environ.get(m)),
        variables={k: environ[k] for k in COMPARED if k in environ},
        pid1_variables=read_pid1_environ(proc_root),
        pid=os.getpid() if pid is None else pid,
    )


def probe_session(ctx: ProbeContext) -> SessionFacts:
    """Probe this process's session (the registry's entry point)."""
    return read_session(os.environ)
