"""Checks of the distributed gate: software versions that differ across ranks, and wrong all-reduce results.

They judge the ``ranks`` fact area (RanksFacts: every rank's summary and all-reduce results), which
only ``gate --distributed`` gathers; elsewhere the area is "not run" and the engine skips these
checks with that reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from cudadoctor.checks.base import Check, SkipCheck
from cudadoctor.facts import Facts, Unavailable
from cudadoctor.facts_ranks import AllreduceResult, RankFacts, RanksFacts
from cudadoctor.findings import Finding, Severity

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables

#: Version keys of a rank summary, their display names, and the severity of a mismatch.
#: NOTE: different torch / CUDA / NCCL builds across ranks break or hang collectives (NCCL's wire
#: protocol is only guaranteed between identical versions; torch's c10d and DDP bucket layout
#: change between releases). A different driver or cuDNN makes ranks run at different speeds
#: or with slightly different numerics, which DDP tolerates (gradients are averaged).
#: https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html
VERSION_KEYS: Mapping[str, tuple[str, Severity]] = {
    "torch": ("torch", Severity.ERROR),
    "cuda": ("torch's CUDA", Severity.ERROR),
    "nccl": ("NCCL", Severity.ERROR),
    "cudnn": ("cuDNN", Severity.WARNING),
    "driver": ("NVIDIA driver", Severity.WARNING),
}


def rank_ranges(ranks: Iterable[int]) -> str:
    """'0-6, 9' for [0, 1, 2, 3, 4, 5, 6, 9]."""
    values = sorted(set(ranks))
    out: list[str] = []
    start = prev = None
    for r in values:
        if start is None:
            start = prev = r
        elif r == prev + 1:  # type: ignore[operator]
            prev = r
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = r
    if start is not None:
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)


def _group_text(value: str, members: Sequence[RankFacts]) -> str:
    ranks = [m.rank for m in members]
    hosts = sorted({m.host for m in members})
    shown = ", ".join(hosts[:4]) + (f" and {len(hosts) - 4} more" if len(hosts) > 4 else "")
    noun = "rank" if len(ranks) == 1 else "ranks"
    return f"{value} on {noun} {rank_ranges(ranks)} (host{'' if len(hosts) == 1 else 's'} {shown})"


def version_groups(ranks: Sequence[RankFacts], key: str) -> dict[str, list[RankFacts]]:
    """Ranks grouped by their known value of versions.*key*, largest group first."""
    groups: dict[str, list[RankFacts]] = {}
    for r in ranks:
        value = r.versions.get(key)
        if not isinstance(value, Unavailable) and value:
            groups.setdefault(value, []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def gathered(facts: Facts) -> RanksFacts:
    """The ranks gate --distributed gathered, or skip when it did not run here."""
    ranks = facts.ranks
    if isinstance(ranks, Unavailable):
        raise SkipCheck(ranks.reason)
    return ranks


class _DistributedCheck(Check):
    """Base of the distributed checks: they need the ``ranks`` fact area."""

    requires = frozenset({"ranks"})


class DistributedVersionMismatch(_DistributedCheck):
    """Ranks of one distributed job run different torch, CUDA, cuDNN, NCCL or driver versions.

    ## What it checks
    Every rank of `cudadoctor gate --distributed` reports the torch version, the CUDA version
    torch was built with, the cuDNN and NCCL versions torch loads, and the NVIDIA driver
    version; the gate compares them across all ranks (all nodes). A mismatch in torch, CUDA or
    NCCL is an error; a mismatch in cuDNN or the driver alone is a warning.

    ## Why it matters
    Nodes that were provisioned at different times, or a container image tag that moved
    between two pulls, leave a job with mixed software. NCCL only guarantees its wire protocol
    between identical versions, and torch's collectives and DDP change between releases: mixed
    versions show up as hangs at the first all-reduce, "NCCL error: invalid usage" or silently
    wrong gradients, hours into a run. A different driver or cuDNN on one node makes that node
    slower (the whole job waits for it) or numerically different.

    ## Example
    Seven nodes run the image `train:2024-06` with torch 2.3.1+cu121 (NCCL 2.20.5); the eighth
    pulled `train:latest` with torch 2.4.0+cu124 (NCCL 2.21.5).

    ## Fix
    Install the same software on every node: pin the container image by digest, or install
    the same torch wheel (`pip install torch==X --index-url https://download.pytorch.org/whl/cuXYZ`)
    and the same NVIDIA driver everywhere; then rerun the gate.

    ## References
    - https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html
    - https://docs.pytorch.org/docs/stable/distributed.html
    - https://docs.pytorch.org/docs/stable/notes/ddp.html
    """

    code = "DST001"
    name = "distributed-version-mismatch"
    severity = Severity.ERROR
    tables = ()

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per version that differs across ranks."""
        ranks = gathered(facts).ranks
        if len(ranks) < 2:
            raise SkipCheck(f"only {len(ranks)} rank reported: nothing to compare across ranks")
        for key, (label, severity) in VERSION_KEYS.items():
            groups = version_groups(ranks, key)
            if len(groups) < 2:
                continue
            majority, *others = groups
            message = (f"{label} differs across the {len(ranks)} ranks: "
                       + "; ".join(_group_text(v, m) for v, m in groups.items()) + ".")
            odd_hosts = sorted({m.host for v in others for m in groups[v]})
            yield self.finding(
                message=message,
                evidence={f"ranks.versions.{key}": "; ".join(f"{v}: ranks {rank_ranges(m.rank for m in ms)}"
                                                             for v, ms in groups.items())},
                fix=_fix(key, majority, odd_hosts),
                severity=severity,
            )


def _fix(key: str, majority: str, hosts: Sequence[str]) -> str:
    where = "on " + ", ".join(hosts) if hosts else "on the odd ranks' hosts"
    if key == "torch" or key == "cuda":
        version = majority.split("+")[0]
        tag = majority.split("+")[1] if "+" in majority and key == "torch" else ""
        if key == "torch":
            index = f" --index-url https://download.pytorch.org/whl/{tag}" if tag.startswith("cu") else ""
            return (f"install the torch most ranks run {where}: pip install torch=={version}{index} "
                    "(or pin the same container image, by digest, on every node)")
        return (f"install a torch built for CUDA {majority} {where} (the build most ranks use), "
                "or pin the same container image, by digest, on every node")
    if key == "nccl":
        return (f"make {where} load NCCL {majority} like the other ranks: reinstall the same torch (and its "
                "nvidia-nccl-cuXX wheel), and remove any other libnccl from LD_LIBRARY_PATH / LD_PRELOAD there")
    if key == "cudnn":
        return f"install the same torch (and its nvidia-cudnn-cuXX wheel) {where}, so cuDNN {majority} loads everywhere"
    return f"install NVIDIA driver {majority} {where} (the version most ranks run), then reboot or reload the module"


class AllreduceWrongResult(_DistributedCheck):
    """An all-reduce across the ranks returned values that differ from the exact expected sum.

    ## What it checks
    The distributed gate all-reduces (sums) tensors whose every element is a small integer
    chosen per rank and per position, so the correct result is known exactly; every rank
    compares its result element by element with that sum, at every tested size.

    ## Why it matters
    A wrong all-reduce means corrupted gradients: training goes on, losses drift or diverge,
    and nothing crashes. The usual causes are a faulty GPU (memory errors), a bad NVLink or
    InfiniBand link, a broken GPUDirect RDMA / peer-to-peer path (IOMMU or ACS enabled on a
    bare-metal host), or mixed NCCL versions.

    ## Example
    On a host with PCIe ACS enabled, NCCL's peer-to-peer copies between two GPUs deliver stale
    data and the 32 MiB all-reduce returns wrong sums on ranks 2 and 3.

    ## Fix
    Rerun with `NCCL_DEBUG=INFO` to see the transport in use; try `NCCL_P2P_DISABLE=1` (and
    `NCCL_IB_DISABLE=1`) to isolate the path; check the named hosts' GPUs (`nvidia-smi -q -d ECC`),
    links (`nvidia-smi nvlink -e`, `ibstat`) and that ACS is off on bare metal; run nccl-tests
    `all_reduce_perf -b 8 -e 256M -f 2 -c 1` across the same hosts.

    ## References
    - https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html
    - https://github.com/NVIDIA/nccl-tests
    - https://docs.pytorch.org/docs/stable/distributed.html#torch.distributed.all_reduce
    """

    code = "DST002"
    name = "allreduce-wrong-result"
    severity = Severity.ERROR
    tables = ()

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding naming every rank whose all-reduce result was wrong."""
        ranks = gathered(facts).ranks
        results = [(r, r.allreduce) for r in ranks if isinstance(r.allreduce, AllreduceResult)]
        wrong = [(r, size) for r, a in results for size in a.sizes if not size.correct]
        if not wrong:
            if not any(a.sizes for _, a in results):
                raise SkipCheck("no all-reduce result was reported")
            return
        parts = [f"rank {r.rank} (host {r.host}, {r.gpu}): {s.mib:g} MiB "
                 f"{s.wrong_elements} wrong element(s), max error {s.max_error}"
                 for r, s in wrong]
        hosts = sorted({r.host for r, _ in wrong})
        yield self.finding(
            message=f"all-reduce (sum) over {len(ranks)} ranks returned wrong values: " + "; ".join(parts[:8])
            + (f"; and {len(parts) - 8} more" if len(parts) > 8 else "") + ".",
            evidence={"ranks.allreduce.wrong": ", ".join(f"rank {r.rank}" for r, _ in wrong)},
            fix=(f"rerun the gate with NCCL_DEBUG=INFO; then with NCCL_P2P_DISABLE=1 to isolate the path; check "
                 f"{', '.join(hosts)}: nvidia-smi -q -d ECC, nvidia-smi nvlink -e, ibstat, and that PCIe ACS is off "
                 "on bare metal; confirm with nccl-tests: all_reduce_perf -b 8 -e 256M -f 2 -c 1"),
        )


CHECKS: tuple[type[Check], ...] = (DistributedVersionMismatch, AllreduceWrongResult)
