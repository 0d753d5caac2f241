"""The toolkit probe (being written)."""

from __future__ import annotations

from cudadoctor.facts import Unavailable
from cudadoctor.probes.base import ProbeContext


def probe_toolkit(ctx: ProbeContext) -> Unavailable:
    """Placeholder until the probe lands."""
    return Unavailable(probe="toolkit", reason="the toolkit probe is not implemented yet")
