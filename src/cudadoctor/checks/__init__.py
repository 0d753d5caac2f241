"""CHECKS: every check class, from an explicit list of family modules (report order); EVENTS: triage's event checks.

The families are imported on first use of CHECKS, BY_CODE, BY_NAME, FAMILIES or ALL_CHECKS (a
module ``__getattr__``): importing one family, or ``cudadoctor.checks.base``, does not import the
others, so the healthcheck can load only the families of its fast checks
(commands/healthcheck_checks.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

    from cudadoctor.checks.base import Check

#: Family modules in report order; each exposes ``CHECKS: tuple[type[Check], ...]``.
FAMILY_MODULES: tuple[str, ...] = (
    "cudadoctor.checks.driver",
    "cudadoctor.checks.gpu",
    "cudadoctor.checks.torch_build",
    "cudadoctor.checks.cuda_libs",
    "cudadoctor.checks.toolkit",
    "cudadoctor.checks.container",
    "cudadoctor.checks.ssh",
    "cudadoctor.checks.jupyter",
    "cudadoctor.checks.rules",
    "cudadoctor.checks.bench",
    "cudadoctor.gating.checks",
    "cudadoctor.checks.drift",
)

_LAZY = ("FAMILIES", "CHECKS", "BY_CODE", "BY_NAME", "EVENTS", "ALL_CHECKS")


def _load() -> None:
    from cudadoctor.checks.events import EVENTS

    families: tuple[ModuleType, ...] = tuple(importlib.import_module(m) for m in FAMILY_MODULES)
    checks: tuple[type[Check], ...] = tuple(cls for family in families for cls in family.CHECKS)
    every = checks + EVENTS  # the CHECKS plus the event checks no probe can see (triage reports them)
    g = globals()
    g["FAMILIES"] = families
    g["BY_CODE"] = {c.code: c for c in checks}  #: code -> class
    g["BY_NAME"] = {c.name: c for c in checks}  #: name -> class
    g["EVENTS"] = EVENTS
    g["ALL_CHECKS"] = every
    g["_ALL_BY_CODE"] = {c.code: c for c in every}
    g["_ALL_BY_NAME"] = {c.name: c for c in every}
    g["CHECKS"] = checks


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        if "CHECKS" not in globals():
            _load()
        return globals()[name]
    raise AttributeError(f"module 'cudadoctor.checks' has no attribute {name!r}")


def lookup(key: str) -> type[Check] | None:
    """Find a check (an event check too) by name (``no-nvidia-driver``) or code (``DRV001``, any case)."""
    g = globals()
    if "CHECKS" not in g:
        _load()
    return g["_ALL_BY_NAME"].get(key.lower()) or g["_ALL_BY_CODE"].get(key.upper())  # type: ignore[no-any-return]
