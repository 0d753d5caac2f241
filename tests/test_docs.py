"""Check documentation: every docstring has its sections, and docs/checks/ is up to date."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from cudadoctor.checks import CHECKS

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("## What it checks", "## Why it matters", "## Example", "## Fix", "## References")
CATALOG = ROOT.parent / "shared" / "CATALOG.md"


@pytest.mark.parametrize("check", CHECKS, ids=[c.code for c in CHECKS])
def test_docstring_has_every_section(check) -> None:
    doc = inspect.getdoc(check) or ""
    for section in SECTIONS:
        assert section in doc, f"{check.code} docstring lacks {section}"
    assert "http" in doc.split("## References", 1)[1], f"{check.code} References has no URL"
    assert check.title() and not check.title().startswith("#")


def _generator():
    spec = importlib.util.spec_from_file_location("generate_docs", ROOT / "scripts" / "generate_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_docs_are_current() -> None:
    pages = _generator().pages()
    docs = ROOT / "docs" / "checks"
    stale = [n for n, text in pages.items() if not (docs / n).exists() or (docs / n).read_text() != text]
    extra = [p.name for p in docs.glob("*.md") if p.name not in pages]
    assert not stale and not extra, (
        f"docs/checks is stale ({stale or extra}); run: python scripts/generate_docs.py"
    )


@pytest.mark.skipif(not CATALOG.exists(), reason="../shared/CATALOG.md is not beside this checkout")
def test_every_catalog_name_in_the_sections_this_project_covers_has_a_check() -> None:
    import re

    text = CATALOG.read_text()
    names = set(re.findall(r"^\| `([a-z0-9-]+)`", text, re.M))
    bench = {"bench-wrong-result", "bench-timeout", "bench-slow", "memory-bandwidth-low", "host-device-bandwidth-low"}
    from cudadoctor.lint.rules import RULES as LINT_RULES  # `cudadoctor lint`'s file-only rules

    missing = names - bench - {c.name for c in CHECKS} - {r.name for r in LINT_RULES}
    assert not missing, f"catalog names without a check: {sorted(missing)}"
