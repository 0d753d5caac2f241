"""Parsed rule tables re-used across runs: tomllib is pure Python (~10 ms for rules/), JSON is not.

The parsed documents of one rules directory are one entry in the cache directory
(keyed_entries.py), keyed by each table file's path and stat signature (mtime, ctime, inode,
size), cudadoctor's version and the Python version (tomllib's behaviour). An edited, replaced or
removed table is a different key, so it is parsed again, and its errors are reported exactly as
without a cache: only documents that passed a complete load are stored (so a cached load skips the
requirement parsing of the pins, already validated). Documents holding values JSON cannot
carry (TOML dates and times) are not stored.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cudadoctor._version import __version__

KIND = "cudadoctor-rule-tables-1"


def table_key(paths: Sequence[Path]) -> dict[str, Any] | None:
    """The key of the documents in *paths*, or None when a file cannot be stat'ed (no caching)."""
    files = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        files.append([os.path.realpath(path), st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size])
    return {"cudadoctor": __version__, "python": sys.version, "files": files}


def load(paths: Sequence[Path], environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any] | None, Any]:
    """(documents by path string, key) from the cache, or (None, key) on a miss."""
    from cudadoctor import keyed_entries

    env = os.environ if environ is None else environ
    if env.get("CUDADOCTOR_FRESH", "").strip().lower() in ("1", "true", "yes", "on", "y", "t"):
        return None, None
    key = table_key(paths)
    directory = keyed_entries.cache_directory(env) if key is not None else None
    if directory is None or key is None:
        return None, None
    payload = keyed_entries.lookup(directory, "tables", KIND, key)
    docs = payload.get("docs") if payload is not None else None
    if not isinstance(docs, dict) or set(docs) != {str(p) for p in paths}:
        return None, key
    return docs, key


def store(key: Any, docs: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> None:
    """Store the parsed *docs* under *key* (computed before parsing) when the directory exists."""
    from cudadoctor import keyed_entries

    if key is None or not all(_jsonable(d) for d in docs.values()):
        return
    directory = keyed_entries.cache_directory(os.environ if environ is None else environ)
    if directory is not None:
        keyed_entries.store(directory, "tables", KIND, key, {"docs": dict(docs)})


def _jsonable(value: Any) -> bool:
    """Whether *value* survives a JSON round trip unchanged (TOML dates and times do not)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_jsonable(v) for v in value)
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return not isinstance(value, (datetime.date, datetime.time)) and isinstance(value, (str, int, bool))
