"""cudadoctor's own failures: each maps to exit code 2 with a one-line message."""

from __future__ import annotations

import re
from typing import Any


class CudaDoctorError(Exception):
    """A failure of the tool itself (bad input, bad rules), not a finding about the machine."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(CudaDoctorError):
    """Bad command-line input, e.g. an unknown --select name."""


class FactsFileError(CudaDoctorError):
    """A --facts file that cannot be read or does not validate."""


class RuleTableError(CudaDoctorError):
    """A rules/*.toml file that does not validate."""


# --------------------------------------------------------------------------------------------
# building one-line messages from outside input

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(message: str) -> str:
    """*message* with line breaks and other control characters escaped (a key or value from a
    file may hold any, and an error must stay one line)."""
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], message)


def shown(value: Any, limit: int = 200) -> str:
    """*value* as an error message shows it: its repr, cut to *limit* characters."""
    try:
        text = repr(value)
    except ValueError:  # NOTE: an integer longer than 4300 digits has no repr
        text = f"<an integer of about {value.bit_length() * 3 // 10} digits>" if isinstance(value, int) else "<?>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
