"""`cudadoctor triage`: read pasted text (bounded), diagnose it, optionally probe this machine, render."""

from __future__ import annotations

import codecs
import os
import re
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Optional

import typer

from cudadoctor.findings import Severity
from cudadoctor.errors import CudaDoctorError, UsageError
from cudadoctor.render import OutputFormat

if TYPE_CHECKING:
    from cudadoctor.report import Report

MIB = 1 << 20
#: The most input triaged; a longer input keeps its first and last halves (errors sit at the end,
#: collect_env and the command line at the start).
MAX_BYTES = 8 * MIB
_CHUNK = 1 * MIB
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageOptions:
    """Everything `triage` takes; the CLI fills it from flags and CUDADOCTOR_* variables."""

    source: str | None = None  #: a path, or "-" for stdin
    text: str | None = None  #: --text
    output_format: OutputFormat = OutputFormat.TERMINAL
    fail_on: Severity = Severity.ERROR
    select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    probe: bool = False
    python: str | None = None
    rules_dir: Path | None = None
    timeout: float = 120.0
    output: Path | None = None
    verbose: bool = False
    color: bool = False
    width: int | None = None
    redact: bool = False  #: also hide user names, host names and home paths
    max_bytes: int = MAX_BYTES
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# bounded input


def read_input(opts: TriageOptions, stdin: IO[bytes] | None = None) -> tuple[str, list[str]]:
    """The text to triage and notes about how it was read; CudaDoctorError for unusable input."""
    if opts.text is not None and opts.source is not None:
        raise UsageError("give either FILE (or - for stdin) or --text, not both")
    notes: list[str] = []
    if opts.text is not None:
        data = opts.text.encode("utf-8", errors="surrogatepass")
        if len(data) > opts.max_bytes:
            half = opts.max_bytes // 2
            notes.append(f"--text is {len(data)} bytes; triaged the first and last {_size(half)}")
            data = data[:half] + b"\n" + data[-half:]
        label = "--text"
    elif opts.source is None:
        raise UsageError("nothing to triage", hint="give a FILE, - for stdin, or --text '...'")
    elif opts.source == "-":
        data, total = _read_stream(stdin if stdin is not None else sys.stdin.buffer, opts.max_bytes)
        label = "stdin"
        if total > opts.max_bytes:
            notes.append(f"stdin is {_size(total)}; triaged the first and last {_size(opts.max_bytes // 2)}")
    else:
        data, total = _read_file(Path(opts.source), opts.max_bytes)
        label = opts.source
        if total > opts.max_bytes:
            notes.append(f"{opts.source} is {_size(total)}; triaged the first and last {_size(opts.max_bytes // 2)}")
    return decode_text(data, label), notes


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n} bytes"


def _read_file(path: Path, limit: int) -> tuple[bytes, int]:
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise CudaDoctorError(f"cannot read {path}: it is a directory")
        with path.open("rb") as f:
            if stat.S_ISREG(st.st_mode):
                if st.st_size <= limit:
                    return f.read(limit + 1), st.st_size
                half = limit // 2
                head = f.read(half)
                f.seek(st.st_size - half)
                return head + b"\n" + f.read(half), st.st_size
            return _read_stream(f, limit)  # a FIFO or a character device: no size, no seeking
    except CudaDoctorError:
        raise
    except OSError as e:
        raise CudaDoctorError(f"cannot read {path}: {e.strerror or e}") from None


def _read_stream(stream: IO[bytes], limit: int) -> tuple[bytes, int]:
    """Read a stream keeping at most the first and last limit/2 bytes (memory stays bounded)."""
    half = limit // 2
    head = bytearray()
    tail = bytearray()
    total = 0
    try:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if len(head) < half:
                take = half - len(head)
                head += chunk[:take]
                chunk = chunk[take:]
            if chunk:
                tail += chunk
                if len(tail) > half:
                    del tail[: len(tail) - half]
    except OSError as e:
        raise CudaDoctorError(f"cannot read stdin: {e.strerror or e}") from None
    if total <= limit:
        return bytes(head + tail), total
    return bytes(head) + b"\n" + bytes(tail), total


def decode_text(data: bytes, label: str = "input") -> str:
    """Bytes -> text for triage: UTF-8 (or UTF-16 with a BOM), ANSI colours stripped, \\r\\n normalised.

    Binary data (NUL bytes, mostly undecodable bytes or control characters) is an error: exit 2.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # NOTE: PowerShell's `>` writes UTF-16 with a BOM; decode it instead of calling it binary.
        text = data.decode("utf-16", errors="replace")
    else:
        if b"\x00" in data:
            raise CudaDoctorError(f"{label} is binary data (it contains NUL bytes), not text to triage")
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if not text.strip():
        raise CudaDoctorError(f"{label} is empty: nothing to triage")
    bad = text.count("\ufffd")
    if bad > max(16, len(text) // 100):
        raise CudaDoctorError(f"{label} is not UTF-8 text ({bad} undecodable bytes): binary data cannot be triaged")
    text = _ANSI.sub("", text)
    if len(_CONTROL.findall(text)) > max(16, len(text) // 100):
        raise CudaDoctorError(f"{label} is binary data (control characters), not text to triage")
    # NOTE: progress bars (tqdm) redraw with a bare \r: it is kept, so the normaliser
    # (triage/normalise.py) makes each redraw a line of its own that is never rejoined.
    return text.replace("\r\n", "\n")


# --------------------------------------------------------------------------------------------
# the run


def build_report(opts: TriageOptions, stdin: IO[bytes] | None = None) -> Report:
    """Read the input, load the tables, optionally probe, and triage."""
    return _build(opts, stdin)[0]


def _build(opts: TriageOptions, stdin: IO[bytes] | None = None) -> tuple[Report, str]:
    """build_report, also returning the text as read (for the `-v` facts table)."""
    from cudadoctor.tables import load_tables
    from cudadoctor.triage.engine import _split_selectors, triage

    if opts.timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {opts.timeout:g}")
    # NOTE: bad selectors and unreadable input fail before any probing.
    _split_selectors(opts.select)
    _split_selectors(opts.ignore)
    text, notes = read_input(opts, stdin)
    tables = load_tables(opts.rules_dir)
    live = None
    if opts.probe:
        from cudadoctor.commands.check import CheckOptions, probe

        live = probe(CheckOptions(python=opts.python, timeout=opts.timeout))
    notes = [*opts.notes, *notes]
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    return triage(text, tables, select=opts.select, ignore=opts.ignore, live=live, notes=notes), text


def run(opts: TriageOptions, stdin: IO[bytes] | None = None) -> int:
    """Run `triage` end to end and return the exit code."""
    from cudadoctor.render import render

    report, pasted = _build(opts, stdin)
    text = render(report, opts.output_format, width=opts.width, verbose=opts.verbose,
                  color=opts.color and opts.output is None, redact_identity=opts.redact)
    if opts.verbose and opts.output_format in (OutputFormat.TERMINAL, OutputFormat.MARKDOWN):
        text += "\n" + extracted_facts(pasted, opts)
    if opts.output is not None:
        opts.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return report.exit_code(opts.fail_on)


def extracted_facts(text: str, opts: TriageOptions) -> str:
    """The `-v` table of facts read from *text*, each with its pasted line (redacted like the report)."""
    from cudadoctor.redact import redact_text
    from cudadoctor.tables import load_tables
    from cudadoctor.triage.facts_table import facts_table
    from cudadoctor.triage.parse import parse_text

    # NOTE: the text is parsed a second time: only with -v, and parsing is a small part of triage.
    table = facts_table(parse_text(text, tables=load_tables(opts.rules_dir)), width=opts.width)
    return redact_text(table, identity=opts.redact) if table else "Facts read from the text: none\n"


def register(app: typer.Typer) -> None:
    """Add `cudadoctor triage` to the CLI."""
    import shutil

    @app.command()
    def triage(
        source: Annotated[Optional[str], typer.Argument(metavar="FILE", help="File with the error text / collect_env report, or - for stdin.")] = None,
        text: Annotated[Optional[str], typer.Option("--text", "-t", help="The text itself, instead of FILE.")] = None,
        output_format: Annotated[OutputFormat, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="Output format.")] = OutputFormat.TERMINAL,
        probe: Annotated[bool, typer.Option("--probe", envvar="CUDADOCTOR_PROBE", help="Also probe this machine and confirm or refute each hypothesis.")] = False,
        fail_on: Annotated[Severity, typer.Option("--fail-on", envvar="CUDADOCTOR_FAIL_ON", help="Lowest severity that makes the exit code 1.")] = Severity.ERROR,
        select: Annotated[Optional[list[str]], typer.Option("--select", envvar="CUDADOCTOR_SELECT", help="Report only these names/codes (repeat or comma-separate).")] = None,
        ignore: Annotated[Optional[list[str]], typer.Option("--ignore", envvar="CUDADOCTOR_IGNORE", help="Leave out these names/codes.")] = None,
        python: Annotated[Optional[str], typer.Option("--python", envvar="CUDADOCTOR_PYTHON", help="Interpreter whose torch --probe inspects.")] = None,
        rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Use the rule tables in this directory.")] = None,
        timeout: Annotated[float, typer.Option("--timeout", envvar="CUDADOCTOR_TIMEOUT", help="Deadline for --probe, in seconds.")] = 120.0,
        output: Annotated[Optional[Path], typer.Option("--output", "-o", envvar="CUDADOCTOR_OUTPUT", help="Write the report to this file.")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", envvar="CUDADOCTOR_VERBOSE", help="Show skipped checks and all facts, and the facts read from the text with the line each came from.")] = False,
        redact: Annotated[bool, typer.Option("--redact", envvar="CUDADOCTOR_REDACT", help="Also hide user names, host names and home paths (secrets are always hidden).")] = False,
    ) -> None:
        """Diagnose a pasted error, collect_env report, nvidia-smi / pip list / ldd output.

        The verdict is not-ready / degraded as for `check`; ready only for text that holds no
        error; unexplained for an error no check explains (the report lists what the text gave
        and what to paste). Exit codes: 0 no finding at or above --fail-on (unexplained too),
        1 there is one, 2 bad arguments or unreadable input, 130 interrupted. See docs/triage.md.
        """
        from cudadoctor import cli

        color = cli._use_color()
        opts = TriageOptions(
            source=source, text=text, output_format=output_format, fail_on=fail_on,
            select=tuple(select or ()), ignore=tuple(ignore or ()), probe=probe, python=python,
            rules_dir=rules_dir, timeout=timeout, output=output, verbose=verbose, color=color, redact=redact,
            width=shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else None,
        )
        if python and not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise UsageError(f"--python {python}: not an executable file")
        raise typer.Exit(run(opts))
