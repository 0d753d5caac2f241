"""The fleet view: nodes by verdict, findings by how many nodes have them, and the odd ones out.

A node is an *odd one out* when its driver or its torch differs from the version most nodes run
(no odd ones for a field without a single most common version), or when a benchmark rate of one
of its GPU models is below the fleet's median for that model and workload by more than
``slow_fraction`` (default 10 %: well above run-to-run variation of a GEMM or a copy).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cudadoctor.fleet.nodes import VERDICTS, Node

#: A benchmark rate this far below the fleet median (a fraction) makes a node an odd one out.
DEFAULT_SLOW_FRACTION = 0.10
_RANK = {"error": 3, "warning": 2, "info": 1}


@dataclass(frozen=True, slots=True)
class OddOne:
    """Why one node stands out from the fleet."""

    node: str
    what: str  #: "driver", "torch" or "bench"
    value: str  #: the node's value ("535.183.01", "512 TFLOP/s")
    majority: str  #: the fleet's ("550.54.15 on 126 of 128 nodes", "median 710 TFLOP/s")
    detail: str = ""  #: for bench: model and workload


@dataclass(frozen=True, slots=True)
class FindingCount:
    """A finding and the nodes that have it."""

    name: str
    severity: str
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BadFile:
    """A file that could not be read as a node report."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """Everything the fleet view shows."""

    nodes: tuple[Node, ...]  #: by name
    by_verdict: dict[str, tuple[str, ...]]  #: verdict -> node names
    findings: tuple[FindingCount, ...]  #: most nodes first, then worst
    odd: tuple[OddOne, ...]
    majority: dict[str, str]  #: "driver"/"torch" -> the most common version ("" none)
    bad: tuple[BadFile, ...]
    slow_fraction: float

    @property
    def healthy(self) -> bool:
        """No node not ready and no odd one out."""
        return not self.by_verdict.get("not-ready") and not self.odd


def _majority(nodes: Sequence[Node], field: str) -> tuple[str, int, int]:
    """The most common known value of *field*, its count, and how many nodes report one ("" on a tie)."""
    counts = Counter(getattr(n, field) for n in nodes if getattr(n, field))
    if not counts:
        return "", 0, 0
    (top, n), *rest = counts.most_common(2) + [("", 0)]
    if rest and rest[0][1] == n:
        return "", n, sum(counts.values())
    return top, n, sum(counts.values())


def _rate(value: float, unit: str) -> str:
    return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"


def summarise(nodes: Iterable[Node], *, bad: Iterable[BadFile] = (), slow_fraction: float = DEFAULT_SLOW_FRACTION) -> FleetSummary:
    """The fleet view of *nodes* (pure: every number comes from the nodes)."""
    ordered = tuple(sorted(nodes, key=lambda n: n.name))
    by_verdict = {v: tuple(n.name for n in ordered if n.verdict == v) for v in VERDICTS}
    having: dict[tuple[str, str], list[str]] = {}
    for n in ordered:
        for name, severity in n.findings:
            having.setdefault((name, severity), []).append(n.name)
    findings = tuple(sorted(
        (FindingCount(name, sev, tuple(names)) for (name, sev), names in having.items()),
        key=lambda f: (-len(f.nodes), -_RANK.get(f.severity, 0), f.name),
    ))
    odd: list[OddOne] = []
    majority: dict[str, str] = {}
    for field in ("driver", "torch"):
        top, count, known = _majority(ordered, field)
        majority[field] = top
        if not top:
            continue
        for n in ordered:
            value = getattr(n, field)
            if value and value != top:
                odd.append(OddOne(n.name, field, value, f"{top} on {count} of {known} nodes"))
    rates: dict[tuple[str, str, str], list[tuple[str, float]]] = {}
    for n in ordered:
        for model, workload, unit, value in n.bench:
            rates.setdefault((model, workload, unit), []).append((n.name, value))
    for (model, workload, unit), values in sorted(rates.items()):
        if len(values) < 3:
            continue  # a median of two is no majority
        median = statistics.median(v for _, v in values)
        floor = median * (1 - slow_fraction)
        for name, value in values:
            if value < floor:
                below = 100 * (1 - value / median) if median else 0.0
                odd.append(OddOne(name, "bench", _rate(value, unit), f"median {_rate(median, unit)}",
                                  f"{workload} on {model}: {below:.0f}% below the fleet median (limit {100 * slow_fraction:.0f}%)"))
    odd.sort(key=lambda o: (o.node, ("driver", "torch", "bench").index(o.what)))
    return FleetSummary(nodes=ordered, by_verdict=by_verdict, findings=findings, odd=tuple(odd), majority=majority,
                        bad=tuple(bad), slow_fraction=slow_fraction)
