"""cudadoctor's own failures: each maps to exit code 2 with a one-line message."""

from __future__ import annotations


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
