"""The Python API: cudadoctor.check() and the pieces it is made of."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from cudadoctor import engine, probes, tables
from cudadoctor.facts import Facts
from cudadoctor.probes.base import ProbeContext
from cudadoctor.report import Report
from cudadoctor.tables import RuleTables


def load_tables(rules_dir: str | Path | None = None) -> RuleTables:
    """Load the shipped rule tables, or those in *rules_dir*."""
    return tables.load_tables(Path(rules_dir) if rules_dir else None)


def collect_facts(*, python: str | None = None, timeout: float = 120.0, torch_timeout: float = 60.0) -> Facts:
    """Probe this machine (torch inside *python*, default this interpreter) and return Facts."""
    ctx = ProbeContext(python=python or sys.executable, timeout=min(30.0, timeout), torch_timeout=min(torch_timeout, timeout))
    return probes.collect_facts(ctx, deadline=timeout)


def evaluate(
    facts: Facts,
    rule_tables: RuleTables | None = None,
    *,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> Report:
    """Judge *facts* against the rule tables and return the Report (pure; no probing)."""
    return engine.evaluate(facts, rule_tables or load_tables(), select=list(select), ignore=list(ignore))


def check(
    *,
    python: str | None = None,
    rules_dir: str | Path | None = None,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    timeout: float = 120.0,
) -> Report:
    """Probe this machine and diagnose it. In Jupyter the returned Report displays itself."""
    rule_tables = load_tables(rules_dir)
    facts = collect_facts(python=python, timeout=timeout)
    return evaluate(facts, rule_tables, select=select, ignore=ignore)
