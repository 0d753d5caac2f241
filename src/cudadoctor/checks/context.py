"""FixContext: what a check's ``fix()`` may know about the machine a finding is about.

A live ``check`` finding carries the fix its ``evaluate`` wrote from the probed facts. A finding
``triage`` reads from pasted text has no such facts, so the check builds its fix from a
FixContext instead: the rule tables, the facts parsed from the text (and the live facts, when
this machine was probed too), what the matched lines captured, and the text-wide context (WSL,
an nvidia-smi header, MIG). Everything here is data; ``fix()`` stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.version import Version

if TYPE_CHECKING:
    from cudadoctor.facts import Facts
    from cudadoctor.tables import RuleTables


@dataclass(frozen=True, slots=True)
class TextContext:
    """Facts a pasted text states in passing, used by the signature refinements and by fixes."""

    wsl: bool = False
    smi_driver: str = ""  #: "Driver Version: X" from an nvidia-smi table ("" if none)
    mig_enabled: bool = False
    visible_devices: str | None = None  #: a CUDA_VISIBLE_DEVICES value seen in the text
    torch_context: bool = False  #: the text comes from a torch program
    nccl_version: str = ""
    extension_named: str = ""  #: what shows a CUDA extension is built or run (TORCH_CUDA_ARCH_LIST, an ops path)
    libcuda_named: bool = False  #: the text names libcuda.so (the driver's library) somewhere
    pip_index: str = ""  #: a package index URL pip was pointed at (--index-url, "Looking in indexes:")


@dataclass(slots=True, kw_only=True)
class FixContext:
    """Inputs of :meth:`cudadoctor.checks.base.Check.fix`: tables, facts and what the text captured."""

    tables: RuleTables
    facts: Facts | None = None  #: the facts judged (parsed from the text, or probed)
    live: Facts | None = None  #: this machine's probed facts (triage --probe), else None
    text: TextContext = field(default_factory=TextContext)
    #: named groups the matched lines captured, one mapping per matched line, best line first
    captured: Sequence[Mapping[str, str]] = ()
    #: keys of the text signatures that matched (after refinement), best first
    signatures: Sequence[str] = ()
    #: fact paths of *facts* holding stand-ins, not values from the text
    placeholders: frozenset[str] = frozenset()
    # NOTE: the values below are read from the facts (text first, then live) by the triage engine
    # so every fix sees the same torch/driver/GPU; they are None / empty when nothing states them.
    torch_version: Version | None = None
    torch_cuda: Version | None = None
    driver: Version | None = None
    gpu_ccs: list[Version] = field(default_factory=list)
    gpu_names: list[str] = field(default_factory=list)
    python: Version | None = None

    def group(self, key: str) -> str:
        """The first value of named group *key* among the matched lines ("" when none captured it)."""
        return next((g[key] for g in self.captured if g.get(key)), "")

    def groups(self, key: str) -> list[str]:
        """Every value of named group *key*, one per matched line that captured it."""
        return [g[key] for g in self.captured if g.get(key)]

    @property
    def first_signature(self) -> str:
        """Key of the signature that best states the problem ("" outside triage)."""
        return self.signatures[0] if self.signatures else ""
