"""What moved since a known-good snapshot, as a fact area (``Facts.drift``).

``check --baseline known-good.json`` (and ``gate --baseline``) compares this machine's facts with the
baseline's, the way ``cudadoctor diff`` does (cudadoctor.diff), and puts the differences that matter
here; the ``environment-drift`` check judges them like any other area. Without a baseline the area
is ``Unavailable`` with :data:`DRIFT_NOT_RUN`, which is also what every facts file written before
this area existed decodes to.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The ``probe`` of every Unavailable in this area.
PROBE = "drift"

#: Why ``Facts.drift`` is empty without a baseline (the environment-drift check's skip reason).
from cudadoctor.unavailable import DRIFT_NOT_RUN as DRIFT_NOT_RUN  # noqa: E402 - defined there for facts.py


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftChange:
    """One fact that differs from the baseline (noise such as temperatures is never one)."""

    group: str  #: the area of consequence, e.g. "driver", "torch", "environment" (cudadoctor.diff.aspects.GROUPS)
    path: str  #: the fact's dotted path, e.g. "torch.version", "env.variables[LD_LIBRARY_PATH]"
    label: str  #: what it is, in words, e.g. "torch version"
    baseline: str  #: its value in the baseline ("(absent)" when the baseline has no such fact)
    current: str  #: its value now ("(absent)" when it is gone)
    note: str = ""  #: what the change means, e.g. "CUDA variant cu121 -> cu118"
    #: catalog names of the findings this machine has and the baseline had not, resting on this change
    causes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftFacts:
    """The differences that matter between the baseline and this machine, most consequential first."""

    baseline: str  #: where the baseline came from (its file name)
    baseline_collected_at: str  #: when the baseline's facts were collected
    changes: tuple[DriftChange, ...]
    noise_ignored: int = 0  #: differences in live state (temperatures, memory in use, ...) left out
