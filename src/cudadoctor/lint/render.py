"""Render a LintReport: plain text (file:line, finding, fix) or JSON (pure)."""

from __future__ import annotations

import json
from typing import Any

from cudadoctor.facts import nv_version
from cudadoctor.lint.engine import LintReport


def to_dict(report: LintReport) -> dict[str, Any]:
    """The report as JSON data: each finding as in `check --format json`, plus its file and line."""
    return {
        "schema_version": 1,
        "files": list(report.files),
        "driver": nv_version(report.driver) if report.driver else None,
        "driver_source": report.driver_source,
        "findings": [
            {"file": f.where.path, "line": f.where.line, "code": f.finding.code, "name": f.finding.name,
             "severity": f.finding.severity.value, "title": f.finding.title, "message": f.finding.message,
             "evidence": f.finding.evidence, "fix": f.finding.fix, "url": f.finding.url}
            for f in report.findings
        ],
    }


def render_json(report: LintReport) -> str:
    """The report as one JSON document."""
    return json.dumps(to_dict(report), indent=2) + "\n"


def render_text(report: LintReport) -> str:
    """The report as text, one block per finding."""
    driver = (f"target driver {nv_version(report.driver)} ({report.driver_source})" if report.driver
              else "no target driver (pass --driver): driver checks skipped")
    lines = [f"cudadoctor lint — {', '.join(report.files)}; {driver}", ""]
    for f in report.findings:
        x = f.finding
        lines.append(f"{f.where}: {x.severity.value} {x.code} {x.name}")
        lines.append(f"    {x.message}")
        fix = x.fix.replace("\n", "\n        ")
        lines.append(f"    fix: {fix}")
        lines.append("")
    counts = {s: sum(1 for f in report.findings if f.finding.severity.value == s) for s in ("error", "warning", "info")}
    total = len(report.findings)
    lines.append("No problems found." if not total else
                 f"{total} finding{'s' if total != 1 else ''}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines) + "\n"
