"""The benchmark's compact terminal table (rich), for the terminal renderer and `cudadoctor bench`."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from cudadoctor.facts import Unavailable, known
from cudadoctor.facts_bench import BenchFacts, DeviceResult, Measurement, NvmlSample

#: The table's title.
TITLE = "Smoke benchmark"

STATUS_STYLE = {"ok": "green", "wrong": "bold red", "failed": "bold red", "skipped": "dim"}


def _rate(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def _shape(m: Measurement) -> str:
    if m.kind == "gemm" and len(m.shape) == 3:
        return f"{m.shape[0]}³" if len(set(m.shape)) == 1 else "x".join(map(str, m.shape))
    if m.kind == "conv" and len(m.shape) == 7:
        n, c, h, w, k, r, s = m.shape
        return f"{n}x{c}x{h}x{w} k{k} {r}x{s}"
    if m.kind == "copy" and m.shape:
        return f"{m.shape[0] / (1 << 20):.0f} MiB"
    return ""


def _sample_line(label: str, s: NvmlSample | Unavailable) -> str:
    if isinstance(s, Unavailable):
        return f"{label}: {s.reason}"
    bits = []
    if known(s.sm_clock_mhz):
        bits.append(f"SM {s.sm_clock_mhz}" + (f"/{s.max_sm_clock_mhz}" if known(s.max_sm_clock_mhz) else "") + " MHz")
    if known(s.mem_clock_mhz):
        bits.append(f"mem {s.mem_clock_mhz} MHz")
    if known(s.temperature_c):
        bits.append(f"{s.temperature_c} °C")
    if known(s.power_w):
        bits.append(f"{float(s.power_w):.0f}" + (f"/{float(s.power_limit_w):.0f}" if known(s.power_limit_w) else "") + " W")  # type: ignore[arg-type]
    if known(s.pcie_gen) and known(s.pcie_width):
        bits.append(f"PCIe Gen{s.pcie_gen} x{s.pcie_width}")
    if known(s.throttle_reasons):
        bits.append("reasons: " + (", ".join(s.throttle_reasons) or "none"))  # type: ignore[arg-type]
    return f"{label}: " + ", ".join(bits)


def device_table(device: DeviceResult) -> Table:
    """One device's measurements as a table."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for col, justify in (("workload", "left"), ("shape", "left"), ("median", "right"), ("p25–p75", "right"),
                         ("peak", "right"), ("eff.", "right"), ("result", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for m in device.measurements:
        if m.status == "skipped" or isinstance(m.value, Unavailable):
            table.add_row(m.name, "", "", "", "", "", Text(f"{m.status}: {m.reason}", style=STATUS_STYLE.get(m.status, "")))
            continue
        spread = f"{_rate(m.spread.p25)}–{_rate(m.spread.p75)}" if known(m.spread) else ""  # type: ignore[union-attr]
        peak = f"{_rate(float(m.peak))}" if known(m.peak) else "unknown"  # type: ignore[arg-type]
        eff = f"{100 * float(m.efficiency):.0f}%" if known(m.efficiency) else "–"  # type: ignore[arg-type]
        if known(m.correctness):
            c = m.correctness
            check = "ok" if c.ok else f"WRONG (err {c.max_error:.2g} > tol {c.tolerance:.2g})"  # type: ignore[union-attr]
            if c.ok and m.kind != "copy":  # type: ignore[union-attr]
                check = f"ok (err {c.max_error:.1g} ≤ {c.tolerance:.1g})"  # type: ignore[union-attr]
        else:
            check = m.status
        table.add_row(m.name, _shape(m), f"{_rate(float(m.value))} {m.unit}", spread, peak, eff,  # type: ignore[arg-type]
                      Text(check, style=STATUS_STYLE.get(m.status, "")))
    return table


def bench_renderable(results: BenchFacts) -> Group:
    """The whole benchmark section: a heading, then per device its status, table and NVML lines."""
    mode = "CPU harness (--cpu)" if results.mode == "cpu" else "GPU"
    head = Text()
    head.append(f"{TITLE}", style="bold")
    head.append(f" — {mode}{', quick' if results.quick else ''}; budget {results.budget_s:g} s per device, "
                f"hard limit {results.timeout_s:g} s; wall {results.wall_s:.1f} s", style="dim")
    parts: list[Any] = [head]
    if results.status != "ok":
        parts.append(Text(f"  Not run: {results.reason}", style="bold yellow"))
        return Group(*parts)
    for d in results.devices:
        line = Text()
        line.append(f"  {d.label}", style="bold")
        extra = f" cc {d.capability}" if d.capability else ""
        line.append(f"{extra}, torch {d.torch_version}, {d.wall_s:.1f} s" if d.torch_version else f", {d.wall_s:.1f} s",
                    style="dim")
        if d.status != "ok":
            line.append(f"  {d.status.upper()}: {d.reason}", style="bold red")
        parts.append(line)
        if d.measurements:
            parts.append(_indented(device_table(d)))
        if d.device != "cpu" and d.settings:
            s = d.settings
            parts.append(Text(
                f"    cuDNN {s.get('cudnn.version')} (benchmark={s.get('cudnn.benchmark')}, "
                f"deterministic={s.get('cudnn.deterministic')}); matmul fp32 precision {s.get('matmul.fp32_precision')}; "
                f"algorithm: {s.get('cudnn.algorithm', 'unknown')}", style="dim"))
        if d.device != "cpu":
            parts.append(Text("    " + _sample_line("before", d.nvml_before), style="dim"))
            parts.append(Text("    " + _sample_line("after", d.nvml_after), style="dim"))
    return Group(*parts)


def _indented(renderable: Any) -> Any:
    from rich.padding import Padding

    return Padding(renderable, (0, 0, 0, 4), expand=False)


def render_text(results: BenchFacts, *, width: int | None = None, color: bool = False) -> str:
    """The benchmark section as text (colour only when *color*)."""
    buf = io.StringIO()
    console = Console(file=buf, width=width or 110, force_terminal=color, no_color=not color,
                      color_system="auto" if color else None, highlight=False, soft_wrap=False)
    console.print(bench_renderable(results))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"
