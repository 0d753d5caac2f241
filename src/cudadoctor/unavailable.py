"""``Unavailable``: the typed "unknown, because ..." value, at the bottom of the import graph.

Every fact that could not be determined is an ``Unavailable(probe, reason)``, never ``None`` or
``"N/A"``. It lives in its own module so that every facts module (facts.py and the optional areas
it imports, facts_bench.py and facts_ranks.py) can use it without importing another. The
reasons of the optional areas that were not gathered live here too: facts.py needs them for its
defaults without importing the optional areas' modules (~10 ms the healthcheck does not need).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The ``bench`` area's reason when the smoke benchmark was not run (re-exported by facts_bench).
BENCH_NOT_RUN = "the smoke benchmark was not run (use `cudadoctor bench` or `cudadoctor check --bench`)"
#: The ``ranks`` area's reason outside gate --distributed (re-exported by facts_ranks).
RANKS_NOT_RUN = "the distributed gate was not run (`cudadoctor gate --distributed` under torchrun, srun or a PyTorchJob)"
#: The ``drift`` area's reason without --baseline (re-exported by facts_drift).
DRIFT_NOT_RUN = "no --baseline given (compare with a known-good snapshot: `cudadoctor check --baseline known-good.json`)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Unavailable:
    """A fact that could not be determined, and why."""

    probe: str  #: probe that tried, e.g. "driver"
    reason: str  #: user-facing sentence: what is missing and the likely cause
    detail: str = ""  #: technical detail (exception text, stderr tail), shown with -v

    def __bool__(self) -> bool:
        # NOTE: an unknown value is never truthy, so `if facts.x:` cannot mistake it for data.
        return False
