"""`cudadoctor fleet REPORTS...`: many nodes' reports (files or directories) summarised.

Nodes by verdict, findings by how many nodes have them, and the odd ones out (driver or torch
differing from the majority, a benchmark rate below the fleet median by ``--slow-fraction``).
A file that is not a node report is named on stderr and skipped; with ``--strict`` it is an
error (exit 2). Exit 0: every node ready or degraded and none odd; 1: a node not ready or odd;
2: bad input (no report could be read, or ``--strict``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cudadoctor.errors import UsageError
from cudadoctor.report import EXIT_FINDINGS, EXIT_OK

FORMATS = ("terminal", "json", "markdown")


def collect(inputs: list[Path], *, strict: bool = False, slow_fraction: float = 0.10):  # type: ignore[no-untyped-def]
    """Read every report under *inputs* and summarise them; UsageError for bad input."""
    from cudadoctor.fleet.nodes import node_names, read_all, report_files
    from cudadoctor.fleet.summary import BadFile, summarise

    if not 0 < slow_fraction < 1:
        raise UsageError(f"--slow-fraction must be between 0 and 1, got {slow_fraction:g}", hint="e.g. 0.1 for 10%")
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or directory")
    files = list(report_files(inputs))
    if not files:
        raise UsageError("no report files (*.json) in " + ", ".join(str(p) for p in inputs))
    nodes, bad = [], []
    for path, got in read_all(files, node_names(files)):
        if isinstance(got, str):
            if strict:
                raise UsageError(f"{path}: {got}", hint="without --strict, bad files are named and skipped")
            bad.append(BadFile(path, got))
        else:
            nodes += got
    if not nodes:
        raise UsageError(f"none of the {len(files)} files is a node report (first: {bad[0].path}: {bad[0].reason})")
    return summarise(nodes, bad=bad, slow_fraction=slow_fraction)


def run(inputs: list[Path], *, output_format: str = "terminal", output: Path | None = None, strict: bool = False,
        slow_fraction: float = 0.10, verbose: bool = False) -> int:
    """Run `fleet` end to end and return the exit code."""
    from cudadoctor.fleet import render

    fmt = output_format.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"fleet --format must be one of {', '.join(FORMATS)}, got {output_format!r}")
    summary = collect(inputs, strict=strict, slow_fraction=slow_fraction)
    for b in summary.bad:
        print(f"cudadoctor fleet: skipped {b.path}: {b.reason}", file=sys.stderr)
    if fmt == "json":
        text = render.render_json(summary)
    elif fmt == "markdown":
        text = render.render_markdown(summary, verbose=verbose)
    else:
        text = render.render_terminal(summary, verbose=verbose)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK if summary.healthy else EXIT_FINDINGS


def register(app: typer.Typer) -> None:
    """Add `cudadoctor fleet` to the CLI."""

    @app.command(name="fleet")
    def fleet(
        reports: Annotated[list[Path], typer.Argument(metavar="REPORTS...", help="Report files (check/gate --format json, snapshots, healthcheck --format json) or directories of them.")],
        output_format: Annotated[str, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="terminal, json or markdown.")] = "terminal",
        output: Annotated[Optional[Path], typer.Option("--output", "-o", envvar="CUDADOCTOR_OUTPUT", help="Write the summary to this file instead of stdout.")] = None,
        strict: Annotated[bool, typer.Option("--strict", envvar="CUDADOCTOR_STRICT", help="A file that is not a node report is an error (exit 2), not skipped.")] = False,
        slow_fraction: Annotated[float, typer.Option("--slow-fraction", envvar="CUDADOCTOR_SLOW_FRACTION", help="Odd one out: a benchmark rate this fraction below the fleet median for its GPU model.")] = 0.10,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", envvar="CUDADOCTOR_VERBOSE", help="List every node (and every name in the lists).")] = False,
    ) -> None:
        """Summarise many nodes' reports: verdicts, findings by node count, odd ones out (0 all ready, 1 not)."""
        raise typer.Exit(run(reports, output_format=output_format, output=output, strict=strict,
                             slow_fraction=slow_fraction, verbose=verbose))
