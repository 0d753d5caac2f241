"""PROBES: the explicit registry of probes, and collect_facts() that runs them concurrently.

Importing the package is cheap (the probe modules, the facts module and the thread pool are
imported on use): the healthcheck imports probes.driver first thing, to start its children
before anything heavy is loaded.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cudadoctor.probes.base import Probe, ProbeContext, run_probe

if TYPE_CHECKING:
    from cudadoctor.facts import Facts

#: area -> (module in cudadoctor.probes, function). Imported on first use, so importing one probe
#: (healthcheck imports only the live ones) does not load them all.
PROBE_FUNCTIONS: dict[str, tuple[str, str]] = {
    "host": ("host", "probe_host"),
    "env": ("env", "probe_env"),
    "container": ("container", "probe_container"),
    "driver": ("driver", "probe_driver"),
    "cuda_libs": ("cuda_libs", "probe_cuda_libs"),
    "toolkit": ("toolkit", "probe_toolkit"),
    "torch": ("torch_build", "probe_torch"),
    # optional areas (facts.OPTIONAL_AREAS) that every `check` also probes; cheap file reads
    "jupyter": ("jupyter", "probe_jupyter"),
    "session": ("session", "probe_session"),
}

_registry: dict[str, Probe] = {}


def _load_registry() -> dict[str, Probe]:
    if not _registry:
        for area, (module, function) in PROBE_FUNCTIONS.items():
            _registry[area] = getattr(importlib.import_module(f"cudadoctor.probes.{module}"), function)
    return _registry


def probe_function(area: str) -> Probe:
    """The probe of *area*, importing only its module (the healthcheck needs no other)."""
    if _registry:
        return _registry[area]
    module, function = PROBE_FUNCTIONS[area]
    return getattr(importlib.import_module(f"cudadoctor.probes.{module}"), function)  # type: ignore[no-any-return]


def __getattr__(name: str) -> Any:
    if name == "PROBES":
        return _load_registry()
    raise AttributeError(f"module 'cudadoctor.probes' has no attribute {name!r}")


def collect_facts(
    ctx: ProbeContext,
    *,
    deadline: float = 120.0,
    probes: Mapping[str, Probe] | None = None,
    on_done: Callable[[str], None] | None = None,
) -> Facts:
    """Run every probe concurrently and assemble Facts; nothing here raises for a sick machine.

    A probe still running after *deadline* seconds becomes ``Unavailable`` naming it, and every
    child process still running is killed (its process group), so nothing outlives the deadline.
    """
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor, wait

    from cudadoctor._version import __version__
    from cudadoctor.facts import AREAS, OPTIONAL_AREAS, Facts, Unavailable

    probes = dict(_load_registry() if probes is None else probes)
    results: dict[str, object] = {}
    seconds: dict[str, float] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(probes)), thread_name_prefix="probe")
    start = time.monotonic()
    # NOTE: the torch probe (import torch in a child) is by far the slowest: start it first.
    order = sorted(probes, key=lambda name: name != "torch")
    futures = {pool.submit(run_probe, name, probes[name], ctx): name for name in order}
    try:
        pending = set(futures)
        while pending:
            left = deadline - (time.monotonic() - start)
            if left <= 0:
                break
            done, pending = wait(pending, timeout=left, return_when="FIRST_COMPLETED")
            for fut in done:
                name = futures[fut]
                results[name], seconds[name] = fut.result()
                if on_done:
                    on_done(name)
        if pending:
            _end_children(pending)
        for fut in pending:
            name = futures[fut]
            results[name] = Unavailable(
                probe=name,
                reason=f"the {name} probe did not finish within the {deadline:g} s deadline (--timeout)",
            )
            seconds[name] = deadline
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for area in AREAS:
        results.setdefault(area, Unavailable(probe=area, reason=f"the {area} probe was not run"))
    return Facts(
        cudadoctor_version=__version__,
        collected_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        probe_seconds={k: round(v, 4) for k, v in sorted(seconds.items())},
        **{area: results[area] for area in AREAS},  # type: ignore[arg-type]
        # NOTE: an optional area no probe filled keeps its "not run" default.
        **{area: results[area] for area in OPTIONAL_AREAS if area in results},  # type: ignore[arg-type]
    )


#: Seconds collect_facts waits, after killing the late probes' children, for their threads to return.
UNWIND_GRACE = 1.0


def _end_children(pending: set[Any]) -> None:
    """Kill every running child (the late probes are waiting on them) and let their threads unwind.

    NOTE: the probe threads cannot be cancelled, and the interpreter joins the pool's threads at
    exit, so a child left running (a hung ``import torch``, a hung nvmlInit) would hold the process
    past its deadline and could outlive it. New children are refused while the threads unwind.
    """
    from concurrent.futures import wait

    from cudadoctor._util import allow_children, children_blocked, kill_children

    was_blocked = children_blocked()
    killed = kill_children(block_new=True)
    try:
        if killed:  # a probe stuck in pure Python (no child) gains nothing from waiting
            wait(pending, timeout=UNWIND_GRACE)
    finally:
        if not was_blocked:
            allow_children()
