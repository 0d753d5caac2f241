"""Typed results of the smoke benchmark: one Measurement per workload, one DeviceResult per GPU.

These are measurements, not facts: they live in ``Report.extras["bench"]`` (the JSON renderer
encodes them with the facts codec) and feed the bench checks through
``cudadoctor.bench.evaluate``. An unknown value is :class:`Unavailable` with its reason, as in
the facts. :func:`decode_results` reads the JSON form back (fixtures, saved reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cudadoctor.facts import Unavailable

PROBE = "bench"

#: Measurement status values: measured and correct; skipped (with reason); raised an error;
#: measured but the result differs from its reference.
MEASUREMENT_STATUSES = ("ok", "skipped", "failed", "wrong")
#: DeviceResult status values.
DEVICE_STATUSES = ("ok", "timeout", "crashed", "failed")


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """Fractions of peak below which the bench checks fire (``--min-*-efficiency``)."""

    #: GEMM TFLOP/s over the model's dense peak for that dtype (bench-slow)
    min_efficiency: float = 0.5
    #: device-to-device copy GB/s over the memory bandwidth in rules/gpus.toml (memory-bandwidth-low)
    min_memory_efficiency: float = 0.6
    #: pinned host<->device GB/s over the PCIe link's theoretical rate (host-device-bandwidth-low)
    min_host_efficiency: float = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class Spread:
    """Spread of the per-sample rates around the median."""

    min: float
    p25: float
    p75: float
    max: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Correctness:
    """How a result compared with its reference."""

    ok: bool
    max_error: float  #: max |result - reference| / rms(reference) over the checked elements
    spot_max_error: float  #: the same for the elements recomputed on the CPU
    spot_points: int
    tolerance: float  #: largest acceptable error for the dtype and K (see the child's tolerance())
    nonfinite: int  #: NaN/Inf elements in the whole result
    reference: str  #: what the result was compared with
    metric: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NvmlSample:
    """Clocks, temperature, power, throttle reasons and PCIe link of a GPU at one moment."""

    at_s: float  #: seconds since the child started
    sm_clock_mhz: int | Unavailable
    mem_clock_mhz: int | Unavailable
    max_sm_clock_mhz: int | Unavailable
    temperature_c: int | Unavailable
    power_w: float | Unavailable
    power_limit_w: float | Unavailable
    default_power_limit_w: float | Unavailable
    throttle_reasons: tuple[str, ...] | Unavailable
    pcie_gen: int | Unavailable
    pcie_width: int | Unavailable
    pcie_gen_max: int | Unavailable
    pcie_width_max: int | Unavailable
    mig: bool  #: the benchmarked device is a MIG instance (values are its parent GPU's)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One workload on one device: the median rate, its spread, and how it compares."""

    name: str  #: "gemm-bf16", "conv-fp16-channels_last", "copy-d2d", "copy-h2d", "copy-d2h"
    kind: str  #: "gemm", "conv" or "copy"
    dtype: str  #: "fp32", "tf32", "fp16", "bf16" or "bytes"
    layout: str  #: "nchw" / "channels_last" for convolutions, "" otherwise
    unit: str  #: "TFLOP/s" or "GB/s"
    status: str  #: one of MEASUREMENT_STATUSES
    reason: str  #: why skipped / failed / wrong ("" when ok)
    value: float | Unavailable  #: median rate
    spread: Spread | Unavailable
    shape: tuple[int, ...]  #: GEMM (M, N, K); conv (N, C, H, W, K, R, S); copy (bytes,)
    repeats: int  #: timed samples
    inner: int  #: operations per timed sample
    seconds: float | Unavailable  #: median seconds per operation
    work: float  #: FLOP or bytes per operation
    peak: float | Unavailable = Unavailable(probe=PROBE, reason="not compared with a peak yet")
    efficiency: float | Unavailable = Unavailable(probe=PROBE, reason="not compared with a peak yet")
    peak_source: str = ""  #: where the peak came from (rules/gpus.toml model, PCIe link)
    correctness: Correctness | Unavailable = Unavailable(probe=PROBE, reason="not checked")
    during: NvmlSample | Unavailable = Unavailable(probe=PROBE, reason="not sampled")
    note: str = ""
    wall_s: float = 0.0  #: wall time of the whole workload (sizing, warm-up, check included)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceResult:
    """Everything one benchmark child reported (or why it stopped)."""

    index: int  #: CUDA ordinal as torch sees it (honours CUDA_VISIBLE_DEVICES); 0 for the CPU
    device: str  #: "cuda:0" or "cpu"
    name: str  #: torch's device name, e.g. "NVIDIA H100 80GB HBM3"
    capability: str  #: "9.0" ("" for the CPU)
    uuid: str  #: as torch reports it ("" unknown)
    pci_bus_id: str  #: "00000000:18:00.0" ("" unknown)
    status: str  #: one of DEVICE_STATUSES
    reason: str  #: why it is not "ok"
    stage: str  #: what the child was doing when it stopped ("" when it finished)
    wall_s: float
    torch_version: str
    settings: dict[str, Any]
    nvml_before: NvmlSample | Unavailable
    nvml_after: NvmlSample | Unavailable
    measurements: tuple[Measurement, ...]
    stderr_tail: str = ""

    @property
    def label(self) -> str:
        """'GPU 0 (NVIDIA H100 80GB HBM3)' or 'CPU'."""
        if self.device == "cpu":
            return "CPU"
        return f"GPU {self.index}" + (f" ({self.name})" if self.name else "")

    def get(self, name: str) -> Measurement | None:
        """The measurement called *name*, if it ran."""
        return next((m for m in self.measurements if m.name == name), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResults:
    """The whole benchmark run: every device, or why none could be benchmarked."""

    #: "ok" (devices were benchmarked; see each one's status), "no-torch", "no-gpu", "failed"
    status: str
    reason: str
    mode: str  #: "gpu" or "cpu"
    python: str  #: the interpreter the children ran in
    quick: bool
    budget_s: float  #: target wall time per device
    timeout_s: float  #: hard limit per device child
    wall_s: float
    devices: tuple[DeviceResult, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    inject: str = ""  #: CUDADOCTOR_BENCH_INJECT as passed to the children (tests only)


# -------------------------------------------------------------------------------------- decoding


def _unavailable(value: Any, default_reason: str) -> Unavailable:
    if isinstance(value, Mapping) and value.get("unavailable"):
        return Unavailable(probe=str(value.get("probe", PROBE)), reason=str(value.get("reason", default_reason)),
                           detail=str(value.get("detail", "")))
    return Unavailable(probe=PROBE, reason=default_reason)


def _num(value: Any, kind: type, default_reason: str) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, Mapping):
        return _unavailable(value, default_reason)
    try:
        return kind(value)
    except (TypeError, ValueError):
        return _unavailable(None, f"{default_reason} (got {value!r})")


def decode_sample(data: Any, reason: str = "not sampled") -> NvmlSample | Unavailable:
    """An NvmlSample from its JSON form (or the child's {"values", "errors"} record)."""
    if not isinstance(data, Mapping) or data.get("unavailable"):
        return _unavailable(data, reason)
    values = data.get("values", data)
    errors = data.get("errors", {}) if isinstance(data.get("errors"), Mapping) else {}

    def get(key: str, kind: type) -> Any:
        why = f"NVML did not report {key}" + (f": {errors[key]}" if key in errors else "")
        return _num(values.get(key), kind, why)

    reasons = values.get("throttle_reasons")
    return NvmlSample(
        at_s=float(data.get("t", data.get("at_s", 0.0)) or 0.0),
        sm_clock_mhz=get("sm_clock_mhz", int), mem_clock_mhz=get("mem_clock_mhz", int),
        max_sm_clock_mhz=get("max_sm_clock_mhz", int), temperature_c=get("temperature_c", int),
        power_w=get("power_w", float), power_limit_w=get("power_limit_w", float),
        default_power_limit_w=get("default_power_limit_w", float),
        throttle_reasons=tuple(str(r) for r in reasons) if isinstance(reasons, (list, tuple))
        else _unavailable(reasons, "NVML did not report clock-event reasons" + (f": {errors['throttle_reasons']}" if "throttle_reasons" in errors else "")),
        pcie_gen=get("pcie_gen", int), pcie_width=get("pcie_width", int),
        pcie_gen_max=get("pcie_gen_max", int), pcie_width_max=get("pcie_width_max", int),
        mig=bool(values.get("mig", False)),
    )


def decode_correctness(data: Any) -> Correctness | Unavailable:
    """A Correctness from its JSON form."""
    if not isinstance(data, Mapping) or data.get("unavailable"):
        return _unavailable(data, "not checked")
    return Correctness(
        ok=bool(data.get("ok")), max_error=float(data.get("max_error", 0.0)),
        spot_max_error=float(data.get("spot_max_error", 0.0)), spot_points=int(data.get("spot_points", 0)),
        tolerance=float(data.get("tolerance", 0.0)), nonfinite=int(data.get("nonfinite", 0)),
        reference=str(data.get("reference", "")), metric=str(data.get("metric", "")),
    )


def decode_measurement(data: Mapping[str, Any]) -> Measurement:
    """A Measurement from the child's record or from its JSON form."""
    stats = data.get("stats") if isinstance(data.get("stats"), Mapping) else None
    spread_raw = data.get("spread")
    status = str(data.get("status", "failed"))
    why = str(data.get("reason") or "") or "not measured"
    if stats is not None:
        value: float | Unavailable = float(stats["median"])
        spread: Spread | Unavailable = Spread(min=float(stats["min"]), p25=float(stats["p25"]),
                                              p75=float(stats["p75"]), max=float(stats["max"]))
    else:
        value = _num(data.get("value"), float, why)
        spread = (Spread(**{k: float(spread_raw[k]) for k in ("min", "p25", "p75", "max")})
                  if isinstance(spread_raw, Mapping) and not spread_raw.get("unavailable") else _unavailable(spread_raw, why))
    name = str(data.get("name", "?"))
    kind = str(data.get("kind") or name.split("-", 1)[0])
    extra: dict[str, Any] = {}
    if "peak" in data:
        extra["peak"] = _num(data.get("peak"), float, "peak unknown")
        extra["efficiency"] = _num(data.get("efficiency"), float, "peak unknown")
        extra["peak_source"] = str(data.get("peak_source", ""))
    return Measurement(
        name=name, kind=kind, dtype=str(data.get("dtype") or (name.split("-")[1] if kind != "copy" and "-" in name else "bytes")),
        layout=str(data.get("layout", "")), unit=str(data.get("unit") or ("GB/s" if kind == "copy" else "TFLOP/s")),
        status=status, reason=str(data.get("reason", "")), value=value, spread=spread,
        shape=tuple(int(x) for x in data.get("shape") or ()), repeats=int(data.get("repeats", 0)),
        inner=int(data.get("inner", 0)), seconds=_num(data.get("seconds"), float, why),
        work=float(data.get("work", 0.0)), correctness=decode_correctness(data.get("correctness")),
        during=decode_sample(data.get("during"), "NVML not sampled during this workload"),
        note=str(data.get("note", "")), wall_s=float(data.get("wall_s", 0.0)), **extra,
    )


def decode_device(data: Mapping[str, Any]) -> DeviceResult:
    """A DeviceResult from its JSON form."""
    return DeviceResult(
        index=int(data.get("index", 0)), device=str(data.get("device", "")), name=str(data.get("name", "")),
        capability=str(data.get("capability", "")), uuid=str(data.get("uuid", "")),
        pci_bus_id=str(data.get("pci_bus_id", "")), status=str(data.get("status", "ok")),
        reason=str(data.get("reason", "")), stage=str(data.get("stage", "")), wall_s=float(data.get("wall_s", 0.0)),
        torch_version=str(data.get("torch_version", "")), settings=dict(data.get("settings") or {}),
        nvml_before=decode_sample(data.get("nvml_before")), nvml_after=decode_sample(data.get("nvml_after")),
        measurements=tuple(decode_measurement(m) for m in data.get("measurements") or ()),
        stderr_tail=str(data.get("stderr_tail", "")),
    )


def decode_results(data: Mapping[str, Any]) -> BenchResults:
    """BenchResults from its JSON form (``Report.extras["bench"]`` as rendered, or a fixture)."""
    th = data.get("thresholds") if isinstance(data.get("thresholds"), Mapping) else {}
    return BenchResults(
        status=str(data.get("status", "ok")), reason=str(data.get("reason", "")), mode=str(data.get("mode", "gpu")),
        python=str(data.get("python", "")), quick=bool(data.get("quick", False)),
        budget_s=float(data.get("budget_s", 10.0)), timeout_s=float(data.get("timeout_s", 30.0)),
        wall_s=float(data.get("wall_s", 0.0)), devices=tuple(decode_device(d) for d in data.get("devices") or ()),
        thresholds=Thresholds(**{k: float(v) for k, v in th.items() if k in Thresholds.__dataclass_fields__}),
        inject=str(data.get("inject", "")),
    )
