"""Triage: pasted text -> signature hypotheses + the same check classes on the parsed facts (+ live facts) -> one Report.

Every finding comes from a check class: a matched signature becomes the finding of the class
whose ``explains`` names it (with that class's ``fix()``), and the facts parsed from the text are
judged by ``engine.evaluate`` exactly as ``check`` judges probed facts. This module only ranks,
links and words them: which lines each rests on, whether the text states it or it is inferred,
the command that confirms it on the machine, and — when nothing explains an error in the text —
the ``unexplained`` verdict with what was extracted and what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from cudadoctor._version import __version__
from cudadoctor.checks import ALL_CHECKS, CHECKS, EVENTS, lookup
from cudadoctor.checks.base import Check
from cudadoctor.checks.context import FixContext, TextContext
from cudadoctor.errors import UsageError
from cudadoctor.facts import AREAS, DriverFacts, Facts, TorchFacts, Unavailable
from cudadoctor.findings import Finding, Outcome, Severity, Status
from cudadoctor.remedies import parse_version
from cudadoctor.report import Report
from cudadoctor.triage import signatures as sig
from cudadoctor.triage.signatures import Hit
from cudadoctor.triage.summary import TriageSummary

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables
    from cudadoctor.triage.provenance import Provenance

#: Statuses of a hypothesis after the live probe (Report.triage.hypotheses[i]["status"]).
CONFIRMED, REFUTED, UNVERIFIED, NOT_PROBED = "confirmed", "refuted", "unverified", "not-probed"

#: The verdict word when the text holds an error that nothing explains.
UNEXPLAINED = "unexplained"

#: The reason every area of the fallback facts carries when the parsers are not installed.
_PROBE_REASON = "not in the pasted text"

#: Fact areas a check judging "no driver at all" depends on: with no driver live, their checks
#: cannot show the text's problem on this machine.
_DRIVER_AREAS = frozenset({"driver"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Hypothesis:
    """One finding name the text points to, with every line that supports it."""

    name: str
    code: str
    rank: int
    hits: tuple[Hit, ...]
    consequence_of: tuple[str, ...] = ()  #: root names in the same text that explain this one
    status: str = NOT_PROBED
    status_reason: str = ""

    @property
    def first(self) -> Hit:
        """The hit that best states the problem (root signature first, then earliest)."""
        return self.hits[0]

    def group(self, key: str) -> str:
        """The first value of named group *key* among the hits ("" when none captured it)."""
        return next((h.groups[key] for h in self.hits if h.groups.get(key)), "")


# --------------------------------------------------------------------------------------------
# entry point


def triage(
    text: str,
    tables: RuleTables,
    *,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    live: Facts | None = None,
    notes: Sequence[str] = (),
) -> Report:
    """Diagnose *text*: signature hits, checks on the facts parsed from it, and (with *live*) the live verdict.

    Pure given its inputs: the caller reads the text and runs the probes.
    """
    from cudadoctor import engine

    select, ignore = list(select), list(ignore)
    check_select, event_select = _split_selectors(select)
    check_ignore, event_ignore = _split_selectors(ignore)
    selected = _selected_codes(check_select, event_select) if select else None
    ignored = _selected_codes(check_ignore, event_ignore)

    parsed = parse(text, tables)
    scanned = parsed.normalised or text
    hits = _scan(text, parsed)
    text_ctx = sig.text_context(scanned)
    base = fix_context(tables, text_ctx, parsed.facts, live, scanned, parsed.placeholders)
    hyps = [h for h in hypotheses(hits) if (selected is None or h.code in selected) and h.code not in ignored]
    hyps = [h for h in hyps if not _contradicted(h, base)]
    # NOTE: a root the text's facts ruled out explains nothing: its consequences stand on their own again.
    kept = {h.name for h in hyps}
    hyps = sorted((replace(h, consequence_of=tuple(n for n in h.consequence_of if n in kept)) for h in hyps),
                  key=lambda h: (bool(h.consequence_of), h.rank, h.first.line_no))

    runs_checks = not select or bool(check_select)
    parsed_report = engine.evaluate(parsed.facts, tables, select=check_select if select else (),
                                    ignore=check_ignore, source="parsed") if runs_checks else None
    live_report = None
    if live is not None and runs_checks:
        live_report = engine.evaluate(live, tables, select=check_select if select else (), ignore=check_ignore)
    if live is not None:
        hyps = [verify(h, live_report) for h in hyps]

    outcomes: list[Outcome] = [_outcome(h, base) for h in hyps]
    if parsed_report is not None:
        kept = [_parsed_outcome(o, parsed) for o in parsed_report.outcomes]
        if live is not None:
            kept = [o for o in kept if o.status in (Status.FOUND, Status.ERROR)]
        outcomes += kept
    if live_report is not None:
        outcomes += live_report.outcomes

    # NOTE: link across sources too: a root read from the text explains a consequence the parsed facts show;
    # in triage a consequence is information under its root, as the text's own consequences are.
    outcomes = [_quiet_consequences(o) for o in engine.link_consequences(outcomes, ALL_CHECKS)]
    ranked = _ranked(hyps, outcomes)
    holds_error = sig.holds_error(scanned) or bool(hits)
    loud = any(f.severity is not Severity.INFO for o in outcomes for f in o.findings)
    unexplained = holds_error and not hyps and not loud
    extracted, missing = _extracted_and_missing(parsed)
    summary = TriageSummary(
        sections=tuple(parsed.sections),
        signatures_matched=len(hits),
        hypotheses=tuple(_hyp_dict(h) for h in hyps),
        parsed_findings=tuple(f.name for o in outcomes for f in o.findings if f.source == "parsed"),
        probed=live is not None,
        notes=(*notes, *parsed.notes),
        verdict=_verdict_line(hyps, outcomes, unexplained, extracted, missing, ranked),
        ranked=ranked,
        unexplained=unexplained,
        extracted=extracted,
        missing=missing,
    )
    return Report(
        facts=live if live is not None else parsed.facts,
        tables=tables,
        outcomes=tuple(outcomes),
        facts_source="probe" if live is not None else "triage",
        triage=summary,
    )


#: Pastes longer than this are scanned in their normalised form only (see :func:`_scan`).
PASTED_SCAN_LIMIT = 256 * 1024


def _scan(text: str, parsed: Parsed) -> list[Hit]:
    """Signature hits over the text as pasted, plus those only its normalised form shows.

    NOTE: the pasted text keeps the line numbers a reader checks; the normalised one (fences,
    prompts and ANSI codes gone, wrapped lines rejoined) finds what a wrap or a fence hid. A name
    both find keeps the pasted text's lines; the others are given the pasted line numbers too
    (``Parsed.line_origin``).
    """
    # NOTE: a bare CR (a progress bar's redraw) ends a line, as the normaliser numbers them.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    normalised = parsed.normalised
    if normalised and normalised != text and len(text) > PASTED_SCAN_LIMIT:
        # NOTE: on the 233-report corpus the normalised scan found every name the pasted one did;
        # the pasted scan stays as a safety net where it is cheap, not on multi-megabyte logs.
        return [replace(h, line_no=parsed.pasted_line(h.line_no)) for h in sig.scan(normalised)]
    hits = sig.scan(text)
    if not normalised or normalised == text:
        return hits
    seen = {h.name for h in hits}
    extra = [replace(h, line_no=parsed.pasted_line(h.line_no)) for h in sig.scan(normalised) if h.name not in seen]
    return sorted([*hits, *extra], key=lambda h: (h.rank, h.line_no))


# --------------------------------------------------------------------------------------------
# selectors: the catalog's checks plus the event checks only triage reports


def _split_selectors(raw: Iterable[str]) -> tuple[list[str], set[str]]:
    """Split --select/--ignore tokens into check selectors and event-check codes; unknown ones are errors."""
    checks: list[str] = []
    events: set[str] = set()
    for chunk in raw:
        for tok in filter(None, (t.strip() for t in chunk.split(","))):
            mine = {c.code for c in EVENTS if tok.lower() == c.name or c.code.upper().startswith(tok.upper())}
            theirs = any(c.name == tok.lower() or c.code.upper().startswith(tok.upper()) for c in CHECKS)
            if not mine and not theirs:
                raise UsageError(
                    f"unknown check {tok!r} in --select/--ignore",
                    hint="`cudadoctor explain --list` shows every name and code; triage also knows "
                         + ", ".join(c.name for c in EVENTS),
                )
            events |= mine
            if theirs:
                checks.append(tok)
    return checks, events


def _selected_codes(check_sels: list[str], event_codes: set[str]) -> set[str]:
    from cudadoctor.engine import resolve_selectors

    return (resolve_selectors(check_sels) if check_sels else set()) | event_codes


# --------------------------------------------------------------------------------------------
# parsing (the parsers' module) with a fallback while it is absent


@dataclass(frozen=True, slots=True)
class Parsed:
    """What the parsers made of the text (cudadoctor.triage.parse.ParsedText, or nothing without it)."""

    facts: Facts
    sections: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()  #: fact paths holding stand-ins, not values from the text
    notes: tuple[str, ...] = ()
    normalised: str = ""  #: the text the signatures are scanned over ("" : the text as pasted)
    provenance: Mapping[str, Provenance] = field(default_factory=dict)
    #: pasted line number of each line of ``normalised`` (empty: the text as pasted, one to one)
    line_origin: tuple[int, ...] = ()

    def pasted_line(self, line_no: int) -> int:
        """The pasted line number of line *line_no* of the scanned (normalised) text."""
        if 1 <= line_no <= len(self.line_origin):
            return self.line_origin[line_no - 1]
        return line_no


def parse(text: str, tables: RuleTables | None = None) -> Parsed:
    """Facts and recognised section kinds from cudadoctor.triage.parse; all-Unavailable without it."""
    try:
        from cudadoctor.triage.parse import parse_text
    except ModuleNotFoundError as e:
        if e.name != "cudadoctor.triage.parse":
            raise
        return Parsed(empty_facts())
    parsed = parse_text(text, tables=tables)
    return Parsed(
        parsed.facts, tuple(parsed.sections), tuple(getattr(parsed, "placeholders", ())),
        tuple(getattr(parsed, "notes", ())), getattr(parsed, "normalised", "") or "",
        dict(getattr(parsed, "provenance", {}) or {}), tuple(getattr(parsed, "line_origin", ()) or ()),
    )


def empty_facts(reason: str = _PROBE_REASON) -> Facts:
    """Facts with every area Unavailable (probe "triage")."""
    from datetime import datetime, timezone

    return Facts(
        cudadoctor_version=__version__,
        collected_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **{a: Unavailable(probe="triage", reason=reason) for a in AREAS},  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------------------------
# hypotheses


def check_class(name: str) -> type[Check]:
    """The check class (an event check too) of finding *name*; every signature key resolves to one."""
    cls = lookup(name)
    if cls is None:  # NOTE: signatures only produce names of classes that explain them
        raise KeyError(name)
    return cls


def hypotheses(hits: Sequence[Hit]) -> list[Hypothesis]:
    """Group hits by name, root causes first; mark the ones another hit in the text explains."""
    by_name: dict[str, list[Hit]] = {}
    for h in sorted(hits, key=lambda h: (h.rank, h.line_no)):
        by_name.setdefault(h.name, []).append(h)
    names = list(by_name)
    out = []
    for name, group in by_name.items():
        cls = check_class(name)
        roots = tuple(n for n in names if n != name and n in cls.follows_from)
        out.append(Hypothesis(
            name=name, code=cls.code, rank=min(h.rank for h in group),
            hits=tuple(sorted(group, key=lambda h: (h.signature.rank, h.line_no))), consequence_of=roots,
        ))
    # NOTE: a consequence goes after its roots whatever its own rank.
    return sorted(out, key=lambda h: (bool(h.consequence_of), h.rank, h.first.line_no))


def _contradicted(h: Hypothesis, base: FixContext) -> bool:
    """Whether the check of *h* says the text's own facts rule its reading out (Check.contradicted)."""
    ctx = replace(base, captured=tuple(x.groups for x in h.hits), signatures=tuple(x.key for x in h.hits))
    return bool(check_class(h.name)().contradicted(ctx))


def verify(h: Hypothesis, live_report: Report | None) -> Hypothesis:
    """Confirm or refute a text hypothesis against the live probe's outcome for the same name."""
    live_names = {f.name for f in live_report.findings} if live_report else set()
    outcome = next((o for o in live_report.outcomes if o.name == h.name), None) if live_report else None
    cls = check_class(h.name)
    if h.name in live_names:
        return replace(h, status=CONFIRMED, status_reason="the live probe finds the same problem on this machine now")
    no_driver = check_class("no-nvidia-driver")
    if cls is not no_driver and cls.requires & _DRIVER_AREAS and no_driver.name in live_names:
        return replace(h, status=UNVERIFIED, status_reason=(
            "this machine has no NVIDIA driver now (no-nvidia-driver), so it cannot show this; the text came "
            "from another machine, or the driver was removed since"
        ))
    if cls in EVENTS:
        return replace(h, status=UNVERIFIED, status_reason="an event in the text, not a state a probe can see afterwards")
    if outcome is None:
        return replace(h, status=UNVERIFIED, status_reason="no live check covers it (not selected)")
    if outcome.status is Status.PASSED:
        return replace(h, status=REFUTED, status_reason=(
            "this machine does not show it now; the text came from elsewhere or it was fixed since"
        ))
    if outcome.status is Status.SKIPPED:
        return replace(h, status=UNVERIFIED, status_reason=f"the live check could not run: {outcome.reason}")
    return replace(h, status=UNVERIFIED, status_reason=f"the live check failed: {outcome.reason}")


def _hyp_dict(h: Hypothesis) -> dict[str, Any]:
    return {
        "name": h.name, "code": h.code, "rank": h.rank, "status": h.status, "status_reason": h.status_reason,
        "consequence_of": list(h.consequence_of), "confidence": _confidence(h),
        "lines": [{"line": x.line_no, "text": x.line, "signature": x.signature.key} for x in h.hits[:5]],
    }


def _confidence(h: Hypothesis) -> str:
    order = {"high": 3, "medium": 2, "low": 1}
    return max((x.signature.confidence for x in h.hits), key=lambda c: order[c])


def _ranked(hyps: Sequence[Hypothesis], outcomes: Sequence[Outcome]) -> tuple[str, ...]:
    """Finding names in the order triage presents them: what explains the error first, then the rest.

    A hypothesis some other finding in the report explains (``caused_by``) goes after the roots.
    """
    linked = {f.name for o in outcomes for f in o.findings if f.caused_by}
    # NOTE: a hypothesis that follows from a root the checks found in the text's facts (an NCCL failure on a
    # GPU the build has no kernels for) goes after that root, as it would after a root read from the text.
    loud = {f.name for o in outcomes for f in o.findings if f.source != "text" and f.severity is not Severity.INFO}
    names: list[str] = []
    for h in hyps:
        names += [n for n in check_class(h.name).follows_from if n in loud and n not in names]
        names.append(h.name)
    rest = sorted((f for o in outcomes for f in o.findings), key=lambda f: (-f.severity.rank, f.code))
    roots = [n for n in names if n not in linked] + [f.name for f in rest if f.name not in linked]
    return tuple(dict.fromkeys([*roots, *names, *(f.name for f in rest)]))


# --------------------------------------------------------------------------------------------
# findings for text hypotheses


def _confirm(cls: type[Check]) -> str:
    """The command that confirms a finding of *cls* on the machine the text came from."""
    custom = getattr(cls, "confirm", "")
    return custom or f"cudadoctor check --select {cls.code}"


def _outcome(h: Hypothesis, base: FixContext) -> Outcome:
    cls = check_class(h.name)
    severity = _severity(h, cls.severity)
    ctx = replace(base, captured=tuple(x.groups for x in h.hits), signatures=tuple(x.key for x in h.hits))
    remedy = cls().fix(ctx)
    first = h.first
    lines = "; ".join(dict.fromkeys(f"line {x.line_no}: {x.line}" for x in h.hits[:3]))
    message = f"The pasted text shows {first.signature.meaning}"
    message += f" ({first.note})" if first.note else ""
    message += f": `{first.line}` (line {first.line_no})."
    if remedy.detail:
        message += " " + remedy.detail
    if h.consequence_of:
        message = f"Probably a consequence of {', '.join(h.consequence_of)} (reported above). " + message
    if h.status == CONFIRMED:
        message += " The live probe confirms it on this machine."
    elif h.status == REFUTED:
        message += f" Refuted by the live probe: {h.status_reason}."
    elif h.status == UNVERIFIED:
        message += f" Not verified live: {h.status_reason}."
    evidence: dict[str, str] = {"text.lines": lines}
    for x in h.hits:
        for k, v in x.groups.items():
            evidence.setdefault(f"text.{k}", v)
    evidence.update(_derived_evidence(h, base))
    # NOTE: a refinement (WSL, an nvidia-smi header, MIG) reads the name from context: inferred.
    evidence["text.basis"] = f"inferred: {first.note}" if first.note else "stated in the text"
    evidence["text.confirm"] = f"`{_confirm(cls)}`"
    finding = Finding(
        code=cls.code, name=h.name, severity=severity, title=cls.title(), message=message, evidence=evidence,
        fix=remedy.fix, url=cls.url(), source="text", caused_by=h.consequence_of[0] if h.consequence_of else None,
    )
    return Outcome(code=cls.code, name=h.name, status=Status.FOUND, findings=(finding,),
                   extra={"triage_status": h.status})


def _severity(h: Hypothesis, default: Severity) -> Severity:
    sev = default
    override = next((x.signature.severity for x in h.hits if x.signature.severity), "")
    if override and all(x.signature.severity for x in h.hits):
        sev = Severity(override)
    if _confidence(h) == "low" and sev is Severity.ERROR:
        sev = Severity.WARNING
    if h.consequence_of or h.status == REFUTED:
        sev = Severity.INFO
    return sev


def _derived_evidence(h: Hypothesis, fc: FixContext) -> dict[str, str]:
    from cudadoctor.causes import decode_cuda_int
    from cudadoctor.facts import nv_version

    out: dict[str, str] = {}
    found = h.group("found_version")
    if found.isdigit():
        out["text.driver_cuda"] = decode_cuda_int(found)
    if fc.torch_version:
        out["torch.version"] = str(fc.torch_version)
    if fc.driver and "driver" in check_class(h.name).requires:
        out["driver.driver_version"] = nv_version(fc.driver)
    return out


# --------------------------------------------------------------------------------------------
# findings the checks made of the parsed facts


def _rests_on(evidence_key: str, paths: Iterable[str], *, below: bool = True) -> list[str]:
    """The fact paths among *paths* an evidence key names: exactly, one it lies inside, or (with
    *below*) one inside it; list indices match any item ("driver.gpus[0].name" ~ "driver.gpus[].name")."""
    norm = re.sub(r"\[\d*\]", "[]", evidence_key)
    out = []
    for p in paths:
        q = re.sub(r"\[\d*\]", "[]", p)
        if norm == q or norm.startswith((q + ".", q + "[")) or (below and q.startswith((norm + ".", norm + "["))):
            out.append(p)
    return out


def _parsed_outcome(o: Outcome, parsed: Parsed) -> Outcome:
    """A check's outcome on the parsed facts, with the lines each finding rests on (or skipped on stand-ins)."""
    if not o.findings:
        return o
    placeholders = set(parsed.placeholders)
    kept: list[Finding] = []
    for f in o.findings:
        fact_keys = [k for k in f.evidence if k.split(".", 1)[0].split("[", 1)[0] in AREAS]
        # NOTE: a stand-in inside a cited value (one GPU's uuid) does not make the whole value (the GPU list) one
        stand_ins = [k for k in fact_keys if _rests_on(k, placeholders, below=False)]
        if fact_keys and len(stand_ins) == len(fact_keys):
            continue  # NOTE: every fact it cites is a stand-in the parser made up, not a value the text gives
        if stand_ins:
            # NOTE: part of what it rests on is a stand-in (e.g. an empty GPU list where the text has no
            # GPU table): not a fact about that machine, so it is a lead to confirm, never an alarm.
            f = replace(f, severity=Severity.INFO, message=(
                f"{f.message} (Unconfirmed: it rests on {', '.join(stand_ins)}, which the pasted text does not "
                "state.)"))
        kept.append(_with_provenance(f, parsed.provenance))
    if not kept:
        return replace(o, status=Status.SKIPPED, findings=(),
                       reason="rests only on facts the pasted text does not state (stand-ins)")
    return replace(o, findings=tuple(kept))


def _quiet_consequences(o: Outcome) -> Outcome:
    """*o* with its linked findings lowered to info (their root carries the severity).

    The text's own consequences are info already; this catches a parsed-fact finding under a root
    the text shows, and a text finding under a root only the parsed facts show (an NCCL error under
    the NCCL the pasted collect_env names being too old for the GPU).
    """
    if not any(f.caused_by and f.severity is not Severity.INFO for f in o.findings):
        return o
    return replace(o, findings=tuple(
        replace(f, severity=Severity.INFO, message=f.message if f.message.startswith("Probably a consequence")
                else f"Probably a consequence of {f.caused_by} (reported above). {f.message}")
        if f.caused_by else f for f in o.findings
    ))


def _with_provenance(f: Finding, provenance: Mapping[str, Provenance]) -> Finding:
    """*f* with the text lines its facts came from, stated or inferred, and the command that confirms it."""
    used: dict[str, Provenance] = {}
    for k in f.evidence:
        for path in _rests_on(k, provenance):
            used.setdefault(path, provenance[path])
    evidence = dict(f.evidence)
    if used:
        evidence["text.lines"] = "; ".join(dict.fromkeys(f"line {p.line}: {p.text}" for p in used.values()))
        inferred = [f"{path} ({p.how})" if p.how else path for path, p in used.items() if not p.stated]
        evidence["text.basis"] = ("inferred: " + ", ".join(inferred)) if inferred else "stated in the text"
    cls = lookup(f.code)
    if cls is not None:
        evidence["text.confirm"] = f"`{_confirm(cls)}`"
    return replace(f, evidence=evidence)


# --------------------------------------------------------------------------------------------
# the verdict


#: fact area -> what to paste so the text states it
_PASTE_FOR = (
    ("torch", "`python -m torch.utils.collect_env`"),
    ("driver", "`nvidia-smi`"),
)


def _extracted_and_missing(parsed: Parsed) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(fact paths the text gave, what to paste for the areas it did not give)."""
    placeholders = set(parsed.placeholders)
    extracted = [p for p in parsed.provenance if p not in placeholders]
    if not extracted:
        extracted = [a for a in AREAS if not isinstance(parsed.facts.area(a), Unavailable)]
    missing = [what for a, what in _PASTE_FOR if isinstance(parsed.facts.area(a), Unavailable)]
    return tuple(extracted), tuple(missing)


def _verdict_line(hyps: Sequence[Hypothesis], outcomes: Sequence[Outcome], unexplained: bool,
                  extracted: Sequence[str], missing: Sequence[str], ranked: Sequence[str]) -> str:
    if hyps:
        return "most likely cause: " + (ranked[0] if ranked else hyps[0].name)
    if unexplained:
        got = ", ".join(extracted) if extracted else "no facts"
        need = "; paste the output of " + " and ".join(missing) if missing else ""
        return f"{UNEXPLAINED}: the text holds an error no check explains (extracted: {got}){need}"
    loud = sorted((f for o in outcomes for f in o.findings if f.severity is not Severity.INFO),
                  key=lambda f: (-f.severity.rank, f.code))
    if loud:
        # NOTE: no error line matched a signature, but the checks judged the facts the text states
        return f"most likely cause: {loud[0].name} (from the facts the text states)"
    found = [f.name for o in outcomes for f in o.findings]
    if found:
        return "no known failure signature in the text; the checks found: " + ", ".join(dict.fromkeys(found))
    return "no known CUDA/PyTorch failure signature in the text"


# --------------------------------------------------------------------------------------------
# the machine the text came from


_TORCH_IN_TEXT = re.compile(r"\btorch(?:==|\s+|-)(?P<v>\d+\.\d+\.\d+(?:\.\w+)?(?:\+(?:cu\d+|cpu|rocm[\d.]+))?)")
_CUDA_BUILD_IN_TEXT = re.compile(r"CUDA used to build PyTorch:\s*(?P<v>\d+\.\d+)")


def fix_context(
    tables: RuleTables, text_ctx: TextContext, parsed: Facts, live: Facts | None, text: str,
    placeholders: Sequence[str] = (),
) -> FixContext:
    """Collect torch/driver/GPU facts for the checks' fixes: the parsed text first (its machine), then live."""
    fc = FixContext(tables=tables, facts=parsed, live=live, text=text_ctx, placeholders=frozenset(placeholders))
    for facts in (parsed, live):
        if facts is None:
            continue
        stand_in = set(placeholders) if facts is parsed else set()
        t = facts.torch
        if isinstance(t, TorchFacts):
            if fc.torch_version is None and isinstance(t.version, Version):
                fc.torch_version = t.version
            if fc.torch_cuda is None and isinstance(t.cuda_version, Version):
                fc.torch_cuda = t.cuda_version
            if fc.python is None and isinstance(t.python_version, Version) and "torch.python_version" not in stand_in:
                fc.python = t.python_version
            if not fc.gpu_ccs:
                fc.gpu_ccs = sorted({d.capability for d in t.devices})
        d = facts.driver
        if isinstance(d, DriverFacts):
            if fc.driver is None and isinstance(d.driver_version, Version):
                fc.driver = d.driver_version
            if not fc.gpu_ccs:
                fc.gpu_ccs = sorted({g.compute_capability for g in d.gpus if isinstance(g.compute_capability, Version)})
            if not fc.gpu_names:
                fc.gpu_names = [g.name for g in d.gpus]
    if fc.torch_version is None:
        m = _TORCH_IN_TEXT.search(text)
        if m:
            fc.torch_version = parse_version(m.group("v"))
    if fc.torch_cuda is None and fc.torch_version is not None and fc.torch_version.local:
        m = re.fullmatch(r"cu(\d+)(\d)", fc.torch_version.local)
        if m:
            fc.torch_cuda = Version(f"{m.group(1)}.{m.group(2)}")
    if fc.torch_cuda is None:
        m = _CUDA_BUILD_IN_TEXT.search(text)
        if m:
            fc.torch_cuda = parse_version(m.group("v"))
    if fc.python is None:
        fc.python = _python_in_text(text)
    if fc.driver is None and text_ctx.smi_driver:
        fc.driver = parse_version(text_ctx.smi_driver)
    return fc


def _python_in_text(text: str) -> Version | None:
    """The Python version the text states even where it gives no torch (a failed `pip install torch`)."""
    from cudadoctor.triage.extract import best, python
    from cudadoctor.triage.normalise import normalise_text

    found = best(python.extract(normalise_text(text))).get("torch.python_version")
    return parse_version(found.value) if found is not None else None


__all__ = ["Hypothesis", "triage", "hypotheses", "verify", "parse", "empty_facts", "check_class"]
