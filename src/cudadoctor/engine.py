"""evaluate(facts, tables, select, ignore) -> Report: runs the selected checks, purely."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from cudadoctor.checks.base import Check, run_check
from cudadoctor.findings import Finding, Outcome, Severity, Status
from cudadoctor.errors import UsageError
from cudadoctor.facts import OPTIONAL_AREAS, Facts, Unavailable
from cudadoctor.report import Report
from cudadoctor.tables import RuleTables


def _every_check() -> Sequence[type[Check]]:
    """All checks (imported on first use: the healthcheck passes only its fast ones)."""
    from cudadoctor.checks import CHECKS

    return CHECKS


def resolve_selectors(selectors: Iterable[str], checks: Sequence[type[Check]] | None = None) -> set[str]:
    """Expand names, codes and code prefixes (``DRV``, ``DRV0``) to a set of codes (of *checks*,
    default every check).

    An unknown selector is a usage error naming it, so a typo never silently selects nothing.
    """
    checks = _every_check() if checks is None else checks
    codes: set[str] = set()
    for raw in selectors:
        for sel in filter(None, (s.strip() for s in raw.split(","))):
            matched = {
                c.code
                for c in checks
                if c.name == sel.lower() or c.code.upper().startswith(sel.upper())
            }
            if not matched:
                raise UsageError(
                    f"unknown check {sel!r} in --select/--ignore",
                    hint="`cudadoctor explain --list` shows every name and code",
                )
            codes |= matched
    return codes


def evaluate(
    facts: Facts,
    tables: RuleTables,
    *,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    checks: Sequence[type[Check]] | None = None,
    source: str = "probe",
) -> Report:
    """Run every selected check (of *checks*, default every check) against *facts* and return the
    Report. Never raises for a check bug."""
    checks = _every_check() if checks is None else checks
    selected = resolve_selectors(select, checks) if list(select) else {c.code for c in checks}
    ignored = resolve_selectors(ignore, checks)
    outcomes = [
        _run_one(cls(), facts, tables, source)
        for cls in checks
        if cls.code in selected and cls.code not in ignored
    ]
    return Report(facts=facts, tables=tables, outcomes=link_consequences(outcomes, checks), facts_source=source)


def link_consequences(outcomes: Sequence[Outcome], checks: Sequence[type[Check]] | None = None) -> tuple[Outcome, ...]:
    """Set ``Finding.caused_by`` from the checks' ``follows_from``: a finding whose root is in the same report.

    Display only: severities, counts and the exit code do not change. A finding already linked keeps
    its root; two checks that name each other are left unlinked (neither explains the other).
    *checks* are the classes the outcomes came from (default: every check and event check).
    """
    if checks is None:  # NOTE: only then import every family (the healthcheck passes its fast checks)
        from cudadoctor.checks import ALL_CHECKS

        checks = ALL_CHECKS
    # NOTE: a root its own check judged information (e.g. a container without GPUs on a machine
    # that has none to pass in) is no fault, so it cannot be the cause of a warning or an error.
    present = {f.name for o in outcomes for f in o.findings}
    info_only = {n for n in present if all(f.severity is Severity.INFO for o in outcomes for f in o.findings if f.name == n)}
    by_name = {c.name: c for c in checks}
    out: list[Outcome] = []
    for o in outcomes:
        cls = by_name.get(o.name)
        roots = [
            r for r in (cls.follows_from if cls is not None else ())
            if r in present and r != o.name and o.name not in getattr(by_name.get(r), "follows_from", ())
        ]
        if o.findings and roots and any(f.caused_by is None for f in o.findings):
            o = replace(o, findings=tuple(
                f if f.caused_by else replace(f, caused_by=_root_for(f, roots, info_only)) for f in o.findings))
        out.append(o)
    return tuple(out)


def _root_for(f: Finding, roots: Sequence[str], info_only: set[str]) -> str | None:
    """The first of *roots* that can be *f*'s cause: an information-only root explains only information."""
    usable = [r for r in roots if f.severity is Severity.INFO or r not in info_only]
    return usable[0] if usable else None


def ungathered(facts: Facts, checks: Sequence[type[Check]] | None = None, *, keep: Iterable[str] = ()) -> tuple[str, ...]:
    """Codes of the checks that need an optional area *facts* lack (the benchmark, the ranks), except
    those of the areas in *keep*.

    A command leaves these out unless they are selected by name, rather than list a "not run"
    skip for every benchmark check on every plain ``check``.
    """
    checks = _every_check() if checks is None else checks
    missing = {a for a in OPTIONAL_AREAS if isinstance(facts.area(a), Unavailable)} - set(keep)
    return tuple(c.code for c in checks if c.requires & missing)


def needing(area: str, checks: Sequence[type[Check]] | None = None) -> tuple[str, ...]:
    """Codes of the checks that require fact area *area* (e.g. "bench": the benchmark's checks)."""
    checks = _every_check() if checks is None else checks
    return tuple(c.code for c in checks if area in c.requires)


def _run_one(check: Check, facts: Facts, tables: RuleTables, source: str) -> Outcome:
    for area in sorted(check.requires):
        value = facts.area(area)
        if isinstance(value, Unavailable):
            # NOTE: an optional area was not gathered rather than unavailable; its reason says so
            # ("the smoke benchmark was not run (use ...)").
            reason = value.reason if area in OPTIONAL_AREAS else f"{area} facts unavailable: {value.reason}"
            return Outcome(code=check.code, name=check.name, status=Status.SKIPPED, reason=reason)
    outcome = run_check(check, facts, tables)
    if source != "probe" and outcome.findings:
        from dataclasses import replace

        outcome = replace(outcome, findings=tuple(replace(f, source=source) for f in outcome.findings))
    return outcome
