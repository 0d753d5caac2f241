"""The smoke benchmark: per-GPU child processes that time GEMM, convolution and copies, check every
result against a reference, and judge the numbers against the GPU model's peak.

Public entry points (imported lazily, so ``import cudadoctor.bench`` stays cheap):
``run_bench(...) -> BenchResults`` runs it; ``bench_findings(results, facts, tables)`` judges it;
``attach_bench(report, results)`` puts both into a Report (``Report.extras["bench"]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cudadoctor.bench.evaluate import annotate, attach_bench, bench_findings, bench_outcomes
    from cudadoctor.bench.results import BenchResults, Thresholds, decode_results
    from cudadoctor.bench.runner import run_bench

__all__ = [
    "BenchResults", "Thresholds", "annotate", "attach_bench", "bench_findings", "bench_outcomes",
    "decode_results", "run_bench",
]

_HOMES = {
    "run_bench": "runner",
    "annotate": "evaluate", "attach_bench": "evaluate", "bench_findings": "evaluate", "bench_outcomes": "evaluate",
    "BenchResults": "results", "Thresholds": "results", "decode_results": "results",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cudadoctor.bench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"cudadoctor.bench.{home}"), name)
