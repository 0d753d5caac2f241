"""The `triage -v` table of facts read from the text: value, pasted line, stated or inferred, and how."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cudadoctor.triage.parse import ParsedText

#: Longest pasted-line excerpt shown per row.
EXCERPT = 60


def _order(path: str) -> tuple[int, str]:
    """Areas in the order a reader checks them: torch, driver, GPUs, toolkit, env, the rest."""
    for rank, prefix in enumerate(("torch.", "dist.", "driver.", "gpus.", "toolkit.", "install.", "conda.", "env.")):
        if path.startswith(prefix):
            return rank, path
    return 99, path


def facts_table(parsed: ParsedText, *, width: int | None = None) -> str:
    """The extracted-facts table as plain text ("" when the text gave no fact)."""
    rows = []
    for path in sorted(parsed.provenance, key=_order):
        p = parsed.provenance[path]
        value = parsed.values.get(path, "")
        kind = "stated" if p.stated else "inferred"
        excerpt = " ".join(p.text.split())
        if len(excerpt) > EXCERPT:
            excerpt = excerpt[: EXCERPT - 1] + "…"
        rows.append((path, value[:60], f"line {p.line}", kind, p.how if not p.stated else "", excerpt))
    if not rows:
        return ""
    heads = ("fact", "value", "from", "", "how", "pasted line")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads[:4])]
    out = ["Facts read from the text:"]
    for r in rows:
        left = "  ".join(c.ljust(w) for c, w in zip(r[:4], widths))
        tail = (f"({r[4]}) " if r[4] else "") + (f"“{r[5]}”" if r[5] else "")
        line = f"  {left}  {tail}".rstrip()
        if width and len(line) > width:
            line = line[: max(20, width - 1)] + "…"
        out.append(line)
    return "\n".join(out) + "\n"


__all__ = ["facts_table"]
