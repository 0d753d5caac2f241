"""The typer CLI. Thin: parse options -> call commands.* -> exit code; one error boundary."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import typer.core

from cudadoctor._version import __version__
from cudadoctor.findings import Severity
from cudadoctor.errors import CudaDoctorError, one_line
from cudadoctor.render import OutputFormat
from cudadoctor.report import EXIT_INTERRUPTED, EXIT_TOOL_ERROR

class _Group(typer.core.TyperGroup):
    """The top-level command group: typer's, with plain flags shown without a ``<bool>`` type.

    typer's rich help prints every option's type, so ``--verbose <bool>`` looked like an option
    that takes a value. A flag's metavar set to "" prints nothing there; plain click help never
    shows a flag's metavar anyway.
    """

    @staticmethod
    def _tidy(command: Any, ctx: Any) -> None:
        for param in command.get_params(ctx):
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The subcommand, its flags tidied for help."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            self._tidy(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The group's own help (--version, --debug, --install-completion, ...), flags tidied."""
        self._tidy(self, ctx)
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="cudadoctor",
    help="Diagnose PyTorch + CUDA environments: probe, judge against versioned rules, print the fix.",
    no_args_is_help=True,
    # NOTE: typer's --install-completion / --show-completion (bash, zsh, fish, PowerShell).
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=_Group,
)

_debug = False


def _version(value: bool) -> None:
    if value:
        print(f"cudadoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
    debug: Annotated[bool, typer.Option("--debug", envvar="CUDADOCTOR_DEBUG", help="Show tracebacks for tool errors.")] = False,
) -> None:
    """cudadoctor: an environment compatibility doctor for PyTorch on NVIDIA GPUs."""
    global _debug
    _debug = debug


def _use_color() -> bool:
    # NOTE: https://no-color.org — any non-empty NO_COLOR disables colour.
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _warn_foreign_venv(python: str | None) -> None:
    venv = os.environ.get("VIRTUAL_ENV")
    if python or not venv:
        return
    if not os.path.realpath(sys.prefix).startswith(os.path.realpath(venv)):
        print(
            f"note: inspecting torch in {sys.executable}, but VIRTUAL_ENV is {venv}; "
            f"pass --python {venv}/bin/python to inspect that environment",
            file=sys.stderr,
        )


@app.command()
def check(
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="Output format.")] = OutputFormat.TERMINAL,
    fail_on: Annotated[Severity, typer.Option("--fail-on", envvar="CUDADOCTOR_FAIL_ON", help="Lowest severity that makes the exit code 1.")] = Severity.ERROR,
    select: Annotated[Optional[list[str]], typer.Option("--select", envvar="CUDADOCTOR_SELECT", help="Run only these checks (name, code or code prefix; repeat or comma-separate).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", envvar="CUDADOCTOR_IGNORE", help="Skip these checks (name, code or code prefix).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", envvar="CUDADOCTOR_VERBOSE", help="Show all library copies, skipped checks and all facts.")] = False,
    facts_file: Annotated[Optional[Path], typer.Option("--facts", envvar="CUDADOCTOR_FACTS", help="Replay a saved facts file instead of probing.")] = None,
    save_facts: Annotated[Optional[Path], typer.Option("--save-facts", envvar="CUDADOCTOR_SAVE_FACTS", help="Also write the facts to this file (JSON).")] = None,
    python: Annotated[Optional[str], typer.Option("--python", envvar="CUDADOCTOR_PYTHON", help="Interpreter whose torch to inspect (default: this one).")] = None,
    rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Use the rule tables in this directory.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", envvar="CUDADOCTOR_TIMEOUT", help="Overall deadline for probing, in seconds.")] = 120.0,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", envvar="CUDADOCTOR_OUTPUT", help="Write the report to this file instead of stdout.")] = None,
    redact: Annotated[bool, typer.Option("--redact", envvar="CUDADOCTOR_REDACT", help="Also hide user names, host names and home paths (secrets are always hidden).")] = False,
    bench: Annotated[bool, typer.Option("--bench", envvar="CUDADOCTOR_BENCH", help="Also run the smoke benchmark (~10 s per GPU, GPUs in parallel).")] = False,
    quick: Annotated[bool, typer.Option("--quick", envvar="CUDADOCTOR_QUICK", help="With --bench: the ~3 s version.")] = False,
    min_efficiency: Annotated[float, typer.Option("--min-efficiency", envvar="CUDADOCTOR_MIN_EFFICIENCY", help="With --bench: bench-slow below this fraction of the dense GEMM peak.")] = 0.5,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", envvar="CUDADOCTOR_BASELINE", help="Known-good snapshot (or facts file, or JSON report): also report environment-drift, what moved since.")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", envvar="CUDADOCTOR_FRESH", help="Probe torch, the CUDA libraries and the toolkit again instead of re-using cached facts.")] = False,
    kernels: Annotated[bool, typer.Option("--kernels", envvar="CUDADOCTOR_KERNELS", help="Also inspect the torch of every Jupyter kernel that runs another interpreter.")] = False,
) -> None:
    """Diagnose this machine's PyTorch + CUDA setup."""
    from cudadoctor.commands import check as cmd

    _warn_foreign_venv(python)
    color = _use_color()
    opts = cmd.CheckOptions(
        output_format=output_format, fail_on=fail_on, select=tuple(select or ()), ignore=tuple(ignore or ()),
        verbose=verbose, facts_file=facts_file, save_facts=save_facts, python=python, rules_dir=rules_dir,
        timeout=timeout, output=output, color=color, redact=redact,
        bench=bench, bench_quick=quick, min_efficiency=min_efficiency, baseline=baseline, fresh=fresh, kernels=kernels,
        width=shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else None,
        spinner=color and output_format is OutputFormat.TERMINAL and facts_file is None and sys.stderr.isatty(),
    )
    raise typer.Exit(cmd.run(opts))


@app.command()
def explain(
    key: Annotated[Optional[str], typer.Argument(help="Check name (no-nvidia-driver) or code (DRV001).")] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="terminal or json.")] = "terminal",
    list_all: Annotated[bool, typer.Option("--list", help="List every check.")] = False,
) -> None:
    """Explain a check: what it checks, why it matters, how to fix it."""
    from cudadoctor.commands import explain as cmd

    raise typer.Exit(cmd.run(key, as_json=output_format == "json", list_all=list_all))


@app.command()
def rules(
    rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Rule tables directory.")] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="terminal or json.")] = "terminal",
) -> None:
    """List the rule tables in use, with versions, dates and sources."""
    from cudadoctor.commands import rules as cmd

    raise typer.Exit(cmd.run(rules_dir, as_json=output_format == "json"))


def _register_plugins() -> None:
    """Add the commands that live in their own modules (each exposes register(app))."""
    import importlib

    for name in PLUGIN_COMMANDS:
        try:
            module = importlib.import_module(f"cudadoctor.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"cudadoctor.commands.{name}":
                continue  # not written yet
            raise
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


#: Command modules that register their own typer command (keep their heavy imports lazy).
PLUGIN_COMMANDS: tuple[str, ...] = ("triage", "bench", "healthcheck", "gate", "snapshot", "diff", "fleet", "recommend", "lint")

_register_plugins()


@contextlib.contextmanager
def error_handler() -> Iterator[None]:
    """Turn cudadoctor's own failures and bad usage into one line on stderr and exit code 2;
    a closed stdout into a quiet 141; a signal into 128 + its number, with no child left."""
    from cudadoctor import output, shutdown

    try:
        yield
    except output.OutputClosed:
        # NOTE: `cudadoctor check | head`: the reader has what it wanted. Unix tools die of
        # SIGPIPE here, silently; the shell reports 141.
        shutdown.end(output.EXIT_PIPE_CLOSED)
    except CudaDoctorError as e:
        hint = f" (hint: {e.hint})" if e.hint else ""
        output.err(f"cudadoctor: error: {one_line(str(e))}{hint}\n")
        if _debug:
            raise
        sys.exit(EXIT_TOOL_ERROR)
    except (shutdown.Stopped, KeyboardInterrupt, typer.Abort) as e:
        code = shutdown.exit_code_for(e)
        shutdown.end(code, "cudadoctor: interrupted" if code == EXIT_INTERRUPTED else "cudadoctor: terminated")
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except OSError as e:
        # NOTE: an OSError that reaches the boundary is the machine refusing a file the user named
        # (-o on a full disk or in a missing directory, --save-facts into a directory): one line.
        if _debug:
            raise
        where = f"{e.filename}: " if e.filename else ""
        output.err(f"cudadoctor: error: {one_line(where + (e.strerror or str(e)))}\n")
        sys.exit(EXIT_TOOL_ERROR)
    except Exception as e:
        # NOTE: click (vendored inside newer typer) signals bad usage with exceptions that carry
        # format_message(); by default it prints a multi-line usage box, the contract is one line.
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            output.err(f"cudadoctor: error: {one_line(e.format_message())}\n")
            sys.exit(EXIT_TOOL_ERROR)
        raise
    finally:
        output.finish()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    with error_handler():
        if not args:
            args = ["--help"]
        code = app(args=args, standalone_mode=False, prog_name="cudadoctor")
        sys.exit(code if isinstance(code, int) else 0)
