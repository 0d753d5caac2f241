"""Read the smoke benchmark's results from their JSON forms: a child's records and saved results.

The results themselves are the ``bench`` fact area (cudadoctor.facts_bench: BenchFacts, one
DeviceResult per GPU, one Measurement per workload; re-exported here). The decoders are lenient,
unlike the facts codec: a child (or a bench fixture written by hand) may leave keys out, and a
missing value becomes :class:`Unavailable` with its reason. :func:`decode_results` reads the JSON
form of a whole run back (fixtures, the JSON report's ``bench`` object).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cudadoctor.facts_bench import (
    DEVICE_STATUSES as DEVICE_STATUSES,
    MEASUREMENT_STATUSES as MEASUREMENT_STATUSES,
    PROBE as PROBE,
    BenchFacts as BenchFacts,
    SettingValue as SettingValue,
    Correctness as Correctness,
    DeviceResult as DeviceResult,
    Measurement as Measurement,
    NvmlSample as NvmlSample,
    Spread as Spread,
    Thresholds as Thresholds,
)
from cudadoctor.unavailable import Unavailable


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


def decode_settings(data: Any) -> dict[str, SettingValue]:
    """A device's torch settings, each a plain scalar (anything else is kept as its text)."""
    if not isinstance(data, Mapping):
        return {}
    return {str(k): v if v is None or isinstance(v, (str, bool, int, float)) else str(v) for k, v in data.items()}


def decode_device(data: Mapping[str, Any]) -> DeviceResult:
    """A DeviceResult from its JSON form."""
    return DeviceResult(
        index=int(data.get("index", 0)), device=str(data.get("device", "")), name=str(data.get("name", "")),
        capability=str(data.get("capability", "")), uuid=str(data.get("uuid", "")),
        pci_bus_id=str(data.get("pci_bus_id", "")), status=str(data.get("status", "ok")),
        reason=str(data.get("reason", "")), stage=str(data.get("stage", "")), wall_s=float(data.get("wall_s", 0.0)),
        torch_version=str(data.get("torch_version", "")), settings=decode_settings(data.get("settings")),
        nvml_before=decode_sample(data.get("nvml_before")), nvml_after=decode_sample(data.get("nvml_after")),
        measurements=tuple(decode_measurement(m) for m in data.get("measurements") or ()),
        stderr_tail=str(data.get("stderr_tail", "")),
    )


def decode_results(data: Mapping[str, Any]) -> BenchFacts:
    """BenchFacts from its JSON form (the JSON report's ``bench`` object, or a fixture)."""
    th = data.get("thresholds") if isinstance(data.get("thresholds"), Mapping) else {}
    return BenchFacts(
        status=str(data.get("status", "ok")), reason=str(data.get("reason", "")),
        mode="cpu" if data.get("mode") == "cpu" else "gpu",
        python=str(data.get("python", "")), quick=bool(data.get("quick", False)),
        budget_s=float(data.get("budget_s", 10.0)), timeout_s=float(data.get("timeout_s", 30.0)),
        wall_s=float(data.get("wall_s", 0.0)), devices=tuple(decode_device(d) for d in data.get("devices") or ()),
        thresholds=Thresholds(**{k: float(v) for k, v in th.items() if k in Thresholds.__dataclass_fields__}),
        inject=str(data.get("inject", "")),
    )
