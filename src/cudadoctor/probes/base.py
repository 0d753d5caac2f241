"""Probe plumbing: the wrapper that turns any probe failure into an Unavailable fact."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: A probe takes a ProbeContext and returns its area's facts (or Unavailable).
Probe = Callable[["ProbeContext"], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeContext:
    """Options every probe may read; probes must not read CLI state any other way."""

    python: str  #: interpreter whose torch we inspect (--python)
    timeout: float = 30.0  #: seconds a single child process may take
    torch_timeout: float = 60.0  #: seconds the torch child may take (import + CUDA init)

    @classmethod
    def within(cls, python: str, deadline: float, *, torch_timeout: float = 60.0) -> ProbeContext:
        """A context whose children fit a global *deadline* (seconds).

        NOTE: a probe runs up to two children one after the other (cuda_libs: the loader cache, then
        the library loader). Giving each at most half the deadline means one hung child becomes a
        named "timed out" fact in its area, with time left for the rest, instead of the whole area
        being lost to the global deadline.
        """
        return cls(python=python, timeout=min(30.0, deadline * CHILD_SHARE),
                   torch_timeout=min(torch_timeout, deadline))


#: Share of the global deadline one non-torch child process may use.
CHILD_SHARE = 0.5


def run_probe(name: str, probe: Probe, ctx: ProbeContext) -> tuple[Any, float]:
    """Run one probe; any exception becomes ``Unavailable`` naming the probe. Returns (facts, seconds)."""
    start = time.perf_counter()
    try:
        result = probe(ctx)
    except Exception as e:  # noqa: BLE001 - a probe failure is a fact, never a crash
        # NOTE: imported here: the healthcheck builds a ProbeContext to start the driver children
        # before it imports anything heavy (the facts module included).
        from cudadoctor.facts import Unavailable

        result = Unavailable(
            probe=name,
            reason=f"the {name} probe failed: {type(e).__name__}: {e}",
            detail=_short_traceback(e),
        )
    return result, time.perf_counter() - start


def _short_traceback(e: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(e), e, e.__traceback__)[-6:])
