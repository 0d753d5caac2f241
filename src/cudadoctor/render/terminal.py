"""The terminal report (rich): area summaries, the diagnosis, and the verdict."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, TYPE_CHECKING

from rich.console import Console, Group
from rich.padding import Padding
from rich.rule import Rule
from rich.text import Text

from cudadoctor._version import __version__
from cudadoctor.bench.render import bench_renderable
from cudadoctor.facts_bench import BenchFacts
from cudadoctor.findings import Finding, Severity
from cudadoctor.facts import LibraryCopy, Unavailable, known
from cudadoctor.factsfile import encode_facts
from cudadoctor.render.layout import FixBlock, Hanging
from cudadoctor.render.summary import AREA_CODES, summarize
from cudadoctor.tables import directory_is_default

if TYPE_CHECKING:
    from cudadoctor.report import Report

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold cyan"}
MARK = {Severity.ERROR: "✖", Severity.WARNING: "⚠", Severity.INFO: "ℹ"}
VERDICT_STYLE = {"not-ready": "bold white on red", "degraded": "bold black on yellow", "ready": "bold white on green",
                 "unexplained": "bold black on yellow"}


def renderable(report: Report, *, verbose: bool = False) -> Group:
    """The report as a rich renderable (used by render() and by Jupyter display)."""
    parts: list[Any] = [Hanging(_header(report), 0, 2), Text("")]
    parts += _areas(report)
    if isinstance(report.facts.bench, BenchFacts):
        parts += [Text(""), bench_renderable(report.facts.bench)]
    parts.append(Text(""))
    parts.append(Rule("Diagnosis", style="dim", align="left"))
    if report.findings:
        same = report.same_fix_as()
        for root, below in report.grouped():
            parts += _finding(root, same.get(id(root)))
            for f in below:
                parts += [_indent(p, 4) for p in _finding(f, same.get(id(f)), consequence=True)]
    else:
        parts.append(Text("  No problems found.", style="green"))
    if report.errors:
        parts.append(Text(""))
        for o in report.errors:
            parts.append(Hanging(Text(f"internal error: {o.reason}", style="bold magenta"), 2, 4))
    if verbose:
        parts += _verbose(report)
    elif report.skipped:
        n = len(report.skipped)
        parts.append(Text(""))
        parts.append(Hanging(Text(f"{n} check{'' if n == 1 else 's'} skipped for missing facts (-v lists them).",
                                  style="dim"), 2, 4))
    parts.append(Hanging(_rules_line(report), 2, 4))
    if report.facts.cached:
        parts.append(Hanging(_cached_line(report.facts.cached), 2, 4))
    parts.append(Text(""))
    parts.append(Hanging(_verdict(report), 0, 1))
    return Group(*parts)


def _rules_line(report: Report) -> Text:
    """Which rule tables judged this report, and how current they are."""
    dates = sorted({m.updated for m in report.tables.meta.values()})
    where = "shipped" if directory_is_default(Path(report.tables.directory)) else report.tables.directory
    when = dates[-1] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}" if dates else "unknown"
    return Text(f"Rule tables: {where}, updated {when} (`cudadoctor rules` lists them).", style="dim")


def _cached_line(ages: dict[str, float]) -> Text:
    """Which slow facts were re-used from the cache (probes/cached.py), and how old they are."""
    shown = ", ".join(f"{area} {_age(age)} old" for area, age in sorted(ages.items()))
    return Text(f"From cache: {shown} (`--fresh` probes them again).", style="dim")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h" if seconds < 172800 else f"{seconds / 86400:.0f} days"


def render(report: Report, *, width: int | None = None, verbose: bool = False, color: bool = False) -> str:
    """Render *report* as terminal text (colour only when *color*)."""
    buf = io.StringIO()
    console = Console(
        file=buf, width=width or 100, force_terminal=color, no_color=not color,
        color_system="auto" if color else None, highlight=False, soft_wrap=False,
    )
    console.print(renderable(report, verbose=verbose))
    text = buf.getvalue()
    # NOTE: rich pads wrapped lines to the measured width; trailing blanks only hurt logs and diffs.
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def render_html(report: Report) -> str:
    """The report as HTML (Jupyter's _repr_html_)."""
    console = Console(record=True, file=io.StringIO(), width=110, force_terminal=True)
    console.print(renderable(report))
    return console.export_html(inline_styles=True)


def _indent(renderable: Any, n: int) -> Padding:
    # NOTE: expand=False keeps rich from padding every line to the full width with spaces.
    return Padding(renderable, (0, 0, 0, n), expand=False)


def _header(report: Report) -> Text:
    host = report.facts.host
    name = host.hostname if known(host) else "this machine"  # type: ignore[union-attr]
    if report.facts_source == "triage":
        # NOTE: triage judges text someone pasted, which may come from another machine.
        name = "the pasted text"
    src = {
        "probe": "probed",
        "facts-file": "replayed from a facts file",
        "triage": "read",
    }.get(report.facts_source, report.facts_source)
    t = Text()
    t.append(f"cudadoctor {__version__}", style="bold")
    t.append(f" — {name} ({src} {report.facts.collected_at})", style="dim")
    return t


def _area_severity(report: Report, area: str) -> Severity | None:
    prefixes = AREA_CODES.get(area, ())
    worst = [f.severity for f in report.findings if f.code.startswith(prefixes)]
    return max(worst, key=lambda s: s.rank) if worst else None


def _areas(report: Report) -> list[Any]:
    out: list[Any] = []
    triage = report.facts_source == "triage"
    for s in summarize(report.facts):
        if triage and isinstance(report.facts.area(s.area), Unavailable):
            continue  # show only what the pasted text holds, not a block of "could not be probed"
        sev = _area_severity(report, s.area)
        if sev:
            mark, style = MARK[sev], STYLE[sev]
        elif isinstance(report.facts.area(s.area), Unavailable):
            mark, style = "?", "bold magenta"
        else:
            mark, style = "✔", "bold green"
        line = Text()
        line.append(f"{mark} ", style=style)
        line.append(f"{s.title}: ", style="bold")
        line.append(s.lines[0])
        out.append(Hanging(line, 0, 4))
        for extra in s.lines[1:]:
            out.append(_indent(Text(extra), 4))
    if triage and not out:
        out.append(Text("The pasted text holds no machine facts (no collect_env, nvidia-smi or pip output); "
                        "the diagnosis below comes from its error lines.", style="dim"))
    return out


def _finding(f: Finding, same_fix_as: str | None = None, *, consequence: bool = False) -> list[Any]:
    head = Text()
    head.append(f"{MARK[f.severity]} {f.severity.value.upper()} ", style=STYLE[f.severity])
    head.append(f"{f.code} {f.name}", style="bold")
    if f.source not in ("probe", "facts-file"):
        # NOTE: triage mixes findings from the text, the facts parsed from it and a live probe.
        head.append(f" [{f.source}]", style="dim")
    head.append(f" — {f.title}")
    # NOTE: wrapped lines keep their indent (Hanging) and fix commands stay copyable (FixBlock),
    # whether or not stdout is a terminal.
    body: list[Any] = [Text("")]
    if consequence:
        # NOTE: a consequence is listed under its root cause: fixing the root usually clears it.
        body.append(Text(f"↳ consequence of {f.caused_by}:", style="dim"))
    body += [Hanging(head, 0, 4), _indent(Text(f.message), 4)]
    if f.evidence:
        body.append(_indent(Text("Evidence:", style="dim bold"), 4))
        for k, v in f.evidence.items():
            body.append(Hanging(Text.assemble((f"{k}: ", "dim"), v), 6, 8))
    if same_fix_as:
        body.append(_indent(Text.assemble(("Fix: ", "bold green"), f"same fix as {same_fix_as} (above)."), 4))
    else:
        body.append(FixBlock(f.fix, 4))
    body.append(_indent(Text(f"See: cudadoctor explain {f.code}", style="dim"), 4))
    return body


def _verdict(report: Report) -> Text:
    # NOTE: the verdict is said once, in words, on its coloured badge; the counts follow it.
    t = Text()
    t.append(f" {report.verdict_heading()} ", style=VERDICT_STYLE[report.verdict])
    t.append(f"— {report.counts_summary()}")
    return t


def _verbose(report: Report) -> list[Any]:
    out: list[Any] = [Text(""), Rule("Details", style="dim", align="left")]
    libs = report.facts.cuda_libs
    if known(libs):
        out.append(Text("CUDA library copies:", style="bold"))
        copies: tuple[LibraryCopy, ...] = libs.copies  # type: ignore[union-attr]
        for c in copies:
            ver = c.version if known(c.version) else "version unknown"
            out.append(_indent(Text(f"{c.library} {ver} [{c.origin}, {c.version_source}] {c.path}"), 2))
        for r in libs.resolved:  # type: ignore[union-attr]
            where = r.path if known(r.path) else f"not loadable: {r.path.reason}"  # type: ignore[union-attr]
            out.append(_indent(Text(f"loader resolves {r.soname} -> {where}"), 2))
    if report.skipped:
        out.append(Text("Skipped checks:", style="bold"))
        for o in report.skipped:
            out.append(_indent(Text(f"{o.code} {o.name}: {o.reason}"), 2))
    out.append(Text("Probe times: " + ", ".join(f"{k} {v:.2f}s" for k, v in report.facts.probe_seconds.items()), style="dim"))
    out.append(Text("Rule tables: " + ", ".join(f"{m.name} ({m.updated})" for m in report.tables.meta.values()), style="dim"))
    out.append(Text("All facts:", style="bold"))
    out += _facts_tree(encode_facts(report.facts), 2)
    return out


def _facts_tree(data: Any, indent: int) -> list[Any]:
    out: list[Any] = []
    if isinstance(data, dict):
        if data.get("unavailable") is True:
            return [_indent(Text(f"unknown: {data.get('reason')}", style="dim"), indent)]
        for k, v in data.items():
            if isinstance(v, (dict, list)) and v and not (isinstance(v, dict) and v.get("unavailable") is True):
                out.append(_indent(Text(f"{k}:", style="bold" if indent <= 2 else ""), indent))
                out += _facts_tree(v, indent + 2)
            else:
                out.append(_indent(Text(f"{k}: {_scalar(v)}"), indent))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            if isinstance(v, (dict, list)):
                out.append(_indent(Text(f"[{i}]"), indent))
                out += _facts_tree(v, indent + 2)
            else:
                out.append(_indent(Text(f"- {_scalar(v)}"), indent))
    return out


def _scalar(v: Any) -> str:
    if isinstance(v, dict) and v.get("unavailable") is True:
        return f"unknown ({v.get('reason')})"
    if v == [] or v == {}:
        return "(none)"
    text = str(v)
    return text if len(text) < 400 else text[:400] + " …"
