"""Gather the ``bench`` fact area: pick the GPUs the facts show, run the benchmark children, annotate.

What ``cudadoctor bench``, ``check --bench`` and ``gate`` share: given probed Facts and a
:class:`BenchRequest`, :func:`measure` benchmarks the CUDA devices torch sees (or says plainly why
none can be), and :func:`bench_facts` returns the Facts with the annotated results as their
``bench`` area, ready for the engine to judge with every other check.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cudadoctor.bench.evaluate import with_bench
from cudadoctor.bench.runner import DEFAULT_BUDGET_S, QUICK_BUDGET_S, TIMEOUT_GRACE_S, run_bench
from cudadoctor.errors import UsageError
from cudadoctor.facts import Facts, TorchFacts
from cudadoctor.facts_bench import BenchFacts, Thresholds

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchRequest:
    """How to benchmark: which interpreter and devices, how long, and the thresholds to judge with."""

    python: str = field(default_factory=lambda: sys.executable)  #: the interpreter whose torch runs it
    cpu: bool = False  #: run the harness on the CPU (no GPU needed)
    quick: bool = False  #: headline workloads only
    devices: Sequence[int] | None = None  #: CUDA ordinals; None: every device torch sees
    budget: float | None = None  #: target wall seconds per device (None: the runner's default)
    timeout: float | None = None  #: hard limit per device child, seconds (None: budget + grace)
    thresholds: Thresholds = field(default_factory=Thresholds)


def thresholds(min_efficiency: float, min_memory_efficiency: float, min_host_efficiency: float) -> Thresholds:
    """Thresholds from the ``--min-*-efficiency`` options; a value outside (0, 2] is a usage error."""
    for flag, value in (("--min-efficiency", min_efficiency), ("--min-memory-efficiency", min_memory_efficiency),
                        ("--min-host-efficiency", min_host_efficiency)):
        if not 0 < value <= 2:
            raise UsageError(f"{flag} must be a fraction of peak in (0, 2], got {value:g}", hint="e.g. 0.5 for 50%")
    return Thresholds(min_efficiency=min_efficiency, min_memory_efficiency=min_memory_efficiency,
                      min_host_efficiency=min_host_efficiency)


def devices_from_facts(facts: Facts, python: str, wanted: Sequence[int] | None) -> list[int] | tuple[str, str]:
    """CUDA ordinals torch sees per the facts (filtered by *wanted*), or (status, plain reason) when none."""
    torch = facts.torch
    if not isinstance(torch, TorchFacts):
        return "no-torch", f"torch could not be inspected in {python}: {torch.reason}"
    if torch.status == "not-installed":
        return "no-torch", (f"torch is not installed in {python}; the benchmark needs torch "
                            "(install it, or pass --python with an interpreter that has it)")
    if torch.status != "ok":
        first = torch.import_error.strip().splitlines()[-1] if torch.import_error.strip() else torch.status
        return "no-torch", f"`import torch` fails in {python}: {first}"
    if torch.cuda_available is not True:
        why = torch.cuda_unavailable_reason or "torch.cuda.is_available() is False"
        return "no-gpu", f"no CUDA GPU is usable by torch in {python}: {why}"
    indices = [d.index for d in torch.devices]
    if wanted is not None:
        missing = [i for i in wanted if i not in indices]
        if missing:
            raise UsageError(f"--devices: CUDA device {missing[0]} does not exist (torch sees {len(indices)})")
        indices = [i for i in indices if i in wanted]
    if not indices:
        return "no-gpu", f"torch in {python} sees no CUDA device"
    return indices


def not_run(status: str, reason: str, request: BenchRequest) -> BenchFacts:
    """Device-less results that say why nothing was benchmarked."""
    budget = request.budget or (QUICK_BUDGET_S if request.quick else DEFAULT_BUDGET_S)
    return BenchFacts(status=status, reason=reason, mode="cpu" if request.cpu else "gpu", python=request.python,
                      quick=request.quick, budget_s=budget, timeout_s=request.timeout or budget + TIMEOUT_GRACE_S,
                      wall_s=0.0, devices=(), thresholds=request.thresholds)


def measure(facts: Facts, request: BenchRequest) -> BenchFacts:
    """Benchmark what *request* asks for on the machine *facts* describe (children; never raises for them)."""
    if request.cpu:
        return run_bench(request.python, cpu=True, quick=request.quick, budget_s=request.budget,
                         timeout_s=request.timeout, thresholds=request.thresholds)
    found = devices_from_facts(facts, request.python, request.devices)
    if isinstance(found, tuple):
        return not_run(found[0], found[1], request)
    return run_bench(request.python, devices=found, quick=request.quick, budget_s=request.budget,
                     timeout_s=request.timeout, thresholds=request.thresholds)


def bench_facts(facts: Facts, tables: RuleTables, request: BenchRequest) -> Facts:
    """*facts* with the benchmark's annotated results as their ``bench`` area."""
    return with_bench(facts, measure(facts, request), tables, request.thresholds)
