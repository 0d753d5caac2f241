"""`cudadoctor bench`: probe the machine, run the smoke benchmark on every GPU, judge and render it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cudadoctor.errors import UsageError
from cudadoctor.facts_bench import BenchFacts
from cudadoctor.findings import Severity
from cudadoctor.render import OutputFormat

if TYPE_CHECKING:
    from cudadoctor.bench.collect import BenchRequest
    from cudadoctor.facts import Facts
    from cudadoctor.facts_bench import Thresholds
    from cudadoctor.report import Report
    from cudadoctor.tables import RuleTables

#: Exit code when nothing could be benchmarked (no torch, no GPU): the machine is not ready.
EXIT_NOT_RUN = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchOptions:
    """Everything `bench` takes; the CLI fills it from flags and CUDADOCTOR_* variables."""

    output_format: OutputFormat = OutputFormat.TERMINAL
    fail_on: Severity = Severity.ERROR
    python: str | None = None
    cpu: bool = False
    quick: bool = False
    devices: Sequence[int] | None = None
    budget: float | None = None
    timeout: float | None = None
    min_efficiency: float = 0.5
    min_memory_efficiency: float = 0.6
    min_host_efficiency: float = 0.5
    rules_dir: Path | None = None
    output: Path | None = None
    color: bool = False
    width: int | None = None
    probe_timeout: float = 120.0


def thresholds_of(opts: BenchOptions) -> Thresholds:
    """The Thresholds the options ask for; a value outside (0, 2] is a usage error."""
    from cudadoctor.bench.collect import thresholds

    return thresholds(opts.min_efficiency, opts.min_memory_efficiency, opts.min_host_efficiency)


def request_of(opts: BenchOptions) -> BenchRequest:
    """What to benchmark, from the options; bad values are usage errors."""
    from cudadoctor.bench.collect import BenchRequest

    for flag, value in (("--budget", opts.budget), ("--timeout", opts.timeout)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be positive, got {value:g}")
    return BenchRequest(python=opts.python or sys.executable, cpu=opts.cpu, quick=opts.quick, devices=opts.devices,
                        budget=opts.budget, timeout=opts.timeout, thresholds=thresholds_of(opts))


def parse_devices(text: str | None) -> tuple[int, ...] | None:
    """'0,2' -> (0, 2); None or '' -> None (all GPUs); anything else is a usage error."""
    if not text:
        return None
    try:
        out = tuple(int(p) for p in text.replace(" ", "").split(",") if p)
    except ValueError:
        raise UsageError(f"--devices {text!r}: expected CUDA device indices like 0,1") from None
    if any(i < 0 for i in out):
        raise UsageError(f"--devices {text!r}: indices are >= 0")
    return out


def build_report(opts: BenchOptions, *, facts: Facts | None = None, tables: RuleTables | None = None) -> Report:
    """Probe (unless *facts* are given), benchmark, and judge the results: a Report of the bench checks."""
    from cudadoctor import engine
    from cudadoctor.bench.collect import bench_facts
    from cudadoctor.tables import load_tables

    request = request_of(opts)  # bad options fail before the probes run
    tables = tables or load_tables(opts.rules_dir)
    if facts is None:
        from cudadoctor.commands.check import CheckOptions, probe

        facts = probe(CheckOptions(python=opts.python, timeout=opts.probe_timeout))
    facts = bench_facts(facts, tables, request)
    return engine.evaluate(facts, tables, select=engine.needing("bench"))


def render_report(report: Report, opts: BenchOptions) -> str:
    """The report in the chosen format (the terminal form shows the benchmark's table)."""
    from cudadoctor.render import render

    return render(report, opts.output_format, width=opts.width, color=opts.color and opts.output is None)


def run(opts: BenchOptions, *, facts: Facts | None = None) -> int:
    """Run `bench` end to end and return the exit code."""
    report = build_report(opts, facts=facts)
    text = render_report(report, opts)
    if opts.output is not None:
        opts.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    results = report.facts.bench
    assert isinstance(results, BenchFacts)  # build_report just put it there
    if results.status != "ok":
        hint = "" if opts.cpu else " (`cudadoctor check` says why; `cudadoctor bench --cpu` exercises the harness on the CPU)"
        print(f"cudadoctor bench: nothing benchmarked: {results.reason}{hint}", file=sys.stderr)
        return EXIT_NOT_RUN
    return report.exit_code(opts.fail_on)


def register(app: typer.Typer) -> None:
    """Add the `bench` command to the CLI."""

    @app.command(name="bench")
    def bench(
        output_format: Annotated[OutputFormat, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="Output format.")] = OutputFormat.TERMINAL,
        fail_on: Annotated[Severity, typer.Option("--fail-on", envvar="CUDADOCTOR_FAIL_ON", help="Lowest severity that makes the exit code 1.")] = Severity.ERROR,
        python: Annotated[Optional[str], typer.Option("--python", envvar="CUDADOCTOR_PYTHON", help="Interpreter whose torch runs the benchmark (default: this one).")] = None,
        cpu: Annotated[bool, typer.Option("--cpu", envvar="CUDADOCTOR_CPU", help="Run the same harness on the CPU (small sizes; no GPU needed).")] = False,
        quick: Annotated[bool, typer.Option("--quick", envvar="CUDADOCTOR_QUICK", help="Headline GEMM and copies only; about 3 s per device.")] = False,
        devices: Annotated[Optional[str], typer.Option("--devices", envvar="CUDADOCTOR_DEVICES", help="CUDA device indices to benchmark, e.g. 0,1 (default: all).")] = None,
        budget: Annotated[Optional[float], typer.Option("--budget", envvar="CUDADOCTOR_BUDGET", help="Target wall seconds per device, import included (default 10, --quick 3).")] = None,
        timeout: Annotated[Optional[float], typer.Option("--timeout", envvar="CUDADOCTOR_BENCH_TIMEOUT", help="Hard limit per device child in seconds (default: budget + 20).")] = None,
        min_efficiency: Annotated[float, typer.Option("--min-efficiency", envvar="CUDADOCTOR_MIN_EFFICIENCY", help="bench-slow below this fraction of the dense GEMM peak.")] = 0.5,
        min_memory_efficiency: Annotated[float, typer.Option("--min-memory-efficiency", envvar="CUDADOCTOR_MIN_MEMORY_EFFICIENCY", help="memory-bandwidth-low below this fraction of the memory bandwidth.")] = 0.6,
        min_host_efficiency: Annotated[float, typer.Option("--min-host-efficiency", envvar="CUDADOCTOR_MIN_HOST_EFFICIENCY", help="host-device-bandwidth-low below this fraction of the PCIe link rate.")] = 0.5,
        rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Use the rule tables in this directory.")] = None,
        output: Annotated[Optional[Path], typer.Option("--output", "-o", envvar="CUDADOCTOR_OUTPUT", help="Write the report to this file instead of stdout.")] = None,
    ) -> None:
        """Benchmark every GPU: GEMM, convolution and copies, checked for correctness and against peak."""
        import os
        import shutil

        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        opts = BenchOptions(
            output_format=output_format, fail_on=fail_on, python=python, cpu=cpu, quick=quick,
            devices=parse_devices(devices), budget=budget, timeout=timeout, min_efficiency=min_efficiency,
            min_memory_efficiency=min_memory_efficiency, min_host_efficiency=min_host_efficiency,
            rules_dir=rules_dir, output=output, color=color,
            width=shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else None,
        )
        raise typer.Exit(run(opts))
