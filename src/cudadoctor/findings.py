"""What judging produces, at the bottom of the import graph: Severity, Finding, Status, Outcome.

Checks build these, the Report counts them and renderers show them; none of those layers needs
to import another to share them (renderers never import checks/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How bad a finding is. Values are the CLI spellings."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: error 3, warning 2, info 1."""
        return {"error": 3, "warning": 2, "info": 1}[self.value]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One problem found, with the evidence it rests on and the fix."""

    code: str
    name: str
    severity: Severity
    title: str  #: the check's one-line summary
    message: str  #: what was found on *this* machine, with the actual values
    evidence: dict[str, str]  #: the facts used, by dotted name -> value as text
    fix: str  #: an exact command or action
    url: str
    #: where the finding came from: "probe" (live facts) or "facts-file" (replayed)
    source: str = "probe"
    #: the name of the finding in the same report this one is a consequence of (the check's
    #: ``follows_from``); renderers list it under that root. None for a root or a lone finding.
    caused_by: str | None = None


class Status(str, Enum):
    """What happened to one check in one run."""

    FOUND = "found"  #: it produced findings
    PASSED = "passed"
    SKIPPED = "skipped"
    ERROR = "error"  #: the check itself raised: a bug in cudadoctor


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The result of running one check."""

    code: str
    name: str
    status: Status
    findings: tuple[Finding, ...] = ()
    reason: str = ""  #: why it was skipped, or the error text
    extra: dict[str, Any] = field(default_factory=dict)
