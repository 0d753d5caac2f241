"""The torch_build probe (being written)."""

from __future__ import annotations

from cudadoctor.facts import Unavailable
from cudadoctor.probes.base import ProbeContext


def probe_torch(ctx: ProbeContext) -> Unavailable:
    """Placeholder until the probe lands."""
    return Unavailable(probe="torch", reason="the torch probe is not implemented yet")
