"""Smoke-benchmark checks: wrong results, hangs, failures, slow GEMMs, low memory and host-link bandwidth.

They judge the ``bench`` fact area (BenchFacts, annotated with the peaks), which only
``cudadoctor bench``, ``check --bench`` and ``gate`` gather; elsewhere the area is "not run" and
the engine skips these checks with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from cudadoctor.bench.evaluate import facts_gpu, samples
from cudadoctor.checks.base import Check, SkipCheck
from cudadoctor.facts import Facts, Unavailable, known
from cudadoctor.facts_bench import BenchFacts, DeviceResult, Measurement, NvmlSample
from cudadoctor.findings import Finding, Severity

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables

#: Clock-event reasons that mean the GPU is being slowed down (the rest are benign or expected).
SLOWDOWN_REASONS = {
    "hw-slowdown": "HW slowdown (thermal or power-brake signal from the board)",
    "hw-thermal": "HW thermal slowdown",
    "sw-thermal": "SW thermal slowdown",
    "hw-power-brake": "HW power brake (external power-brake signal)",
}
#: A clock under this fraction of the maximum during a workload is called out.
LOW_CLOCK_FRACTION = 0.8


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _num(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _shape(m: Measurement) -> str:
    if m.kind == "gemm" and len(m.shape) == 3:
        return "x".join(str(s) for s in m.shape)
    if m.kind == "conv" and len(m.shape) == 7:
        n, c, h, w, k, r, s = m.shape
        return f"N{n} C{c} {h}x{w} -> K{k} {r}x{s} {m.layout}"
    if m.kind == "copy" and m.shape:
        return f"{m.shape[0] / (1 << 20):.0f} MiB"
    return "x".join(str(s) for s in m.shape)


def _what(m: Measurement) -> str:
    """'BF16 GEMM 8192x8192x8192' / 'device-to-device copy of 256 MiB'."""
    if m.kind == "gemm":
        return f"{m.dtype.upper()} GEMM {_shape(m)}"
    if m.kind == "conv":
        return f"{m.dtype.upper()} convolution ({_shape(m)})"
    direction = {"copy-d2d": "device-to-device copy", "copy-h2d": "pinned host-to-device copy",
                 "copy-d2h": "pinned device-to-host copy"}.get(m.name, m.name)
    return f"{direction} of {_shape(m)}"


def _smi(device: DeviceResult) -> str:
    return f"-i {device.index}" if device.device != "cpu" else ""


class BenchCheck(Check):
    """Base of the bench checks: they need the ``bench`` fact area."""

    requires = frozenset({"bench"})

    @staticmethod
    def bench(facts: Facts) -> BenchFacts:
        """The benchmark results, or skip when the benchmark did not run or could not start."""
        results = facts.bench
        if isinstance(results, Unavailable):
            raise SkipCheck(results.reason)
        if results.status != "ok":
            raise SkipCheck(f"the smoke benchmark could not run: {results.reason}")
        return results

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:  # pragma: no cover - abstract
        """Yield findings about the benchmark results."""
        raise NotImplementedError


def slowdown_causes(
    device: DeviceResult, m: Measurement | None, facts: Facts | None, *, clocks: bool = True, power_cap: bool = True
) -> list[str]:
    """Why a device may be slow, from NVML (during the workload, else after/before) and the facts."""
    causes: list[str] = []
    if "MIG" in device.name or any(s.mig for s in samples(device, m)):
        causes.append(f"{device.name} is a MIG slice: it has a fraction of the GPU's SMs and memory bandwidth, "
                      "while the peak is the whole GPU's")
    sample = next(iter(samples(device, m)), None)
    if sample is not None:
        if known(sample.throttle_reasons):
            active = [SLOWDOWN_REASONS[r] for r in sample.throttle_reasons if r in SLOWDOWN_REASONS]  # type: ignore[union-attr]
            if active:
                temp = f" at {sample.temperature_c} °C" if known(sample.temperature_c) else ""
                causes.append("NVML reported " + ", ".join(active) + temp)
            if "sw-power-cap" in sample.throttle_reasons and known(sample.power_limit_w):  # type: ignore[operator]
                limit = float(sample.power_limit_w)  # type: ignore[arg-type]
                default = sample.default_power_limit_w
                if known(default) and limit < 0.95 * float(default):  # type: ignore[arg-type]
                    causes.append(f"the power limit is lowered to {limit:.0f} W (default {float(default):.0f} W) "  # type: ignore[arg-type]
                                  "and the GPU ran into it")
                elif power_cap:
                    causes.append(f"the GPU was held at its power cap ({limit:.0f} W, the default limit)")
        if clocks and known(sample.sm_clock_mhz) and known(sample.max_sm_clock_mhz):
            sm, top = int(sample.sm_clock_mhz), int(sample.max_sm_clock_mhz)  # type: ignore[arg-type]
            if top > 0 and sm < LOW_CLOCK_FRACTION * top:
                causes.append(f"the SM clock was {sm} MHz of {top} MHz max")
    gpu = facts_gpu(device, facts)
    if gpu is not None and known(gpu.processes):
        others = [p for p in gpu.processes]  # type: ignore[union-attr]
        if others:
            causes.append(f"{len(others)} other process{'es' if len(others) != 1 else ''} held memory on this GPU "
                          "when the facts were probed (they may also have been computing)")
    return causes


# --------------------------------------------------------------------------------------------------


class BenchWrongResult(BenchCheck):
    """A matmul or convolution result differs from its reference beyond the dtype's tolerance.

    ## What it checks
    Every GEMM and convolution the benchmark times is compared with a float64 computation of
    the same inputs on the same device (a random subset of rows or images), with a few
    elements recomputed independently on the CPU, and the whole result is scanned for NaN/Inf.
    The error is `max |result - reference| / rms(reference)`; the tolerance per dtype is
    32 (GEMM) or 64 (convolution) times the storage format's unit roundoff (2^-24 fp32,
    2^-11 TF32 and fp16, 2^-8 bf16) plus 16 * 2^-24 * sqrt(K) for fp32 accumulation. Healthy
    GPUs stay 5-10x below it; a broken kernel, library or GPU gives errors of order 1.

    ## Why it matters
    A GPU that computes wrong numbers trains a model that silently diverges or produces NaN
    losses hours later. Causes seen in the field: failing HBM or SRAM (uncorrectable ECC errors,
    pending row remaps), a GPU that fell off the bus mid-run (Xid 79), overclocked or
    overheating consumer cards, and a mismatched or shadowed libcublas/libcudnn.

    ## Example
    `GPU 3 (NVIDIA A100-SXM4-80GB): BF16 GEMM 8192x8192x8192 differs from its float64
    reference: max error 6.8 x rms (tolerance 0.125), 0 NaN/Inf elements.`

    ## Fix
    Take the GPU out of service until it passes again: look for Xid and ECC errors
    (`sudo dmesg -T | grep -i xid`, `nvidia-smi -q -d ECC,ROW_REMAPPER -i N`), run the vendor's
    diagnostic (`dcgmi diag -r 3 -i N`), reset the GPU or reboot, and ask the provider to
    replace it if the error persists. If every GPU shows the same error, suspect the software
    stack instead (a shadowed CUDA library: run `cudadoctor check`).

    ## References
    - Higham, Accuracy and Stability of Numerical Algorithms (2nd ed.), ch. 3: error of inner products
    - https://docs.nvidia.com/deploy/xid-errors/index.html
    - https://docs.nvidia.com/datacenter/dcgm/latest/user-guide/dcgm-diagnostics.html
    """

    code = "BEN001"
    name = "bench-wrong-result"
    severity = Severity.ERROR
    tables = ("gpus",)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per device with a wrong result."""
        results = self.bench(facts)
        checked = [m for d in results.devices for m in d.measurements if known(m.correctness)]
        if not checked:
            raise SkipCheck("no benchmark result was compared with a reference (every workload was skipped, failed or timed out)")
        wrong_devices = [d for d in results.devices if any(m.status == "wrong" for m in d.measurements)]
        everywhere = len(wrong_devices) > 1 and len(wrong_devices) == len(results.devices)
        for device in wrong_devices:
            bad = [m for m in device.measurements if m.status == "wrong"]
            parts = []
            evidence: dict[str, object] = {"bench.device": device.label}
            for m in bad:
                c = m.correctness
                if isinstance(c, Unavailable):
                    parts.append(f"{_what(m)}: {m.reason}")
                    continue
                if m.kind == "copy":
                    parts.append(f"{_what(m)}: the destination differs from the source")
                else:
                    parts.append(
                        f"{_what(m)} differs from its float64 reference: max error {c.max_error:.3g} x rms "
                        f"(tolerance {c.tolerance:.3g}), CPU spot check {c.spot_max_error:.3g}, "
                        f"{c.nonfinite} NaN/Inf element{'s' if c.nonfinite != 1 else ''}"
                    )
                evidence[f"bench.{m.name}.max_error"] = f"{c.max_error:.3g}" if known(c) else m.reason  # type: ignore[union-attr]
                if known(c):
                    evidence[f"bench.{m.name}.tolerance"] = f"{c.tolerance:.3g}"  # type: ignore[union-attr]
            message = f"{device.label}: " + "; ".join(parts) + "."
            if device.device == "cpu":
                fix = ("The CPU's BLAS/oneDNN path gave wrong numbers: reinstall torch "
                       "(`pip install --force-reinstall torch`) and re-run `cudadoctor bench --cpu`.")
            elif everywhere:
                message += " Every benchmarked GPU shows it, which points at the software stack rather than one GPU."
                fix = ("Run `cudadoctor check` for shadowed or mismatched CUDA libraries (libcublas, libcudnn), "
                       "reinstall torch's wheel, then re-run `cudadoctor bench`.")
            else:
                i = device.index
                fix = (f"Stop using GPU {i} until it passes again: check `sudo dmesg -T | grep -i xid` and "
                       f"`nvidia-smi -q -d ECC,ROW_REMAPPER -i {i}`, run `dcgmi diag -r 3 -i {i}`, reset the GPU "
                       f"(`sudo nvidia-smi --gpu-reset -i {i}` with no process on it) or reboot, and have it replaced "
                       "if the error comes back.")
            yield self.finding(message=message, evidence=evidence, fix=fix)


class BenchTimeout(BenchCheck):
    """The benchmark did not finish in its time limit (hung GPU or driver).

    ## What it checks
    Each device is benchmarked by its own child process with a hard timeout (the budget plus
    a grace period, `--timeout`). A child that is still running then is killed with its whole
    process group, and this check names the GPU and the workload it was stuck in.

    ## Why it matters
    A GEMM that takes milliseconds on a healthy GPU never ends on a hung one: after an Xid
    error (e.g. Xid 79 "GPU has fallen off the bus", Xid 119/120 GSP timeouts), with a stuck
    NVLink/NVSwitch fabric, or when the driver is wedged. A training job on such a GPU hangs at
    its first step or first collective and burns its whole allocation.

    ## Example
    `The benchmark of GPU 2 (NVIDIA H100 80GB HBM3) did not finish within 30 s and was killed
    during the gemm-bf16 workload.`

    ## Fix
    Look for Xid errors (`sudo dmesg -T | grep -i xid`) and the GPU's state (`nvidia-smi -q -i N`);
    reset it (`sudo nvidia-smi --gpu-reset -i N`) or reboot the node. A timeout during
    `import torch` is slow storage rather than the GPU: raise `--timeout`.

    ## References
    - https://docs.nvidia.com/deploy/xid-errors/index.html
    - https://docs.nvidia.com/deploy/gpu-debug-guidelines/index.html
    """

    code = "BEN002"
    name = "bench-timeout"
    severity = Severity.ERROR

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per device child that was killed at its timeout."""
        results = self.bench(facts)
        for device in results.devices:
            if device.status != "timeout":
                continue
            done = [m.name for m in device.measurements if m.status in ("ok", "wrong")]
            message = device.reason[0].upper() + device.reason[1:] + "."
            if done:
                message += f" Finished before it: {', '.join(done)}."
            evidence = {"bench.device": device.label, "bench.timeout_s": f"{results.timeout_s:g}",
                        "bench.stage": device.stage or "(starting)"}
            if device.stage in ("", "import"):
                yield self.finding(
                    message=message + " It never reached the GPU: this is a slow Python start or `import torch`, not a hang of the GPU.",
                    evidence=evidence,
                    fix=f"Time `{results.python} -c 'import torch'`; on slow or network storage raise the limit "
                        f"(`cudadoctor bench --timeout {max(60.0, 2 * results.timeout_s):g}`).",
                    severity=Severity.WARNING,
                )
                continue
            i = device.index
            fix = (f"Check `sudo dmesg -T | grep -i xid` and `nvidia-smi -q -i {i}` for GPU {i}; reset it "
                   f"(`sudo nvidia-smi --gpu-reset -i {i}`, with no process on it) or reboot the node; "
                   f"re-run `cudadoctor bench` to confirm.")
            if device.device == "cpu":
                fix = "Re-run `cudadoctor bench --cpu --timeout 120`; a CPU this slow or this loaded cannot run the harness in time."
            yield self.finding(message=message, evidence=evidence, fix=fix)


class BenchFailed(BenchCheck):
    """The benchmark crashed or a workload raised an error (CUDA, cuBLAS or cuDNN error).

    ## What it checks
    Whether a device's benchmark child was killed by a signal (SIGSEGV, SIGABRT), exited early,
    could not initialise its device, or whether a workload raised, e.g. `CUDA error: an illegal
    memory access was encountered`, `CUBLAS_STATUS_EXECUTION_FAILED` or
    `cuDNN error: CUDNN_STATUS_EXECUTION_FAILED`.

    ## Why it matters
    These errors end a training run at once, and after an illegal memory access or an Xid the
    CUDA context is unusable until the process restarts. They come from a faulty GPU (Xid 13,
    31, 43, 48), a mismatched or shadowed CUDA library, or a driver too old for the library.

    ## Example
    `GPU 0 (NVIDIA A100-SXM4-40GB): conv-fp16-nchw raised RuntimeError: cuDNN error:
    CUDNN_STATUS_EXECUTION_FAILED.`

    ## Fix
    Run `cudadoctor check` for library and driver problems; look for Xid errors
    (`sudo dmesg -T | grep -i xid`); re-run `cudadoctor bench` after fixing them.

    ## References
    - https://docs.nvidia.com/deploy/xid-errors/index.html
    - https://pytorch.org/docs/stable/notes/cuda.html
    """

    code = "BEN006"
    name = "bench-failed"
    severity = Severity.ERROR

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per device that crashed, could not start, or had a failing workload."""
        results = self.bench(facts)
        for device in results.devices:
            failed = [m for m in device.measurements if m.status == "failed"]
            if device.status not in ("crashed", "failed") and not failed:
                continue
            raised = [f"{m.name} raised {m.reason}" for m in failed]
            if device.status in ("crashed", "failed"):
                message = device.reason[0].upper() + device.reason[1:] + "."
                if raised:
                    message += " Before that, " + "; ".join(raised) + "."
            else:
                message = f"{device.label}: " + "; ".join(raised) + "."
            evidence: dict[str, object] = {"bench.device": device.label, "bench.status": device.status}
            if device.stderr_tail:
                evidence["bench.stderr_tail"] = device.stderr_tail.strip().splitlines()[-1][:300]
            for m in failed:
                evidence[f"bench.{m.name}"] = m.reason
            smi = f" and `nvidia-smi -q {_smi(device)}`" if device.device != "cpu" else ""
            fix = (f"Run `cudadoctor check` for driver and CUDA library problems, look for Xid errors with "
                   f"`sudo dmesg -T | grep -i xid`{smi}, then re-run `cudadoctor bench`.")
            yield self.finding(message=message, evidence=evidence, fix=fix)


class BenchSlow(BenchCheck):
    """GEMM throughput is below the expected fraction of the GPU's peak for that dtype.

    ## What it checks
    The median TFLOP/s of each GEMM (FP32 with TF32 off, TF32, FP16, BF16; sizes grown to
    several milliseconds per call, after warm-up, timed with CUDA events) divided by the model's
    dense peak in `rules/gpus.toml`. It fires below `--min-efficiency` (default 0.5) and says
    why when NVML or the facts show it: thermal or power-brake slowdown, a lowered power limit,
    low SM clocks, a MIG slice, other processes on the GPU. Convolutions are reported but not
    judged: their efficiency depends too much on shape and on cuDNN's algorithm choice.

    ## Why it matters
    A GPU at a fraction of its speed makes every step slower and, in data- or tensor-parallel
    training, slows every other GPU to its pace. The default of 50% is deliberately below what
    healthy GPUs reach with large cuBLAS GEMMs: H100 SXM about 75-80% of dense BF16 peak
    (794 of 989 TFLOP/s measured as "maximum achievable matmul FLOPS"), A100 about 85-88%,
    power-limited parts such as H100 PCIe 65-70%; quick-mode sizes lose a few percent more.
    Half of the datasheet number is therefore a real problem, not noise.

    ## Example
    `GPU 1 (NVIDIA H100 80GB HBM3): BF16 GEMM 8192x8192x8192 reached 301 TFLOP/s, 30% of the
    989 TFLOP/s dense peak (expected at least 50%). Likely causes: NVML reported HW thermal
    slowdown at 92 °C; the SM clock was 1005 MHz of 1980 MHz max.`

    ## Fix
    Remove the cause named in the message: fix cooling or airflow for thermal slowdown, restore
    the power limit (`sudo nvidia-smi -pl <default> -i N`), reset application clocks
    (`sudo nvidia-smi -rac -i N`), stop other jobs on the GPU. Then re-run `cudadoctor bench`.

    ## References
    - https://github.com/stas00/ml-engineering/blob/master/compute/accelerator/README.md#maximum-achievable-matmul-flops-comparison-table
    - https://docs.nvidia.com/deploy/nvml-api/group__nvmlClocksEventReasons.html
    - https://docs.nvidia.com/cuda/cublas/index.html
    """

    code = "BEN003"
    name = "bench-slow"
    severity = Severity.WARNING
    tables = ("gpus",)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per device whose GEMMs are below the threshold."""
        results = self.bench(facts)
        floor = results.thresholds.min_efficiency
        judged = [(d, m) for d in results.devices for m in d.measurements
                  if m.kind == "gemm" and m.status == "ok" and known(m.efficiency)]
        if not judged:
            reasons = {m.efficiency.reason for d in results.devices for m in d.measurements
                       if m.kind == "gemm" and isinstance(m.efficiency, Unavailable)}
            raise SkipCheck("no GEMM could be compared with a peak" + (f": {'; '.join(sorted(reasons))}" if reasons else ""))
        for device in results.devices:
            slow = [m for d, m in judged if d is device and float(m.efficiency) < floor]  # type: ignore[arg-type]
            if not slow:
                continue
            parts = [f"{_what(m)} reached {_num(float(m.value))} TFLOP/s, {_pct(float(m.efficiency))} of the "  # type: ignore[arg-type]
                     f"{_num(float(m.peak))} TFLOP/s dense peak" for m in slow]  # type: ignore[arg-type]
            causes = []
            for m in slow:
                for c in slowdown_causes(device, m, facts):
                    if c not in causes:
                        causes.append(c)
            message = f"{device.label}: " + "; ".join(parts) + f" (expected at least {_pct(floor)})."
            message += (" Likely causes: " + "; ".join(causes) + ".") if causes else (
                " NVML showed no throttling, so the cause is not visible from here.")
            mig = "MIG" in device.name
            severity = Severity.INFO if mig else None
            if mig:
                message += " Reported as info: a MIG slice is expected to be slower than the whole GPU's peak."
            evidence: dict[str, object] = {"bench.device": device.label, "bench.min_efficiency": f"{floor:g}"}
            for m in slow:
                evidence[f"bench.{m.name}.tflops"] = f"{float(m.value):.4g}"  # type: ignore[arg-type]
                evidence[f"bench.{m.name}.efficiency"] = f"{float(m.efficiency):.3f}"  # type: ignore[arg-type]
                evidence[f"bench.{m.name}.peak"] = m.peak_source
            yield self.finding(message=message, evidence=evidence, fix=self._fix(device, slow, causes), severity=severity)

    @staticmethod
    def _fix(device: DeviceResult, slow: list[Measurement], causes: list[str]) -> str:
        i = device.index
        steps = []
        text = " ".join(causes)
        if "thermal" in text or "HW slowdown" in text:
            steps.append(f"fix cooling/airflow (check fans and inlet temperature: `nvidia-smi -q -d TEMPERATURE,PERFORMANCE -i {i}`)")
        if "power brake" in text:
            steps.append("have the node's power delivery checked (the board asserted its power-brake signal)")
        if "power limit is lowered" in text:
            default = next((s.default_power_limit_w for m in slow for s in [m.during, device.nvml_after]
                            if isinstance(s, NvmlSample) and known(s.default_power_limit_w)), None)
            steps.append(f"restore the power limit (`sudo nvidia-smi -pl {float(default):.0f} -i {i}`)" if default is not None
                         else f"restore the default power limit (`nvidia-smi -q -d POWER -i {i}` shows it)")
        if "SM clock" in text and not steps:
            steps.append(f"reset application clocks and clock locks (`sudo nvidia-smi -rac -i {i}; sudo nvidia-smi -rgc -i {i}`)")
        if "other process" in text:
            steps.append(f"stop the other jobs on GPU {i} (`nvidia-smi -i {i}` lists them)")
        if "MIG slice" in text:
            steps.append("benchmark a whole GPU, or compare only with other slices of the same profile")
        if not steps:
            steps.append(f"watch `nvidia-smi dmon -s pucv -i {i}` while re-running `cudadoctor bench`, and run "
                         f"`dcgmi diag -r 2 -i {i}`")
        return "; ".join(steps) + "; then re-run `cudadoctor bench`."


class MemoryBandwidthLow(BenchCheck):
    """Device memory bandwidth is below the expected fraction of peak.

    ## What it checks
    A large device-to-device copy (256 MiB, far beyond L2), timed with CUDA events after
    warm-up; GB/s counts the read and the write, as CUDA's bandwidthTest does. It fires when
    that is below `--min-memory-efficiency` (default 0.6) of the memory bandwidth in
    `rules/gpus.toml`.

    ## Why it matters
    Most training kernels besides large GEMMs (normalisation, attention softmax, optimizer
    steps, element-wise ops) are bound by memory bandwidth. Healthy HBM GPUs copy at 80-90% of
    the datasheet bandwidth (A100 about 1.3-1.4 of 1.55 TB/s, H100 SXM about 2.6-3.0 of
    3.35 TB/s), so 60% leaves room for small copies and older drivers while catching a memory
    clock stuck low, thermal slowdown, or memory busy with another job.

    ## Example
    `GPU 0 (NVIDIA A100-SXM4-40GB): device-to-device copy of 256 MiB reached 610 GB/s, 39% of
    the 1555 GB/s memory bandwidth (expected at least 60%).`

    ## Fix
    Check the memory clock and throttling (`nvidia-smi -q -d CLOCK,PERFORMANCE -i N`), stop other
    jobs on the GPU, run `dcgmi diag -r 3 -i N` (it includes a memory bandwidth test).

    ## References
    - https://github.com/NVIDIA/cuda-samples/tree/master/Samples/1_Utilities/bandwidthTest
    - https://docs.nvidia.com/datacenter/dcgm/latest/user-guide/dcgm-diagnostics.html
    """

    code = "BEN004"
    name = "memory-bandwidth-low"
    severity = Severity.WARNING
    tables = ("gpus",)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per device whose device copy is below the threshold."""
        results = self.bench(facts)
        floor = results.thresholds.min_memory_efficiency
        judged = [(d, d.get("copy-d2d")) for d in results.devices]
        judged = [(d, m) for d, m in judged if m is not None and m.status == "ok" and known(m.efficiency)]
        if not judged:
            reasons = {m.efficiency.reason for d in results.devices for m in d.measurements
                       if m.name == "copy-d2d" and isinstance(m.efficiency, Unavailable)}
            raise SkipCheck("no device copy could be compared with a peak" + (f": {'; '.join(sorted(reasons))}" if reasons else ""))
        for device, m in judged:
            assert m is not None
            eff = float(m.efficiency)  # type: ignore[arg-type]
            if eff >= floor:
                continue
            causes = slowdown_causes(device, m, facts, clocks=False, power_cap=False)
            message = (f"{device.label}: {_what(m)} reached {_num(float(m.value))} GB/s, {_pct(eff)} of the "  # type: ignore[arg-type]
                       f"{_num(float(m.peak))} GB/s memory bandwidth (expected at least {_pct(floor)}).")  # type: ignore[arg-type]
            if causes:
                message += " Likely causes: " + "; ".join(causes) + "."
            i = device.index
            yield self.finding(
                message=message,
                evidence={"bench.device": device.label, "bench.copy-d2d.gbs": f"{float(m.value):.4g}",  # type: ignore[arg-type]
                          "bench.copy-d2d.efficiency": f"{eff:.3f}", "bench.copy-d2d.peak": m.peak_source,
                          "bench.min_memory_efficiency": f"{floor:g}"},
                fix=(f"Check memory clocks and throttling (`nvidia-smi -q -d CLOCK,PERFORMANCE -i {i}`), stop other "
                     f"jobs on GPU {i}, and run `dcgmi diag -r 3 -i {i}`; then re-run `cudadoctor bench`."),
                severity=Severity.INFO if "MIG" in device.name else None,
            )


class HostDeviceBandwidthLow(BenchCheck):
    """Pinned host-to-device or device-to-host copies are below what the PCIe link should give.

    ## What it checks
    64 MiB copies between pinned host memory and the GPU, each direction, timed with CUDA events
    (the GPUs take turns, so GPUs sharing a PCIe switch do not halve each other's figure). It
    fires when either direction is below `--min-host-efficiency` (default 0.5) of the
    theoretical per-direction rate of the PCIe link at its maximum generation and width (NVML),
    e.g. 31.5 GB/s for Gen4 x16, and names a link running narrower or slower than its maximum.

    ## Why it matters
    Every batch a DataLoader feeds crosses this link. Healthy pinned copies reach 70-85% of
    the link rate (about 12-13 GB/s on Gen3 x16, 22-26 GB/s on Gen4 x16, 45-55 GB/s on Gen5 x16),
    so below 50% the link is degraded: a card in an x8 slot or a riser negotiating a lower
    generation, a PCIe switch uplink shared with busy NICs, or a BIOS setting.

    ## Example
    `GPU 0 (NVIDIA A100-PCIE-40GB): pinned host-to-device copy of 64 MiB reached 11.8 GB/s, 37%
    of the 31.5 GB/s of a PCIe Gen4 x16 link (expected at least 50%). The link ran at Gen4 x8
    during the copy.`

    ## Fix
    Inspect the link (`nvidia-smi -q -d PCIE -i N`, `sudo lspci -vv -s <bus id> | grep -E 'LnkCap|LnkSta'`),
    reseat the card or move it to an x16 slot, check riser cables and the BIOS PCIe settings.

    ## References
    - https://pcisig.com/specifications
    - https://github.com/NVIDIA/cuda-samples/tree/master/Samples/1_Utilities/bandwidthTest
    - https://docs.nvidia.com/cuda/cuda-c-best-practices-guide/index.html#pinned-memory
    """

    code = "BEN005"
    name = "host-device-bandwidth-low"
    severity = Severity.WARNING
    tables = ("gpus",)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per device whose host copies are below the threshold."""
        results = self.bench(facts)
        floor = results.thresholds.min_host_efficiency
        judged = [(d, m) for d in results.devices for m in d.measurements
                  if m.name in ("copy-h2d", "copy-d2h") and m.status == "ok" and known(m.efficiency)]
        if not judged:
            reasons = {m.efficiency.reason for d in results.devices for m in d.measurements
                       if m.name in ("copy-h2d", "copy-d2h") and isinstance(m.efficiency, Unavailable)}
            skipped = {m.reason for d in results.devices for m in d.measurements
                       if m.name in ("copy-h2d", "copy-d2h") and m.status == "skipped"}
            raise SkipCheck("no host<->device copy could be compared with the link's rate"
                            + (f": {'; '.join(sorted(reasons | skipped))}" if reasons or skipped else ""))
        for device in results.devices:
            slow = [m for d, m in judged if d is device and float(m.efficiency) < floor]  # type: ignore[arg-type]
            if not slow:
                continue
            link = slow[0].peak_source.replace(" theoretical per-direction rate", " link")
            parts = [f"{_what(m)} reached {_num(float(m.value))} GB/s, {_pct(float(m.efficiency))} of the "  # type: ignore[arg-type]
                     f"{_num(float(m.peak))} GB/s of a {link}" for m in slow]  # type: ignore[arg-type]
            message = f"{device.label}: " + "; ".join(parts) + f" (expected at least {_pct(floor)})."
            degraded = self._degraded(device, slow, facts)
            if degraded:
                message += " " + degraded
            notes = {m.note for m in slow if m.note}
            if notes:
                message += " Note: " + "; ".join(sorted(notes)) + "."
            evidence: dict[str, object] = {"bench.device": device.label, "bench.min_host_efficiency": f"{floor:g}"}
            for m in slow:
                evidence[f"bench.{m.name}.gbs"] = f"{float(m.value):.4g}"  # type: ignore[arg-type]
                evidence[f"bench.{m.name}.efficiency"] = f"{float(m.efficiency):.3f}"  # type: ignore[arg-type]
            bus = device.pci_bus_id.lower()[4:] if device.pci_bus_id.startswith("0000") else device.pci_bus_id.lower()
            lspci = f"`sudo lspci -vv -s {bus} | grep -E 'LnkCap|LnkSta'`" if bus else "`sudo lspci -vv | grep -E 'LnkCap|LnkSta'`"
            yield self.finding(
                message=message, evidence=evidence,
                fix=(f"Inspect the link: `nvidia-smi -q -d PCIE -i {device.index}` and {lspci}; reseat the card or move it "
                     "to a full-width slot, check risers and the BIOS PCIe generation setting; then re-run `cudadoctor bench`."),
            )

    @staticmethod
    def _degraded(device: DeviceResult, slow: list[Measurement], facts: Facts) -> str:
        """'The link ran at Gen4 x8 during the copy.' when NVML saw it below its maximum."""
        for m in slow:
            s = m.during if isinstance(m.during, NvmlSample) else None
            if s is None:
                continue
            vals = (s.pcie_gen, s.pcie_width, s.pcie_gen_max, s.pcie_width_max)
            if all(known(v) for v in vals):
                gen, width, gmax, wmax = (int(v) for v in vals)  # type: ignore[arg-type]
                if gen < gmax or width < wmax:
                    return f"The link ran at Gen{gen} x{width} during the copy (maximum Gen{gmax} x{wmax})."
        gpu = facts_gpu(device, facts)
        if gpu is not None and known(gpu.pcie_width_current) and known(gpu.pcie_width_max):
            if int(gpu.pcie_width_current) < int(gpu.pcie_width_max):  # type: ignore[arg-type]
                return f"The facts show the link at x{gpu.pcie_width_current} of x{gpu.pcie_width_max}."
        return ""


CHECKS: tuple[type[Check], ...] = (BenchWrongResult, BenchTimeout, BenchSlow, MemoryBandwidthLow, HostDeviceBandwidthLow, BenchFailed)
