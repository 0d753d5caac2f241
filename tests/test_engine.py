"""The engine and the Report: selection, skips, internal errors, verdicts and exit codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cudadoctor.checks import CHECKS
from cudadoctor.checks.base import Check, Finding, Severity, SkipCheck, Status, need
from cudadoctor.engine import evaluate, resolve_selectors
from cudadoctor.errors import UsageError
from cudadoctor.facts import Facts
from tests.conftest import env_facts


class _Fires(Check):
    """Always fires.

    ## What it checks
    Nothing.
    """

    code = "TST001"
    name = "test-fires"
    severity = Severity.WARNING
    requires = frozenset({"driver"})

    def evaluate(self, facts: Facts, tables) -> Iterator[Finding]:
        yield self.finding(message="m", evidence={"driver.driver_version": facts.driver.driver_version}, fix="f")


class _Raises(Check):
    """Raises."""

    code = "TST002"
    name = "test-raises"
    severity = Severity.ERROR

    def evaluate(self, facts: Facts, tables) -> Iterator[Finding]:
        raise RuntimeError("bug")


class _NeedsNvcc(Check):
    """Needs nvcc."""

    code = "TST003"
    name = "test-needs-nvcc"
    severity = Severity.ERROR
    requires = frozenset({"toolkit"})

    def evaluate(self, facts: Facts, tables) -> Iterator[Finding]:
        need(facts.toolkit.nvcc_version, "nvcc version")
        return iter(())


FAKE = (_Fires, _Raises, _NeedsNvcc)


def test_finding_identity_comes_from_the_class(tables) -> None:
    report = evaluate(env_facts("healthy_h100_cu128"), tables, checks=FAKE, select=["TST001"])
    (f,) = report.findings
    assert (f.code, f.name, f.severity, f.title) == ("TST001", "test-fires", Severity.WARNING, "Always fires.")
    assert f.evidence == {"driver.driver_version": "570.133.20"}
    assert f.url.endswith("/TST001.md")
    assert report.verdict == "degraded"
    assert report.exit_code(Severity.ERROR) == 0
    assert report.exit_code(Severity.WARNING) == 1


def test_unavailable_area_skips_with_the_probe_reason(tables) -> None:
    facts = env_facts("healthy_h100_cu128", {"driver": {"unavailable": True, "probe": "driver", "reason": "NVML hung"}})
    report = evaluate(facts, tables, checks=FAKE, select=["TST001"])
    (o,) = report.outcomes
    assert o.status is Status.SKIPPED and "NVML hung" in o.reason


def test_need_turns_unknown_subfact_into_skip(tables) -> None:
    report = evaluate(env_facts("healthy_h100_cu128"), tables, checks=FAKE, select=["TST003"])
    (o,) = report.outcomes
    assert o.status is Status.SKIPPED and o.reason.startswith("nvcc version unknown")


def test_a_raising_check_is_reported_and_exits_2(tables) -> None:
    report = evaluate(env_facts("healthy_h100_cu128"), tables, checks=FAKE)
    assert [o.code for o in report.errors] == ["TST002"]
    assert "RuntimeError: bug" in report.errors[0].reason
    assert report.exit_code() == 2
    assert len(report.findings) == 1  # the others still ran


def test_selectors_accept_names_codes_prefixes_and_commas() -> None:
    assert resolve_selectors(["test-fires"], FAKE) == {"TST001"}
    assert resolve_selectors(["tst00"], FAKE) == {"TST001", "TST002", "TST003"}
    assert resolve_selectors(["TST001,test-raises"], FAKE) == {"TST001", "TST002"}
    with pytest.raises(UsageError, match="unknown check 'nope'"):
        resolve_selectors(["nope"], FAKE)


def test_ignore_wins_over_select(tables) -> None:
    report = evaluate(env_facts("healthy_h100_cu128"), tables, checks=FAKE, select=["TST"], ignore=["TST002"])
    assert {o.code for o in report.outcomes} == {"TST001", "TST003"}


def test_replayed_findings_say_so(tables) -> None:
    report = evaluate(env_facts("healthy_h100_cu128"), tables, checks=FAKE, select=["TST001"], source="facts-file")
    assert report.findings[0].source == "facts-file"


def test_catalog_codes_and_names_are_unique() -> None:
    codes = [c.code for c in CHECKS]
    names = [c.name for c in CHECKS]
    assert len(codes) == len(set(codes))
    assert len(names) == len(set(names))
