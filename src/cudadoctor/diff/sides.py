"""The two sides of a diff: a snapshot, a facts file, a ``check --format json`` report, or this machine.

A side named ``-`` or ``here`` is this machine, probed now (the caller supplies the probing, so
this module stays free of the commands); anything else is a file read with
:func:`cudadoctor.factsfile.load_document`. A report's own findings are not trusted: both sides
are judged again, by this cudadoctor's engine and tables, so a difference in findings is never a
difference in cudadoctor versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cudadoctor.facts import Facts, HostFacts
from cudadoctor.factsfile import load_document

#: Side names that mean "probe this machine".
HERE = ("-", "here")
#: How each kind of side reads in the output.
KIND_WORDS = {"facts": "facts file", "snapshot": "snapshot", "report": "JSON report", "probe": "this machine, probed now"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """One side of a diff: its facts and where they came from."""

    name: str  #: as given on the command line ("a.json", "here")
    kind: str  #: "facts", "snapshot", "report" or "probe"
    facts: Facts

    @property
    def host(self) -> str:
        """The host name the facts were collected on ("" unknown)."""
        return self.facts.host.hostname if isinstance(self.facts.host, HostFacts) else ""


def read_side(name: str, probe: Callable[[], Facts]) -> Side:
    """The side *name*: this machine (``-``/``here``, via *probe*) or a file; FactsFileError when unreadable."""
    if name.strip().lower() in HERE:
        return Side(name="here", kind="probe", facts=probe())
    doc = load_document(Path(name))
    return Side(name=name, kind=doc.kind, facts=doc.facts)
