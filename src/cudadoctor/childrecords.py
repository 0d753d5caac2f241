"""The parent's half of the child protocol: the program a child runs, and the records it leaves.

Every child script runs as ``python -c`` of :func:`child_program`: the shared prelude
(childprelude.py, the child's half of the protocol) followed by the child's own source.
Record-writing children (the torch probe, the benchmark) write one JSON object per line after
their marker, so whatever else torch or CUDA prints on stdout cannot corrupt the result, and a
child that dies mid-way still leaves every stage it finished; :func:`parse_records` reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cudadoctor.childprelude import marker

__all__ = ["ChildRecords", "child_program", "marker", "parse_records", "prelude_source", "stderr_tail"]


@cache
def prelude_source() -> str:
    """The text of the prelude every child program starts with."""
    # NOTE: read next to this module, not through importlib.resources: the healthcheck starts the
    # driver children before its other imports, and importing importlib.resources costs more than
    # this read (the package is always installed as files).
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "childprelude.py")
    with open(path, encoding="utf-8") as f:
        return f.read()


def child_program(source: str) -> str:
    """What a child runs (``python -c``): the prelude, then the child script's own *source*."""
    return prelude_source() + "\n" + source


@dataclass(frozen=True, slots=True)
class ChildRecords:
    """The records a child run left, by stage, plus where it stopped."""

    stages: dict[str, dict[str, Any]]  #: last record of each completed stage
    last_begun: str  #: the stage announced last ("" when none)
    done: bool  #: the child reached its end
    bad_lines: int  #: marker lines whose JSON did not parse
    measurements: list[dict[str, Any]] = field(default_factory=list)  #: "measurement" records, in order


def parse_records(stdout: str | Iterable[str], marker: str) -> ChildRecords:
    """Pick the *marker* lines out of *stdout*; anything else on it is ignored."""
    lines = stdout.splitlines() if isinstance(stdout, str) else list(stdout)
    stages: dict[str, dict[str, Any]] = {}
    measurements: list[dict[str, Any]] = []
    last_begun = ""
    done = False
    bad = 0
    for line in lines:
        start = line.find(marker)
        if start < 0:
            continue
        try:
            record = json.loads(line[start + len(marker):])
        except ValueError:
            bad += 1
            continue
        if not isinstance(record, dict) or not isinstance(record.get("stage"), str):
            bad += 1
            continue
        name = record["stage"]
        if name == "begin":
            last_begun = str(record.get("name", ""))
        elif name == "done":
            done = True
        elif name == "measurement" and isinstance(record.get("value"), dict):
            measurements.append(record["value"])
        else:
            stages[name] = record
    return ChildRecords(stages=stages, last_begun=last_begun, done=done, bad_lines=bad, measurements=measurements)


#: Characters of a child's stderr kept in reports.
STDERR_TAIL_CHARS = 3000


def stderr_tail(stderr: str, limit: int = STDERR_TAIL_CHARS) -> str:
    """The end of a child's stderr, trimmed to whole lines where possible."""
    text = stderr.strip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1:] if 0 <= newline < 200 else cut
