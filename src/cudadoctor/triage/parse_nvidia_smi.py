"""Parse pasted ``nvidia-smi`` output: the default table, ``-q``, ``-L`` and its error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.version import Version

from cudadoctor.facts import GpuFacts, GpuProcess, MigDevice
from cudadoctor.triage.parse_common import gpu_capability, int_or_none, lenient_version, missing

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables

# NOTE: the table's header line has kept "NVIDIA-SMI <ver>  Driver Version: <ver>  CUDA Version: <x.y>"
# since R410 (R390 and older print no CUDA Version); R470, R535 and R570+ differ only in column
# widths, so rows are split on "|" rather than matched by column positions.
_HEADER = re.compile(
    r"NVIDIA-SMI\s{1,20}(\d{2,4}(?:\.\d{1,4}){1,3})\s{1,40}Driver\sVersion:\s{0,10}(\d{2,4}(?:\.\d{1,4}){1,3})"
    r"(?:\s{1,40}CUDA\sVersion:\s{0,10}([\d.]{1,10}|N/A))?"
)
_ROW1_CELL0 = re.compile(r"^\s{0,8}(\d{1,4})\s{1,10}(.{1,100}?)\s{1,60}(On|Off|WDDM|TCC|N/A)\s{0,8}$")
_BUS = re.compile(r"([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])")
_TEMP = re.compile(r"(?<![\w.])(\d{1,3})C\b")
_POWER = re.compile(r"(\d{1,5}(?:\.\d{1,3})?)W\s{0,4}/\s{0,4}(\d{1,5}(?:\.\d{1,3})?)W")
_MEM = re.compile(r"(\d{1,9})MiB\s{0,6}/\s{0,6}(\d{1,9})MiB")
_UTIL = re.compile(r"(\d{1,3})%")
_PROC_ROW = re.compile(
    r"^\|\s{0,8}(\d{1,4})\s{1,10}(?:\S{1,8}\s{1,10}\S{1,8}\s{1,10})?(\d{1,10})\s{1,10}([CGM+]{1,3})\s{1,10}(.{1,200}?)\s{1,60}(\d{1,9})MiB\s{0,4}\|$"
)
_LIST_GPU = re.compile(r"^\s{0,8}GPU\s(\d{1,4}):\s(.{1,300}?)\s\(UUID:\s(GPU-[0-9A-Fa-f-]{1,60})\)\s*$")
_LIST_MIG = re.compile(r"^\s{1,16}(MIG\s\S{1,40})\s{1,40}Device\s{1,4}(\d{1,3}):\s\(UUID:\s(MIG-[^)]{1,80})\)\s*$")
# The table's "MIG devices:" block: "|  0    1   0   0  |  13MiB / 40192MiB | 42  0 | ..." (GPU, GI, CI, MIG Dev).
_MIG_ROW = re.compile(
    r"^\|\s{0,4}(\d{1,3})\s{1,8}(?:\d{1,3}|N/A)\s{1,8}(?:\d{1,3}|N/A)\s{1,8}(\d{1,3})\s{0,4}\|\s{0,60}\d{1,9}MiB\s{0,4}/\s{0,4}(\d{1,9})MiB"
)
_QUERY_LINE = re.compile(r"^(\s{0,40})([^:]{1,80}?)\s{0,80}:\s?(.{0,500})$")

#: nvidia-smi's own failure messages -> DriverFacts.nvml_status (the text is kept as nvml_error).
# NOTE: the strings nvidia-smi prints for NVML_ERROR_DRIVER_NOT_LOADED, _LIB_RM_VERSION_MISMATCH,
# _UNKNOWN, _NO_PERMISSION and _LIBRARY_NOT_FOUND
# (https://docs.nvidia.com/deploy/nvml-api/group__nvmlInitializationAndCleanup.html).
ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver[^\n]{0,300}"), "driver-not-loaded"),
    (re.compile(r"Failed to initialize NVML: Driver/library version mismatch"), "driver-library-mismatch"),
    (re.compile(r"Failed to initialize NVML: Unknown Error"), "unknown-error"),
    (re.compile(r"Failed to initialize NVML: (?:Insufficient Permissions|No permission)"), "no-permission"),
    (re.compile(r"NVIDIA-SMI couldn't find libnvidia-ml\.so library in your system[^\n]{0,200}"), "library-not-found"),
    (re.compile(r"Failed to initialize NVML: [^\n]{1,200}"), "other"),
    (re.compile(r"(?:^|\s)nvidia-smi: (?:command )?not found"), "library-not-found"),
)


@dataclass
class SmiResult:
    """What one or more pasted nvidia-smi outputs say about the driver and GPUs."""

    kinds: list[str] = field(default_factory=list)  #: "table", "query", "list", "error"
    driver_version: Version | None = None
    cuda_driver_version: Version | None = None
    nvml_status: str = "ok"
    nvml_error: str = ""
    gpus: list[GpuFacts] = field(default_factory=list)
    #: UUIDs by GPU index from ``-L`` / ``-q``, to fill the table's GPUs
    uuids: dict[int, str] = field(default_factory=dict)
    no_devices: bool = False  #: "No devices were found"


def parse_nvidia_smi(lines: list[str], tables: RuleTables | None = None) -> SmiResult | None:
    """Everything nvidia-smi printed in *lines*, or None when there is no nvidia-smi output."""
    res = SmiResult()
    text = "\n".join(lines)
    for pattern, status in ERRORS:
        m = pattern.search(text)
        if m:
            res.kinds.append("error")
            res.nvml_status = status
            res.nvml_error = m.group(0).strip()
            break
    if "No devices were found" in text:
        res.no_devices = True
    _parse_list(lines, res, tables)
    table_gpus = _parse_table(lines, res, tables)
    query_gpus = _parse_query(lines, res, tables)
    if table_gpus:
        listed = {g.index: g.mig_devices for g in res.gpus if g.mig_devices}  # from -L, with UUIDs
        res.gpus = [_with_migs(_with_uuid(g, res.uuids), listed.get(g.index, ())) for g in table_gpus]
    elif query_gpus:
        res.gpus = query_gpus
    if not res.kinds and not res.no_devices:
        return None
    if res.no_devices and not res.kinds:
        res.kinds.append("error")
    return res


def _with_uuid(g: GpuFacts, uuids: dict[int, str]) -> GpuFacts:
    from dataclasses import replace

    return replace(g, uuid=uuids[g.index]) if not g.uuid and g.index in uuids else g


def _with_migs(g: GpuFacts, listed: tuple[MigDevice, ...]) -> GpuFacts:
    """*g* with -L's MIG devices (they carry the UUIDs the table's MIG rows lack)."""
    from dataclasses import replace

    return replace(g, mig_devices=listed, mig_enabled=True, mig_devices_listed=True) if listed else g


def make_gpu(index: int, name: str, tables: RuleTables | None, **known: object) -> GpuFacts:
    """A GpuFacts with what the text gave; everything else Unavailable."""
    values: dict[str, object] = {
        "index": index, "name": name, "uuid": "", "pci_bus_id": "", "mig_devices": (),
        "compute_capability": gpu_capability(name, tables),
    }
    for f in (
        "memory_total_mib", "memory_used_mib", "mig_enabled", "ecc_enabled", "ecc_uncorrectable_volatile",
        "ecc_uncorrectable_aggregate", "retired_pages_double_bit", "retired_pages_pending", "remapped_rows_pending",
        "remapped_rows_failure", "persistence_mode", "compute_mode", "pcie_gen_current", "pcie_gen_max",
        "pcie_width_current", "pcie_width_max", "throttle_reasons", "temperature_c", "power_draw_w",
        "power_limit_w", "utilization_percent", "processes",
    ):
        values[f] = missing()
    values.update({k: v for k, v in known.items() if v is not None})
    return GpuFacts(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# nvidia-smi -L


def _parse_list(lines: list[str], res: SmiResult, tables: RuleTables | None) -> None:
    current = -1
    gpus: list[tuple[int, str, str]] = []
    migs: dict[int, list[MigDevice]] = {}
    for line in lines:
        m = _LIST_GPU.match(line)
        if m:
            current = int(m.group(1))
            gpus.append((current, m.group(2).strip(), m.group(3)))
            res.uuids[current] = m.group(3)
            continue
        mig = _LIST_MIG.match(line)
        if mig and current >= 0:
            migs.setdefault(current, []).append(
                MigDevice(index=int(mig.group(2)), uuid=mig.group(3), name=mig.group(1), memory_total_mib=missing())
            )
    if gpus:
        res.kinds.append("list")
        res.gpus = [
            make_gpu(i, name, tables, uuid=uuid, mig_devices=tuple(migs.get(i, ())), mig_enabled=True if migs.get(i) else None)
            for i, name, uuid in gpus
        ]


# --------------------------------------------------------------------------------------------
# the default table


def _cells(line: str) -> list[str]:
    return line.strip().strip("|").split("|")


def _parse_table(lines: list[str], res: SmiResult, tables: RuleTables | None) -> list[GpuFacts]:
    start = -1
    for i, line in enumerate(lines):
        m = _HEADER.search(line)
        if m:
            res.kinds.append("table")
            res.driver_version = lenient_version(m.group(2))
            cuda = m.group(3)
            res.cuda_driver_version = lenient_version(cuda) if cuda and cuda != "N/A" else None
            start = i
            break
    if start < 0:
        return []
    gpus: list[GpuFacts] = []
    processes: dict[int, list[GpuProcess]] = {}
    in_procs = False
    in_migs = False
    migs: dict[int, list[MigDevice]] = {}
    saw_proc_table = False
    no_procs = False
    j = start + 1
    end = min(len(lines), start + 20000)
    while j < end:
        line = lines[j]
        if "Processes:" in line:
            in_procs = saw_proc_table = True
        if "MIG devices:" in line:
            in_migs = True
        if in_migs and not in_procs and (mr := _MIG_ROW.match(line.strip())):
            migs.setdefault(int(mr.group(1)), []).append(
                MigDevice(index=int(mr.group(2)), uuid="", name=missing(), memory_total_mib=int(mr.group(3)))
            )
            j += 1
            continue
        if in_procs:
            if "No running processes found" in line:
                no_procs = True
            p = _PROC_ROW.match(line.strip())
            if p:
                pid = int(p.group(2))
                processes.setdefault(int(p.group(1)), []).append(
                    GpuProcess(pid=pid, name=p.group(4).strip(), used_memory_mib=int(p.group(5)))
                )
            j += 1
            continue
        cells = _cells(line) if line.lstrip().startswith("|") else []
        row1 = _ROW1_CELL0.match(cells[0]) if len(cells) >= 3 else None
        if row1 and _BUS.search(cells[1]):
            nxt = _cells(lines[j + 1]) if j + 1 < end and lines[j + 1].lstrip().startswith("|") else []
            third = _cells(lines[j + 2]) if j + 2 < end and lines[j + 2].lstrip().startswith("|") else []
            gpus.append(_table_gpu(row1, cells, nxt, third, tables))
            j += 2
            continue
        if gpus and line.strip() and not line.lstrip().startswith(("|", "+")):
            break  # the table ended: stop before unrelated text
        j += 1
    from dataclasses import replace

    if migs:
        # NOTE: a MIG row states an instance exists; its UUID is only in `nvidia-smi -L`.
        gpus = [replace(g, mig_devices=tuple(migs[g.index]), mig_enabled=True) if migs.get(g.index) else g for g in gpus]
    if not in_migs:
        # The paste ends before the "MIG devices:" block: MIG is on, its instances are unknown.
        gpus = [replace(g, mig_devices_listed=False) if g.mig_enabled is True and not g.mig_devices else g for g in gpus]
    if saw_proc_table:
        by_gpu = {g.index: tuple(processes.get(g.index, ())) for g in gpus}

        gpus = [replace(g, processes=by_gpu[g.index]) if (no_procs or processes) else g for g in gpus]
    return gpus


def _table_gpu(row1: re.Match[str], cells: list[str], nxt: list[str], third: list[str], tables: RuleTables | None) -> GpuFacts:
    index = int(row1.group(1))
    name = row1.group(2).strip()
    pers = row1.group(3)
    bus = _BUS.search(cells[1])
    ecc_cell = cells[2].strip()
    ecc_count = int_or_none(ecc_cell)
    known: dict[str, object] = {
        "pci_bus_id": bus.group(1) if bus else "",
        "persistence_mode": {"On": True, "Off": False}.get(pers),
        "ecc_enabled": True if ecc_count is not None else (False if ecc_cell == "Off" else None),
        "ecc_uncorrectable_volatile": ecc_count,
    }
    if len(nxt) >= 3:
        t = _TEMP.search(nxt[0])
        p = _POWER.search(nxt[0])
        mem = _MEM.search(nxt[1])
        u = _UTIL.search(nxt[2])
        mode = nxt[2].strip().split("%")[-1].strip()
        known.update({
            "temperature_c": int(t.group(1)) if t else None,
            "power_draw_w": float(p.group(1)) if p else None,
            "power_limit_w": float(p.group(2)) if p else None,
            "memory_used_mib": int(mem.group(1)) if mem else None,
            "memory_total_mib": int(mem.group(2)) if mem else None,
            "utilization_percent": int(u.group(1)) if u else None,
            "compute_mode": _COMPUTE_MODES.get(mode),
        })
    if len(third) >= 3:
        mig = third[2].strip()
        known["mig_enabled"] = {"Enabled": True, "Disabled": False}.get(mig)
    return make_gpu(index, name, tables, **known)


_COMPUTE_MODES = {
    "Default": "default", "E. Process": "exclusive-process", "Exclusive_Process": "exclusive-process",
    "E. Thread": "exclusive-thread", "Exclusive_Thread": "exclusive-thread", "Prohibited": "prohibited",
}


# --------------------------------------------------------------------------------------------
# nvidia-smi -q


def _parse_query(lines: list[str], res: SmiResult, tables: RuleTables | None) -> list[GpuFacts]:
    """``nvidia-smi -q``: indented "Key : Value" lines, one "GPU <bus id>" block per GPU."""
    start = next((i for i, line in enumerate(lines) if "NVSMI LOG" in line), -1)
    if start < 0:
        return []
    res.kinds.append("query")
    blocks: list[tuple[str, dict[str, str]]] = []
    stack: list[tuple[int, str]] = []
    for line in lines[start + 1: start + 200000]:
        if not line.strip():
            continue
        g = re.match(r"^GPU\s([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])\s*$", line)
        if g:
            blocks.append((g.group(1), {}))
            stack = []
            continue
        m = _QUERY_LINE.match(line)
        if m:
            indent, key, value = len(m.group(1)), m.group(2).strip(), m.group(3).strip()
        elif line[:1].isspace() and len(line.strip()) <= 80:
            # A section heading without a colon (R470's "Single Bit" / "Double Bit").
            indent, key, value = len(line) - len(line.lstrip()), line.strip(), ""
        else:
            if blocks and not line.startswith("="):
                break  # unindented unrelated text after the log
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "/".join([k for _, k in stack] + [key])
        if not value:
            stack.append((indent, key))
        if not blocks:
            if key == "Driver Version":
                res.driver_version = lenient_version(value) or res.driver_version
            elif key == "CUDA Version":
                res.cuda_driver_version = lenient_version(value) or res.cuda_driver_version
            continue
        blocks[-1][1].setdefault(path, value)
    return [_query_gpu(i, bus, kv, tables) for i, (bus, kv) in enumerate(blocks)]


def _get(kv: dict[str, str], *paths: str) -> str | None:
    for p in paths:
        v = kv.get(p)
        if v is not None and v not in ("N/A", "[N/A]", "Requested functionality has been deprecated"):
            return v
    return None


def _qint(kv: dict[str, str], *paths: str) -> int | None:
    v = _get(kv, *paths)
    m = re.match(r"^(\d{1,12})", v or "")
    return int(m.group(1)) if m else None


def _qfloat(kv: dict[str, str], *paths: str) -> float | None:
    v = _get(kv, *paths)
    m = re.match(r"^(\d{1,9}(?:\.\d{1,6})?)", v or "")
    return float(m.group(1)) if m else None


def _qbool(kv: dict[str, str], *paths: str) -> bool | None:
    v = _get(kv, *paths)
    return {"Enabled": True, "Disabled": False, "Yes": True, "No": False, "Active": True, "Not Active": False}.get(v or "")


#: "Clocks Event Reasons" (R535+; "Clocks Throttle Reasons" before) -> GpuFacts.throttle_reasons names.
_THROTTLE = {
    "Idle": "gpu-idle", "Applications Clocks Setting": "applications-clocks", "SW Power Cap": "sw-power-cap",
    "HW Slowdown": "hw-slowdown", "HW Thermal Slowdown": "hw-thermal", "HW Power Brake Slowdown": "hw-power-brake",
    "Sync Boost": "sync-boost", "SW Thermal Slowdown": "sw-thermal", "Display Clock Setting": "display-clocks",
}


def _query_gpu(index: int, bus: str, kv: dict[str, str], tables: RuleTables | None) -> GpuFacts:
    name = _get(kv, "Product Name") or "unknown GPU"
    throttle: tuple[str, ...] | None = None
    for section in ("Clocks Event Reasons", "Clocks Throttle Reasons"):
        found = {p.rsplit("/", 1)[-1]: v for p, v in kv.items() if p.startswith(section + "/")}
        if found:
            throttle = tuple(_THROTTLE[k] for k, v in found.items() if k in _THROTTLE and v == "Active")
            break
    vol = [_qint(kv, f"ECC Errors/Volatile/{k}") for k in ("DRAM Uncorrectable", "SRAM Uncorrectable",
                                                            "SRAM Uncorrectable Parity", "SRAM Uncorrectable SEC-DED",
                                                            "Double Bit/Total")]
    agg = [_qint(kv, f"ECC Errors/Aggregate/{k}") for k in ("DRAM Uncorrectable", "SRAM Uncorrectable",
                                                             "SRAM Uncorrectable Parity", "SRAM Uncorrectable SEC-DED",
                                                             "Double Bit/Total")]
    vol_n = [v for v in vol if v is not None]
    agg_n = [v for v in agg if v is not None]
    known: dict[str, object] = {
        "uuid": _get(kv, "GPU UUID") or "",
        "pci_bus_id": bus,
        "persistence_mode": _qbool(kv, "Persistence Mode"),
        "mig_enabled": _qbool(kv, "MIG Mode/Current"),
        "ecc_enabled": _qbool(kv, "ECC Mode/Current"),
        "ecc_uncorrectable_volatile": sum(vol_n) if vol_n else None,
        "ecc_uncorrectable_aggregate": sum(agg_n) if agg_n else None,
        "retired_pages_double_bit": _qint(kv, "Retired Pages/Double Bit ECC"),
        "retired_pages_pending": _qbool(kv, "Retired Pages/Pending Page Blacklist", "Retired Pages/Pending Page Retirement"),
        "remapped_rows_pending": _qbool(kv, "Remapped Rows/Pending"),
        "remapped_rows_failure": _qbool(kv, "Remapped Rows/Remapping Failure Occurred"),
        "compute_mode": _COMPUTE_MODES.get(_get(kv, "Compute Mode") or ""),
        "pcie_gen_current": _qint(kv, "PCI/GPU Link Info/PCIe Generation/Current"),
        "pcie_gen_max": _qint(kv, "PCI/GPU Link Info/PCIe Generation/Host Max", "PCI/GPU Link Info/PCIe Generation/Max"),
        "pcie_width_current": _qint(kv, "PCI/GPU Link Info/Link Width/Current"),
        "pcie_width_max": _qint(kv, "PCI/GPU Link Info/Link Width/Max"),
        "throttle_reasons": throttle,
        "temperature_c": _qint(kv, "Temperature/GPU Current Temp"),
        "power_draw_w": _qfloat(kv, "GPU Power Readings/Power Draw", "Power Readings/Power Draw",
                                "GPU Power Readings/Average Power Draw", "GPU Power Readings/Instantaneous Power Draw"),
        "power_limit_w": _qfloat(kv, "GPU Power Readings/Current Power Limit", "GPU Power Readings/Power Limit",
                                 "Power Readings/Power Limit"),
        "memory_total_mib": _qint(kv, "FB Memory Usage/Total"),
        "memory_used_mib": _qint(kv, "FB Memory Usage/Used"),
        "utilization_percent": _qint(kv, "Utilization/Gpu", "Utilization/GPU"),
    }
    if _get(kv, "Processes") == "None":
        known["processes"] = ()
    # NOTE: -q lists GPUs in NVML index order (PCI bus order); "Minor Number" is /dev/nvidiaN, not the index.
    return make_gpu(index, name, tables, **known)
