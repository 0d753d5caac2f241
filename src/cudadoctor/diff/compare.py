"""Compare two environments' facts: the differences that matter, and the findings they cause.

:func:`diff_facts` flattens both sides (flatten.py), keeps the differences that are not noise
(aspects.py), judges both sides with the same engine and checks ``check`` runs (never a second
copy of a rule), and attributes each finding that fires on one side only to the fact differences
it rests on: the facts its evidence names (``torch.cuda_version``, ``driver.gpus[0]...``), or,
when its evidence names none that differ, the differences in the areas the check reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from packaging.version import InvalidVersion, Version

from cudadoctor import engine
from cudadoctor.checks import BY_CODE
from cudadoctor.diff.aspects import GROUP_RANK, aspect_of
from cudadoctor.diff.flatten import Item, flatten
from cudadoctor.facts import AREAS, Facts
from cudadoctor.findings import Finding
from cudadoctor.report import Report
from cudadoctor.tables import RuleTables

#: How an absent value reads.
ABSENT = "(absent)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One fact that differs between side A and side B."""

    path: str
    group: str  #: aspects.GROUPS key, or "noise"
    label: str
    a: str  #: the value on side A (ABSENT: A has no such fact)
    b: str
    note: str = ""  #: what the change means ("CUDA variant cu121 → cu118")
    order: tuple[int, int] = (0, 0)

    @property
    def noise(self) -> bool:
        """Whether the change is live state, ignored."""
        return self.group == "noise"


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingDelta:
    """A finding that fires on one side only (or on both, differently), and what it rests on."""

    side: str  #: "a", "b" (fires only there) or "both" (fires on both, with different messages)
    code: str
    name: str
    severity: str
    title: str
    messages_a: tuple[str, ...]
    messages_b: tuple[str, ...]
    rests_on: tuple[str, ...]  #: paths of the Changes it rests on (noise included, when that is all there is)
    by: str  #: "evidence" (its evidence names them), "areas" (the areas it reads differ) or "" (none differ)
    #: it rests on live state only (a GPU busy or throttled on one side): shown, but not a difference
    #: between the environments
    live: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FactsDiff:
    """Everything two environments differ in, and what it costs."""

    changes: tuple[Change, ...]  #: the differences that matter, most consequential first
    noise: tuple[Change, ...]  #: differences in live state, ignored
    findings: tuple[FindingDelta, ...]  #: worst first
    report_a: Report = field(repr=False)
    report_b: Report = field(repr=False)

    @property
    def same(self) -> bool:
        """Whether the two sides agree in everything that matters (findings of live state apart)."""
        return not self.changes and not self.differing

    @property
    def differing(self) -> tuple[FindingDelta, ...]:
        """The finding differences that count: those resting on more than live state."""
        return tuple(d for d in self.findings if not d.live)

    def causes(self, path: str) -> tuple[FindingDelta, ...]:
        """The finding differences that rest on the change at *path*."""
        return tuple(d for d in self.findings if path in d.rests_on)

    def groups(self) -> list[tuple[str, list[Change]]]:
        """The changes grouped by area of consequence, in GROUPS order."""
        out: dict[str, list[Change]] = {}
        for c in self.changes:
            out.setdefault(c.group, []).append(c)
        return sorted(out.items(), key=lambda kv: GROUP_RANK.get(kv[0], 99))


def judge(facts: Facts, tables: RuleTables, *, source: str = "facts-file") -> Report:
    """The engine's report on *facts*, with the checks ``check`` would run on them.

    The checks of an optional area the facts lack (the benchmark, the ranks) are left out, as
    ``check`` leaves them out; so is environment-drift: a side's drift from its own baseline is
    not a difference between the two sides.
    """
    ignore = (*engine.ungathered(facts), *engine.needing("drift"))
    return engine.evaluate(facts, tables, ignore=ignore, source=source)


def diff_facts(a: Facts, b: Facts, tables: RuleTables, *, report_a: Report | None = None,
               report_b: Report | None = None) -> FactsDiff:
    """Compare *a* with *b*: fact changes (noise apart), finding differences, and which rests on which.

    *report_a* / *report_b*: the sides' reports when the caller already judged them (with
    :func:`judge`); otherwise they are judged here.
    """
    changes = compare(flatten(a), flatten(b))
    ra = report_a if report_a is not None else judge(a, tables)
    rb = report_b if report_b is not None else judge(b, tables)
    deltas = finding_deltas(ra.findings, rb.findings, changes)
    return FactsDiff(
        changes=tuple(c for c in changes if not c.noise), noise=tuple(c for c in changes if c.noise),
        findings=deltas, report_a=ra, report_b=rb,
    )


# --------------------------------------------------------------------------------------------- facts


def compare(a: dict[str, Item], b: dict[str, Item]) -> list[Change]:
    """Every path whose value differs, as Changes in order of consequence.

    An area known on one side and unknown on the other is one change (``torch``: "unknown
    (not installed)" / "probed"), not one per fact inside it.
    """
    a, b = dict(a), dict(b)
    out: list[Change] = []
    for area in AREAS:
        # NOTE: an area's own path is present only where the area is unknown (flatten.py).
        if (area in a) != (area in b):
            _collapse(b if area in a else a, area)
    for side, other in ((a, b), (b, a)):
        for path in [p for p, v in side.items() if v.record and p not in other]:
            # NOTE: a record only this side has (a GPU, a package) is one change: drop its fields.
            for leaf in [q for q in side if q.startswith((f"{path}.", f"{path}["))]:
                del side[leaf]
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path), b.get(path)
        if va is not None and vb is not None and (va.record or va.same_as(vb)):
            continue
        aspect = aspect_of(path)
        ta = va.text if va is not None else ABSENT
        tb = vb.text if vb is not None else ABSENT
        out.append(Change(path=path, group=aspect.group, label=aspect.label, a=ta, b=tb,
                          note=note_for(path, ta, tb), order=aspect.rank))
    return sorted(out, key=lambda c: (c.order, c.path))


def _collapse(side: dict[str, Item], area: str) -> None:
    """Replace the facts of the known *area* on *side* by one entry, "probed" (the other side could not probe it)."""
    prefixes = (f"{area}.", f"{area}[") + (("arch.",) if area in ("driver", "torch") else ())
    for path in [p for p in side if p.startswith(prefixes)]:
        del side[path]
    side[area] = Item(text="probed", key="probed")


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def note_for(path: str, a: str, b: str) -> str:
    """What a change means, where the values alone do not say it (a driver branch, a CUDA variant)."""
    va, vb = _version(a), _version(b)
    if path == "torch.version" and va and vb:
        parts = []
        if va.base_version != vb.base_version:
            parts.append(f"torch {va.base_version} → {vb.base_version}")
        la, lb = va.local or "none", vb.local or "none"
        if la != lb:
            parts.append(f"CUDA variant {la} → {lb}")
        return "; ".join(parts)
    if path in ("driver.driver_version", "driver.kernel_module_version", "driver.libcuda_version") and va and vb:
        if va.major != vb.major:
            return f"driver branch {va.major} → {vb.major}"
        return "same branch"
    if path in ("torch.cuda_version", "driver.cuda_driver_version", "toolkit.nvcc_version") and va and vb:
        if va.major != vb.major:
            return f"CUDA major {va.major} → {vb.major}"
    if path.startswith("torch.distributions[") and path.endswith(".version") and va and vb and va.local != vb.local:
        return f"variant {va.local or 'none'} → {vb.local or 'none'}"
    return ""


# ------------------------------------------------------------------------------------ attribution

_PART = re.compile(r"([^.\[\]]+)((?:\[[^\]]*\])*)")


def parse_path(path: str) -> list[tuple[str, tuple[str, ...]]]:
    """'driver.gpus[0].name' -> [("driver", ()), ("gpus", ("0",)), ("name", ())], names lower-cased.

    Evidence spells some facts its own way; those are rewritten to the facts' paths first:
    ``env.CUDA_VISIBLE_DEVICES`` and ``env.variables.RANK`` -> ``env.variables[...]``, and
    ``cuda_libs.ld_library_path`` -> the LD_LIBRARY_PATH variable it is read from too.
    """
    out: list[tuple[str, tuple[str, ...]]] = []
    for m in _PART.finditer(path):
        keys = tuple(k.lower() for k in re.findall(r"\[([^\]]*)\]", m.group(2)))
        out.append((m.group(1).lower(), keys))
    if len(out) >= 2 and out[0][0] == "env" and out[1][0] not in ("variables", "working_directory"):
        out = [("env", ()), ("variables", (out[1][0],)), *out[2:]]
    elif len(out) >= 3 and out[0][0] == "env" and out[1] == ("variables", ()):
        out = [("env", ()), ("variables", (out[2][0],)), *out[3:]]
    return out


def _keys_match(e: tuple[str, ...], c: tuple[str, ...]) -> bool:
    if not e or not c:
        return True  # "driver.gpus" names every GPU
    # NOTE: library copies are keyed "family@path"; evidence names the family.
    return all(x == y or y.startswith(x + "@") or x.startswith(y + "@") for x, y in zip(e, c))


def path_matches(evidence: str, change: str) -> bool:
    """Whether an evidence key names the fact at *change* (or a fact inside it, or one it is inside)."""
    e, c = parse_path(evidence), parse_path(change)
    if not e or not c:
        return False
    if len(c) == 1:
        return e[0][0] == c[0][0]  # a whole area differs (unknown on one side): every fact in it
    if len(e) == 1:
        return False  # a bare word ("library") is not a fact path
    n = min(len(e), len(c))
    return all(x[0] == y[0] and _keys_match(x[1], y[1]) for x, y in zip(e[:n], c[:n]))


#: Evidence keys that name another fact than their spelling says.
ALIASES: dict[str, tuple[str, ...]] = {
    "cuda_libs.ld_library_path": ("env.variables[LD_LIBRARY_PATH]",),
    "torch.arch_list": ("arch.coverage",),
    "gpu.compute_capability": ("driver.gpus.compute_capability", "arch.coverage"),
    "gpu_count": ("driver.gpus", "driver.cu_device_count"),
}


def rests_on(finding: Finding, changes: Sequence[Change]) -> tuple[list[str], str]:
    """Paths of the *changes* that *finding* rests on, and how that was told ("evidence", "areas" or "")."""
    keys = [k for key in finding.evidence for k in (key, *ALIASES.get(key, ()))]
    hit = [c.path for c in changes if any(path_matches(k, c.path) for k in keys)]
    if hit:
        return hit, "evidence"
    check = BY_CODE.get(finding.code)
    areas = set(check.requires) if check is not None else set()
    hit = [c.path for c in changes if not c.noise and _area(c.path) in areas]
    return (hit, "areas") if hit else ([], "")


def _area(path: str) -> str:
    head = path.split(".", 1)[0].split("[", 1)[0]
    return {"arch": "torch"}.get(head, head)


def finding_deltas(a: Iterable[Finding], b: Iterable[Finding], changes: Sequence[Change]) -> tuple[FindingDelta, ...]:
    """The findings (by check) that fire on one side only, or on both with different messages."""
    by_a: dict[str, list[Finding]] = {}
    by_b: dict[str, list[Finding]] = {}
    for f in a:
        by_a.setdefault(f.code, []).append(f)
    for f in b:
        by_b.setdefault(f.code, []).append(f)
    out: list[FindingDelta] = []
    for code in dict.fromkeys([*by_a, *by_b]):
        fa, fb = by_a.get(code, []), by_b.get(code, [])
        ma, mb = tuple(f.message for f in fa), tuple(f.message for f in fb)
        if fa and fb and sorted(ma) == sorted(mb):
            continue
        side = "both" if fa and fb else "a" if fa else "b"
        worst = max(fa + fb, key=lambda f: f.severity.rank)
        paths: list[str] = []
        how = ""
        for f in fa + fb:
            hit, by = rests_on(f, changes)
            paths += hit
            how = how or by
        noise = {c.path for c in changes if c.noise}
        out.append(FindingDelta(
            side=side, code=code, name=worst.name, severity=worst.severity.value, title=worst.title,
            messages_a=ma, messages_b=mb, rests_on=tuple(dict.fromkeys(paths)), by=how,
            live=bool(paths) and all(p in noise for p in paths),
        ))
    rank = {"error": 3, "warning": 2, "info": 1}
    return tuple(sorted(out, key=lambda d: (-rank.get(d.severity, 0), d.code)))
