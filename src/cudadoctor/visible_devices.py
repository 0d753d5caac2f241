"""CUDA_VISIBLE_DEVICES read the way CUDA reads it, against the GPUs NVML lists (pure; no I/O).

The driver checks ask this module which devices a value selects, where CUDA stops reading it and
why, so no check re-implements CUDA's parsing rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cudadoctor.facts import GpuFacts

_NEGATIVE = re.compile(r"^-\d+$")
_LEADING_INDEX = re.compile(r"\d+")


def gpu_label(g: GpuFacts) -> str:
    """'GPU 0 (NVIDIA A100-SXM4-80GB, 00000000:07:00.0)'."""
    return f"GPU {g.index} ({g.name}, {g.pci_bus_id})"


@dataclass(frozen=True, slots=True)
class VisibleDevices:
    """CUDA_VISIBLE_DEVICES resolved against the GPUs NVML lists."""

    raw: str  #: the value as set
    tokens: tuple[str, ...]  #: its comma-separated entries, stripped
    #: (token, what it selects) for every entry CUDA accepts, in order
    selected: tuple[tuple[str, str], ...] = ()
    #: index of the entry where CUDA stopped parsing, or None when it read them all
    stopped_at: int | None = None
    stop_reason: str = ""  #: why CUDA stopped there ("" when it did not)
    deliberate_stop: bool = False  #: the stop was a negative index (the documented "-1" idiom)
    duplicate: str = ""  #: the first repeated entry ("" when none)
    mig_uuids: tuple[str, ...] = ()  #: MIG UUIDs that were selected
    uses_indices: bool = False  #: some accepted entry is an integer index

    @property
    def ignored(self) -> tuple[str, ...]:
        """Entries after the one CUDA stopped at (never looked at)."""
        return self.tokens[self.stopped_at + 1 :] if self.stopped_at is not None else ()

    @property
    def visible_count(self) -> int:
        """How many devices CUDA ends up exposing (0 when a repeat empties the list)."""
        return 0 if self.duplicate else len(self.selected)


def parse_visible_devices(value: str, gpus: Sequence[GpuFacts]) -> VisibleDevices:
    """Parse CUDA_VISIBLE_DEVICES like CUDA: comma list, stop at the first invalid entry.

    NOTE: semantics from the CUDA programming guide's environment-variable table
    (https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#cuda-environment-variables):
    integer indices or GPU UUIDs (a unique prefix is enough), "MIG-<uuid>" for MIG devices; "if
    one of the indices is invalid, only the devices whose index precedes the invalid index are
    visible". torch mirrors this in torch/cuda/__init__.py `_parse_visible_devices`, including
    "Repeated ordinal results in empty set" and strtoul-style parsing ("1gpu" -> 1).
    """
    tokens = tuple(t.strip() for t in value.split(","))
    selected: list[tuple[str, str]] = []
    mig_uuids: list[str] = []
    uses_indices = False
    stopped_at: int | None = None
    stop_reason = ""
    deliberate = False
    duplicate = ""
    seen: set[str] = set()
    migs = [(m.uuid, g) for g in gpus for m in g.mig_devices]
    for i, tok in enumerate(tokens):
        key, what, problem = _resolve_token(tok, gpus, migs)
        if problem:
            stopped_at, stop_reason = i, problem
            deliberate = bool(_NEGATIVE.match(tok))
            break
        if key in seen:
            duplicate = tok
            break
        seen.add(key)
        selected.append((tok, what))
        if tok.upper().startswith("MIG-"):
            mig_uuids.append(key)
        elif not tok.upper().startswith("GPU-"):
            uses_indices = True
    return VisibleDevices(
        raw=value, tokens=tokens, selected=tuple(selected), stopped_at=stopped_at, stop_reason=stop_reason,
        deliberate_stop=deliberate, duplicate=duplicate, mig_uuids=tuple(mig_uuids), uses_indices=uses_indices,
    )


def selected_indices(vd: VisibleDevices) -> list[int]:
    """The integer indices among the accepted entries, in order ("1gpu" counts as 1, as in CUDA)."""
    return [int(m.group()) for tok, _ in vd.selected if (m := _LEADING_INDEX.match(tok))]


def _resolve_token(tok: str, gpus: Sequence[GpuFacts], migs: list[tuple[str, GpuFacts]]) -> tuple[str, str, str]:
    """(identity key, description, problem) for one CUDA_VISIBLE_DEVICES entry."""
    upper = tok.upper()
    if upper.startswith("GPU-"):
        hits = [g for g in gpus if g.uuid.upper().startswith(upper)]
        if len(hits) == 1:
            return hits[0].uuid, gpu_label(hits[0]), ""
        if not hits:
            return "", "", f"{tok!r} matches no GPU UUID on this machine"
        return "", "", f"{tok!r} is ambiguous: it is a prefix of {len(hits)} GPU UUIDs"
    if upper.startswith("MIG-GPU-"):
        # NOTE: the pre-R470 MIG form "MIG-GPU-<uuid>/<gi>/<ci>"; only the GPU part is checkable.
        gpu_part = upper[4:].split("/", 1)[0]
        hits = [g for g in gpus if g.uuid.upper().startswith(gpu_part)]
        if len(hits) == 1:
            return tok, f"a MIG device of {gpu_label(hits[0])}", ""
        return "", "", f"{tok!r} names no MIG-enabled GPU on this machine"
    if upper.startswith("MIG-"):
        mhits = [(u, g) for u, g in migs if u.upper().startswith(upper)]
        if len(mhits) == 1:
            return mhits[0][0], f"MIG device {mhits[0][0]} on {gpu_label(mhits[0][1])}", ""
        if not mhits:
            return "", "", f"{tok!r} matches no MIG device UUID on this machine"
        return "", "", f"{tok!r} is ambiguous: it is a prefix of {len(mhits)} MIG UUIDs"
    m = _LEADING_INDEX.match(tok)
    if not m:
        if _NEGATIVE.match(tok):
            return "", "", f"{tok!r} is a negative index (hides it and everything after it)"
        return "", "", f"{tok!r} is neither an index nor a GPU-/MIG- UUID"
    index = int(m.group())
    if index >= len(gpus):
        have = f"indices 0-{len(gpus) - 1}" if gpus else "none"
        return "", "", f"index {index} does not exist (this process can see {len(gpus)} GPU(s): {have})"
    return f"#{index}", f"CUDA device {index}", ""
