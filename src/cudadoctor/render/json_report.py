"""The versioned JSON report (``--format json``): a contract other tools parse."""

from __future__ import annotations

import json
from typing import Any, TYPE_CHECKING

from cudadoctor._version import __version__
from cudadoctor.facts_bench import BenchFacts
from cudadoctor.facts_ranks import RanksFacts, ranks_to_json
from cudadoctor.findings import Finding, Severity
from cudadoctor.factsfile import encode, encode_facts

if TYPE_CHECKING:
    from cudadoctor.report import Report

#: Bumped when a field is renamed or removed; adding fields is free.
REPORT_SCHEMA_VERSION = 1


def finding_dict(f: Finding, same_fix_as: str | None = None) -> dict[str, Any]:
    """One finding as JSON data (``caused_by``: the root it follows from; ``same_fix_as``: the earlier
    finding whose fix is identical, so a reader applies it once)."""
    out: dict[str, Any] = {
        "code": f.code, "name": f.name, "severity": f.severity.value, "title": f.title,
        "message": f.message, "evidence": dict(f.evidence), "fix": f.fix, "url": f.url, "source": f.source,
        "caused_by": f.caused_by,
    }
    if same_fix_as:
        out["same_fix_as"] = same_fix_as
    return out


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as JSON data."""
    same = report.same_fix_as()
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "cudadoctor": __version__,
        "verdict": report.verdict,
        "summary": report.summary(),
        "counts": {s.value: report.count(s) for s in Severity},
        "tables": {
            name: {"schema": m.schema, "updated": m.updated, "path": m.path}
            for name, m in report.tables.meta.items()
        },
        "rules_dir": report.tables.directory,
        "facts_source": report.facts_source,
        # NOTE: root causes first, each followed by its consequences (the order every format shows)
        "findings": [finding_dict(f, same.get(id(f))) for f in report.ordered_findings()],
        "skipped": [{"code": o.code, "name": o.name, "reason": o.reason} for o in report.skipped],
        "errors": [{"code": o.code, "name": o.name, "reason": o.reason} for o in report.errors],
        "passed": [o.code for o in report.outcomes if o.status.value == "passed"],
        **command_objects(report),
        "facts": encode_facts(report.facts),
    }


def command_objects(report: Report) -> dict[str, Any]:
    """The objects only some commands add: ``bench`` (the benchmark ran), ``gate`` (the gate's
    decision), ``distributed`` (what gate --distributed gathered), ``triage`` (triage's summary)."""
    out: dict[str, Any] = {}
    if isinstance(report.facts.bench, BenchFacts):
        out["bench"] = encode(report.facts.bench)
    if report.gate is not None:
        out["gate"] = encode(report.gate)
    if isinstance(report.facts.ranks, RanksFacts):
        out["distributed"] = ranks_to_json(report.facts.ranks)
    if report.triage is not None:
        out["triage"] = encode(report.triage)
    return out


def render(report: Report) -> str:
    """Serialise *report* as indented JSON text."""
    return json.dumps(report_dict(report), indent=2) + "\n"
