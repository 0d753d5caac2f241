"""Checks of the torch_build family (being written)."""

from __future__ import annotations

from cudadoctor.checks.base import Check

CHECKS: tuple[type[Check], ...] = ()
