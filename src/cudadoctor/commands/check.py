"""`cudadoctor check`: probe (or replay facts), judge, render, and choose the exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from cudadoctor import probes
from cudadoctor.findings import Severity
from cudadoctor.errors import UsageError
from cudadoctor.facts import Facts, Unavailable
from cudadoctor.factsfile import load_facts, save_facts
from cudadoctor.probes.base import ProbeContext
from cudadoctor.render import OutputFormat, render

if TYPE_CHECKING:
    from cudadoctor.probes.cached import SlowFacts
    from cudadoctor.report import Report
    from cudadoctor.tables import RuleTables


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOptions:
    """Everything `check` takes; the CLI fills it from flags and CUDADOCTOR_* variables."""

    output_format: OutputFormat = OutputFormat.TERMINAL
    fail_on: Severity = Severity.ERROR
    select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    verbose: bool = False
    facts_file: Path | None = None
    save_facts: Path | None = None
    python: str | None = None
    rules_dir: Path | None = None
    timeout: float = 120.0
    output: Path | None = None
    color: bool = False
    width: int | None = None
    spinner: bool = False
    redact: bool = False  #: also hide user names, host names and home paths
    bench: bool = False  #: also run the smoke benchmark
    bench_quick: bool = False
    min_efficiency: float = 0.5
    #: a known-good snapshot (or facts file, or JSON report): adds the drift area and environment-drift
    baseline: Path | None = None
    #: probe the slow facts again instead of re-using cached ones (--fresh, CUDADOCTOR_FRESH=1)
    fresh: bool = False
    #: also inspect the torch of every Jupyter kernel that runs another interpreter
    kernels: bool = False
    notes: list[str] = field(default_factory=list)


def build_report(opts: CheckOptions) -> Report:
    """Load the tables, get facts (probe or replay; with --bench, benchmark), evaluate; raises CudaDoctorError on bad input."""
    baseline = None
    if opts.baseline is not None:
        from cudadoctor.factsfile import load_document

        baseline = load_document(opts.baseline).facts  # NOTE: before probing: a bad file fails in milliseconds
    facts, tables, source = gather(opts)
    if opts.bench:
        from cudadoctor.bench.collect import BenchRequest, bench_facts, thresholds
        from cudadoctor.facts_bench import Thresholds

        default = Thresholds()
        request = BenchRequest(
            python=opts.python or sys.executable, quick=opts.bench_quick,
            thresholds=thresholds(opts.min_efficiency, default.min_memory_efficiency, default.min_host_efficiency),
        )
        facts = bench_facts(facts, tables, request)
    select = opts.select
    if baseline is not None and opts.baseline is not None:
        from cudadoctor import engine
        from cudadoctor.diff.drift import with_drift

        facts = with_drift(facts, baseline, tables, origin=opts.baseline.name)
        if select:
            select = (*select, *engine.needing("drift"))  # the baseline was asked for: report its verdict
    if opts.save_facts is not None:
        save_facts(facts, opts.save_facts, identity=opts.redact)
    return judge(facts, tables, select=select, ignore=opts.ignore, source=source, bench=opts.bench)


def gather(opts: CheckOptions) -> tuple[Facts, RuleTables, str]:
    """Load the rule tables and get the facts: probed, or replayed from --facts. Returns (facts,
    tables, source); bad selectors, tables or facts files raise CudaDoctorError."""
    if opts.timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {opts.timeout:g}")
    if opts.facts_file is not None:
        tables = _judge_setup(opts)
        return load_facts(opts.facts_file), tables, "facts-file"
    if opts.select or opts.ignore:
        # A typo in --select must fail in milliseconds, not after the probes.
        tables = _judge_setup(opts)
        return probe(opts), tables, "probe"
    # NOTE: the probes' children (import torch, NVML) run while this process imports the
    # checks and loads the tables, so start-up cost overlaps the slowest probe.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(probe, opts)
        try:
            tables = _judge_setup(opts)
        finally:
            facts = pending.result()
    return facts, tables, "probe"


def judge(
    facts: Facts, tables: RuleTables, *, select: Sequence[str] = (), ignore: Sequence[str] = (), source: str = "probe",
    bench: bool = False,
) -> Report:
    """Evaluate the selected checks on *facts* (the engine, once).

    Without --select, the checks of an optional area the facts lack are left out rather than
    listed as "not run" skips: the benchmark's unless *bench* was asked for (they then say why it
    could not run), the distributed checks outside gate --distributed. A replayed facts file that
    holds a benchmark is judged with the bench checks. *bench* also adds the bench checks to a
    --select: the benchmark was asked for, so its verdict is reported.
    """
    from cudadoctor import engine

    if not select:
        ignore = (*ignore, *engine.ungathered(facts, keep=("bench",) if bench else ()))
    elif bench:
        select = (*select, *engine.needing("bench"))
    return engine.evaluate(facts, tables, select=select, ignore=ignore, source=source)


def _judge_setup(opts: CheckOptions) -> RuleTables:
    """Import the engine (and with it every check) and load the rule tables; validate selectors."""
    from cudadoctor import engine
    from cudadoctor.tables import load_tables

    tables = load_tables(opts.rules_dir)
    engine.resolve_selectors(opts.select)
    engine.resolve_selectors(opts.ignore)
    return tables


def probe(opts: CheckOptions) -> Facts:
    """Run the probes (the slow ones through the cache; with --kernels each Jupyter kernel's torch too)."""
    python = opts.python or sys.executable
    if opts.python and not (os.path.isfile(opts.python) and os.access(opts.python, os.X_OK)):
        raise UsageError(f"--python {opts.python}: not an executable file")
    ctx = ProbeContext.within(python, opts.timeout)
    facts = _collect(opts, python, ctx)
    if not opts.kernels:
        return facts
    from cudadoctor.probes.jupyter import with_kernel_torch

    return with_kernel_torch(facts, timeout=ctx.torch_timeout)


def _collect(opts: CheckOptions, python: str, ctx: ProbeContext) -> Facts:
    """Run the probes (the slow ones through the cache), with a spinner on an interactive terminal."""
    slow = _slow_facts(opts, python, ctx)
    wrapped = slow.wrap(probes.PROBES)
    if not opts.spinner:
        return _with_cached(probes.collect_facts(ctx, deadline=opts.timeout, probes=wrapped), slow)
    from rich.console import Console

    console = Console(stderr=True)
    remaining = set(probes.PROBES)
    with console.status("Probing " + ", ".join(sorted(remaining)) + " …") as status:
        def done(name: str) -> None:
            remaining.discard(name)
            status.update("Probing " + ", ".join(sorted(remaining)) + " …" if remaining else "Judging …")

        facts = probes.collect_facts(ctx, deadline=opts.timeout, on_done=done, probes=wrapped)
    return _with_cached(facts, slow)


def _slow_facts(opts: CheckOptions, python: str, ctx: ProbeContext) -> SlowFacts:
    """The cache hook: slow facts re-used when nothing they depend on changed (probes/cached.py)."""
    from cudadoctor.probes.cached import SlowFacts, cwd_or_empty, fresh_from_environment, open_cache

    environ = dict(os.environ)
    cache = open_cache(environ)
    return SlowFacts(cache, python=python, environ=environ, cwd=cwd_or_empty(),
                     fresh=opts.fresh or fresh_from_environment(environ), timeout=ctx.timeout)


def _with_cached(facts: Facts, slow: SlowFacts) -> Facts:
    """*facts* with the record of which slow areas came from the cache, and how old they were."""
    from dataclasses import replace

    # NOTE: an area the deadline cut off was not served from the cache, whatever the wrapper recorded.
    ages = {a: age for a, age in slow.cached().items() if not isinstance(facts.area(a), Unavailable)}
    return replace(facts, cached=ages)


def run(opts: CheckOptions) -> int:
    """Run `check` end to end and return the exit code."""
    if opts.bench and opts.facts_file is not None:
        raise UsageError("--bench measures this machine; it cannot be combined with --facts")
    if opts.kernels and opts.facts_file is not None:
        raise UsageError("--kernels inspects this machine's Jupyter kernels; it cannot be combined with --facts")
    report = build_report(opts)
    text = render(
        report, opts.output_format, width=opts.width, verbose=opts.verbose,
        color=opts.color and opts.output is None, redact_identity=opts.redact,
    )
    if opts.output is not None and opts.output_format is OutputFormat.PROMETHEUS:
        from cudadoctor.textfile import write_atomically

        # NOTE: node-exporter's textfile collector may read at any moment: never a half-written file.
        try:
            write_atomically(opts.output, text)
        except OSError as e:
            raise UsageError(f"--output {opts.output}: cannot write: {e.strerror or e}") from None
    elif opts.output is not None:
        # NOTE: the file is only opened once the work succeeded, so a failed run never
        # truncates a previous report.
        opts.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return report.exit_code(opts.fail_on)
