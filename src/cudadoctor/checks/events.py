"""Event checks (TRG0xx): failures that happen while a program runs and leave no state a probe can read.

An NCCL collective that failed, a CUDA allocation that ran out of memory, a GPU that fell off the
bus: ``check`` cannot see these afterwards, so ``evaluate`` never fires on probed facts (they are
not in :data:`cudadoctor.checks.CHECKS`). ``triage`` reports them when pasted text shows the event,
and they own their fix, signatures and explanation like every other check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from cudadoctor.checks.base import Check
from cudadoctor.checks.context import FixContext
from cudadoctor.findings import Finding, Severity
from cudadoctor.remedies import Remedy

if TYPE_CHECKING:
    from cudadoctor.facts import Facts
    from cudadoctor.tables import RuleTables


class EventCheck(Check):
    """Base of the event checks: nothing in the facts shows an event, so evaluate never fires."""

    status = "preview"
    #: what confirms the event on the machine (no ``cudadoctor check`` can: it is over)
    confirm: ClassVar[str] = ""

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield nothing: an event that happened earlier is not a fact a probe can read now."""
        return iter(())


class NcclError(EventCheck):
    """An NCCL collective failed.

    ## What it checks
    Pasted text (`cudadoctor triage`) that shows an NCCL error: `NCCL error in: ...`, an
    `ncclSystemError` / `ncclInternalError` / ..., the process group's watchdog timing out on a
    collective, or `NCCL WARN` lines. A live `check` cannot see a collective that failed earlier.

    ## Why it matters
    One failing rank stops the whole job; the other ranks usually report only a timeout, so the
    first rank's own error is the one to read.

    ## Example
    `torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system
    error` with `NCCL WARN Error: failed to extend /dev/shm/nccl-...` above it (a small /dev/shm).

    ## Fix
    Rerun with `NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET` and read the first rank that fails;
    check every rank runs the same torch/NCCL, /dev/shm is large enough in containers, and the
    network interface is right (`NCCL_SOCKET_IFNAME`, `NCCL_IB_DISABLE=1` to rule out InfiniBand).

    ## References
    - https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html
    """

    code = "TRG001"
    name = "nccl-error"
    severity = Severity.ERROR
    explains = ("nccl-error", "nccl-timeout", "nccl-warn")
    rank = 48
    confirm = "NCCL_DEBUG=INFO <the same launch command>"
    follows_from = (
        "shm-too-small", "gpu-ecc-errors", "cuda-out-of-memory", "no-gpu-visible", "gpu-fallen-off-bus",
        "cuda-unknown-error", "gpu-access-lost", "cuda-lib-shadowed", "driver-too-old-for-torch",
        "gpu-arch-not-in-torch-build", "nccl-too-old-for-gpu",
    )

    def fix(self, ctx: FixContext) -> Remedy:
        """Find the first failing rank with NCCL_DEBUG, then the usual causes."""
        version = ctx.text.nccl_version
        what = ctx.group("what") or (f"nccl{ctx.group('kind')}Error" if ctx.group("kind") else "")
        detail = " ".join(x for x in (f"NCCL {version}." if version else "", f"Error: {what}." if what else "") if x)
        return Remedy(
            "Rerun with `NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET` to see the failing call on the first rank that "
            "fails; check every rank uses the same torch/NCCL, that /dev/shm is large enough in containers, and that "
            "the network interface is right (`NCCL_SOCKET_IFNAME=<iface>`; `NCCL_IB_DISABLE=1` to rule out "
            "InfiniBand). A watchdog timeout usually means another rank crashed or hung first.",
            detail,
        )


class CudaOutOfMemory(EventCheck):
    """The GPU ran out of memory.

    ## What it checks
    Pasted text that shows a failed CUDA allocation: `CUDA out of memory. Tried to allocate ...`,
    `CUDA error: out of memory`, `cudaErrorMemoryAllocation`.

    ## Why it matters
    The program asked for more device memory than was free: the model, batch or sequence is too
    large for the GPU, memory is fragmented, or another process holds part of it.

    ## Example
    `torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total
    capacity of 23.65 GiB of which 1.10 GiB is free.`

    ## Fix
    Lower the batch size or sequence length, use mixed precision and activation checkpointing; set
    `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` when much memory is reserved but unallocated;
    check `nvidia-smi` for other processes on the same GPU.

    ## References
    - https://pytorch.org/docs/stable/notes/cuda.html#memory-management
    """

    code = "TRG002"
    name = "cuda-out-of-memory"
    severity = Severity.WARNING
    explains = ("cuda-oom",)
    rank = 48
    confirm = "nvidia-smi --query-gpu=index,memory.used,memory.total --format=csv"
    follows_from = ("gpu-memory-busy",)

    def fix(self, ctx: FixContext) -> Remedy:
        """Need less memory (batch, precision, checkpointing), or free the GPU from other processes."""
        tried, total, free = ctx.group("tried"), ctx.group("total"), ctx.group("free")
        bits = [f"tried to allocate {tried}" if tried else "", f"GPU total {total}" if total else "",
                f"{free} free" if free else ""]
        detail = ("The allocation " + ", ".join(b for b in bits if b) + ".") if any(bits) else ""
        return Remedy(
            "Lower the batch size or sequence length, use mixed precision (bf16/fp16) and activation checkpointing; "
            "set `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` when much memory is reserved but unallocated "
            "(fragmentation); check `nvidia-smi` for other processes on the same GPU.",
            detail,
        )


class GpuFallenOffBus(EventCheck):
    """The GPU fell off the PCIe bus (Xid 79).

    ## What it checks
    Pasted text (a kernel log, `dmesg`) that shows `NVRM: Xid (...): 79` or "GPU has fallen off the
    bus".

    ## Why it matters
    The GPU stopped answering on PCIe: every process using it fails, and it stays unreachable until
    the machine is power-cycled. Power delivery, cooling, seating or a failing GPU are the causes.

    ## Example
    `NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.`

    ## Fix
    Drain the node and cold-reboot it. If it recurs, check power, cooling and seating, update the
    firmware and driver, and RMA the GPU.

    ## References
    - https://docs.nvidia.com/deploy/xid-errors/index.html
    """

    code = "TRG003"
    name = "gpu-fallen-off-bus"
    severity = Severity.ERROR
    explains = ("xid-79",)
    rank = 12
    confirm = "sudo dmesg | grep -i xid"

    def fix(self, ctx: FixContext) -> Remedy:
        """Cold-reboot; then power, cooling, seating, firmware, RMA."""
        pci = ctx.group("pci")
        return Remedy(
            "The GPU is unreachable until a full power cycle: drain the node and cold-reboot it. If it recurs, check "
            "power delivery, cooling and seating (`nvidia-smi -q -d TEMPERATURE,POWER`), update the firmware/driver, "
            "and RMA the GPU.",
            f"GPU at {pci}." if pci else "",
        )


#: The event checks, in report order (not part of ``check``'s CHECKS).
EVENTS: tuple[type[Check], ...] = (NcclError, CudaOutOfMemory, GpuFallenOffBus)
