"""`cudadoctor lint Dockerfile [compose.yaml ...] [requirements.txt ...]`: judge the files before building.

Needs the optional extra ``cudadoctor[lint]`` (dockerfile-parse, PyYAML); without it the command
says so in one line and exits 2. The target driver is ``--driver`` or this host's (NVML); exit
codes are those of `check` (0, 1 at or above ``--fail-on``, 2 bad input).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cudadoctor.errors import UsageError
from cudadoctor.findings import Severity

#: The import names of the extra's packages and the distribution that provides each.
EXTRA_MODULES = (("dockerfile_parse", "dockerfile-parse"), ("yaml", "PyYAML"))


def require_extra() -> None:
    """Raise a one-line UsageError when the lint extra is not installed."""
    import importlib

    missing = []
    for module, dist in EXTRA_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(dist)
    if missing:
        raise UsageError(f"cudadoctor lint needs {' and '.join(missing)}",
                         hint="pip install 'cudadoctor[lint]'")


def run(files: list[Path], *, driver: str | None = None, fail_on: Severity = Severity.ERROR, as_json: bool = False,
        rules_dir: Path | None = None, output: Path | None = None) -> int:
    """Lint *files* and print the report; return the exit code."""
    require_extra()
    from cudadoctor.commands.recommend import host_driver_and_gpus, parse_driver
    from cudadoctor.lint.engine import lint
    from cudadoctor.lint.render import render_json, render_text
    from cudadoctor.tables import load_tables

    tables = load_tables(rules_dir)
    if driver is not None:
        target, source = parse_driver(driver), "--driver"
    else:
        target, _ = host_driver_and_gpus()
        source = "this host"
    report = lint(files, tables, driver=target, driver_source=source)
    text = render_json(report) if as_json else render_text(report)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return report.exit_code(fail_on)


def register(app: typer.Typer) -> None:
    """Add `cudadoctor lint` to the CLI."""

    @app.command(name="lint")
    def lint_cmd(
        files: Annotated[list[Path], typer.Argument(help="Dockerfile, compose (.yml/.yaml) and requirements (.txt) files.")],
        driver: Annotated[Optional[str], typer.Option("--driver", envvar="CUDADOCTOR_DRIVER", help="Target driver version, e.g. 535.183.01 (default: this host's).")] = None,
        fail_on: Annotated[Severity, typer.Option("--fail-on", envvar="CUDADOCTOR_FAIL_ON", help="Lowest severity that makes the exit code 1.")] = Severity.ERROR,
        output_format: Annotated[str, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="terminal or json.")] = "terminal",
        rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Use the rule tables in this directory.")] = None,
        output: Annotated[Optional[Path], typer.Option("--output", "-o", envvar="CUDADOCTOR_OUTPUT", help="Write the report to this file instead of stdout.")] = None,
    ) -> None:
        """Lint a Dockerfile, compose files and requirements files for PyTorch-on-GPU pitfalls."""
        if output_format not in ("terminal", "json"):
            raise UsageError(f"--format {output_format!r}: expected terminal or json")
        raise typer.Exit(run(list(files), driver=driver, fail_on=fail_on, as_json=output_format == "json",
                             rules_dir=rules_dir, output=output))
