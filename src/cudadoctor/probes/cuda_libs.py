"""The cuda_libs probe (being written)."""

from __future__ import annotations

from cudadoctor.facts import Unavailable
from cudadoctor.probes.base import ProbeContext


def probe_cuda_libs(ctx: ProbeContext) -> Unavailable:
    """Placeholder until the probe lands."""
    return Unavailable(probe="cuda_libs", reason="the cuda_libs probe is not implemented yet")
