"""The driver probe (being written)."""

from __future__ import annotations

from cudadoctor.facts import Unavailable
from cudadoctor.probes.base import ProbeContext


def probe_driver(ctx: ProbeContext) -> Unavailable:
    """Placeholder until the probe lands."""
    return Unavailable(probe="driver", reason="the driver probe is not implemented yet")
