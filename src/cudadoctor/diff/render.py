"""A diff as JSON data (the contract), and as terminal text or Markdown rendered from that data.

:func:`diff_dict` builds the JSON document once, with secrets masked (and, with *identity*, user
and host names); the text renderers read only that document, so every format shows the same.
"""

from __future__ import annotations

import json
from typing import Any

from cudadoctor._version import __version__
from cudadoctor.diff.aspects import GROUP_TITLE
from cudadoctor.diff.compare import FactsDiff
from cudadoctor.diff.sides import KIND_WORDS, Side
from cudadoctor.redact import MASK, Redactor, redactor_for, secret_name

#: Marks a diff document.
DIFF_KIND = "cudadoctor-diff"
#: Bumped when a field is renamed or removed; adding fields is free.
DIFF_SCHEMA_VERSION = 1
#: Characters of a value shown in the terminal and in Markdown (JSON has it whole).
VALUE_CHARS = 90
MARK = {"error": "✖", "warning": "⚠", "info": "ℹ"}
SIDE_WORDS = {"a": "only in A", "b": "only in B", "both": "in both, differently"}
NOISE_WORDS = "temperatures, memory in use, power, clocks, PIDs, timestamps, host names, probe timings"


def _side(side: Side, diff: FactsDiff, which: str) -> dict[str, Any]:
    report = diff.report_a if which == "a" else diff.report_b
    return {
        "source": side.name, "kind": side.kind, "host": side.host, "collected_at": side.facts.collected_at,
        "cudadoctor": side.facts.cudadoctor_version, "verdict": report.verdict, "summary": report.summary(),
    }


def diff_dict(diff: FactsDiff, a: Side, b: Side, *, identity: bool = False) -> dict[str, Any]:
    """The diff as JSON data: sides, changes grouped by consequence, finding differences, ignored noise."""
    groups = []
    for group, changes in diff.groups():
        groups.append({
            "group": group, "title": GROUP_TITLE.get(group, group),
            "changes": [
                {"path": c.path, "label": c.label, "a": c.a, "b": c.b, "note": c.note,
                 "findings": [d.name for d in diff.causes(c.path)]}
                for c in changes
            ],
        })
    data = {
        "kind": DIFF_KIND, "schema_version": DIFF_SCHEMA_VERSION, "cudadoctor": __version__,
        "same": diff.same,
        "a": _side(a, diff, "a"), "b": _side(b, diff, "b"),
        "counts": {"changes": len(diff.changes), "findings": len(diff.differing),
                   "findings_live": len(diff.findings) - len(diff.differing), "noise_ignored": len(diff.noise)},
        "groups": groups,
        "findings": [
            {"side": d.side, "code": d.code, "name": d.name, "severity": d.severity, "title": d.title,
             "a": list(d.messages_a), "b": list(d.messages_b), "rests_on": list(d.rests_on), "by": d.by,
             "live": d.live}
            for d in diff.findings
        ],
        "noise": [{"path": c.path, "a": c.a, "b": c.b} for c in diff.noise],
    }
    return _redacted(data, _redactor(a, b, identity))


def _redactor(a: Side, b: Side, identity: bool) -> Redactor:
    ra, rb = redactor_for(a.facts, identity=identity), redactor_for(b.facts, identity=identity)
    return Redactor(identity=identity, users=[*ra.users, *rb.users], hosts=[*ra.hosts, *rb.hosts])


def _redacted(value: Any, r: Redactor) -> Any:
    if isinstance(value, str):
        return r.text(value)
    if isinstance(value, list):
        return [_redacted(v, r) for v in value]
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and path.startswith("env.variables[") and secret_name(path[14:-1]):
            # NOTE: a facts file from elsewhere may hold a credential-named variable; never show its value.
            value = {**value, "a": MASK if value.get("a") != "(absent)" else value["a"],
                     "b": MASK if value.get("b") != "(absent)" else value["b"]}
        return {k: _redacted(v, r) for k, v in value.items()}
    return value


def render_json(data: dict[str, Any]) -> str:
    """The diff document as indented JSON text."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _clip(text: str, limit: int = VALUE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _headline(data: dict[str, Any]) -> str:
    counts = data["counts"]
    if data["same"]:
        return "SAME in everything that matters."
    n, f = counts["changes"], counts["findings"]
    areas = len(data["groups"])
    parts = [f"{n} difference{'' if n == 1 else 's'} that matter" + (f", in {areas} area{'' if areas == 1 else 's'}" if n else "")]
    parts.append(f"{f} finding{'' if f == 1 else 's'} differ{'s' if f == 1 else ''}" if f else "no finding differs")
    return "DIFFERENT: " + "; ".join(parts) + "."


def _side_line(side: dict[str, Any]) -> str:
    where = ", ".join(x for x in (side["host"], f"collected {side['collected_at']}") if x)
    return f"{side['source']} ({KIND_WORDS.get(side['kind'], side['kind'])}; {where}): {side['verdict']}"


def _labels(data: dict[str, Any]) -> dict[str, str]:
    return {c["path"]: c["label"] for g in data["groups"] for c in g["changes"]} | {
        c["path"]: c["path"] + " (live state)" for c in data["noise"]}


def render_terminal(data: dict[str, Any]) -> str:
    """The diff as plain terminal text: sides, changes by area, finding differences, the noise count."""
    out = ["cudadoctor diff", f"  A: {_side_line(data['a'])}", f"  B: {_side_line(data['b'])}", "", _headline(data)]
    for g in data["groups"]:
        out += ["", g["title"]]
        width = min(34, max(len(c["label"]) for c in g["changes"]))
        for c in g["changes"]:
            line = f"  {_clip(c['label'], 34):<{width}}  {_clip(c['a'], 60)}  →  {_clip(c['b'], 60)}"
            if c["note"]:
                line += f"   ({c['note']})"
            out.append(line)
            for name in c["findings"]:
                d = next(x for x in data["findings"] if x["name"] == name)
                out.append(f"      causes {name} ({d['severity']}, {SIDE_WORDS[d['side']]})")
    if data["findings"]:
        labels = _labels(data)
        out += ["", "Findings that differ"]
        for d in data["findings"]:
            live = " (live state only: not counted as a difference)" if d["live"] else ""
            out.append(f"  {MARK.get(d['severity'], '-')} {d['code']} {d['name']} ({d['severity']}): {SIDE_WORDS[d['side']]}{live}")
            for side in ("a", "b"):
                for message in d[side]:
                    out.append(f"      {side.upper()}: {_clip(message, 160)}")
            if d["rests_on"]:
                out.append("      rests on: " + ", ".join(labels.get(p, p) for p in d["rests_on"]))
            else:
                out.append("      rests on: no difference in the facts it reads (the rule tables judge the same facts differently)")
    if data["counts"]["noise_ignored"]:
        n = data["counts"]["noise_ignored"]
        out += ["", f"{n} difference{'' if n == 1 else 's'} in live state ignored ({NOISE_WORDS}); --format json lists them."]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(data: dict[str, Any]) -> str:
    """The diff as GitHub-flavoured Markdown (for an issue or a pull request)."""
    out = [f"## cudadoctor diff: {'same' if data['same'] else 'different'}", "",
           f"- **A:** {_md(_side_line(data['a']))}", f"- **B:** {_md(_side_line(data['b']))}", "", _headline(data), ""]
    for g in data["groups"]:
        out += [f"### {g['title']}", "", "| fact | A | B | note |", "|---|---|---|---|"]
        for c in g["changes"]:
            note = c["note"]
            if c["findings"]:
                note = "; ".join(x for x in (note, "causes " + ", ".join(f"`{n}`" for n in c["findings"])) if x)
            out.append(f"| {_md(c['label'])} | {_md(_clip(c['a'], 200))} | {_md(_clip(c['b'], 200))} | {_md(note)} |")
        out.append("")
    if data["findings"]:
        labels = _labels(data)
        out += ["### Findings that differ", ""]
        for d in data["findings"]:
            live = " (live state only: not counted)" if d["live"] else ""
            out.append(f"- {MARK.get(d['severity'], '')} **{d['code']}** `{d['name']}` ({d['severity']}), {SIDE_WORDS[d['side']]}{live}")
            for side in ("a", "b"):
                for message in d[side]:
                    out.append(f"  - {side.upper()}: {_md(message)}")
            rests = ", ".join(labels.get(p, p) for p in d["rests_on"]) or "no difference in the facts it reads"
            out.append(f"  - rests on: {_md(rests)}")
        out.append("")
    if data["counts"]["noise_ignored"]:
        out.append(f"<sub>{data['counts']['noise_ignored']} differences in live state ignored ({NOISE_WORDS}).</sub>")
    return "\n".join(out).rstrip("\n") + "\n"
