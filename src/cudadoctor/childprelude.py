"""The prelude of every child script: the child's half of the output protocol, defined once.

The parent runs each child as ``[python, "-c", PRELUDE + CHILD_SOURCE, ...]``
(:func:`cudadoctor.childrecords.child_program`), so prelude and child share one namespace. Children
run in interpreters that may not have cudadoctor (``--python``) and may be as old as Python 3.7:
this file is standard library only, 3.7 syntax, and does no I/O until a function is called. Its
``from __future__`` import is the program's first statement, which is why child sources carry
none. The parent imports this module too, for :func:`marker`, so the marker has one spelling.

Two protocols, one per kind of child:

* **Records** (the torch probe, the benchmark): every result is one line on the original stdout,
  the child's ``MARKER`` followed by a JSON object with a ``"stage"`` key, written with a single
  unbuffered write as soon as it is known, so a crash (SIGSEGV in a CUDA library) or a hang keeps
  everything learned before it. A record-writing child names itself at its top with
  ``MARKER = marker("<name>")`` and calls :func:`claim_stdout` first thing.
  ``cudadoctor.childrecords.parse_records`` reads the records back.
* **One document** (the driver and CUDA-library children): a single JSON document on stdout at
  the end (:func:`write_document`), and :func:`progress` lines on stderr saying what is about to
  be tried, so the parent can name the step a crash happened in (stderr survives a SIGSEGV).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

#: How every record line starts, with the child's name filled in: "@@cudadoctor-torch-child@@ ".
MARKER_FORMAT = "@@cudadoctor-%s-child@@ "

#: This child's record marker. A record-writing child sets ``MARKER = marker("<name>")`` at its top.
MARKER = ""

#: Where records go: the original stdout once :func:`claim_stdout` has moved it.
_record_fd = 1


def marker(child: str) -> str:
    """The record marker of the child named *child* ("torch", "bench")."""
    return MARKER_FORMAT % child


def claim_stdout() -> None:
    """Keep the real stdout for records only; point fd 1 at stderr, where stray prints then go.

    Whatever torch or a CUDA library prints can then never corrupt the records.
    """
    global _record_fd
    try:
        sys.stdout.flush()
        # NOTE: os.dup() makes a non-inheritable descriptor, so processes torch may spawn never
        # hold the record pipe open.
        _record_fd = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        _record_fd = 1


def emit(record: dict[str, Any]) -> None:
    """Write one record line with a single unbuffered write (it survives a crash right after)."""
    data = ("\n" + MARKER + json.dumps(record, default=repr, ensure_ascii=True) + "\n").encode("ascii")
    while data:
        try:
            written = os.write(_record_fd, data)
        except InterruptedError:  # pragma: no cover - retried by Python >= 3.5 anyway
            continue
        except OSError:  # pragma: no cover - the parent went away; nothing left to do
            return
        data = data[written:]


def progress(line: str) -> None:
    """Say on stderr what is about to be tried (the parent names it if the child dies in it)."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def write_document(document: Any, default: Any = None) -> None:
    """Print the child's one JSON document on stdout (*default* as for json.dumps)."""
    sys.stdout.write(json.dumps(document, default=default))
    sys.stdout.flush()
