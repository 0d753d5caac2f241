"""The pre-training sanity gate: check + quick benchmark + policy thresholds, go or stop.

``local`` judges this machine (probes and the benchmark in child processes, as ``check`` and
``bench`` do; no torch in this process). ``distributed`` runs under torchrun/Slurm/any launcher
that sets RANK/WORLD_SIZE: every rank runs the local gate, then this process imports torch for
the collective phase (gather of every rank's summary, all-reduce test, version agreement) and
every rank exits with the same verdict. ``checks`` holds the distributed checks
(``distributed-version-mismatch``, ``allreduce-wrong-result``).

Public names are imported lazily, so ``import cudadoctor.gating`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cudadoctor.gating.local import GateOptions, GateResult, run_local_gate

__all__ = ["GateOptions", "GateResult", "run_local_gate"]


def __getattr__(name: str) -> Any:
    """Import the public names on first use."""
    if name in __all__:
        from cudadoctor.gating import local

        return getattr(local, name)
    raise AttributeError(f"module 'cudadoctor.gating' has no attribute {name!r}")
