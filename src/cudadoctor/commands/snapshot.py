"""`cudadoctor snapshot -o env.json`: this machine's facts and the report judging them, in one file.

A snapshot is the ``--save-facts`` document with a ``report`` section added (the check's JSON
report, less its copy of the facts): ``check --facts`` replays it anywhere, ``diff`` compares it,
``check --baseline`` measures drift from it, ``fleet`` counts it. ``--redact`` hides user names,
host names and home paths; secrets are always masked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cudadoctor.report import EXIT_OK


def run(*, output: Path | None = None, redact: bool = False, facts_file: Path | None = None, python: str | None = None,
        rules_dir: Path | None = None, timeout: float = 120.0, bench: bool = False, quick: bool = False) -> int:
    """Probe (or replay *facts_file*), judge, and write the snapshot to *output* (stdout when None); exit 0."""
    from cudadoctor.commands.check import CheckOptions, build_report
    from cudadoctor.factsfile import facts_to_dict, save_facts
    from cudadoctor.redact import redact_facts, redact_report
    from cudadoctor.render.json_report import report_dict

    if bench and facts_file is not None:
        from cudadoctor.errors import UsageError

        raise UsageError("--bench measures this machine; it cannot be combined with --facts")
    report = build_report(CheckOptions(facts_file=facts_file, python=python, rules_dir=rules_dir, timeout=timeout,
                                       bench=bench, bench_quick=quick))
    section = report_dict(redact_report(report, identity=redact))
    if output is not None:
        save_facts(report.facts, output, identity=redact, report=section)
        print(f"cudadoctor snapshot: wrote {output} ({report.summary()})", file=sys.stderr)
    else:
        data = facts_to_dict(redact_facts(report.facts, identity=redact), report=section)
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `cudadoctor snapshot` to the CLI."""

    @app.command(name="snapshot")
    def snapshot(
        output: Annotated[Optional[Path], typer.Option("--output", "-o", envvar="CUDADOCTOR_OUTPUT", help="Write the snapshot here (atomically); default: stdout.")] = None,
        redact: Annotated[bool, typer.Option("--redact", envvar="CUDADOCTOR_REDACT", help="Also hide user names, host names and home paths (secrets are always hidden).")] = False,
        facts_file: Annotated[Optional[Path], typer.Option("--facts", envvar="CUDADOCTOR_FACTS", help="Snapshot a saved facts file instead of probing (adds the report).")] = None,
        python: Annotated[Optional[str], typer.Option("--python", envvar="CUDADOCTOR_PYTHON", help="Interpreter whose torch to inspect (default: this one).")] = None,
        rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Use the rule tables in this directory.")] = None,
        timeout: Annotated[float, typer.Option("--timeout", envvar="CUDADOCTOR_TIMEOUT", help="Overall deadline for probing, in seconds.")] = 120.0,
        bench: Annotated[bool, typer.Option("--bench", envvar="CUDADOCTOR_BENCH", help="Also run the smoke benchmark and keep its results.")] = False,
        quick: Annotated[bool, typer.Option("--quick", envvar="CUDADOCTOR_QUICK", help="With --bench: the ~3 s version.")] = False,
    ) -> None:
        """Save this machine's facts and the report judging them (a known-good baseline, a bug report)."""
        raise typer.Exit(run(output=output, redact=redact, facts_file=facts_file, python=python, rules_dir=rules_dir,
                             timeout=timeout, bench=bench, quick=quick))
