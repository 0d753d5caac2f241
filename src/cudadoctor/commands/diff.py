"""`cudadoctor diff A B`: what two environments differ in that matters to a PyTorch job, and the findings it causes.

Each side is a snapshot, a ``--save-facts`` file, a ``check --format json`` report, or ``-`` /
``here`` (this machine, probed now). Exit 0: the same in everything that matters; 1: they differ;
2: bad input (one line naming the file).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from cudadoctor.errors import UsageError
from cudadoctor.report import EXIT_FINDINGS, EXIT_OK

#: --format values diff accepts.
FORMATS = ("terminal", "json", "markdown")


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffOptions:
    """Everything `diff` takes; the CLI fills it from arguments, flags and CUDADOCTOR_* variables."""

    a: str
    b: str
    output_format: str = "terminal"
    output: Path | None = None
    redact: bool = False
    python: str | None = None
    rules_dir: Path | None = None
    timeout: float = 120.0


def build(opts: DiffOptions) -> dict[str, object]:
    """Read (or probe) both sides, compare them, and return the diff document (JSON data)."""
    from cudadoctor.commands.check import CheckOptions, probe
    from cudadoctor.diff.compare import diff_facts
    from cudadoctor.diff.render import diff_dict
    from cudadoctor.diff.sides import read_side
    from cudadoctor.tables import load_tables

    fmt = opts.output_format.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"diff --format must be one of {', '.join(FORMATS)}, got {opts.output_format!r}")
    tables = load_tables(opts.rules_dir)
    here: list[object] = []

    def probe_here():  # type: ignore[no-untyped-def]
        # NOTE: "here" on both sides probes once: the same machine at the same moment.
        if not here:
            here.append(probe(CheckOptions(python=opts.python, timeout=opts.timeout)))
        return here[0]

    a = read_side(opts.a, probe_here)
    b = read_side(opts.b, probe_here)
    return diff_dict(diff_facts(a.facts, b.facts, tables), a, b, identity=opts.redact)


def render(data: dict[str, object], fmt: str) -> str:
    """The diff document in *fmt* (terminal, json or markdown)."""
    from cudadoctor.diff import render as r

    match fmt.strip().lower():
        case "json":
            return r.render_json(data)  # type: ignore[arg-type]
        case "markdown":
            return r.render_markdown(data)  # type: ignore[arg-type]
        case _:
            return r.render_terminal(data)  # type: ignore[arg-type]


def run(opts: DiffOptions) -> int:
    """Run `diff` end to end and return the exit code (0 same, 1 different; bad input raises: exit 2)."""
    data = build(opts)
    text = render(data, opts.output_format)
    if opts.output is not None:
        opts.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK if data["same"] else EXIT_FINDINGS


def register(app: typer.Typer) -> None:
    """Add `cudadoctor diff` to the CLI."""

    @app.command(name="diff")
    def diff(
        a: Annotated[str, typer.Argument(metavar="A", help="Snapshot, facts file or check --format json report; - or here: this machine.")],
        b: Annotated[str, typer.Argument(metavar="B", help="The other side, in the same forms.")],
        output_format: Annotated[str, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="terminal, json or markdown.")] = "terminal",
        output: Annotated[Optional[Path], typer.Option("--output", "-o", envvar="CUDADOCTOR_OUTPUT", help="Write the diff to this file instead of stdout.")] = None,
        redact: Annotated[bool, typer.Option("--redact", envvar="CUDADOCTOR_REDACT", help="Also hide user names, host names and home paths (secrets are always hidden).")] = False,
        python: Annotated[Optional[str], typer.Option("--python", envvar="CUDADOCTOR_PYTHON", help="For here: the interpreter whose torch to inspect.")] = None,
        rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Judge both sides with the rule tables in this directory.")] = None,
        timeout: Annotated[float, typer.Option("--timeout", envvar="CUDADOCTOR_TIMEOUT", help="For here: the probing deadline, in seconds.")] = 120.0,
    ) -> None:
        """Compare two environments: the differences that matter, and the findings they cause (0 same, 1 different)."""
        raise typer.Exit(run(DiffOptions(a=a, b=b, output_format=output_format, output=output, redact=redact,
                                         python=python, rules_dir=rules_dir, timeout=timeout)))
