"""The smoke benchmark as a fact area (``Facts.bench``): one Measurement per workload, one DeviceResult
per GPU, annotated with the peak each rate is compared with.

``cudadoctor bench``, ``check --bench`` and ``gate`` run the benchmark (cudadoctor.bench.collect),
annotate the results against rules/gpus.toml (cudadoctor.bench.evaluate.annotate) and put them into
the Facts; the bench checks judge them like any other area. A run without the benchmark leaves the
area ``Unavailable`` with :data:`BENCH_NOT_RUN`, which is also what facts files from before the
benchmark was a fact decode to. An unknown value inside is :class:`Unavailable` with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from cudadoctor.unavailable import Unavailable

#: The ``probe`` of every Unavailable the benchmark records.
PROBE = "bench"

#: Why ``Facts.bench`` is empty when the benchmark did not run (the bench checks' skip reason).
from cudadoctor.unavailable import BENCH_NOT_RUN as BENCH_NOT_RUN  # noqa: E402 - defined there for facts.py

#: Measurement status values: measured and correct; skipped (with reason); raised an error;
#: measured but the result differs from its reference.
MEASUREMENT_STATUSES = ("ok", "skipped", "failed", "wrong")
#: DeviceResult status values.
DEVICE_STATUSES = ("ok", "timeout", "crashed", "failed")
#: BenchFacts status values: devices were benchmarked (see each one's status); torch missing or
#: not importable; no CUDA device usable; the harness itself failed.
BENCH_STATUSES = ("ok", "no-torch", "no-gpu", "failed")

#: One value of a device's torch settings, as torch returned it (None where torch has none, e.g.
#: cudnn.version() on a build without cuDNN).
SettingValue = Union[str, bool, int, float, None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """Fractions of peak below which the bench checks fire (``--min-*-efficiency``)."""

    #: GEMM TFLOP/s over the model's dense peak for that dtype (bench-slow), a fraction
    min_efficiency: float = 0.5
    #: device-to-device copy GB/s over the memory bandwidth in rules/gpus.toml (memory-bandwidth-low)
    min_memory_efficiency: float = 0.6
    #: pinned host<->device GB/s over the PCIe link's theoretical rate (host-device-bandwidth-low)
    min_host_efficiency: float = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class Spread:
    """Spread of the per-sample rates around the median, in the measurement's unit."""

    min: float
    p25: float
    p75: float
    max: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Correctness:
    """How a result compared with its reference."""

    ok: bool
    max_error: float  #: max |result - reference| / rms(reference) over the checked elements (unitless)
    spot_max_error: float  #: the same for the elements recomputed on the CPU
    spot_points: int  #: elements recomputed on the CPU
    tolerance: float  #: largest acceptable error for the dtype and K (see the child's tolerance())
    nonfinite: int  #: NaN/Inf elements in the whole result
    reference: str  #: what the result was compared with
    metric: str  #: how the error was measured, e.g. "max_abs/rms"


@dataclass(frozen=True, slots=True, kw_only=True)
class NvmlSample:
    """Clocks, temperature, power, throttle reasons and PCIe link of a GPU at one moment."""

    at_s: float  #: seconds since the child started
    sm_clock_mhz: int | Unavailable
    mem_clock_mhz: int | Unavailable
    max_sm_clock_mhz: int | Unavailable
    temperature_c: int | Unavailable
    power_w: float | Unavailable  #: power draw, watts
    power_limit_w: float | Unavailable  #: enforced power limit, watts
    default_power_limit_w: float | Unavailable  #: the board's default limit, watts
    #: active clock-event reasons by name ("hw-slowdown", "sw-power-cap", ... as in GpuFacts)
    throttle_reasons: tuple[str, ...] | Unavailable
    pcie_gen: int | Unavailable  #: current link generation
    pcie_width: int | Unavailable  #: current link width (lanes)
    pcie_gen_max: int | Unavailable  #: the max of GPU and link partner
    pcie_width_max: int | Unavailable
    mig: bool  #: the benchmarked device is a MIG instance (values are its parent GPU's)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One workload on one device: the median rate, its spread, and how it compares with the peak."""

    name: str  #: "gemm-bf16", "conv-fp16-channels_last", "copy-d2d", "copy-h2d", "copy-d2h"
    kind: str  #: "gemm", "conv" or "copy"
    dtype: str  #: "fp32", "tf32", "fp16", "bf16" or "bytes"
    layout: str  #: "nchw" / "channels_last" for convolutions, "" otherwise
    unit: str  #: "TFLOP/s" or "GB/s"
    status: str  #: one of MEASUREMENT_STATUSES
    reason: str  #: why skipped / failed / wrong ("" when ok)
    value: float | Unavailable  #: median rate, in *unit*
    spread: Spread | Unavailable
    shape: tuple[int, ...]  #: GEMM (M, N, K); conv (N, C, H, W, K, R, S); copy (bytes,)
    repeats: int  #: timed samples
    inner: int  #: operations per timed sample
    seconds: float | Unavailable  #: median seconds per operation
    work: float  #: FLOP or bytes per operation
    #: the rate *value* is compared with, in *unit* (rules/gpus.toml, or the PCIe link's rate)
    peak: float | Unavailable = Unavailable(probe=PROBE, reason="not compared with a peak yet")
    #: value / peak, a fraction (1.0 = the datasheet number)
    efficiency: float | Unavailable = Unavailable(probe=PROBE, reason="not compared with a peak yet")
    peak_source: str = ""  #: where the peak came from (rules/gpus.toml model, PCIe link)
    correctness: Correctness | Unavailable = Unavailable(probe=PROBE, reason="not checked")
    during: NvmlSample | Unavailable = Unavailable(probe=PROBE, reason="not sampled")
    note: str = ""
    wall_s: float = 0.0  #: wall seconds of the whole workload (sizing, warm-up, check included)


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
    wall_s: float  #: wall seconds of the child
    torch_version: str
    settings: dict[str, SettingValue]  #: cuBLAS/cuDNN settings before the workloads, e.g. "cudnn.benchmark"
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
class BenchFacts:
    """The whole benchmark run: every device, or why none could be benchmarked."""

    status: str  #: one of BENCH_STATUSES
    reason: str  #: why the status is not "ok" ("" when it is)
    mode: Literal["gpu", "cpu"]  #: "cpu": the harness ran on the CPU (--cpu)
    python: str  #: the interpreter the children ran in
    quick: bool  #: headline workloads only (--quick, and the gate)
    budget_s: float  #: target wall seconds per device
    timeout_s: float  #: hard limit per device child, seconds
    wall_s: float  #: wall seconds of the whole run
    devices: tuple[DeviceResult, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)  #: what the bench checks compare with
    inject: str = ""  #: CUDADOCTOR_BENCH_INJECT as passed to the children (tests only)
