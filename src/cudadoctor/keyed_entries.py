"""Small JSON entries in the cache directory, found by a key and valid only for that key.

Shared by fastpath.py (help and explain texts) and table_cache.py (parsed rule tables); the slow
facts have their own, richer entries (cache.py). An entry file is named by a hash of its key and
holds the key itself, so a hash collision or a hand-edited file is a miss. Reading refuses
symlinks, FIFOs, directories and files of another user; writing goes through a temporary file
and a rename, so a reader never sees half an entry and a planted symlink is replaced, not
followed. Every failure is a miss (the caller then does the slow thing), never an error.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from typing import Any

#: Largest entry read (a help text or the rule tables are far smaller).
MAX_BYTES = 4 << 20


def cache_directory(environ: Mapping[str, str]) -> str | None:
    """The cache directory ($CUDADOCTOR_CACHE_DIR, else the XDG default) when it exists, is ours and
    is not writable by others; None otherwise (this module never creates it)."""
    from cudadoctor.cache import default_cache_dir

    directory = environ.get("CUDADOCTOR_CACHE_DIR") or str(default_cache_dir(environ))
    try:
        st = os.stat(directory)
    except (OSError, ValueError):
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return None
    return directory


def entry_path(directory: str, prefix: str, key: Mapping[str, Any]) -> str:
    """The file of the entry for *key*."""
    return os.path.join(directory, f"{prefix}-{key_digest(key)[:24]}.json")


def lookup(directory: str, prefix: str, kind: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The payload stored for *key*, or None."""
    try:
        fd = os.open(entry_path(directory, prefix, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            return None
        with os.fdopen(fd, "rb") as f:
            fd = -1
            raw = f.read(MAX_BYTES)
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not (isinstance(entry, dict) and entry.get("kind") == kind and isinstance(entry.get("payload"), dict)):
        return None
    if entry.get("key") != key_digest(key):
        return None
    return entry["payload"]  # type: ignore[no-any-return]


def key_digest(key: Mapping[str, Any]) -> str:
    """SHA-256 of *key*'s canonical JSON: what an entry stores to be matched against."""
    import hashlib

    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()


def replace_file(path: str, text: str, directory: str, prefix: str) -> None:
    """Replace *path* with *text* atomically: a temp file in *directory*, then rename(2).

    NOTE: rename replaces a symlink (or a planted file) at *path* itself and never writes through
    it; a directory there makes it fail. Raises OSError/ValueError; the temp file never stays.
    """
    import tempfile

    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        os.replace(tmp, path)
        tmp = ""
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def store(directory: str, prefix: str, kind: str, key: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    """Write the entry atomically (temp file in the directory, then rename); False on any failure."""
    try:
        # NOTE: the digest, not the key: keys may hold environment values, secrets among them.
        text = json.dumps({"kind": kind, "key": key_digest(key), "payload": payload}, separators=(",", ":"))
        replace_file(str(entry_path(directory, prefix, key)), text, directory, f".{prefix}-")
        return True
    except (OSError, ValueError, TypeError):
        return False
