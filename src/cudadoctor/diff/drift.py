"""The ``drift`` fact area: what moved since a known-good baseline, computed the way ``diff`` computes it.

``check --baseline`` and ``gate --baseline`` call :func:`with_drift` on the facts they gathered; the
environment-drift check (checks/drift.py) then judges the area like any other.
"""

from __future__ import annotations

import dataclasses
from cudadoctor.diff.compare import diff_facts
from cudadoctor.facts import Facts
from cudadoctor.facts_drift import DriftChange, DriftFacts
from cudadoctor.tables import RuleTables


def drift_facts(baseline: Facts, current: Facts, tables: RuleTables, *, origin: str) -> DriftFacts:
    """The differences that matter from *baseline* to *current*, each with the new findings resting on it."""
    d = diff_facts(baseline, current, tables)
    new = [x for x in d.findings if x.side in ("b", "both")]
    changes = tuple(
        DriftChange(
            group=c.group, path=c.path, label=c.label, baseline=c.a, current=c.b, note=c.note,
            causes=tuple(dict.fromkeys(x.name for x in new if c.path in x.rests_on)),
        )
        for c in d.changes
    )
    return DriftFacts(baseline=origin, baseline_collected_at=baseline.collected_at, changes=changes,
                      noise_ignored=len(d.noise))


def with_drift(facts: Facts, baseline: Facts, tables: RuleTables, *, origin: str) -> Facts:
    """*facts* with their ``drift`` area computed against *baseline* (named *origin* in messages)."""
    return dataclasses.replace(facts, drift=drift_facts(baseline, facts, tables, origin=origin))
