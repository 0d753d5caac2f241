"""CHECKS: every check class, from an explicit list of family modules (report order)."""

from __future__ import annotations

from cudadoctor.checks import bench, container, cuda_libs, drift, driver, gpu, jupyter, rules, ssh, toolkit, torch_build
from cudadoctor.checks.base import Check
from cudadoctor.gating import checks as gate_checks

#: Family modules in report order; each exposes ``CHECKS: tuple[type[Check], ...]``.
FAMILIES = (driver, gpu, torch_build, cuda_libs, toolkit, container, ssh, jupyter, rules, bench, gate_checks, drift)

CHECKS: tuple[type[Check], ...] = tuple(cls for family in FAMILIES for cls in family.CHECKS)

#: code -> class, and name -> class
BY_CODE: dict[str, type[Check]] = {c.code: c for c in CHECKS}
BY_NAME: dict[str, type[Check]] = {c.name: c for c in CHECKS}


def lookup(key: str) -> type[Check] | None:
    """Find a check by name (``no-nvidia-driver``) or code (``DRV001``, any case)."""
    return BY_NAME.get(key.lower()) or BY_CODE.get(key.upper())
