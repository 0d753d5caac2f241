"""TriageSummary: what ``cudadoctor triage`` made of the pasted text, as the Report carries it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageSummary:
    """The text's sections, the failure hypotheses it supports, and the one-line verdict (``Report.triage``)."""

    sections: tuple[str, ...]  #: kinds of output recognised in the text, e.g. "nvidia-smi", "collect_env"
    signatures_matched: int  #: lines that matched a failure signature
    #: hypotheses, most likely first, in their JSON form: name, code, rank, status, status_reason,
    #: consequence_of, confidence, lines [{line, text, signature}]
    hypotheses: tuple[dict[str, Any], ...]
    parsed_findings: tuple[str, ...]  #: names the checks found in the facts parsed from the text
    probed: bool  #: this machine was probed too (--probe)
    notes: tuple[str, ...]  #: how the input was read (truncation) and parsed
    verdict: str  #: e.g. "most likely cause: driver-too-old-for-torch", or "unexplained: ..."
    #: finding names in the order triage presents them (what explains the error first)
    ranked: tuple[str, ...] = ()
    #: the text holds an error and no finding explains it (the report's verdict is then "unexplained")
    unexplained: bool = False
    extracted: tuple[str, ...] = ()  #: fact paths (or areas) the text gave
    missing: tuple[str, ...] = ()  #: what to paste for the facts the text lacks
