"""The smoke benchmark: per-GPU child processes that time GEMM, convolution and copies, check every
result against a reference, and compare the numbers with the GPU model's peak.

Its results are the ``bench`` fact area (cudadoctor.facts_bench.BenchFacts), judged by the bench
checks (checks/bench.py) like any other facts. Public entry points (imported lazily, so
``import cudadoctor.bench`` stays cheap): ``run_bench(...) -> BenchFacts`` runs it;
``annotate(results, tables, facts)`` compares it with the peaks; ``with_bench(facts, results,
tables)`` makes it the Facts' ``bench`` area; ``bench_facts(facts, tables, request)`` does all three
for the devices the facts show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cudadoctor.bench.collect import BenchRequest, bench_facts
    from cudadoctor.bench.evaluate import annotate, with_bench
    from cudadoctor.bench.results import BenchFacts, Thresholds, decode_results
    from cudadoctor.bench.runner import run_bench

__all__ = [
    "BenchFacts", "BenchRequest", "Thresholds", "annotate", "bench_facts", "decode_results", "run_bench", "with_bench",
]

_HOMES = {
    "run_bench": "runner",
    "annotate": "evaluate", "with_bench": "evaluate",
    "BenchRequest": "collect", "bench_facts": "collect",
    "BenchFacts": "results", "Thresholds": "results", "decode_results": "results",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cudadoctor.bench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"cudadoctor.bench.{home}"), name)
