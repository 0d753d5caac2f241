"""Write a file so that a reader polling it never sees it half-written: temp file in the same directory, then rename.

node-exporter's textfile collector reads ``*.prom`` files whenever Prometheus scrapes it; a rename
within one directory is atomic on POSIX, so the collector sees the old file or the new one. The
temp file's name does not end in ``.prom``, so the collector never reads it either.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace *path* with *text* atomically (OSError when the directory is missing or not writable).

    A special file (a device, a FIFO) is written in place instead; a directory is an OSError. The
    OSError names *path* (not the temporary file).
    """
    try:
        _write(path, text)
    except OSError as e:
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None


def _write(path: Path, text: str) -> None:
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(path, text, st.st_mode)
        return
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # NOTE: mkstemp makes the file 0600; the collector may run as another user.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_in_place(path: Path, text: str, mode: int) -> None:
    """Write *text* into the special file *path* (never waits for a FIFO's reader)."""
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    # NOTE: O_NONBLOCK so a FIFO nobody reads fails (ENXIO) instead of blocking the open forever;
    # the writes themselves are blocking again.
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        os.set_blocking(fd, True)
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
