"""The healthcheck's checks: the ``fast`` ones, importing only the modules that define them.

Importing every check family costs the healthcheck ~50 ms (the benchmark's and the gate's checks
pull in their own packages), yet it runs only the checks marked ``fast``. What it needs from the
others is their names and codes (a policy may name any check) and the report order. So an
*index* of every check (module, class, code, name, fast) is kept in the cache directory
(keyed_entries.py), keyed by cudadoctor's version and the stat signature of every file of the
package: a new, edited or removed check is a new key. With an index, only the modules of the fast
checks are imported; without one (first run, a source changed, no usable cache directory), every
check is imported as before and the index is written for the next run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cudadoctor.checks.base import Check

KIND = "cudadoctor-check-index-1"


@dataclass(frozen=True, slots=True)
class HealthChecks:
    """The fast checks (classes, report order) and every check's name and code, in report order."""

    fast: tuple[type[Check], ...]
    names: tuple[str, ...]
    codes: tuple[str, ...]
    from_index: bool  #: the fast checks were found through the cached index


def index_key() -> dict[str, Any]:
    """What the list of checks depends on: the package's files (and cudadoctor's version)."""
    from cudadoctor._version import __version__
    from cudadoctor.fastpath import source_signature

    return {"cudadoctor": __version__, "sources": source_signature(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))}


def health_checks(environ: Mapping[str, str] | None = None) -> HealthChecks:
    """The healthcheck's checks, from the index when it is current, else from every check."""
    from cudadoctor import keyed_entries

    env = os.environ if environ is None else environ
    directory = keyed_entries.cache_directory(env)
    key = index_key() if directory is not None else None
    if directory is not None and key is not None:
        payload = keyed_entries.lookup(directory, "checks", KIND, key)
        found = _from_index(payload) if payload is not None else None
        if found is not None:
            return found
    from cudadoctor.checks import CHECKS

    rows = [[c.__module__, c.__qualname__, c.code, c.name, bool(c.fast)] for c in CHECKS]
    if directory is not None and key is not None:
        keyed_entries.store(directory, "checks", KIND, key, {"checks": rows})
    return HealthChecks(fast=tuple(c for c in CHECKS if c.fast), names=tuple(c.name for c in CHECKS),
                        codes=tuple(c.code for c in CHECKS), from_index=False)


def _from_index(payload: dict[str, Any]) -> HealthChecks | None:
    """The checks an index names, or None when it is malformed or names something that is not there."""
    rows = payload.get("checks")
    if not isinstance(rows, list) or not rows:
        return None
    fast: list[type[Check]] = []
    names: list[str] = []
    codes: list[str] = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 5 and all(isinstance(v, str) for v in row[:4])):
            return None
        module, qualname, code, name, is_fast = row
        names.append(name)
        codes.append(code)
        if is_fast is True:
            try:
                cls = getattr(importlib.import_module(module), qualname)
            except (ImportError, AttributeError):
                return None
            if getattr(cls, "code", None) != code or getattr(cls, "name", None) != name or not cls.fast:
                return None
            fast.append(cls)
    return HealthChecks(fast=tuple(fast), names=tuple(names), codes=tuple(codes), from_index=True)
