"""The container probe (being written)."""

from __future__ import annotations

from cudadoctor.facts import Unavailable
from cudadoctor.probes.base import ProbeContext


def probe_container(ctx: ProbeContext) -> Unavailable:
    """Placeholder until the probe lands."""
    return Unavailable(probe="container", reason="the container probe is not implemented yet")
