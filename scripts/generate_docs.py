"""Write docs/checks/<CODE>.md and docs/checks/index.md from the check classes.

Run `python scripts/generate_docs.py` after changing a check; tests/test_docs.py fails when the
committed pages differ from what this script would write.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cudadoctor.checks import ALL_CHECKS
from cudadoctor.commands.explain import explain_text

DOCS = Path(__file__).resolve().parents[1] / "docs" / "checks"


def pages() -> dict[str, str]:
    """File name -> content for every generated page."""
    # NOTE: the event checks (TRG0xx, reported by `triage` only) get pages too: explain shows them.
    out = {f"{c.code}.md": explain_text(c) for c in ALL_CHECKS}
    rows = "\n".join(f"| [{c.code}]({c.code}.md) | `{c.name}` | {c.severity.value} | {c.title()} |" for c in ALL_CHECKS)
    out["index.md"] = (
        "# Checks\n\nGenerated from the check classes by `scripts/generate_docs.py`; do not edit by hand.\n\n"
        "| code | name | severity | summary |\n|---|---|---|---|\n" + rows + "\n"
    )
    return out


def main() -> int:
    """Write the pages; remove pages of checks that no longer exist."""
    DOCS.mkdir(parents=True, exist_ok=True)
    wanted = pages()
    for stale in DOCS.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        (DOCS / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} pages to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
