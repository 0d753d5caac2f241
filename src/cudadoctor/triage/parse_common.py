"""Shared helpers for the pasted-text parsers: input normalisation, lenient versions, Unavailable."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from cudadoctor.facts import Unavailable

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables

#: The probe name every fact parsed from text carries.
PROBE = "triage"
#: The reason of every value the pasted text does not give.
NOT_IN_TEXT = "not in the pasted text"

#: Longest line kept (longer lines are cut): every regex then runs on bounded input.
MAX_LINE = 2000
#: Most characters parsed; a longer paste keeps its head and tail (reports are small, logs are huge).
MAX_CHARS = 4 * 1024 * 1024

# NOTE: colour codes from terminals (nvidia-smi, pip) survive copy-paste into files.
_ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[A-Za-z]")
_VERSION_HEAD = re.compile(r"\d{1,9}(?:\.\d{1,9}){0,5}")
#: Values collect_env and friends print for "unknown".
UNKNOWN_WORDS = frozenset({"", "n/a", "na", "none", "could not collect", "no cuda", "unknown", "not available", "-"})


def missing(detail: str = "") -> Unavailable:
    """The Unavailable of a value the pasted text does not give (detail: what the text said instead)."""
    return Unavailable(probe=PROBE, reason=NOT_IN_TEXT, detail=detail[:500])


def normalise(text: str) -> tuple[list[str], bool]:
    """Split *text* into cleaned lines; also say whether it had to be cut to MAX_CHARS.

    Cleans what copy-paste adds: CR line ends, ANSI colour codes, NULs and Markdown quote markers
    ("> " from a quoted issue comment). Code fences and HTML tags stay: no detector matches them.
    """
    cut = len(text) > MAX_CHARS
    if cut:
        half = MAX_CHARS // 2
        text = text[:half] + "\n" + text[-half:]
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    lines = []
    for line in text.split("\n"):
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE]
        stripped = line.lstrip()
        if stripped.startswith("> ") or stripped == ">":
            # A quoted reply ("> PyTorch version: ...") still carries the quoted report.
            line = stripped[2:]
        lines.append(line.rstrip())
    return lines, cut


def is_unknown(value: str) -> bool:
    """Whether a printed value means "unknown" ("Could not collect", "N/A", "None", "No CUDA")."""
    return value.strip().lower() in UNKNOWN_WORDS


def lenient_version(text: str) -> Version | None:
    """*text* as a Version, else its leading X.Y.Z ("6.2.41133-dd7f95766" -> 6.2.41133), else None."""
    text = text.strip()
    if not text or len(text) > 200:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        pass
    m = _VERSION_HEAD.match(text.lstrip("vV"))
    if not m:
        return None
    try:
        return Version(m.group(0))
    except InvalidVersion:  # pragma: no cover - the pattern is always a valid release
        return None


def first_version(text: str) -> Version | None:
    """The first X.Y[.Z] anywhere in *text* (e.g. "release 12.1, V12.1.105" -> 12.1)."""
    m = re.search(r"(?<![\w.])(\d{1,9}(?:\.\d{1,9}){1,5})(?![\w.])", text[:MAX_LINE])
    return lenient_version(m.group(1)) if m else None


def major_minor(v: Version) -> Version:
    """X.Y of a version (12.1.105 -> 12.1)."""
    rel = v.release + (0,)
    return Version(f"{rel[0]}.{rel[1]}")


def int_or_none(text: str) -> int | None:
    """A decimal integer, or None."""
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


@cache
def _default_tables() -> RuleTables | None:
    from cudadoctor.errors import CudaDoctorError
    from cudadoctor.tables import load_tables

    try:
        return load_tables()
    except (CudaDoctorError, OSError):  # pragma: no cover - the shipped tables always load
        return None


def gpu_capability(name: str, tables: RuleTables | None) -> Version | Unavailable:
    """Compute capability of a GPU model name from rules/gpus.toml (Unavailable if the model is unknown)."""
    tables = tables or _default_tables()
    clean = name.strip().rstrip(".").strip()  # nvidia-smi cuts long names: "Tesla V100-SXM2..."
    model = tables.gpus.lookup(clean) if tables is not None and clean else None
    if model is None:
        return Unavailable(
            probe=PROBE,
            reason=f"the GPU model {name!r} is not in rules/gpus.toml and the pasted text gives no compute capability",
        )
    return model.cc
