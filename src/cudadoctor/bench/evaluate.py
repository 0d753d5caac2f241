"""Compare benchmark results with the peaks in the rule tables and make them the ``bench`` fact area.

:func:`annotate` fills every measurement's peak and efficiency; :func:`with_bench` puts the
annotated results into the Facts, where the bench checks (checks/bench.py) judge them. The
helpers that match a benchmarked device with its NVML facts (:func:`facts_gpu`, :func:`samples`)
are shared with those checks. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cudadoctor.facts import DriverFacts, Facts, GpuFacts, Unavailable, known
from cudadoctor.facts_bench import PROBE, BenchFacts, DeviceResult, Measurement, NvmlSample, Thresholds

if TYPE_CHECKING:
    from cudadoctor.tables import GpuModel, RuleTables

#: Usable bandwidth of one PCIe lane per direction, GB/s, by generation: transfer rate times the
#: line-code efficiency (8b/10b up to Gen2, 128b/130b for Gen3-5, 242/256 FLIT for Gen6).
#: NOTE: PCI-SIG specifications, summarised at https://pcisig.com/specifications and
#: https://en.wikipedia.org/wiki/PCI_Express#Comparison_table ; an x16 Gen4 link carries 31.5 GB/s.
PCIE_LANE_GBS: dict[int, float] = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}

#: GPU names whose CPU link is NVLink-C2C rather than PCIe: no PCIe expectation applies.
#: NOTE: Grace Hopper / Grace Blackwell superchips, https://www.nvidia.com/en-us/data-center/grace-hopper-superchip/
C2C_NAME_PARTS = ("GH200", "GB200", "GB300")


def _norm_uuid(uuid: str) -> str:
    u = uuid.strip().lower()
    for prefix in ("gpu-", "mig-"):
        if u.startswith(prefix):
            u = u[len(prefix):]
    return u


def facts_gpu(device: DeviceResult, facts: Facts | None) -> GpuFacts | None:
    """The NVML GPU (driver facts) that is this CUDA device, matched by UUID or PCI bus id."""
    if facts is None or not isinstance(facts.driver, DriverFacts):
        return None
    for gpu in facts.driver.gpus:
        if device.uuid and _norm_uuid(gpu.uuid) == _norm_uuid(device.uuid):
            return gpu
        if device.pci_bus_id and gpu.pci_bus_id.upper() == device.pci_bus_id.upper():
            return gpu
    return None


def samples(device: DeviceResult, m: Measurement | None = None) -> list[NvmlSample]:
    """Known NVML samples: during *m* first, then after and before the workloads."""
    out = [m.during] if m is not None else []
    out += [device.nvml_after, device.nvml_before]
    return [s for s in out if isinstance(s, NvmlSample)]


def pcie_link(device: DeviceResult, facts: Facts | None) -> tuple[int, int] | Unavailable:
    """(generation, width) the link can run at: NVML's max of GPU and slot, from the child or the facts."""
    for s in samples(device):
        if known(s.pcie_gen_max) and known(s.pcie_width_max):
            return int(s.pcie_gen_max), int(s.pcie_width_max)  # type: ignore[arg-type]
    gpu = facts_gpu(device, facts)
    if gpu is not None and known(gpu.pcie_gen_max) and known(gpu.pcie_width_max):
        return int(gpu.pcie_gen_max), int(gpu.pcie_width_max)  # type: ignore[arg-type]
    return Unavailable(probe=PROBE, reason=f"the PCIe link of {device.label} is unknown (NVML gave no link generation/width)")


def _model_peak(model: GpuModel, m: Measurement) -> float | None:
    if m.kind == "copy":
        return model.bandwidth_gbs
    return {"fp32": model.fp32, "tf32": model.tf32, "fp16": model.fp16, "bf16": model.bf16}.get(m.dtype)


def peak_for(device: DeviceResult, m: Measurement, tables: RuleTables, facts: Facts | None) -> tuple[float | Unavailable, str]:
    """The peak *m* is compared with, and where it comes from."""
    if device.device == "cpu":
        return Unavailable(probe=PROBE, reason="rules/gpus.toml has no peaks for CPUs"), "unknown: a CPU"
    if m.name in ("copy-h2d", "copy-d2h"):
        if any(part in device.name for part in C2C_NAME_PARTS):
            why = f"{device.name} talks to its CPU over NVLink-C2C, not PCIe; no expectation is tabulated"
            return Unavailable(probe=PROBE, reason=why), f"unknown: {why}"
        link = pcie_link(device, facts)
        if isinstance(link, Unavailable):
            return link, f"unknown: {link.reason}"
        gen, width = link
        lane = PCIE_LANE_GBS.get(gen)
        if lane is None:
            why = f"PCIe Gen{gen} is not a generation cudadoctor knows"
            return Unavailable(probe=PROBE, reason=why), f"unknown: {why}"
        return lane * width, f"PCIe Gen{gen} x{width} theoretical per-direction rate"
    model = tables.gpus.lookup(device.name)
    if model is None:
        why = f"GPU model {device.name!r} is not in rules/gpus.toml"
        return Unavailable(probe=PROBE, reason=why), f"unknown: {why}"
    peak = _model_peak(model, m)
    what = "memory bandwidth" if m.kind == "copy" else f"dense {m.dtype.upper()} peak"
    if peak is None:
        why = f"rules/gpus.toml has no {what} for {model.model}"
        return Unavailable(probe=PROBE, reason=why), f"unknown: {why}"
    slice_note = " (whole GPU; this is a MIG slice)" if "MIG" in device.name else ""
    return float(peak), f"rules/gpus.toml {model.model}: {what}{slice_note}"


def annotate(results: BenchFacts, tables: RuleTables, facts: Facts | None = None) -> BenchFacts:
    """*results* with every measurement's peak, efficiency and peak source filled in (idempotent)."""
    devices = []
    for device in results.devices:
        ms = []
        for m in device.measurements:
            peak, source = peak_for(device, m, tables, facts)
            if isinstance(peak, Unavailable):
                eff: float | Unavailable = peak
            elif isinstance(m.value, Unavailable):
                eff = m.value
            else:
                eff = m.value / peak if peak > 0 else Unavailable(probe=PROBE, reason="the peak is zero")
            ms.append(dataclasses.replace(m, peak=peak, efficiency=eff, peak_source=source))
        devices.append(dataclasses.replace(device, measurements=tuple(ms)))
    return dataclasses.replace(results, devices=tuple(devices))


def with_bench(facts: Facts, results: BenchFacts, tables: RuleTables, thresholds: Thresholds | None = None) -> Facts:
    """*facts* with *results*, annotated against the peaks (and with *thresholds*, when given), as
    their ``bench`` area: what the bench checks then judge like any other fact."""
    annotated = annotate(results, tables, facts)
    if thresholds is not None:
        annotated = dataclasses.replace(annotated, thresholds=thresholds)
    return dataclasses.replace(facts, bench=annotated)
