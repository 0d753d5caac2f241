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


def extract_all(norm: Normalised, tables: RuleTables | None) -> list[Found]:
    """Every record every extractor finds, in extractor order (unmerged)."""
    found: list[Found] = []
    found += torch_version.extract(norm)
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


__all__ = ["Found", "best", "extract", "extract_all"]
