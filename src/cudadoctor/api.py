"""The Python API: cudadoctor.check() and the pieces it is made of."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from cudadoctor import engine, probes, tables
from cudadoctor.facts import Facts
from cudadoctor.probes.base import ProbeContext
from cudadoctor.report import Report
from cudadoctor.tables import RuleTables


def load_tables(rules_dir: str | Path | None = None) -> RuleTables:
    """Load the shipped rule tables, or those in *rules_dir*."""
    return tables.load_tables(Path(rules_dir) if rules_dir else None)


def collect_facts(*, python: str | None = None, timeout: float = 120.0, torch_timeout: float = 60.0) -> Facts:
    """Probe this machine (torch inside *python*, default this interpreter) and return Facts."""
    ctx = ProbeContext.within(python or sys.executable, timeout, torch_timeout=torch_timeout)
    return probes.collect_facts(ctx, deadline=timeout)


def evaluate(
    facts: Facts,
    rule_tables: RuleTables | None = None,
    *,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> Report:
    """Judge *facts* against the rule tables and return the Report (pure; no probing)."""
    return engine.evaluate(facts, rule_tables or load_tables(), select=list(select), ignore=list(ignore))


def check(
    *,
    python: str | None = None,
    rules_dir: str | Path | None = None,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    timeout: float = 120.0,
    kernels: bool = False,
) -> Report:
    """Probe this machine and diagnose it. In Jupyter the returned Report displays itself.

    Called from a notebook, *python* defaults to the kernel's own interpreter (``sys.executable``),
    and the report's Jupyter section says so. *kernels* also inspects the torch of every other
    Jupyter kernel (``check --kernels``).
    """
    rule_tables = load_tables(rules_dir)
    facts = collect_facts(python=python, timeout=timeout)
    if kernels:
        from cudadoctor.probes.jupyter import with_kernel_torch

        facts = with_kernel_torch(facts, timeout=min(60.0, timeout))
    return evaluate(facts, rule_tables, select=select, ignore=ignore)


class EnvironmentNotReady(Exception):
    """Raised by :func:`gate` when the environment must not train; ``.report`` holds the full Report.

    ``str(error)`` lists the blocking reasons; ``.reasons`` has them as data
    (:class:`cudadoctor.policy.Reason`: name, severity, message, code).
    """

    def __init__(self, report: Report) -> None:
        gate = report.gate
        assert gate is not None, "EnvironmentNotReady needs a report the gate decided"
        self.report = report
        self.reasons = tuple(gate.reasons)
        n = len(self.reasons)
        lines = [f"environment not ready for training: {n} blocking reason{'' if n == 1 else 's'}"]
        lines += [f"  - {' '.join(r.headline.split())}" for r in self.reasons]
        super().__init__("\n".join(lines))


def gate(
    *,
    require_gpus: int | None = None,
    min_efficiency: float | None = None,
    min_memory_efficiency: float | None = None,
    min_host_efficiency: float | None = None,
    min_allreduce_gbs: float | None = None,
    policy: str | Path | None = None,
    python: str | None = None,
    rules_dir: str | Path | None = None,
    timeout: float | None = None,
    cpu: bool = False,
    bench: bool | None = None,
    fail_on: str | None = None,
    distributed: bool = False,
    output: str | Path | None = None,
) -> Report:
    """The pre-training gate: check + quick benchmark + policy; return the Report, or raise EnvironmentNotReady.

    Call it first in a training script. ``report.gate`` holds the decision (a GateResult: verdict,
    blocking reasons, benchmark headlines); ``report.facts.bench`` the benchmark's results and,
    distributed, ``report.facts.ranks`` what every rank reported. With
    ``distributed=True`` (under torchrun) every rank runs it: the ranks gather each other's
    summaries and test an all-reduce over torch.distributed (a process group is created and
    destroyed again, or an existing default group is reused), and every rank gets the same answer.
    Unlike the CLI, no watchdog kills the process: the collectives' timeouts bound the wait.
    Bad options or an invalid policy raise CudaDoctorError.
    """
    from cudadoctor.findings import Severity
    from cudadoctor.gating.local import DEFAULT_TIMEOUT, GateOptions, json_text, run_local_gate

    opts = GateOptions(
        require_gpus=require_gpus, min_efficiency=min_efficiency, min_memory_efficiency=min_memory_efficiency,
        min_host_efficiency=min_host_efficiency, min_allreduce_gbs=min_allreduce_gbs,
        policy=Path(policy) if policy is not None else None, python=python,
        rules_dir=Path(rules_dir) if rules_dir is not None else None,
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT, cpu=cpu, bench=bench,
        fail_on=Severity(fail_on) if fail_on is not None else None,
        output=Path(output) if output is not None else None,
    )
    if distributed:
        import os

        from cudadoctor.gating.distributed import run_distributed

        report = run_distributed(opts, env=os.environ, hard_deadline=False, emit_output=False).report
        assert report is not None
    else:
        report = run_local_gate(opts)
    if opts.output is not None:
        opts.output.write_text(json_text(report), encoding="utf-8")
    assert report.gate is not None  # every gate run decides
    if not report.gate.go:
        raise EnvironmentNotReady(report)
    return report
