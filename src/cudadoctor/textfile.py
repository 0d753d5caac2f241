"""Write a file so that a reader polling it never sees it half-written: temp file in the same directory, then rename.

node-exporter's textfile collector reads ``*.prom`` files whenever Prometheus scrapes it; a rename
within one directory is atomic on POSIX, so the collector sees the old file or the new one. The
temp file's name does not end in ``.prom``, so the collector never reads it either.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace *path* with *text* atomically (OSError when the directory is missing or not writable)."""
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
