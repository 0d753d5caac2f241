"""Every bench check against its cases file (BEN*.toml): fires / quiet / skipped, as the generic runner does."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from cudadoctor.checks.base import Status
from cudadoctor.checks.bench import CHECKS
from tests.bench.cases import bench_outcome, case_files
from tests.conftest import env_facts


def _load() -> list[tuple[str, str, int, dict[str, Any]]]:
    out = []
    for path in case_files():
        data = tomllib.loads(path.read_text())
        for kind in ("fires", "quiet", "skipped"):
            for i, case in enumerate(data.get(kind, [])):
                out.append((path.stem, kind, i, case))
    return out


ALL = _load()


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


@pytest.mark.parametrize(("code", "kind", "index", "case"), ALL, ids=[f"{c}-{k}-{i}" for c, k, i, _ in ALL])
def test_case(code: str, kind: str, index: int, case: dict[str, Any], tables) -> None:
    facts = env_facts(case["env"], case.get("set"))
    outcome = bench_outcome(code, case, facts, tables)
    assert outcome.status is not Status.ERROR, outcome.reason
    if kind == "fires":
        assert outcome.status is Status.FOUND, f"expected {code} to fire; got {outcome.status}: {outcome.reason}"
        finding = outcome.findings[0]
        text = "\n".join(f.message for f in outcome.findings)
        fixes = "\n".join(f.fix for f in outcome.findings)
        for needle in _as_list(case.get("message_contains")):
            assert needle in text, f"{needle!r} not in message: {text}"
        for needle in _as_list(case.get("fix_contains")):
            assert needle in fixes, f"{needle!r} not in fix: {fixes}"
        for needle in _as_list(case.get("fix_excludes")):
            assert needle not in fixes, f"{needle!r} unexpectedly in fix: {fixes}"
        if "severity" in case:
            assert finding.severity.value == case["severity"]
        if "count" in case:
            assert len(outcome.findings) == case["count"]
        for key, value in case.get("evidence", {}).items():
            assert finding.evidence.get(key) == value, finding.evidence
        assert finding.fix.strip() and finding.evidence
    elif kind == "quiet":
        assert outcome.status is Status.PASSED, [f.message for f in outcome.findings] or outcome.reason
    else:
        assert outcome.status is Status.SKIPPED, f"expected {code} to be skipped; got {outcome.status}"
        for needle in _as_list(case.get("reason_contains")):
            assert needle in outcome.reason, f"{needle!r} not in skip reason: {outcome.reason}"


@pytest.mark.parametrize("check", CHECKS, ids=[c.code for c in CHECKS])
def test_every_bench_check_has_cases(check) -> None:
    files = {p.stem: p for p in case_files()}
    assert check.code in files, f"{check.code} has no cases file"
    data = tomllib.loads(files[check.code].read_text())
    for kind in ("fires", "quiet", "skipped"):
        assert data.get(kind), f"{check.code} has no [[{kind}]] case"


@pytest.mark.parametrize("check", CHECKS, ids=[c.code for c in CHECKS])
def test_docstring_sections(check) -> None:
    import inspect

    doc = inspect.getdoc(check) or ""
    for section in ("## What it checks", "## Why it matters", "## Example", "## Fix", "## References"):
        assert section in doc, f"{check.code} lacks {section}"
    assert "http" in doc.split("## References", 1)[1]


def test_bare_checks_skip_as_the_engine_builds_them(tables) -> None:
    facts = env_facts("healthy_h100_cu128")
    for cls in CHECKS:
        with pytest.raises(Exception) as info:
            list(cls().evaluate(facts, tables))
        assert "not run" in str(info.value)
