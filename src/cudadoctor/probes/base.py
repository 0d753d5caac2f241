"""Probe plumbing: the wrapper that turns any probe failure into an Unavailable fact."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cudadoctor.facts import Unavailable

#: A probe takes a ProbeContext and returns its area's facts (or Unavailable).
Probe = Callable[["ProbeContext"], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeContext:
    """Options every probe may read; probes must not read CLI state any other way."""

    python: str  #: interpreter whose torch we inspect (--python)
    timeout: float = 30.0  #: seconds a single child process may take
    torch_timeout: float = 60.0  #: seconds the torch child may take (import + CUDA init)


def run_probe(name: str, probe: Probe, ctx: ProbeContext) -> tuple[Any, float]:
    """Run one probe; any exception becomes ``Unavailable`` naming the probe. Returns (facts, seconds)."""
    start = time.perf_counter()
    try:
        result = probe(ctx)
    except Exception as e:  # noqa: BLE001 - a probe failure is a fact, never a crash
        result = Unavailable(
            probe=name,
            reason=f"the {name} probe failed: {type(e).__name__}: {e}",
            detail=_short_traceback(e),
        )
    return result, time.perf_counter() - start


def _short_traceback(e: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(e), e, e.__traceback__)[-6:])
