"""The fleet summary as JSON data (the contract), terminal text or Markdown."""

from __future__ import annotations

import json
from typing import Any

from cudadoctor._version import __version__
from cudadoctor.fleet.nodes import VERDICTS
from cudadoctor.fleet.summary import FleetSummary

FLEET_KIND = "cudadoctor-fleet"
#: Bumped when a field is renamed or removed; adding fields is free.
FLEET_SCHEMA_VERSION = 1
#: Node names listed per line before "(+N more)" (all with --verbose).
NAMES_SHOWN = 8
MARK = {"error": "✖", "warning": "⚠", "info": "ℹ"}


def fleet_dict(s: FleetSummary) -> dict[str, Any]:
    """The summary as JSON data."""
    return {
        "kind": FLEET_KIND, "schema_version": FLEET_SCHEMA_VERSION, "cudadoctor": __version__,
        "healthy": s.healthy,
        "counts": {"nodes": len(s.nodes), "files_skipped": len(s.bad), **{v: len(s.by_verdict[v]) for v in VERDICTS}},
        "verdicts": {v: list(s.by_verdict[v]) for v in VERDICTS},
        "findings": [{"name": f.name, "severity": f.severity, "count": len(f.nodes), "nodes": list(f.nodes)} for f in s.findings],
        "odd_ones_out": [{"node": o.node, "what": o.what, "value": o.value, "majority": o.majority, "detail": o.detail} for o in s.odd],
        "majority": dict(s.majority),
        "slow_fraction": s.slow_fraction,
        "nodes": [
            {"name": n.name, "source": n.source, "kind": n.kind, "verdict": n.verdict, "driver": n.driver, "torch": n.torch,
             "gpus": list(n.gpus), "findings": [name for name, _ in n.findings],
             "bench": [{"model": m, "workload": w, "unit": u, "value": v} for m, w, u, v in n.bench]}
            for n in s.nodes
        ],
        "skipped": [{"path": b.path, "reason": b.reason} for b in s.bad],
    }


def render_json(s: FleetSummary) -> str:
    """The summary as indented JSON text."""
    return json.dumps(fleet_dict(s), indent=2, ensure_ascii=False) + "\n"


def _names(names: tuple[str, ...] | list[str], verbose: bool) -> str:
    if verbose or len(names) <= NAMES_SHOWN:
        return ", ".join(names)
    return ", ".join(names[:NAMES_SHOWN]) + f", … (+{len(names) - NAMES_SHOWN} more)"


def _odd_text(o: Any) -> str:
    if o.what == "bench":
        return f"bench {o.value}: {o.detail}; {o.majority}"
    return f"{o.what} {o.value} (most common: {o.majority})"


def _headline(s: FleetSummary) -> str:
    files = f" ({len(s.bad)} file{'' if len(s.bad) == 1 else 's'} skipped)" if s.bad else ""
    state = "all nodes ready, none odd" if s.healthy else (
        f"{len(s.by_verdict['not-ready'])} not ready, {len({o.node for o in s.odd})} odd one{'' if len({o.node for o in s.odd}) == 1 else 's'} out")
    return f"cudadoctor fleet: {len(s.nodes)} node{'' if len(s.nodes) == 1 else 's'}{files}: {state}"


def render_terminal(s: FleetSummary, *, verbose: bool = False) -> str:
    """The summary as plain terminal text (node lists shortened unless *verbose*)."""
    out = [_headline(s), "", "Nodes by verdict"]
    for v in VERDICTS:
        names = s.by_verdict[v]
        out.append(f"  {v:<10} {len(names):>6}" + (f"   {_names(names, verbose)}" if names and v != "ready" else ""))
    if s.findings:
        width = max(len(f.name) for f in s.findings)
        out += ["", "Findings by how many nodes have them", f"  {'nodes':>6}  {'severity':<8}  name"]
        for f in s.findings:
            out.append(f"  {len(f.nodes):>6}  {f.severity:<8}  {f.name:<{width}}   {_names(f.nodes, verbose)}")
    majority = ", ".join(f"{k} {v}" for k, v in s.majority.items() if v)
    if s.odd:
        out += ["", "Odd ones out" + (f" (most common: {majority})" if majority else "")]
        width = max(len(o.node) for o in s.odd)
        out += [f"  {o.node:<{width}}  {_odd_text(o)}" for o in s.odd]
    elif s.nodes:
        out += ["", "No odd ones out" + (f" (every node: {majority})" if majority else "") + "."]
    if verbose and s.nodes:
        out += ["", "Nodes", f"  {'node':<24} {'verdict':<10} {'driver':<12} {'torch':<18} findings"]
        for n in s.nodes:
            out.append(f"  {n.name:<24} {n.verdict:<10} {n.driver or '?':<12} {n.torch or '?':<18} "
                       + (", ".join(name for name, _ in n.findings) or "-"))
    if s.bad:
        out += ["", "Skipped files (not node reports)"]
        out += [f"  {b.path}: {b.reason}" for b in s.bad]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(s: FleetSummary, *, verbose: bool = False) -> str:
    """The summary as GitHub-flavoured Markdown."""
    out = [f"## {_md(_headline(s))}", "", "| verdict | nodes | which |", "|---|---:|---|"]
    for v in VERDICTS:
        names = s.by_verdict[v]
        out.append(f"| {v} | {len(names)} | {_md(_names(names, verbose)) if v != 'ready' else ''} |")
    if s.findings:
        out += ["", "| nodes | severity | finding | which |", "|---:|---|---|---|"]
        out += [f"| {len(f.nodes)} | {MARK.get(f.severity, '')} {f.severity} | `{f.name}` | {_md(_names(f.nodes, verbose))} |"
                for f in s.findings]
    if s.odd:
        out += ["", "**Odd ones out**", ""] + [f"- `{_md(o.node)}`: {_md(_odd_text(o))}" for o in s.odd]
    if s.bad:
        out += ["", "**Skipped files**", ""] + [f"- `{_md(b.path)}`: {_md(b.reason)}" for b in s.bad]
    return "\n".join(out) + "\n"
