"""Facts stated in free text (prose, commands, code, tool output fragments), one module per source.

Each extractor reads the normalised paste (cudadoctor.triage.normalise) and returns
:class:`~cudadoctor.triage.extract.record.Found` records; :func:`extract` runs them all and keeps,
per fact path, the value from the strongest source (record.RANK_*). The parse facade
(cudadoctor.triage.parse) maps the kept values onto Facts and Provenance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cudadoctor.triage.extract import driver, env, gpus, python, toolkit, torch_version
from cudadoctor.triage.extract.record import Found

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables
    from cudadoctor.triage.normalise import Normalised


#: Above this many characters, repeated lines are read once (logs repeat: progress, retries).
DEDUP_OVER = 256 * 1024
#: Lines whose next line belongs to them (a value printed below its command): kept with it.
_CARRIES = ("echo ", "printenv", "__version__", "torch.version.cuda", "Compiling cuda extensions")


def distinct_lines(norm: Normalised) -> Normalised:
    """*norm* with each repeated joined line kept once (its first time), for large pastes.

    NOTE: identical lines state identical facts; only the pasted line cited changes (the first
    occurrence). The line after a kept command whose output follows it stays with it.
    """
    from cudadoctor.triage.normalise import Normalised

    seen: set[str] = set()
    kept = []
    carry = False
    for j in norm.joined:
        if j.text not in seen or carry:
            seen.add(j.text)
            kept.append(j)
            carry = any(c in j.text for c in _CARRIES)
        else:
            carry = False
    return Normalised(lines=[], origin=[], joined=kept, raw=norm.raw, cut=norm.cut)


def extract_all(norm: Normalised, tables: RuleTables | None) -> list[Found]:
    """Every record every extractor finds, in extractor order (unmerged)."""
    if len(norm.text) > DEDUP_OVER:
        norm = distinct_lines(norm)
    if tables is None:
        from cudadoctor.triage.parse_common import _default_tables

        tables = _default_tables()
    found: list[Found] = []
    variants = frozenset(v.name for v in tables.torch.variants) if tables is not None else frozenset()
    found += torch_version.extract(norm, variants)
    found += driver.extract(norm)
    found += toolkit.extract(norm)
    found += env.extract(norm)
    found += python.extract(norm)
    found += gpus.extract(norm, tables)
    return found


def best(found: list[Found]) -> dict[str, Found]:
    """Per fact path, the record from the strongest source (first seen, or last for settings)."""
    kept: dict[str, Found] = {}
    for f in found:
        cur = kept.get(f.path)
        if cur is None or f.rank > cur.rank or (f.rank == cur.rank and f.last_wins and f.line >= cur.line):
            kept[f.path] = f
    return kept


def extract(norm: Normalised, tables: RuleTables | None) -> dict[str, Found]:
    """Per fact path, the best-supported value the text gives."""
    return best(extract_all(norm, tables))


__all__ = ["DEDUP_OVER", "Found", "best", "distinct_lines", "extract", "extract_all"]
