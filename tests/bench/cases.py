"""Run one bench-check case (tests/fixtures/cases/BEN*.toml or tests/bench/cases/BEN*.toml) against
bench results: the generic case format plus ``bench`` (a results fixture in tests/bench/fixtures,
or "none" for a benchmark that was not run), ``bench_set`` (dotted-path overrides of that JSON)
and ``thresholds`` (Thresholds overrides)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from cudadoctor import engine
from cudadoctor.bench.evaluate import with_bench
from cudadoctor.bench.results import Thresholds, decode_results
from cudadoctor.checks.base import Outcome
from cudadoctor.facts import Facts
from cudadoctor.factsfile import set_path
from cudadoctor.tables import RuleTables

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
#: Where BEN*.toml live: beside the other checks' cases once registered, here until then.
CASE_DIRS = (HERE.parent / "fixtures" / "cases", HERE / "cases")


@cache
def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def bench_results_for(case: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The BenchResults a case describes (None when its bench is "none")."""
    name = case["bench"]
    if name == "none":
        return None
    data = copy.deepcopy(_fixture(name))
    for path, value in (case.get("bench_set") or {}).items():
        set_path(data, path, value)
    return decode_results(data)


def bench_facts_for(case: dict[str, Any], facts: Facts, tables: RuleTables) -> Facts:
    """*facts* with the case's bench results (annotated, with its thresholds) as their bench area."""
    results = bench_results_for(case)
    if results is None:
        return facts
    thresholds = Thresholds(**case["thresholds"]) if "thresholds" in case else None
    return with_bench(facts, results, tables, thresholds)


def bench_report(results: Any, facts: Facts, tables: RuleTables, thresholds: Thresholds | None = None,
                 select: tuple[str, ...] = ("BEN",)):  # type: ignore[no-untyped-def]
    """The engine's report on *facts* with *results* as their bench area (None: not run)."""
    if results is not None:
        facts = with_bench(facts, results, tables, thresholds)
    return engine.evaluate(facts, tables, select=select)


def bench_outcome(code: str, case: dict[str, Any], facts: Facts, tables: RuleTables) -> Outcome:
    """The outcome of check *code* on the case's bench results and *facts*, judged by the engine."""
    (outcome,) = engine.evaluate(bench_facts_for(case, facts, tables), tables, select=[code]).outcomes
    return outcome


def case_files() -> list[Path]:
    """Every BEN*.toml, from whichever directory holds it."""
    seen: dict[str, Path] = {}
    for d in CASE_DIRS:
        for p in sorted(d.glob("BEN*.toml")):
            seen.setdefault(p.name, p)
    return [seen[k] for k in sorted(seen)]
