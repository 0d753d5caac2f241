"""`cudadoctor explain NAME|CODE`: a check's documentation, from its class."""

from __future__ import annotations

import json

from cudadoctor.checks import ALL_CHECKS, lookup
from cudadoctor.checks.base import Check
from cudadoctor.errors import UsageError


def check_info(cls: type[Check]) -> dict[str, object]:
    """A check's metadata and explanation as data."""
    return {
        "code": cls.code, "name": cls.name, "severity": cls.severity.value, "title": cls.title(),
        "requires": sorted(cls.requires), "tables": list(cls.tables), "since": cls.since,
        "status": cls.status, "fast": cls.fast, "url": cls.url(), "explanation": cls.explanation(),
    }


def explain_text(cls: type[Check]) -> str:
    """The Markdown page shown by `explain` (also the docs page body)."""
    head = f"# {cls.code} {cls.name}\n\n{cls.title()}\n\n"
    meta = (
        f"- Severity: {cls.severity.value}\n- Needs facts: {', '.join(sorted(cls.requires)) or 'none'}\n"
        f"- Rule tables: {', '.join(cls.tables) or 'none'}\n- Since: {cls.since} ({cls.status})\n\n"
    )
    return head + meta + cls.explanation() + "\n"


def run(key: str | None, *, as_json: bool, list_all: bool) -> int:
    """Print one check's explanation, or the list of all checks."""
    if list_all or not key:
        if as_json:
            print(json.dumps([check_info(c) for c in ALL_CHECKS], indent=2))
        else:
            # NOTE: the event checks (TRG0xx) come last: only `triage` reports them
            for c in ALL_CHECKS:
                print(f"{c.code}  {c.name:<34} {c.severity.value:<8} {c.title()}")
        return 0
    cls = lookup(key)
    if cls is None:
        # NOTE: `cudadoctor lint`'s file-only rules (LNT...) are explained the same way.
        from cudadoctor.lint.rules import RULES

        cls = next((r for r in RULES if r.name == key.lower() or r.code == key.upper()), None)
    if cls is None:
        raise UsageError(f"no check named {key!r}", hint="`cudadoctor explain --list` shows every name and code")
    print(json.dumps(check_info(cls), indent=2) if as_json else explain_text(cls), end="" if not as_json else "\n")
    return 0
