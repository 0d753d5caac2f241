"""`cudadoctor triage` scored against real pasted reports (tests/fixtures/triage_reports/).

The corpus is ground truth written from how each failure works (the thread's resolution or the
mechanics of the error), not from what triage prints. Two kinds of tests live here:

- manifest validity (must pass): every text is listed, every name exists, every source is a URL;
- the score (issue 11's bar, >= 95% hits): lead named first, no false alarms,
  never "ready" on a text that holds an error.

Run with ``-s`` to see the per-kind score table; ``python benchmarks/triage_corpus.py`` prints
the same table outside pytest.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from cudadoctor.checks import ALL_CHECKS
from cudadoctor.commands.triage import decode_text
from cudadoctor.findings import Severity
from cudadoctor.report import Report
from cudadoctor.tables import RuleTables
from cudadoctor.triage import engine

CORPUS = Path(__file__).parents[1] / "fixtures" / "triage_reports"
MANIFEST_PATH = CORPUS / "manifest.toml"

#: The verdict a text gets when nothing in it explains the error.
UNEXPLAINED = "unexplained"
REQUIRED_KEYS = ("source", "lead", "why", "kind")
OPTIONAL_KEYS = ("also", "never", "lang", "shape")

#: Issue 11's bar.
MIN_HIT_RATE = 0.95

#: Kinds the issue names, each with the fewest real texts that cover it (several, not one).
REQUIRED_KINDS: Mapping[str, int] = {
    "driver-too-old": 8,
    "arch-prose": 6,
    "arch-not-in-build": 6,
    "conda-cpu-build": 4,
    "cvd-set": 5,
    "mig": 4,
    "ext-nvcc-mismatch": 10,
    "ddp-env": 3,
    "wsl-libcuda": 4,
    "cudnn-ld-path": 4,
    "nccl-new-gpu": 4,
    "driver-lib-mismatch": 4,
    "container-no-gpu": 4,
    "nvml-unknown": 4,
    "cuda-999": 4,
    "cuda-804": 2,
    "cuda-802": 4,
    "oom": 5,
    "xid79": 2,
    "cudart-missing": 4,
    "lib-shadowed": 2,
    "companion": 3,
    "shm": 4,
    "gcc": 4,
    "torch-missing": 4,
    "python-wheels": 4,
}

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_TOKEN = re.compile(r"\b(?:ghp|gho|github_pat|hf)_[A-Za-z0-9_]{16,}")


# --------------------------------------------------------------------------------------------
# the manifest


@cache
def manifest() -> dict[str, dict[str, Any]]:
    """File name -> its table in manifest.toml."""
    return tomllib.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


@cache
def known_names() -> frozenset[str]:
    """Every name a manifest may use: the catalog's checks and triage's own (event) names."""
    return frozenset(c.name for c in ALL_CHECKS)


def corpus_files() -> list[str]:
    """The text files of the corpus, sorted."""
    return sorted(p.name for p in CORPUS.glob("*.txt"))


def read_text(name: str) -> str:
    """The text as `cudadoctor triage FILE` would read it (UTF-8, ANSI stripped, newlines normalised)."""
    return decode_text((CORPUS / name).read_bytes(), name)


def test_every_text_is_listed_and_every_entry_has_a_text() -> None:
    assert set(corpus_files()) == set(manifest()), (
        f"missing from manifest: {sorted(set(corpus_files()) - set(manifest()))}; "
        f"no such file: {sorted(set(manifest()) - set(corpus_files()))}")


def test_corpus_is_large_and_varied() -> None:
    entries = manifest().values()
    assert len(manifest()) >= 150
    unexplained = [e for e in entries if e["lead"] == UNEXPLAINED]
    assert len(unexplained) >= 15, "texts whose right answer is none of our findings measure false alarms"
    assert sum(1 for e in entries if e.get("lang", "en") != "en") >= 15
    kinds = Counter(e["kind"] for e in entries)
    short = {k: (kinds.get(k, 0), n) for k, n in REQUIRED_KINDS.items() if kinds.get(k, 0) < n}
    assert not short, f"kinds with too few texts (have, want): {short}"


@pytest.mark.parametrize("name", sorted(manifest()))
def test_manifest_entry_is_well_formed(name: str) -> None:
    entry = manifest()[name]
    missing = [k for k in REQUIRED_KEYS if not entry.get(k)]
    assert not missing, f"{name}: missing {missing}"
    unknown = set(entry) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS)
    assert not unknown, f"{name}: unknown keys {sorted(unknown)}"
    for key in ("source", "lead", "why", "kind", "lang"):
        assert isinstance(entry.get(key, ""), str), f"{name}: {key} must be a string"
    for key in ("also", "never", "shape"):
        value = entry.get(key, [])
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{name}: {key} must be a list of strings"

    url = urlparse(entry["source"])
    assert url.scheme == "https" and url.netloc, f"{name}: source must be an https URL, got {entry['source']!r}"

    names = known_names()
    assert entry["lead"] == UNEXPLAINED or entry["lead"] in names, f"{name}: unknown lead {entry['lead']!r}"
    also, never = set(entry.get("also", [])), set(entry.get("never", []))
    assert also <= names, f"{name}: unknown names in also: {sorted(also - names)}"
    assert never <= names, f"{name}: unknown names in never: {sorted(never - names)}"
    assert entry["lead"] not in also | never, f"{name}: the lead cannot also be in also/never"
    assert not also & never, f"{name}: {sorted(also & never)} both right and a false alarm"
    assert re.fullmatch(r"[a-z]{2}", entry.get("lang", "en")), f"{name}: lang is an ISO 639-1 code"


@pytest.mark.parametrize("name", corpus_files())
def test_text_is_a_plausible_paste(name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    assert re.fullmatch(r"[a-z0-9]+_[a-z0-9_]+\.txt", name), f"{name}: name it <source-short>_<number-or-slug>.txt"
    text = raw.decode("utf-8")  # strict: the corpus is UTF-8
    lines = text.splitlines()
    assert text.strip() and 1 <= len(lines) <= 120, f"{name}: {len(lines)} lines; trim to what a user pastes"
    assert not _EMAIL.search(text), f"{name}: looks like an e-mail address; replace personal data"
    assert not _TOKEN.search(text), f"{name}: looks like a token"
    shape = manifest().get(name, {}).get("shape", [])
    assert ("crlf" in shape) == (b"\r\n" in raw), f"{name}: mark CRLF pastes with shape 'crlf' (and only those)"


# --------------------------------------------------------------------------------------------
# scoring


@dataclass(frozen=True, slots=True)
class Scored:
    """What triage made of one text, judged against its manifest entry."""

    name: str
    kind: str
    lang: str
    lead: str
    ranked: tuple[str, ...]  #: finding names in the order a reader meets them (warning+ first)
    hit: bool
    false_alarms: tuple[str, ...]
    ready: bool  #: the verdict was "ready" although the text holds an error
    crashed: str = ""  #: the exception text when triage raised

    @property
    def first(self) -> str:
        """The name triage put first ("" when it found nothing)."""
        return self.ranked[0] if self.ranked else ""


@dataclass(slots=True)
class Tally:
    """Counts for one row of the score table."""

    total: int = 0
    hits: int = 0
    false_alarms: int = 0
    ready: int = 0
    crashed: int = 0

    def add(self, s: Scored) -> None:
        """Count one scored text."""
        self.total += 1
        self.hits += s.hit
        self.false_alarms += bool(s.false_alarms)
        self.ready += s.ready
        self.crashed += bool(s.crashed)


@dataclass(slots=True)
class Score:
    """The whole corpus scored: per text, and tallied by kind and language."""

    scored: list[Scored] = field(default_factory=list)

    def by(self, key: str) -> dict[str, Tally]:
        """Tallies keyed by *key* ("kind" or "lang"), sorted by key."""
        rows: dict[str, Tally] = {}
        for s in self.scored:
            rows.setdefault(getattr(s, key), Tally()).add(s)
        return dict(sorted(rows.items()))

    @property
    def total(self) -> Tally:
        """The tally over every text."""
        t = Tally()
        for s in self.scored:
            t.add(s)
        return t


def ranked_names(report: Report) -> tuple[str, ...]:
    """Finding names in the order triage presents them, warnings and errors before info.

    Order: ``report.triage.ranked`` when the engine provides it; otherwise the text
    hypotheses (already ranked root cause first), then the remaining findings (worst first).
    """
    findings = report.findings
    severity = {f.name: f.severity for f in findings}
    summary = report.triage
    order: list[str] = []
    if summary is not None:
        order = list(getattr(summary, "ranked", ()) or [h["name"] for h in summary.hypotheses])
    order += [f.name for f in findings]
    names = [n for n in dict.fromkeys(order) if n in severity]
    loud = [n for n in names if severity[n] is not Severity.INFO]
    return tuple(loud + [n for n in names if n not in loud])


def is_ready(report: Report) -> bool:
    """Whether the report reads "ready" (an unexplained verdict is not ready)."""
    verdict = report.triage.verdict if report.triage is not None else ""
    return report.verdict == "ready" and UNEXPLAINED not in verdict and UNEXPLAINED not in report.verdict


def judge(name: str, entry: Mapping[str, Any], report: Report) -> Scored:
    """Score one report against its manifest entry."""
    ranked = ranked_names(report)
    errors = {f.name for f in report.findings if f.severity is Severity.ERROR}
    loud = {f.name for f in report.findings if f.severity in (Severity.ERROR, Severity.WARNING)}
    lead = entry["lead"]
    if lead == UNEXPLAINED:
        hit = not errors
        alarms = sorted(errors | (loud & set(entry.get("never", []))))
    else:
        hit = bool(ranked) and ranked[0] == lead
        alarms = sorted(loud & set(entry.get("never", [])))
    return Scored(name=name, kind=entry["kind"], lang=entry.get("lang", "en"), lead=lead, ranked=ranked,
                  hit=hit, false_alarms=tuple(alarms), ready=is_ready(report))


def score_corpus(tables: RuleTables, names: Iterable[str] | None = None) -> Score:
    """Triage every corpus text (or *names*) and score each against the manifest."""
    score = Score()
    entries = manifest()
    for name in sorted(names if names is not None else entries):
        entry = entries[name]
        try:
            report = engine.triage(read_text(name), tables)
        except Exception as e:  # noqa: BLE001 - a crash is scored (and reported), not fatal to the table
            score.scored.append(Scored(name=name, kind=entry["kind"], lang=entry.get("lang", "en"),
                                       lead=entry["lead"], ranked=(), hit=False, false_alarms=(),
                                       ready=False, crashed=f"{type(e).__name__}: {e}"))
            continue
        score.scored.append(judge(name, entry, report))
    return score


def format_table(score: Score, *, misses: int = 0) -> str:
    """The score as text: per kind, per language, the total, and up to *misses* wrong texts."""
    def rows(title: str, tallies: Mapping[str, Tally]) -> list[str]:
        out = [f"{title:<22} {'hits':>9} {'rate':>6} {'false-al':>8} {'ready':>5} {'crash':>5}"]
        for key, t in tallies.items():
            out.append(f"{key:<22} {t.hits:>4}/{t.total:<4} {t.hits / t.total:>6.0%} {t.false_alarms:>8} "
                       f"{t.ready:>5} {t.crashed:>5}")
        return out

    total = score.total
    lines = [*rows("kind", score.by("kind")), "", *rows("language", score.by("lang")), "",
             f"TOTAL: {total.hits}/{total.total} hits ({total.hits / max(total.total, 1):.1%}), "
             f"{total.false_alarms} texts with false alarms, {total.ready} erroring texts judged ready, "
             f"{total.crashed} crashes"]
    wrong = [s for s in score.scored if not s.hit or s.false_alarms or s.ready or s.crashed]
    if misses and wrong:
        lines += ["", f"first {min(misses, len(wrong))} of {len(wrong)} wrong texts (want -> got):"]
        for s in wrong[:misses]:
            got = s.crashed or ", ".join(s.ranked[:3]) or "(nothing)"
            extra = f"  false alarms: {', '.join(s.false_alarms)}" if s.false_alarms else ""
            extra += "  [ready]" if s.ready else ""
            lines.append(f"  {s.name:<34} {s.lead} -> {got}{extra}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def corpus_score(tables: RuleTables) -> Score:
    """The corpus scored once for this module."""
    return score_corpus(tables)


def test_score_table(corpus_score: Score) -> None:
    """Prints the table (run with -s); asserts only that every text was scored."""
    print("\n" + format_table(corpus_score, misses=40))
    assert len(corpus_score.scored) == len(manifest())


def test_triage_meets_the_bar(corpus_score: Score) -> None:
    total = corpus_score.total
    assert total.crashed == 0, [s.name for s in corpus_score.scored if s.crashed]
    assert total.hits / total.total >= MIN_HIT_RATE, format_table(corpus_score, misses=20)
    assert total.false_alarms == 0, [(s.name, s.false_alarms) for s in corpus_score.scored if s.false_alarms]
    assert total.ready == 0, [s.name for s in corpus_score.scored if s.ready]


def test_judge_rules() -> None:
    """The scoring rules themselves, on hand-made reports (no corpus, no engine)."""
    from cudadoctor.findings import Finding, Outcome, Status
    from cudadoctor.triage.summary import TriageSummary

    def report(*found: tuple[str, Severity], hyps: Sequence[str] = (), verdict: str = "") -> Report:
        findings = tuple(Finding(code="X", name=n, severity=s, title="", message="", evidence={}, fix="", url="")
                         for n, s in found)
        return Report(facts=engine.empty_facts(), tables=None,  # type: ignore[arg-type]
                      outcomes=(Outcome(code="X", name="x", status=Status.FOUND, findings=findings),),
                      triage=TriageSummary(sections=(), signatures_matched=0, hypotheses=tuple({"name": h} for h in hyps),
                                           parsed_findings=(), probed=False, notes=(), verdict=verdict))

    entry = {"lead": "a", "kind": "k", "never": ["b"]}
    s = judge("t", entry, report(("b", Severity.ERROR), ("a", Severity.ERROR), hyps=["a"]))
    assert s.hit and s.false_alarms == ("b",)
    assert not judge("t", entry, report(("a", Severity.INFO), ("c", Severity.WARNING))).hit
    assert judge("t", entry, report()).ready
    unexplained = {"lead": UNEXPLAINED, "kind": "k"}
    assert judge("t", unexplained, report(("c", Severity.WARNING), verdict="unexplained")).hit
    s = judge("t", unexplained, report(("c", Severity.ERROR)))
    assert not s.hit and s.false_alarms == ("c",)
    assert not judge("t", unexplained, report(verdict="unexplained: paste collect_env")).ready
