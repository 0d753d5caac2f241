"""The Markdown report (``--format markdown``): compact, for pasting into a GitHub issue, secrets redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING
import json
import re

from cudadoctor._version import __version__
from cudadoctor.findings import Finding, Severity
from cudadoctor.factsfile import encode_facts
from cudadoctor.redact import Redactor, redact_facts, redactor_for
from cudadoctor.render.summary import summarize

if TYPE_CHECKING:
    from cudadoctor.report import Report

VERDICT_MARK = {"not-ready": "❌", "degraded": "⚠️", "ready": "✅", "unexplained": "❓"}
SEVERITY_MARK = {Severity.ERROR: "❌ error", Severity.WARNING: "⚠️ warning", Severity.INFO: "ℹ️ info"}
SOURCE_WORDS = {"probe": "live probe", "facts-file": "replayed facts file"}


def render(report: Report, *, redact_identity: bool = False) -> str:
    """Render *report* as GitHub-flavoured Markdown.

    Secrets are always redacted; with *redact_identity* also user names, host names and home paths.
    """
    r = redactor_for(report.facts, identity=redact_identity)
    out: list[str] = []
    # NOTE: the heading says the verdict in words (not the JSON constant "NOT-READY"); the counts follow.
    out.append(f"## {VERDICT_MARK[report.verdict]} cudadoctor: {report.verdict_heading()}")
    out.append("")
    out.append(r.text(report.counts_summary()) + ".")
    out.append("")
    if report.findings:
        ordered = report.ordered_findings()
        same = report.same_fix_as()
        roots = {id(root) for root, _below in report.grouped()}
        out.append("| Severity | Code | Name | Title |")
        out.append("|---|---|---|---|")
        for f in ordered:
            # NOTE: a consequence sits under its root cause, marked with the root it follows from.
            name = f"`{f.name}`" if id(f) in roots else f"↳ `{f.name}` (consequence of `{f.caused_by}`)"
            out.append(
                f"| {SEVERITY_MARK[f.severity]} | [{f.code}]({f.url}) | {name} | {_cell(r.text(f.title))} |"
            )
        out.append("")
        for f in ordered:
            out += _finding(f, r, same.get(id(f)), consequence=id(f) not in roots)
    else:
        out.append("No problems found.")
        out.append("")
    if report.errors:
        out.append("**Internal errors** (bugs in cudadoctor, please report):")
        out.append("")
        out += [f"- `{o.code}` {o.name}: {_inline(r.text(o.reason))}" for o in report.errors]
        out.append("")
    out += _facts(report, r, redact_identity)
    return "\n".join(out).rstrip("\n") + "\n"


def _finding(f: Finding, r: Redactor, same_fix_as: str | None = None, *, consequence: bool = False) -> list[str]:
    level = "####" if consequence else "###"
    out = [f"{level} {SEVERITY_MARK[f.severity]}: {f.code} `{f.name}`", ""]
    if consequence:
        out += [f"*Consequence of `{f.caused_by}` (above): fixing that usually clears this.*", ""]
    head, _, rest = r.text(f.message).partition("\n")
    out.append(head)
    out.append("")
    if rest.strip():
        # NOTE: a multi-line message carries program output (an import traceback): keep its lines.
        fence = _fence(rest)
        out += [fence, rest.rstrip(), fence, ""]
    if f.evidence:
        out.append("<sub>Evidence" + (f" ({SOURCE_WORDS.get(f.source, f.source)})" if f.source else "") + ":</sub>")
        out.append("")
        out += [f"- `{k}`: {_inline(r.text(v))}" for k, v in f.evidence.items()]
        out.append("")
    out.append(f"**Fix:** same fix as `{same_fix_as}` (above)." if same_fix_as else f"**Fix:** {r.text(f.fix)}")
    out.append("")
    return out


def _facts(report: Report, r: Redactor, identity: bool) -> list[str]:
    facts = redact_facts(report.facts, identity=identity, redactor=r)
    out = ["<details><summary>Facts</summary>", ""]
    for s in summarize(facts):
        out.append(f"- **{s.title}:** " + _inline("; ".join(s.lines)))
    if report.skipped:
        n = len(report.skipped)
        out.append(f"- **Skipped:** {n} check{'' if n == 1 else 's'} "
                   + _inline(", ".join(f"{o.code}" for o in report.skipped)))
    source = SOURCE_WORDS.get(report.facts_source, report.facts_source)
    out.append(f"- **cudadoctor:** {__version__}, facts from {source} at {report.facts.collected_at}")
    out.append("")
    body = json.dumps(encode_facts(facts), indent=2, ensure_ascii=False)
    # NOTE: "<\/" is the same JSON string as "</", and no text inside can close the <details> element.
    body = r.text(body).replace("</", "<\\/")
    fence = _fence(body)
    out += [f"{fence}json", body, fence, "", "</details>"]
    return out


def _fence(body: str) -> str:
    """A backtick fence longer than any backtick run inside *body* (so the block cannot be closed early)."""
    longest = max((len(m.group(0)) for m in re.finditer(r"`{3,}", body)), default=0)
    return "`" * max(3, longest + 1)


def _inline(text: str) -> str:
    """One line of Markdown-safe text: newlines folded, HTML tags neutralised."""
    text = " ".join(text.split())
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    """Text safe inside a table cell."""
    return _inline(text).replace("|", "\\|")
