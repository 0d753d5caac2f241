"""Checks of each GPU's health as NVML reports it: ECC, throttling, PCIe link, memory, persistence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from cudadoctor.checks.base import Check, SkipCheck
from cudadoctor.findings import Finding, Severity
from cudadoctor.facts import DriverFacts, Facts, GpuFacts, Unavailable, known
from cudadoctor.tables import RuleTables
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy

T = TypeVar("T")

#: Share of a GPU's memory that other processes may hold before GPU004 warns.
#: NOTE: a CUDA context alone costs roughly 0.3-0.6 GiB and a desktop session a few hundred MiB
#: more; 10% stays above that on every card of 8 GiB or more (and above the ~500 MiB an idle
#: 80 GiB card reports), while a job that sizes its batch for the whole card already hits OOM
#: when a tenth of the memory is gone.
BUSY_MEMORY_FRACTION = 0.10

#: Clock-event reasons that mean the GPU is being slowed down by hardware or heat.
#: NOTE: "sw-power-cap" alone is the normal state of a GPU running at its power limit under load,
#: and "gpu-idle" / "applications-clocks" / "sync-boost" / "display-clocks" are not slowdowns
#: (https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html).
THROTTLE_REASONS: dict[str, str] = {
    "hw-slowdown": "HW slowdown (the hardware halves clocks: overheating or a power-supply event)",
    "hw-thermal": "HW thermal slowdown (the GPU is too hot)",
    "hw-power-brake": "HW power brake (an external power-brake signal, e.g. from the PSU or chassis)",
    "sw-thermal": "SW thermal slowdown (the driver keeps the GPU below its maximum temperature)",
}


def _gpus(facts: Facts) -> tuple[GpuFacts, ...]:
    drv = facts.driver
    assert isinstance(drv, DriverFacts)
    if not drv.gpus:
        raise SkipCheck(
            "no GPU is listed"
            + (f" (NVML status {drv.nvml_status}: {drv.nvml_error})" if drv.nvml_status != "ok" else "")
        )
    return drv.gpus


def _sentence(text: str) -> str:
    """Upper-case the first letter only (str.capitalize would lower-case commands and paths)."""
    return text[:1].upper() + text[1:]


def _label(g: GpuFacts) -> str:
    return f"GPU {g.index} ({g.name}, {g.pci_bus_id})"


def _require_some(gpus: tuple[GpuFacts, ...], get: Callable[[GpuFacts], object], what: str) -> None:
    """Skip when *what* is unknown on every GPU (with the first reason)."""
    values = [get(g) for g in gpus]
    if all(isinstance(v, Unavailable) for v in values):
        first = values[0]
        raise SkipCheck(f"{what} unknown on every GPU: {first.reason if isinstance(first, Unavailable) else ''}")


def _value(v: T | Unavailable, unit: str = "") -> str:
    return f"{v}{unit}" if known(v) else "unknown"


# --------------------------------------------------------------------------------------------
# GPU001


class GpuEccErrors(Check):
    """A GPU has uncorrectable memory (ECC) errors or a pending/failed memory repair.

    ## What it checks
    Per GPU: uncorrectable ECC errors since the driver loaded (volatile) and over the GPU's
    life (aggregate), page retirements waiting for a reset (pre-Ampere), and row remapping
    pending a reset or failed (Ampere and newer).

    ## Why it matters
    Uncorrectable errors kill the CUDA contexts that touch the memory (Xid 48/63/64/94/95) and
    can silently corrupt training. A pending retirement/remap takes effect only after a GPU
    reset; a failed remap means the GPU needs service.

    ## Example
    An A100 reporting `remapped_rows_pending` after a double-bit error: fine again after
    `nvidia-smi -r`; an H100 with `remapped_rows_failure`: RMA.

    ## Fix
    Reset the GPU (`sudo nvidia-smi -r -i <N>`, with nothing running on it) for pending repairs;
    drain the node and contact the vendor when remapping failed or errors recur.

    ## References
    - https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/index.html
    - https://docs.nvidia.com/deploy/dynamic-page-retirement/index.html
    - https://docs.nvidia.com/deploy/xid-errors/index.html
    """

    code = "GPU001"
    name = "gpu-ecc-errors"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    fast = True

    _FIELDS = (
        "ecc_uncorrectable_volatile",
        "ecc_uncorrectable_aggregate",
        "retired_pages_pending",
        "remapped_rows_pending",
        "remapped_rows_failure",
    )
    explains = ("cuda-ecc", "xid-ecc")
    rank = 15

    def fix(self, ctx: FixContext) -> Remedy:
        """Take the GPU out of service, apply retirements, diagnose, RMA if it recurs."""
        pci, xid = ctx.group("pci"), ctx.group("xid")
        where = f" -i {pci}" if pci else ""
        return Remedy(
            "Take the GPU out of service: drain the node, then inspect `nvidia-smi -q -d "
            f"ECC,PAGE_RETIREMENT,ROW_REMAPPER{where}`; reset the GPU (`sudo nvidia-smi -r{where}`) or reboot to "
            "apply pending retirements/remaps, and run `dcgmi diag -r 3`. If errors return or row remapping "
            "failed, the GPU needs replacement (RMA).",
            f"Xid {xid} on {pci}." if xid else "",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per GPU with a memory problem."""
        gpus = _gpus(facts)
        if all(all(isinstance(getattr(g, f), Unavailable) for f in self._FIELDS) for g in gpus):
            reason = gpus[0].ecc_uncorrectable_volatile
            raise SkipCheck(
                "ECC and memory-repair counters unknown on every GPU"
                + (f": {reason.reason}" if isinstance(reason, Unavailable) else "")
            )
        for g in gpus:
            yield from self._one(g)

    def _one(self, g: GpuFacts) -> Iterator[Finding]:
        problems: list[str] = []
        fixes: list[str] = []
        severity = Severity.ERROR
        reset = f"reset the GPU with nothing running on it: `sudo nvidia-smi -r -i {g.index}` (or reboot)"
        vol, agg = g.ecc_uncorrectable_volatile, g.ecc_uncorrectable_aggregate
        if isinstance(vol, int) and vol > 0:
            problems.append(f"{vol} uncorrectable ECC error(s) since the driver loaded")
            fixes.append(reset)
        if g.remapped_rows_failure is True:
            problems.append("row remapping FAILED (no spare rows left): the memory cannot be repaired")
            fixes.append(
                "drain the node and contact the vendor for an RMA (collect `nvidia-smi -q -d ROW_REMAPPER,ECC` and "
                "`sudo nvidia-bug-report.sh`)"
            )
        if g.remapped_rows_pending is True:
            problems.append("a row remap is pending and takes effect only after a GPU reset")
            fixes.append(reset)
        if g.retired_pages_pending is True:
            problems.append("a page retirement is pending and takes effect only after a GPU reset")
            fixes.append(reset)
        if isinstance(agg, int) and agg > 0 and not problems:
            # NOTE: lifetime-only errors were already handled (pages retired / rows remapped), so
            # the GPU is usable now; it is a history worth watching, not a current failure.
            severity = Severity.WARNING
            problems.append(
                f"{agg} uncorrectable ECC error(s) over the GPU's lifetime (none since the driver loaded, no repair "
                "pending; a warning, not an error, because the memory was already repaired)"
            )
            fixes.append(
                f"watch it: if the count grows, run `dcgmi diag -r 3 -i {g.index}` and contact the vendor; "
                f"`nvidia-smi -q -d ECC,ROW_REMAPPER,PAGE_RETIREMENT -i {g.index}` shows the details"
            )
        if not problems:
            return
        yield self.finding(
            message=f"{_label(g)}: " + "; ".join(problems) + ".",
            evidence={
                f"driver.gpus[{g.index}].ecc_enabled": g.ecc_enabled,
                f"driver.gpus[{g.index}].ecc_uncorrectable_volatile": vol,
                f"driver.gpus[{g.index}].ecc_uncorrectable_aggregate": agg,
                f"driver.gpus[{g.index}].retired_pages_double_bit": g.retired_pages_double_bit,
                f"driver.gpus[{g.index}].retired_pages_pending": g.retired_pages_pending,
                f"driver.gpus[{g.index}].remapped_rows_pending": g.remapped_rows_pending,
                f"driver.gpus[{g.index}].remapped_rows_failure": g.remapped_rows_failure,
            },
            fix=_sentence("; ".join(dict.fromkeys(fixes))) + ".",
            severity=severity if severity is not self.severity else None,
        )


# --------------------------------------------------------------------------------------------
# GPU002


class GpuThrottled(Check):
    """A GPU is being slowed down by heat or a hardware/power-brake event.

    ## What it checks
    NVML's active clock-event (throttle) reasons: HW slowdown, HW thermal slowdown, HW power
    brake and SW thermal slowdown. Being at the software power cap, idling, or running at
    application clocks are normal and not reported.

    ## Why it matters
    A throttled GPU runs at a fraction of its clocks: training is slow and, in a multi-GPU job,
    every rank waits for the slowest GPU.

    ## Example
    An 8-GPU server with a failed fan: GPU 3 at 92 °C shows `hw-thermal` and `sw-thermal`.

    ## Fix
    Check cooling (fans, airflow, blanking panels, data-center inlet temperature) and power
    delivery (PSU, power cables); `nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER` shows details.

    ## References
    - https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html
    - https://docs.nvidia.com/deploy/nvidia-smi/index.html
    """

    code = "GPU002"
    name = "gpu-throttled"
    severity = Severity.WARNING
    requires = frozenset({"driver"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per GPU with an active hardware or thermal slowdown."""
        gpus = _gpus(facts)
        _require_some(gpus, lambda g: g.throttle_reasons, "clock-event (throttle) reasons")
        for g in gpus:
            if not isinstance(g.throttle_reasons, tuple):
                continue
            active = [r for r in g.throttle_reasons if r in THROTTLE_REASONS]
            if not active:
                continue
            power = (
                f"{g.power_draw_w:.0f} W of {g.power_limit_w:.0f} W limit"
                if isinstance(g.power_draw_w, float) and isinstance(g.power_limit_w, float)
                else f"power {_value(g.power_draw_w, ' W')}"
            )
            message = (
                f"{_label(g)} is throttled: "
                + "; ".join(THROTTLE_REASONS[r] for r in active)
                + f". Temperature {_value(g.temperature_c, ' °C')}, {power}."
            )
            fixes = []
            if {"hw-thermal", "sw-thermal"} & set(active):
                fixes.append("improve cooling: check the fans and airflow, blanking panels and the inlet temperature")
            if "hw-power-brake" in active:
                fixes.append("check power delivery: the PSU(s), power cables and the chassis power-brake signal")
            if "hw-slowdown" in active and not ({"hw-thermal", "hw-power-brake"} & set(active)):
                fixes.append("check both cooling and power delivery (HW slowdown fires for either)")
            fixes.append(f"inspect with `nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER -i {g.index}`")
            yield self.finding(
                message=message,
                evidence={
                    f"driver.gpus[{g.index}].throttle_reasons": g.throttle_reasons,
                    f"driver.gpus[{g.index}].temperature_c": g.temperature_c,
                    f"driver.gpus[{g.index}].power_draw_w": g.power_draw_w,
                    f"driver.gpus[{g.index}].power_limit_w": g.power_limit_w,
                },
                fix=_sentence("; ".join(fixes)) + ".",
            )


# --------------------------------------------------------------------------------------------
# GPU003


def _idle(g: GpuFacts) -> bool | None:
    """Whether the GPU is idle right now (None when unknown)."""
    if isinstance(g.throttle_reasons, tuple) and "gpu-idle" in g.throttle_reasons:
        return True
    if isinstance(g.utilization_percent, int):
        return g.utilization_percent == 0
    return None


class PcieLinkDegraded(Check):
    """A GPU's PCIe link runs below its maximum width (or generation, under load).

    ## What it checks
    The current PCIe link width and generation against the maximum the GPU and its slot
    support. A narrower link is always reported. A lower generation is reported only while the
    GPU is busy: GPUs train their link down to Gen1 when idle to save power, which is normal.

    ## Why it matters
    A x8 or x4 link (a badly seated card, a riser, a slot wired x8) or a link stuck at a low
    generation halves or quarters host↔device bandwidth: data loading and NCCL over PCIe slow down.

    ## Example
    An H100 at Gen5 x8 instead of x16 after a chassis was serviced.

    ## Fix
    Reseat the card, check the slot is electrically x16 and the riser/cable, check the BIOS PCIe
    settings; verify with `nvidia-smi -q -d PCIE` and `sudo lspci -vv` (LnkSta vs LnkCap).

    ## References
    - https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    - https://docs.nvidia.com/deploy/nvidia-smi/index.html
    """

    code = "GPU003"
    name = "pcie-link-degraded"
    severity = Severity.WARNING
    requires = frozenset({"driver"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per GPU whose link is narrower than max, or slower than max while busy."""
        gpus = _gpus(facts)
        _require_some(gpus, lambda g: g.pcie_width_current, "PCIe link state")
        for g in gpus:
            wc, wm, gc, gm = g.pcie_width_current, g.pcie_width_max, g.pcie_gen_current, g.pcie_gen_max
            narrow = isinstance(wc, int) and isinstance(wm, int) and wc < wm
            idle = _idle(g)
            slow = isinstance(gc, int) and isinstance(gm, int) and gc < gm and idle is False
            if not (narrow or slow):
                continue
            problems = []
            if narrow:
                problems.append(f"width x{wc} instead of x{wm}")
            if slow:
                problems.append(
                    f"generation Gen{gc} instead of Gen{gm} while the GPU is busy "
                    f"({_value(g.utilization_percent, '%')} utilisation)"
                )
            bus = g.pci_bus_id.lower()
            short = bus[4:] if bus.count(":") == 2 and len(bus.split(":")[0]) == 8 else bus
            yield self.finding(
                message=(
                    f"{_label(g)} PCIe link runs at Gen{_value(gc)} x{_value(wc)}; the maximum is Gen{_value(gm)} x{_value(wm)} "
                    f"({'; '.join(problems)}). Host↔device transfers are slower than this GPU and slot allow."
                ),
                evidence={
                    f"driver.gpus[{g.index}].pcie_gen_current": gc,
                    f"driver.gpus[{g.index}].pcie_gen_max": gm,
                    f"driver.gpus[{g.index}].pcie_width_current": wc,
                    f"driver.gpus[{g.index}].pcie_width_max": wm,
                    f"driver.gpus[{g.index}].utilization_percent": g.utilization_percent,
                },
                fix=(
                    f"Confirm with `nvidia-smi -q -d PCIE -i {g.index}` and "
                    f"`sudo lspci -vv -s {short} | grep -E 'LnkCap|LnkSta'`; "
                    "then reseat the card, make sure the slot is electrically x16 and the riser/cable is good, and check the "
                    "BIOS PCIe link settings."
                ),
            )


# --------------------------------------------------------------------------------------------
# GPU004


class GpuMemoryBusy(Check):
    """Other processes already hold a large share of a GPU's memory.

    ## What it checks
    Per GPU, the memory held by the compute processes NVML lists, or — when NVML cannot list
    them (inside a container NVML does not see other PID namespaces) — the GPU's used memory,
    against 10% of the GPU's total. In exclusive-process compute mode any other process makes
    the GPU unusable, which is reported as an error.

    ## Why it matters
    A job sized for the whole card runs out of memory ("CUDA out of memory ... X GiB already
    allocated" that it did not allocate), or a forgotten notebook kernel / zombie process is
    competing for the GPU.

    ## Example
    A Jupyter kernel from yesterday holds 30 GiB of an 80 GiB H100.

    ## Fix
    Find the holders (`nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv`),
    stop them, or pick a free GPU with `CUDA_VISIBLE_DEVICES`.

    ## References
    - https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    - https://docs.nvidia.com/deploy/nvidia-smi/index.html
    """

    code = "GPU004"
    name = "gpu-memory-busy"
    severity = Severity.WARNING
    requires = frozenset({"driver"})
    fast = True
    explains = ("oom-other-process",)
    rank = 46

    def fix(self, ctx: FixContext) -> Remedy:
        """Stop or move the other processes, or pick a free GPU."""
        procs = ", ".join(f"PID {g['pid']} ({g.get('used', '?')})" for g in ctx.captured if g.get("pid"))
        return Remedy(
            "Stop or move the other processes (`nvidia-smi --query-compute-apps=pid,process_name,used_memory "
            "--format=csv`, then end them), or pick a free GPU with CUDA_VISIBLE_DEVICES.",
            f"Other processes hold GPU memory: {procs}." if procs else "",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per GPU where others hold more than BUSY_MEMORY_FRACTION of its memory."""
        gpus = _gpus(facts)
        _require_some(gpus, lambda g: g.memory_total_mib, "GPU memory size")
        held: dict[int, tuple[int, str]] = {}
        for g in gpus:
            h = self._held(g)
            if h is not None:
                held[g.index] = h
        if not held:
            raise SkipCheck("neither the GPU processes nor the used memory are known on any GPU")
        for g in gpus:
            if g.index not in held or not isinstance(g.memory_total_mib, int) or g.memory_total_mib <= 0:
                continue
            used, source = held[g.index]
            procs = g.processes if isinstance(g.processes, tuple) else ()
            exclusive = g.compute_mode == "exclusive-process" and bool(procs)
            share = used / g.memory_total_mib
            if share <= BUSY_MEMORY_FRACTION and not exclusive:
                continue
            pids = [
                f"{p.pid} ({p.name if isinstance(p.name, str) else '?'}, {_value(p.used_memory_mib, ' MiB')})"
                for p in procs
            ]
            message = (
                f"{_label(g)}: {used} MiB of {g.memory_total_mib} MiB ({share:.0%}) is already held by "
                + (f"other processes: {', '.join(pids)}" if pids and source == "processes" else source)
                + "."
            )
            severity = None
            if exclusive:
                severity = Severity.ERROR
                message += (
                    " The GPU is in exclusive-process compute mode, so while that process lives no other process can "
                    'create a CUDA context on it ("all CUDA-capable devices are busy or unavailable"): raised to an error.'
                )
            free = [
                o
                for o in gpus
                if o.index != g.index
                and o.index in held
                and isinstance(o.memory_total_mib, int)
                and o.memory_total_mib > 0
                and held[o.index][0] / o.memory_total_mib <= BUSY_MEMORY_FRACTION
            ]
            fix = (
                f"See who holds it: `nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv -i {g.index}` "
                "(on the host if this is a container); stop processes you own (`kill <pid>`; a leftover Jupyter kernel or "
                "DataLoader worker is the usual suspect)"
                + (f", or use a free GPU: `export CUDA_VISIBLE_DEVICES={free[0].uuid}`" if free else "")
                + "."
            )
            yield self.finding(
                message=message,
                evidence={
                    f"driver.gpus[{g.index}].memory_used_mib": g.memory_used_mib,
                    f"driver.gpus[{g.index}].memory_total_mib": g.memory_total_mib,
                    f"driver.gpus[{g.index}].processes": [str(p.pid) for p in procs]
                    if isinstance(g.processes, tuple)
                    else g.processes,
                    f"driver.gpus[{g.index}].compute_mode": g.compute_mode,
                },
                fix=fix,
                severity=severity,
            )

    @staticmethod
    def _held(g: GpuFacts) -> tuple[int, str] | None:
        """(MiB held by others, how we know) for one GPU, or None when unknown."""
        procs = g.processes
        used = [p.used_memory_mib for p in procs if isinstance(p.used_memory_mib, int)] if isinstance(procs, tuple) else []
        if isinstance(procs, tuple) and procs and len(used) == len(procs):
            return sum(used), "processes"
        if isinstance(g.memory_used_mib, int):
            # NOTE: NVML lists no process (or no per-process memory) here — inside a container it
            # cannot see other PID namespaces — so the used memory is the only evidence.
            if isinstance(procs, tuple) and procs:
                why = (
                    "processes whose per-process usage NVML does not report ("
                    + ", ".join(str(p.pid) for p in procs)
                    + ")"
                )
            elif isinstance(procs, tuple):
                why = "processes NVML cannot list (from a container NVML does not see other containers' or the host's processes)"
            else:
                why = f"processes NVML cannot list ({procs.reason})"
            return g.memory_used_mib, why
        return None


# --------------------------------------------------------------------------------------------
# GPU005


class PersistenceModeOff(Check):
    """Persistence mode is off, so every CUDA start re-initialises the GPU.

    ## What it checks
    NVML's persistence mode per GPU (Linux).

    ## Why it matters
    Without persistence mode (or the `nvidia-persistenced` daemon) the driver tears the GPU
    state down whenever no process uses it; each new CUDA process then waits for it to be set up
    again — seconds per GPU on multi-GPU servers — and `nvidia-smi` is slow.

    ## Example
    An 8 × A100 server where `python -c "import torch; torch.cuda.init()"` takes 10 s.

    ## Fix
    `sudo systemctl enable --now nvidia-persistenced` (NVIDIA's recommended way), or
    `sudo nvidia-smi -pm 1` (until reboot).

    ## References
    - https://docs.nvidia.com/deploy/driver-persistence/index.html
    """

    code = "GPU005"
    name = "persistence-mode-off"
    severity = Severity.INFO
    requires = frozenset({"driver"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding listing the GPUs with persistence mode off."""
        gpus = _gpus(facts)
        _require_some(gpus, lambda g: g.persistence_mode, "persistence mode")
        off = [g for g in gpus if g.persistence_mode is False]
        if not off:
            return
        container = facts.container
        in_container = bool(getattr(container, "in_container", False))
        yield self.finding(
            message=(
                "Persistence mode is off on "
                + ", ".join(_label(g) for g in off)
                + ": the driver tears the GPU state down whenever no process uses it, so each CUDA start pays the "
                "initialisation again."
            ),
            evidence={f"driver.gpus[{g.index}].persistence_mode": g.persistence_mode for g in off},
            fix=(
                "Enable the persistence daemon: `sudo systemctl enable --now nvidia-persistenced` "
                "(or, until the next reboot, `sudo nvidia-smi -pm 1`)"
                + (" — on the host: a container cannot change it." if in_container else ".")
            ),
        )


CHECKS: tuple[type[Check], ...] = (GpuEccErrors, GpuThrottled, PcieLinkDegraded, GpuMemoryBusy, PersistenceModeOff)
