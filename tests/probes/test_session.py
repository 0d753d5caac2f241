"""The session probe: SSH markers, this process's CUDA variables, and PID 1's from an injectable /proc root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cudadoctor.facts import Unavailable
from cudadoctor.probes.session import parse_environ, read_session


def _proc(tmp_path: Path, environ: bytes) -> Path:
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "environ").write_bytes(environ)
    return tmp_path


def test_parse_environ_keeps_only_the_compared_names() -> None:
    data = b"PATH=/opt/conda/bin:/usr/bin\0HOSTNAME=abc\0CUDA_HOME=/usr/local/cuda\0API_TOKEN=secret\0broken\0CUDA_VERSION=12.8.1\0"
    assert parse_environ(data) == {"PATH": "/opt/conda/bin:/usr/bin", "CUDA_HOME": "/usr/local/cuda", "CUDA_VERSION": "12.8.1"}


def test_read_session_over_ssh(tmp_path: Path) -> None:
    proc = _proc(tmp_path, b"CUDA_HOME=/usr/local/cuda\0LD_LIBRARY_PATH=/usr/local/nvidia/lib64\0")
    env = {"SSH_CONNECTION": "10.0.0.1 5555 10.0.0.2 22", "SSH_TTY": "/dev/pts/0", "PATH": "/usr/bin", "HOME": "/root"}
    s = read_session(env, proc, pid=4242)
    assert s.ssh and s.ssh_markers == ("SSH_CONNECTION", "SSH_TTY")
    assert s.variables == {"PATH": "/usr/bin"}  # only the compared names; no address is kept
    assert s.pid1_variables == {"CUDA_HOME": "/usr/local/cuda", "LD_LIBRARY_PATH": "/usr/local/nvidia/lib64"}


def test_not_ssh(tmp_path: Path) -> None:
    s = read_session({"PATH": "/usr/bin"}, _proc(tmp_path, b""), pid=10)
    assert not s.ssh and s.pid1_variables == {}


def test_missing_proc_entry_is_unavailable(tmp_path: Path) -> None:
    s = read_session({"SSH_TTY": "/dev/pts/1"}, tmp_path, pid=10)
    assert isinstance(s.pid1_variables, Unavailable) and "cannot read" in s.pid1_variables.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file regardless of its mode")
def test_unreadable_environ_names_the_cause(tmp_path: Path) -> None:
    proc = _proc(tmp_path, b"CUDA_HOME=/x\0")
    (proc / "1" / "environ").chmod(0)
    s = read_session({"SSH_TTY": "/dev/pts/1"}, proc, pid=10)
    assert isinstance(s.pid1_variables, Unavailable) and "not readable by this user" in s.pid1_variables.reason


def test_unreadable_environ_names_the_cause_without_chmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # NOTE: the tests may run as root, for whom chmod 0 does not stop a read: fake the refusal.
    import builtins

    real_open = builtins.open

    def deny(path, *a, **k):  # type: ignore[no-untyped-def]
        if str(path).endswith("/1/environ"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", deny)
    s = read_session({"SSH_TTY": "/dev/pts/1"}, _proc(tmp_path, b"X=1\0"), pid=10)
    assert isinstance(s.pid1_variables, Unavailable) and "not readable by this user" in s.pid1_variables.reason
