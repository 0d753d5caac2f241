"""Where a fact parsed from pasted text came from: the line, and whether the text states it or it is inferred.

The contract between the text extractor (cudadoctor.triage.parse / triage.extract) and the triage
engine: the extractor records a :class:`Provenance` per dotted fact path it fills ("driver.version",
"torch.version", "gpus.0.name", "env.CUDA_VISIBLE_DEVICES", ...); the engine attaches the ones a
finding rests on to that finding's evidence, so a reader sees which lines it was built from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Provenance:
    """One fact's origin in the pasted text."""

    line: int  #: 1-based line number in the text as pasted (before normalisation)
    text: str  #: that line, clipped to a readable length
    stated: bool = True  #: True when the text states the value; False when it is inferred
    how: str = ""  #: for inferred facts, one clause saying how (e.g. "from the wheel tag +cu118")
