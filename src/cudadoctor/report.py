"""The Report: outcomes of every check, plus counting, the verdict and the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cudadoctor.findings import Finding, Outcome, Severity, Status
from cudadoctor.facts import Facts

if TYPE_CHECKING:
    from cudadoctor.gating.local import GateResult
    from cudadoctor.tables import RuleTables
    from cudadoctor.triage.summary import TriageSummary

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_TOOL_ERROR = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """What a run found. Renderers display it; the CLI asks it for the exit code."""

    facts: Facts
    tables: RuleTables
    outcomes: tuple[Outcome, ...]
    facts_source: str = "probe"  #: "probe", "facts-file" or "triage"
    #: the gate's decision (``cudadoctor gate`` / ``cudadoctor.gate()``); None for other commands.
    #: The benchmark and the distributed ranks are facts: ``facts.bench``, ``facts.ranks``.
    gate: GateResult | None = None
    #: what ``cudadoctor triage`` made of the pasted text; None for other commands
    triage: TriageSummary | None = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        """All findings, worst first, then by code."""
        found = [f for o in self.outcomes for f in o.findings]
        return tuple(sorted(found, key=lambda f: (-f.severity.rank, f.code)))

    def grouped(self) -> tuple[tuple[Finding, tuple[Finding, ...]], ...]:
        """Each root finding with the findings that follow from it (``caused_by``, transitively).

        Roots come in :attr:`findings` order (for triage, in ``triage.ranked`` order: what explains the
        error first); a finding whose root is not in the report is a root.
        """
        found = self.findings
        names = {f.name for f in found}
        children: dict[str, list[Finding]] = {}
        roots: list[Finding] = []
        for f in found:
            if f.caused_by and f.caused_by in names and f.caused_by != f.name:
                children.setdefault(f.caused_by, []).append(f)
            else:
                roots.append(f)
        if self.triage is not None and self.triage.ranked:
            # NOTE: triage leads with the finding that explains the error in the text, whatever its severity.
            order = {name: i for i, name in enumerate(self.triage.ranked)}
            roots.sort(key=lambda f: order.get(f.name, len(order)))
        out: list[tuple[Finding, tuple[Finding, ...]]] = []
        placed: set[int] = set()
        for root in roots:
            if id(root) in placed:
                continue
            placed.add(id(root))
            below: list[Finding] = []
            queue = [root.name]
            seen = {root.name}
            while queue:
                for child in children.get(queue.pop(0), []):
                    if id(child) not in placed:
                        placed.add(id(child))
                        below.append(child)
                        if child.name not in seen:
                            seen.add(child.name)
                            queue.append(child.name)
            out.append((root, tuple(below)))
        # NOTE: findings caught in a cycle of caused_by links have no root: show them as roots.
        out += [(f, ()) for f in found if id(f) not in placed]
        return tuple(out)

    def ordered_findings(self) -> tuple[Finding, ...]:
        """Findings in display order: each root cause, then its consequences."""
        return tuple(f for root, below in self.grouped() for f in (root, *below))

    def same_fix_as(self) -> dict[int, str]:
        """id(finding) -> name of the finding shown earlier with the identical fix (so no fix is given twice)."""
        first: dict[str, str] = {}
        out: dict[int, str] = {}
        for f in self.ordered_findings():
            key = " ".join(f.fix.split())
            if key in first:
                out[id(f)] = first[key]
            else:
                first.setdefault(key, f.name)
        return out

    @property
    def skipped(self) -> tuple[Outcome, ...]:
        """Checks that could not run, each with the reason."""
        return tuple(o for o in self.outcomes if o.status is Status.SKIPPED)

    @property
    def errors(self) -> tuple[Outcome, ...]:
        """Checks that raised: bugs in cudadoctor, reported rather than hidden."""
        return tuple(o for o in self.outcomes if o.status is Status.ERROR)

    def count(self, severity: Severity) -> int:
        """Number of findings of exactly this severity."""
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def verdict(self) -> str:
        """``not-ready`` (an error), ``degraded`` (a warning), ``ready``; or, for triage, ``unexplained``.

        NOTE: ``unexplained`` is triage's answer to a text that holds an error nothing explains:
        never "ready" for a traceback. The exit code stays defined by severity.
        """
        if self.count(Severity.ERROR):
            return "not-ready"
        if self.count(Severity.WARNING):
            return "degraded"
        if self.triage is not None and self.triage.unexplained:
            return "unexplained"
        return "ready"

    def verdict_words(self) -> str:
        """The verdict in words, said once ("NOT READY for GPU training", "usable, with warnings", "ready")."""
        return {
            "not-ready": "NOT READY for GPU training",
            "degraded": "usable, with warnings",
            "ready": "ready",
            "unexplained": "an error in the text that no check explains",
        }[self.verdict]

    def verdict_heading(self) -> str:
        """The verdict in words for a badge or heading, capitalised ("Ready", "NOT READY for GPU training")."""
        words = self.verdict_words()
        return words[0].upper() + words[1:]

    def summary(self) -> str:
        """One sentence: the verdict and the counts."""
        return f"{self.verdict_words()}: {self.counts_summary()}"

    def counts_summary(self) -> str:
        """The counts alone ("1 error, 0 warnings, 0 infos; 3 checks skipped"), for a line that shows the verdict apart."""
        parts = [
            f"{self.count(s)} {s.value}{'s' if self.count(s) != 1 else ''}"
            for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
        ]
        skipped = len(self.skipped)
        text = f"{', '.join(parts)}; {skipped} check{'' if skipped == 1 else 's'} skipped"
        if self.errors:
            text += f"; {len(self.errors)} checks failed internally"
        return text

    def exit_code(self, fail_on: Severity = Severity.ERROR) -> int:
        """0 nothing at/above *fail_on*, 1 findings at/above it, 2 a check crashed."""
        if self.errors:
            return EXIT_TOOL_ERROR
        if any(f.severity.rank >= fail_on.rank for f in self.findings):
            return EXIT_FINDINGS
        return EXIT_OK

    def _repr_html_(self) -> str:
        """Jupyter display: the terminal report, recorded as HTML."""
        from cudadoctor.render.terminal import render_html

        return render_html(self)

    def __rich__(self) -> Any:
        """Rich display (rich's Jupyter/console integration)."""
        from cudadoctor.render.terminal import renderable

        return renderable(self)

    def __repr__(self) -> str:
        return f"<Report {self.verdict}: {self.summary()}>"
