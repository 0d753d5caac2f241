"""What ``gate --distributed`` gathers from every rank, as a fact area (``Facts.ranks``).

Each rank of a distributed job runs the local gate, then the ranks exchange compact summaries
(:class:`RankFacts`: its verdict, reasons, software versions, GPU) and the results of an all-reduce
test. Rank 0 puts what it gathered into its Facts, and the distributed checks
(cudadoctor.gating.checks) judge them like any other area. Outside a distributed gate the area
is ``Unavailable`` with :data:`RANKS_NOT_RUN`, which is also what older facts files decode to.

Summaries travel between ranks (and appear in the JSON report's ``distributed`` object) in their
*wire form*: plain JSON where an unknown value is ``null``. :func:`rank_to_wire` and
:func:`rank_from_wire` convert; decoding is lenient, since another rank may run another
cudadoctor version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cudadoctor.unavailable import Unavailable

#: The ``probe`` of every Unavailable in this area.
PROBE = "ranks"

#: Why ``Facts.ranks`` is empty outside a distributed gate (the distributed checks' skip reason).
from cudadoctor.unavailable import RANKS_NOT_RUN as RANKS_NOT_RUN  # noqa: E402 - defined there for facts.py

#: The software versions every rank reports, in the order the checks compare them.
VERSION_FIELDS = ("torch", "cuda", "cudnn", "nccl", "driver")


@dataclass(frozen=True, slots=True, kw_only=True)
class RankReason:
    """One blocking reason of a rank's own local gate."""

    name: str  #: catalog name of the finding, "policy-<key>" or "gate-<what>"
    severity: str  #: "error", "warning" or "info"
    message: str
    code: str = ""  #: check code ("" for policy and gate reasons)


@dataclass(frozen=True, slots=True, kw_only=True)
class RankVersions:
    """The software a rank runs (Unavailable: the rank could not tell)."""

    torch: str | Unavailable  #: torch.__version__, e.g. "2.5.1+cu124"
    cuda: str | Unavailable  #: the CUDA torch was built with, e.g. "12.4"
    cudnn: str | Unavailable  #: the cuDNN torch loads, e.g. "9.1.0"
    nccl: str | Unavailable  #: the NCCL torch loads, e.g. "2.21.5"
    driver: str | Unavailable  #: the NVIDIA driver, e.g. "550.54.15"

    def get(self, key: str) -> str | Unavailable:
        """The version called *key* (one of VERSION_FIELDS)."""
        return getattr(self, key)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True, kw_only=True)
class AllreduceSize:
    """The all-reduce test at one tensor size on one rank."""

    bytes: int  #: tensor size, bytes
    mib: float  #: the same in MiB
    iterations: int  #: timed all-reduces
    seconds: float | Unavailable  #: mean seconds per all-reduce
    algbw_gbs: float | Unavailable  #: bytes / time, GB/s (Unavailable with one rank: no data moves)
    busbw_gbs: float | Unavailable  #: algbw * 2 (n - 1) / n, GB/s (nccl-tests' bus bandwidth)
    correct: bool  #: every element equals the exact expected sum
    wrong_elements: int  #: elements that differ from it
    max_error: float  #: largest |result - expected|


@dataclass(frozen=True, slots=True, kw_only=True)
class AllreduceResult:
    """One rank's all-reduce test: correctness and bandwidth at each size, or why it failed."""

    sizes: tuple[AllreduceSize, ...]
    busbw_gbs: float | Unavailable  #: bus bandwidth at the largest size, GB/s
    algbw_gbs: float | Unavailable  #: algorithm bandwidth at the largest size, GB/s
    dtype: str = "float32"
    op: str = "sum"
    note: str = ""  #: e.g. why no bandwidth was measured
    error: str = ""  #: why the test failed on this rank ("" when it ran)


@dataclass(frozen=True, slots=True, kw_only=True)
class RankFacts:
    """One rank's summary: where it runs, what its local gate decided, what software it has."""

    rank: int
    local_rank: int
    world_size: int
    host: str  #: host name ("?" when the rank did not say)
    pid: int  #: process id on that host (0 unknown)
    device: str  #: "cuda:N" or "cpu"
    gpu: str  #: GPU model name, or "CPU"
    gpu_uuid: str  #: "GPU-..." ("" unknown)
    verdict: str  #: the rank's own local gate: "go" or "stop"
    reasons: tuple[RankReason, ...]  #: its local gate's blocking reasons
    waived: tuple[str, ...]  #: findings / policy keys its --cpu waived
    bench: tuple[str, ...]  #: its benchmark headlines, one per device
    local_seconds: float  #: wall seconds of its local gate
    versions: RankVersions
    cudadoctor: str  #: the cudadoctor version the rank runs
    allreduce: AllreduceResult | Unavailable  #: Unavailable until the results are gathered


@dataclass(frozen=True, slots=True, kw_only=True)
class SilentRank:
    """A rank that never answered, and what is known about where it stopped."""

    rank: int
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RanksFacts:
    """Everything rank 0 gathered from the job's ranks."""

    world_size: int
    backend: str  #: "nccl", "gloo" or "" (the collective phase never started)
    error: str  #: why the collective phase failed on this rank ("" when it completed)
    ranks: tuple[RankFacts, ...]  #: the ranks that answered, by rank
    missing: tuple[SilentRank, ...]  #: the ranks that did not
    master_addr: str
    master_port: str


# -------------------------------------------------------------------------------------- wire form


def _opt(value: float | str | Unavailable) -> Any:
    return None if isinstance(value, Unavailable) else value


def size_to_wire(s: AllreduceSize) -> dict[str, Any]:
    """One size's result as plain JSON."""
    return {"bytes": s.bytes, "mib": s.mib, "iterations": s.iterations, "seconds": _opt(s.seconds),
            "algbw_gbs": _opt(s.algbw_gbs), "busbw_gbs": _opt(s.busbw_gbs), "correct": s.correct,
            "wrong_elements": s.wrong_elements, "max_error": s.max_error}


def allreduce_to_wire(a: AllreduceResult) -> dict[str, Any]:
    """One rank's all-reduce test as plain JSON (``{"error", "sizes"}`` when it failed)."""
    sizes = [size_to_wire(s) for s in a.sizes]
    if a.error:
        return {"error": a.error, "sizes": sizes}
    data = {"sizes": sizes, "busbw_gbs": _opt(a.busbw_gbs), "algbw_gbs": _opt(a.algbw_gbs), "dtype": a.dtype, "op": a.op}
    if a.note:
        data["note"] = a.note
    return data


def reason_to_wire(r: RankReason) -> dict[str, str]:
    """A reason as plain JSON (as cudadoctor.policy.Reason.to_json writes it)."""
    data = {"name": r.name, "severity": r.severity, "message": r.message}
    if r.code:
        data["code"] = r.code
    return data


def rank_to_wire(r: RankFacts) -> dict[str, Any]:
    """A rank's summary as plain JSON: what travels between ranks and what the JSON report shows."""
    data: dict[str, Any] = {
        "rank": r.rank, "local_rank": r.local_rank, "world_size": r.world_size, "host": r.host, "pid": r.pid,
        "device": r.device, "gpu": r.gpu, "gpu_uuid": r.gpu_uuid, "verdict": r.verdict,
        "reasons": [reason_to_wire(x) for x in r.reasons], "waived": list(r.waived), "bench": list(r.bench),
        "local_seconds": r.local_seconds, "versions": {k: _opt(r.versions.get(k)) for k in VERSION_FIELDS},
        "cudadoctor": r.cudadoctor,
    }
    if not isinstance(r.allreduce, Unavailable):
        data["allreduce"] = allreduce_to_wire(r.allreduce)
    return data


def ranks_to_json(facts: RanksFacts) -> dict[str, Any]:
    """The JSON report's ``distributed`` object."""
    return {
        "world_size": facts.world_size, "backend": facts.backend, "error": facts.error,
        "ranks": [rank_to_wire(r) for r in facts.ranks], "missing": {str(m.rank): m.why for m in facts.missing},
        "master_addr": facts.master_addr, "master_port": facts.master_port,
    }


def _number(value: Any, why: str) -> float | Unavailable:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Unavailable(probe=PROBE, reason=why)
    return float(value)


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _text(value: Any, default: str = "") -> str:
    return str(value) if value is not None else default


def size_from_wire(data: Mapping[str, Any]) -> AllreduceSize:
    """One size's result from plain JSON (missing keys get neutral defaults)."""
    mib = _number(data.get("mib"), "size not reported")
    nbytes = _int(data.get("bytes"), int(mib * (1 << 20)) if isinstance(mib, float) else 0)
    one_rank = "not measured (an all-reduce over one rank moves no data)"
    return AllreduceSize(
        bytes=nbytes, mib=mib if isinstance(mib, float) else nbytes / (1 << 20), iterations=_int(data.get("iterations")),
        seconds=_number(data.get("seconds"), "not reported"), algbw_gbs=_number(data.get("algbw_gbs"), one_rank),
        busbw_gbs=_number(data.get("busbw_gbs"), one_rank),
        # NOTE: only an explicit false is a wrong result; a rank that did not say is not accused.
        correct=data.get("correct") is not False, wrong_elements=_int(data.get("wrong_elements")),
        max_error=float(_number(data.get("max_error"), "") or 0.0),
    )


def allreduce_from_wire(data: Any) -> AllreduceResult | Unavailable:
    """One rank's all-reduce test from plain JSON (Unavailable when the rank sent none)."""
    if not isinstance(data, Mapping):
        return Unavailable(probe=PROBE, reason="no all-reduce result was reported")
    sizes = tuple(size_from_wire(s) for s in data.get("sizes") or () if isinstance(s, Mapping))
    why = str(data.get("note") or "not measured")
    return AllreduceResult(
        sizes=sizes, busbw_gbs=_number(data.get("busbw_gbs"), why), algbw_gbs=_number(data.get("algbw_gbs"), why),
        dtype=_text(data.get("dtype"), "float32"), op=_text(data.get("op"), "sum"), note=_text(data.get("note")),
        error=_text(data.get("error")),
    )


def rank_from_wire(data: Mapping[str, Any]) -> RankFacts:
    """A rank's summary from plain JSON, as another rank (or a test case) sent it."""
    rank = _int(data.get("rank"))
    versions = data.get("versions") if isinstance(data.get("versions"), Mapping) else {}

    def version(key: str) -> str | Unavailable:
        value = versions.get(key)
        return str(value) if value else Unavailable(probe=PROBE, reason=f"rank {rank} did not report its {key} version")

    reasons = tuple(
        RankReason(name=_text(x.get("name")), severity=_text(x.get("severity"), "error"), message=_text(x.get("message")),
                   code=_text(x.get("code")))
        for x in data.get("reasons") or () if isinstance(x, Mapping)
    )
    return RankFacts(
        rank=rank, local_rank=_int(data.get("local_rank")), world_size=_int(data.get("world_size")),
        host=_text(data.get("host"), "?"), pid=_int(data.get("pid")), device=_text(data.get("device")),
        gpu=_text(data.get("gpu"), "?"), gpu_uuid=_text(data.get("gpu_uuid")), verdict=_text(data.get("verdict")),
        reasons=reasons, waived=tuple(str(x) for x in data.get("waived") or ()),
        bench=tuple(str(x) for x in data.get("bench") or ()),
        local_seconds=float(_number(data.get("local_seconds"), "") or 0.0),
        versions=RankVersions(**{k: version(k) for k in VERSION_FIELDS}), cudadoctor=_text(data.get("cudadoctor")),
        allreduce=allreduce_from_wire(data.get("allreduce")),
    )
