"""Every check against its cases file: tests/fixtures/cases/<CODE>.toml (fires / quiet / skipped)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from cudadoctor.checks import CHECKS, BY_CODE
from cudadoctor.checks.base import Status
from cudadoctor.engine import evaluate
from tests.conftest import FIXTURES, env_facts

CASES = FIXTURES / "cases"


def _load_cases() -> list[tuple[str, str, int, dict[str, Any]]]:
    out = []
    for path in sorted(CASES.glob("*.toml")):
        data = tomllib.loads(path.read_text())
        for kind in ("fires", "quiet", "skipped"):
            for i, case in enumerate(data.get(kind, [])):
                out.append((path.stem, kind, i, case))
    return out


ALL_CASES = _load_cases()

#: Keys a case may use (a misspelt key would otherwise be ignored and its assertion never run).
CASE_KEYS = {
    "env", "set", "bench", "bench_set", "ranks", "thresholds", "message_contains", "message_excludes", "fix_contains",
    "fix_excludes", "severity", "count", "evidence", "reason_contains", "baseline", "baseline_set",
}


@pytest.mark.parametrize(
    ("code", "kind", "index", "case"), ALL_CASES, ids=[f"{c}-{k}-{i}" for c, k, i, _ in ALL_CASES]
)
def test_case(code: str, kind: str, index: int, case: dict[str, Any], tables) -> None:
    assert code in BY_CODE, f"cases file for unknown check {code}"
    assert not set(case) - CASE_KEYS, f"unknown keys in the case: {sorted(set(case) - CASE_KEYS)}"
    facts = env_facts(case["env"], case.get("set"))
    if "bench" in case:
        from tests.bench.cases import bench_outcome

        outcome = bench_outcome(code, case, facts, tables)
    elif "ranks" in case:
        # Distributed checks judge the summaries every rank sent (gate --distributed): the ranks facts.
        from tests.gate.ranks import with_ranks

        (outcome,) = evaluate(with_ranks(facts, case["ranks"]), tables, select=[code]).outcomes
    elif "baseline" in case:
        # environment-drift judges what moved since a known-good baseline (check --baseline known-good.json).
        from cudadoctor.diff.drift import with_drift

        baseline = env_facts(case["baseline"], case.get("baseline_set"))
        drifted = with_drift(facts, baseline, tables, origin="known-good.json")
        (outcome,) = evaluate(drifted, tables, select=[code]).outcomes
    else:
        report = evaluate(facts, tables, select=[code])
        (outcome,) = report.outcomes
    assert outcome.status is not Status.ERROR, outcome.reason
    if kind == "fires":
        assert outcome.status is Status.FOUND, f"expected {code} to fire; got {outcome.status}: {outcome.reason}"
        finding = outcome.findings[0]
        text = "\n".join(f.message for f in outcome.findings)
        fixes = "\n".join(f.fix for f in outcome.findings)
        for needle in _as_list(case.get("message_contains")):
            assert needle in text, f"{needle!r} not in message: {text}"
        for needle in _as_list(case.get("message_excludes")):
            assert needle not in text, f"{needle!r} unexpectedly in message: {text}"
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
        assert finding.fix.strip(), "every finding needs a fix"
        assert finding.evidence, "every finding needs evidence"
    elif kind == "quiet":
        assert outcome.status is Status.PASSED, (
            f"expected {code} to stay quiet; got {outcome.status}: {[f.message for f in outcome.findings]} {outcome.reason}"
        )
    else:
        assert outcome.status is Status.SKIPPED, f"expected {code} to be skipped; got {outcome.status}"
        for needle in _as_list(case.get("reason_contains")):
            assert needle in outcome.reason, f"{needle!r} not in skip reason: {outcome.reason}"


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


@pytest.mark.parametrize("check", CHECKS, ids=[c.code for c in CHECKS])
def test_every_check_has_fires_quiet_and_skipped_cases(check) -> None:
    path = CASES / f"{check.code}.toml"
    assert path.exists(), f"{check.code} ({check.name}) has no cases file {path}"
    data = tomllib.loads(path.read_text())
    for kind in ("fires", "quiet", "skipped"):
        assert data.get(kind), f"{path.name} has no [[{kind}]] case"
