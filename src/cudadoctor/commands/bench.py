"""`cudadoctor bench`: probe the machine, run the smoke benchmark on every GPU, judge and render it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cudadoctor.findings import Severity
from cudadoctor.errors import UsageError
from cudadoctor.render import OutputFormat

if TYPE_CHECKING:
    from cudadoctor.bench.results import BenchResults, Thresholds
    from cudadoctor.facts import Facts
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
    from cudadoctor.bench.results import Thresholds

    for flag, value in (("--min-efficiency", opts.min_efficiency), ("--min-memory-efficiency", opts.min_memory_efficiency),
                        ("--min-host-efficiency", opts.min_host_efficiency)):
        if not 0 < value <= 2:
            raise UsageError(f"{flag} must be a fraction of peak in (0, 2], got {value:g}", hint="e.g. 0.5 for 50%")
    return Thresholds(min_efficiency=opts.min_efficiency, min_memory_efficiency=opts.min_memory_efficiency,
                      min_host_efficiency=opts.min_host_efficiency)


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


def devices_from_facts(facts: Facts, python: str, wanted: Sequence[int] | None) -> list[int] | tuple[str, str]:
    """CUDA ordinals torch sees per the facts (filtered by *wanted*), or (status, plain reason) when none."""
    from cudadoctor.facts import TorchFacts

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


def not_run(status: str, reason: str, opts: BenchOptions, python: str) -> BenchResults:
    """Device-less results that say why nothing was benchmarked."""
    from cudadoctor.bench.runner import DEFAULT_BUDGET_S, QUICK_BUDGET_S, TIMEOUT_GRACE_S
    from cudadoctor.bench.results import BenchResults

    budget = opts.budget or (QUICK_BUDGET_S if opts.quick else DEFAULT_BUDGET_S)
    return BenchResults(status=status, reason=reason, mode="cpu" if opts.cpu else "gpu", python=python,
                        quick=opts.quick, budget_s=budget, timeout_s=opts.timeout or budget + TIMEOUT_GRACE_S,
                        wall_s=0.0, devices=(), thresholds=thresholds_of(opts))


def build_report(opts: BenchOptions, *, facts: Facts | None = None, tables: RuleTables | None = None) -> Report:
    """Probe (unless *facts* are given), benchmark, and return the Report with the bench outcomes."""
    from cudadoctor.report import Report
    from cudadoctor.tables import load_tables

    for flag, value in (("--budget", opts.budget), ("--timeout", opts.timeout)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be positive, got {value:g}")
    thresholds_of(opts)  # bad thresholds fail before the probes run
    tables = tables or load_tables(opts.rules_dir)
    if facts is None:
        from cudadoctor.commands.check import CheckOptions, probe

        facts = probe(CheckOptions(python=opts.python, timeout=opts.probe_timeout))
    return bench_into(Report(facts=facts, tables=tables, outcomes=(), facts_source="probe"), opts)


def bench_into(report: Report, opts: BenchOptions) -> Report:
    """Benchmark the GPUs *report*'s facts show and return *report* with the bench outcomes and
    ``extras["bench"]`` (what ``cudadoctor check --bench`` does after its own checks)."""
    from cudadoctor.bench.evaluate import attach_bench
    from cudadoctor.bench.runner import run_bench

    thresholds = thresholds_of(opts)
    python = opts.python or sys.executable
    if opts.cpu:
        results = run_bench(python, cpu=True, quick=opts.quick, budget_s=opts.budget, timeout_s=opts.timeout,
                            thresholds=thresholds)
    else:
        found = devices_from_facts(report.facts, python, opts.devices)
        results = (not_run(found[0], found[1], opts, python) if isinstance(found, tuple) else
                   run_bench(python, devices=found, quick=opts.quick, budget_s=opts.budget, timeout_s=opts.timeout,
                             thresholds=thresholds))
    return attach_bench(report, results, thresholds)


def render_report(report: Report, opts: BenchOptions) -> str:
    """The report in the chosen format; the terminal form always carries the bench table."""
    from cudadoctor.render import render

    text = render(report, opts.output_format, width=opts.width, color=opts.color and opts.output is None)
    if opts.output_format is OutputFormat.TERMINAL and "bench" in report.extras:
        from cudadoctor.bench.render import TITLE, render_text

        # NOTE: until the shared terminal renderer shows Report.extras["bench"] itself, add the table here.
        if TITLE not in text:
            text = render_text(report.extras["bench"], width=opts.width, color=opts.color and opts.output is None) + "\n" + text
    return text


def run(opts: BenchOptions, *, facts: Facts | None = None) -> int:
    """Run `bench` end to end and return the exit code."""
    report = build_report(opts, facts=facts)
    text = render_report(report, opts)
    if opts.output is not None:
        opts.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    results = report.extras["bench"]
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
