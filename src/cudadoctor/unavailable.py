"""``Unavailable``: the typed "unknown, because ..." value, at the bottom of the import graph.

Every fact that could not be determined is an ``Unavailable(probe, reason)``, never ``None`` or
``"N/A"``. It lives in its own module so that every facts module (facts.py and the optional areas
it imports, facts_bench.py and facts_ranks.py) can use it without importing another.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Unavailable:
    """A fact that could not be determined, and why."""

    probe: str  #: probe that tried, e.g. "driver"
    reason: str  #: user-facing sentence: what is missing and the likely cause
    detail: str = ""  #: technical detail (exception text, stderr tail), shown with -v

    def __bool__(self) -> bool:
        # NOTE: an unknown value is never truthy, so `if facts.x:` cannot mistake it for data.
        return False
