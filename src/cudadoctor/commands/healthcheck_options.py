"""`healthcheck`'s options, declared once: the typer CLI registers them, the fast path parses them.

The healthcheck must not import typer (with pydantic and rich, ~0.3 s) on its fast path, yet its
options are the CLI's: ``cudadoctor --help``, ``cudadoctor healthcheck --help`` and shell
completion list them. So each option is one field of :class:`HealthcheckOptions`, carrying its
flags, help, default and conversion; its type is the field's, its environment variable
``CUDADOCTOR_<OPTION>``. :func:`parse` reads argv and the environment from these declarations
without typer; :func:`typer_parameters` turns the same declarations into the typer command's
parameters. There is no second list (a test compares both views).

Bad usage raises :class:`UsageError` (the healthcheck exits 1 with one line, never argparse's or
click's 2); ``--help`` raises :class:`HelpRequested` (the help text is typer's).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Options that ask for the help text, wherever they appear.
HELP_FLAGS = ("--help", "-h")
#: What the healthcheck does, for `cudadoctor --help` and `cudadoctor healthcheck --help`.
DESCRIPTION = (
    "Exit 0 if this machine is healthy for GPU work, 1 if not (nothing else, ever); prints one line. "
    "For Docker HEALTHCHECK and Kubernetes liveness/readiness probes."
)
DEFAULT_TIMEOUT = 10.0
#: Environment values that turn a flag on (click's spelling, so both parsers agree).
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})


class UsageError(Exception):
    """Bad command-line input or environment variable: the message says which and why."""


class HelpRequested(Exception):
    """``--help`` was given: print the CLI's help text and exit 0."""


# --------------------------------------------------------------------------------------------
# conversions: the text of a flag's value or its environment variable -> the option's value


def _format(text: str, flag: str) -> str:
    fmt = text.strip().lower()
    # NOTE: CUDADOCTOR_FORMAT is shared with `check`, whose terminal format is one line here.
    if fmt not in ("text", "terminal", "json", "prometheus"):
        raise UsageError(f"{flag} must be text, json or prometheus, got {text!r}")
    return fmt if fmt in ("json", "prometheus") else "text"


def _seconds(text: str, flag: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise UsageError(f"{flag} must be a number of seconds, got {text!r}") from None
    if not (0 < seconds < 86400):
        raise UsageError(f"{flag} must be between 0 and 86400 seconds, got {text!r}")
    return seconds


def _executable(text: str, flag: str) -> str:
    if text and not (os.path.isfile(text) and os.access(text, os.X_OK)):  # "" means: this interpreter
        raise UsageError(f"{flag} {text}: not an executable file")
    return text


def _text(text: str, flag: str) -> str:
    return text


def option(
    *flags: str,
    default: Any,
    help: str,
    metavar: str = "",
    convert: Callable[[str, str], Any] = _text,
    hidden: bool = False,
) -> Any:
    """Declare one option as a dataclass field: its flags (long first), default, help and conversion.

    *convert* turns the text given on the command line or in the environment into the value
    (raising UsageError); a *hidden* option (a test hook) is left out of --help and has no
    environment variable.
    """
    meta = {"flags": flags, "help": help, "metavar": metavar, "convert": convert, "hidden": hidden}
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthcheckOptions:
    """The healthcheck's options, one field each (see :func:`option`), as parsed and validated."""

    format: str = option("--format", "-f", default="text", metavar="FORMAT", convert=_format,
                         help="text (one line), json (one JSON object) or prometheus (node-exporter textfile metrics).")
    output: str | None = option("--output", "-o", default=None, metavar="FILE",
                                help="Write the output to FILE atomically (e.g. DIR/cudadoctor.prom for node-exporter's "
                                "textfile collector) and print the one-line summary on stdout.")
    policy: str | None = option("--policy", default=None, metavar="FILE",
                                help="TOML policy saying what is fatal (default: the shipped policy).")
    timeout: float = option("--timeout", default=DEFAULT_TIMEOUT, metavar="SECONDS", convert=_seconds,
                            help="Deadline for everything, in seconds; on expiry: unhealthy.")
    python: str | None = option("--python", default=None, metavar="PATH", convert=_executable,
                                help="Interpreter whose torch to inspect (default: this one).")
    cache_dir: str | None = option("--cache-dir", default=None, metavar="DIR",
                                   help="Where slow facts are cached (default: $XDG_CACHE_HOME/cudadoctor "
                                   "or ~/.cache/cudadoctor).")
    no_cache: bool = option("--no-cache", default=False, help="Probe everything, read and write no cache.")
    fresh: bool = option("--fresh", default=False,
                         help="Probe torch, the CUDA libraries and the toolkit again (then cache the new answers).")
    rules_dir: str | None = option("--rules-dir", default=None, metavar="DIR",
                                   help="Use the rule tables in this directory.")
    facts: str | None = option("--facts", default=None, metavar="FILE",
                               help="Judge a saved facts file (check --save-facts) instead of probing.")
    debug_modules: bool = option("--debug-modules", default=False, hidden=True,
                                 help="Print the imported module names to stderr as JSON (a test hook).")


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """One declared option, as both parsers read it."""

    name: str  #: the field and parameter name, e.g. "cache_dir"
    flags: tuple[str, ...]  #: "--cache-dir" first, then any short form
    kind: type  #: str, float or bool (a bool option is a flag: it takes no value)
    default: Any
    help: str
    metavar: str
    convert: Callable[[str, str], Any]
    hidden: bool

    @property
    def envvar(self) -> str | None:
        """``CUDADOCTOR_<OPTION>``, or None for a hidden option."""
        return None if self.hidden else "CUDADOCTOR_" + self.name.upper()

    @property
    def is_flag(self) -> bool:
        """Whether the option takes no value."""
        return self.kind is bool


#: What each field's annotation says its values are (the annotations are strings here).
_KINDS = {"str": str, "str | None": str, "float": float, "bool": bool}


def _options() -> tuple[Option, ...]:
    out = []
    for f in dataclasses.fields(HealthcheckOptions):
        meta = f.metadata
        out.append(Option(name=f.name, flags=tuple(meta["flags"]), kind=_KINDS[str(f.type)], default=f.default,
                          help=meta["help"], metavar=meta["metavar"], convert=meta["convert"], hidden=meta["hidden"]))
    return tuple(out)


#: Every option, in declaration (and --help) order.
OPTIONS: tuple[Option, ...] = _options()
_BY_FLAG: dict[str, Option] = {flag: o for o in OPTIONS for flag in o.flags}
#: A value that starts with "-" but is a number, not an option (argparse's rule: --timeout -1).
_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


# --------------------------------------------------------------------------------------------
# the fast path's parser


def values_from(argv: Sequence[str], environ: Mapping[str, str]) -> dict[str, Any]:
    """Each option's value before conversion: text from argv, else from its environment variable, else its default.

    A flag's value is a bool. Raises HelpRequested for --help anywhere, UsageError for anything
    not declared.
    """
    if any(arg in HELP_FLAGS for arg in argv):
        raise HelpRequested
    given: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg.startswith("--"):
            flag, eq, inline = arg.partition("=")
        elif arg.startswith("-") and len(arg) > 2:
            flag, eq, inline = arg[:2], "=", arg[2:]  # -fjson, as argparse reads it
        else:
            flag, eq, inline = arg, "", ""
        spec = _BY_FLAG.get(flag) if flag.startswith("-") else None
        if spec is None:
            raise UsageError(f"unrecognized arguments: {arg}")
        if spec.is_flag:
            if eq:
                raise UsageError(f"argument {'/'.join(spec.flags)}: ignored explicit argument {inline!r}")
            given[spec.name] = True
        elif eq:
            given[spec.name] = inline
        elif i < len(argv) and (not argv[i].startswith("-") or argv[i] == "-" or _NUMBER.match(argv[i])):
            given[spec.name] = argv[i]
            i += 1
        else:
            raise UsageError(f"argument {'/'.join(spec.flags)}: expected one argument")
    values: dict[str, Any] = {}
    for spec in OPTIONS:
        if spec.name in given:
            values[spec.name] = given[spec.name]
            continue
        # NOTE: an empty variable counts as unset (as click reads it).
        env = environ.get(spec.envvar, "") if spec.envvar else ""
        if not env:
            values[spec.name] = spec.default
        elif spec.is_flag:
            values[spec.name] = env.strip().lower() in TRUE_WORDS
        else:
            values[spec.name] = env
    return values


def converted(values: Mapping[str, Any]) -> HealthcheckOptions:
    """Options from each option's value (text, bool or default, as :func:`values_from` or click give them)."""
    out: dict[str, Any] = {}
    for spec in OPTIONS:
        value = values.get(spec.name, spec.default)
        if value is None or spec.is_flag:
            out[spec.name] = bool(value) if spec.is_flag else None
        else:
            out[spec.name] = spec.convert(str(value), spec.flags[0])
    return HealthcheckOptions(**out)


def parse(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> HealthcheckOptions:
    """The healthcheck's options from *argv* and *environ* (default: this process's environment).

    Raises UsageError (exit 1 with the message) or HelpRequested.
    """
    return converted(values_from(argv, os.environ if environ is None else environ))


# --------------------------------------------------------------------------------------------
# the typer view


def typer_parameters() -> list[Any]:
    """The declarations as the typer command's keyword-only parameters (inspect.Parameter).

    Imports typer: only for the typer CLI (``cudadoctor --help``, completion), never the fast path.
    """
    import inspect

    import typer

    params = []
    for spec in OPTIONS:
        annotation: Any = spec.kind if spec.default is not None else (spec.kind | None)
        info = typer.Option(spec.default, *spec.flags, envvar=spec.envvar, help=spec.help,
                            metavar=spec.metavar or None, hidden=spec.hidden, show_default=spec.default is not None)
        params.append(inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation))
    return params
