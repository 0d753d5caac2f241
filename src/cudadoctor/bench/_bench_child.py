"""Child script run inside the inspected interpreter: the smoke benchmark of ONE device.

Executed by ``cudadoctor.bench.runner`` as ``[python, "-c", <prelude + this source>, <config JSON>]``, one
process per GPU (or one for ``--cpu``), each under a hard timeout that kills its process group.
It must stay standard library + torch only and never import cudadoctor: it runs in the inspected
interpreter (``--python``), which may not have cudadoctor installed. Python 3.7 syntax.
One file by necessity (it is sent as one ``-c`` source), and one concern: the benchmark child.

Protocol: the records of the shared prelude (``cudadoctor/childprelude.py``, prepended by the
parent; it defines ``marker``, ``claim_stdout`` and ``emit``), as the torch probe's child: every
result is one line on the original stdout, written as soon as it is known; before each stage a
``{"stage": "begin", "name": ...}`` line says what is being tried, so the parent can tell where a
hang or crash happened and keeps every measurement finished before it.

Config keys: device ("cuda" or "cpu"), index (CUDA ordinal; CUDA_VISIBLE_DEVICES is honoured,
never changed), quick (bool), budget_s (wall budget of this whole child, import included),
pynvml_path (a pynvml.py file to load when ``import pynvml`` fails here), lock_path (a file
whose flock serialises host<->device copies across the GPU children).

Test hook: CUDADOCTOR_BENCH_INJECT = "corrupt" (negate part of every GEMM/conv result before it
is checked), "hang" (sleep forever in the first workload), "crash" (abort in the first workload);
"name:INDEX" limits the injection to the child of CUDA device INDEX.
"""

import faulthandler
import json
import math
import os
import random
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

#: Prefix of this child's record lines (the prelude's spelling).
MARKER = marker("bench")
INJECT_ENV = "CUDADOCTOR_BENCH_INJECT"

#: Unit roundoff of the storage format of the GEMM inputs/outputs (2^-(mantissa bits + 1)).
#: TF32 keeps fp32 storage but the tensor cores round the inputs to a 10-bit mantissa.
UNIT_ROUNDOFF = {"fp32": 2.0 ** -24, "tf32": 2.0 ** -11, "fp16": 2.0 ** -11, "bf16": 2.0 ** -8}
#: Accumulation is fp32 for every dtype here (torch asks cuBLAS/cuDNN for fp32 compute).
ACC_ROUNDOFF = 2.0 ** -24
#: Tolerance factors (see tolerance()): storage-rounding term for GEMM and conv, and the
#: accumulation term per sqrt(K).
GEMM_FACTOR = 32.0
CONV_FACTOR = 64.0
ACC_FACTOR = 16.0

#: Lowest compute capability that has each GEMM mode. NOTE: TF32 and BF16 tensor cores arrived
#: with Ampere (sm_80), FP16 tensor cores with Volta (sm_70):
#: https://docs.nvidia.com/cuda/cuda-c-programming-guide/#warp-matrix-functions
MIN_CC = {"fp32": (0, 0), "tf32": (8, 0), "fp16": (7, 0), "bf16": (8, 0)}

#: Workloads in run order with their share of the time budget.
GEMMS = ("bf16", "fp16", "tf32", "fp32")
CONVS = (("fp16", "nchw"), ("fp16", "channels_last"), ("bf16", "nchw"), ("bf16", "channels_last"))
WEIGHTS = {"gemm": 1.0, "conv": 0.5, "copy": 0.4}

#: NVML clock-event (throttle) reason bits, named as cudadoctor's driver facts name them (nvml.h).
THROTTLE_BITS = (
    (0x1, "gpu-idle"), (0x2, "applications-clocks"), (0x4, "sw-power-cap"), (0x8, "hw-slowdown"),
    (0x10, "sync-boost"), (0x20, "sw-thermal"), (0x40, "hw-thermal"), (0x80, "hw-power-brake"),
    (0x100, "display-clocks"),
)

START = time.monotonic()


# ------------------------------------------------------------------------------------ output


def begin(name: str) -> None:
    """Announce the stage about to run (the parent names it if we die in it)."""
    emit({"stage": "begin", "name": name, "t": round(time.monotonic() - START, 3)})


def error_text(exc: BaseException) -> str:
    """One line naming the exception."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


def unsupported(exc: BaseException) -> bool:
    """Whether *exc* says the op does not exist for this dtype/device (a skip, not a failure)."""
    text = str(exc)
    return isinstance(exc, NotImplementedError) or "not implemented for" in text or "not supported" in text


# ------------------------------------------------------------------------------------ statistics


def quantile(values: List[float], q: float) -> float:
    """Linear-interpolated quantile of *values* (0 <= q <= 1)."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = q * (len(s) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(rates: List[float]) -> Dict[str, float]:
    """Median and spread of per-sample rates."""
    return {
        "median": quantile(rates, 0.5), "min": min(rates), "max": max(rates),
        "p25": quantile(rates, 0.25), "p75": quantile(rates, 0.75),
    }


def tolerance(dtype: str, k: int, factor: float) -> float:
    """Largest acceptable max|C - C_ref| / rms(C_ref) for a K-long dot product in *dtype*.

    Two terms: rounding of the inputs (TF32) and of the stored output (fp16/bf16) is bounded by
    the storage unit roundoff u times the element's magnitude (max |C| over ~10^6 samples of a
    Gaussian is ~5.5 rms), so factor*u (factor 32 for GEMM, 64 for conv, whose Winograd/FFT
    algorithms add transform error) leaves >= 5x headroom; fp32 accumulation error grows like
    u_acc*sqrt(K) relative to rms(C) for random inputs (Higham, Accuracy and Stability of
    Numerical Algorithms, 2nd ed., ch. 3-4), hence ACC_FACTOR*u_acc*sqrt(K). A broken kernel or a
    bad GPU gives errors of order 1 (or NaN), far above every tolerance.
    """
    return factor * UNIT_ROUNDOFF[dtype] + ACC_FACTOR * ACC_ROUNDOFF * math.sqrt(k)


# ------------------------------------------------------------------------------------ inject


def injection(index: int) -> str:
    """The injected fault for this child ('' when none)."""
    raw = os.environ.get(INJECT_ENV, "").strip().lower()
    if not raw:
        return ""
    name, _, where = raw.partition(":")
    if where and where.strip() != str(index):
        return ""
    return name.strip()


def maybe_hang_or_crash(inject: str) -> None:
    """The "hang" and "crash" test hooks."""
    if inject == "hang":
        while True:
            time.sleep(60)
    if inject == "crash":
        os.abort()


# ------------------------------------------------------------------------------------ NVML


class Nvml:
    """Clocks, temperature, power, throttle reasons and PCIe link of one GPU through pynvml."""

    def __init__(self, nvml: Any, handle: Any, mig: bool) -> None:
        self.nv = nvml
        self.handle = handle
        self.mig = mig

    def sample(self) -> Dict[str, Any]:
        """Every value NVML gives; the ones it refuses are named in 'errors'."""
        nv, h = self.nv, self.handle
        values: Dict[str, Any] = {}
        errors: Dict[str, str] = {}

        def q(key: str, fn: Callable[[], Any]) -> None:
            try:
                values[key] = fn()
            except Exception as exc:  # noqa: BLE001 - NOT_SUPPORTED on some GPUs is normal
                errors[key] = error_text(exc)

        q("sm_clock_mhz", lambda: int(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)))
        q("mem_clock_mhz", lambda: int(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)))
        q("max_sm_clock_mhz", lambda: int(nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_SM)))
        q("temperature_c", lambda: int(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)))
        q("power_w", lambda: nv.nvmlDeviceGetPowerUsage(h) / 1000.0)
        q("power_limit_w", lambda: nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0)
        q("default_power_limit_w", lambda: nv.nvmlDeviceGetPowerManagementDefaultLimit(h) / 1000.0)
        q("throttle_reasons", lambda: self.reasons())
        q("pcie_gen", lambda: int(nv.nvmlDeviceGetCurrPcieLinkGeneration(h)))
        q("pcie_width", lambda: int(nv.nvmlDeviceGetCurrPcieLinkWidth(h)))
        q("pcie_gen_max", lambda: int(nv.nvmlDeviceGetMaxPcieLinkGeneration(h)))
        q("pcie_width_max", lambda: int(nv.nvmlDeviceGetMaxPcieLinkWidth(h)))
        values["mig"] = self.mig
        return {"values": values, "errors": errors, "t": round(time.monotonic() - START, 3)}

    def reasons(self) -> List[str]:
        """Active clock-event reasons by name (driver >= 535 name first, then the old one)."""
        fn = getattr(self.nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
        if fn is None:
            fn = self.nv.nvmlDeviceGetCurrentClocksThrottleReasons
        mask = int(fn(self.handle))
        names = [name for bit, name in THROTTLE_BITS if mask & bit]
        rest = mask & ~sum(bit for bit, _ in THROTTLE_BITS)
        if rest:
            names.append("unknown-0x%x" % rest)
        return names


def load_pynvml(path: str) -> Any:
    """pynvml as this interpreter imports it, else the doctor's copy loaded from *path*."""
    try:
        import pynvml  # type: ignore[import-not-found]

        return pynvml
    except ImportError:
        if not path or not os.path.isfile(path):
            raise ImportError("pynvml (nvidia-ml-py) is not importable in this interpreter")
    import importlib.util

    # NOTE: only this one pure-Python file (ctypes bindings) is loaded, never the doctor's
    # site-packages, so the benchmark still sees the user's own torch.
    spec = importlib.util.spec_from_file_location("pynvml", path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load pynvml from %s" % path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _by_id(fn: Callable[[Any], Any], ident: str) -> Any:
    """fn(ident) as str (pynvml >= 11 encodes it), then as bytes (older bindings); None if refused."""
    for arg in (ident, ident.encode()):
        try:
            return fn(arg)
        except Exception:  # noqa: BLE001 - not found, or the other spelling is needed
            continue
    return None


def open_nvml(props: Any, path: str) -> Tuple[Optional[Nvml], str]:
    """An Nvml for the CUDA device *props*, or (None, why not)."""
    try:
        nv = load_pynvml(path)
        nv.nvmlInit()
    except Exception as exc:  # noqa: BLE001
        return None, "NVML unavailable: %s" % error_text(exc)
    uuid = str(getattr(props, "uuid", "") or "")
    tried = []
    candidates = [uuid] if uuid.startswith(("GPU-", "MIG-")) else ["GPU-" + uuid, "MIG-" + uuid] if uuid else []
    for cand in candidates:
        tried.append(cand)
        handle = _by_id(nv.nvmlDeviceGetHandleByUUID, cand)
        if handle is None:
            continue
        mig = False
        try:
            mig = bool(nv.nvmlDeviceIsMigDeviceHandle(handle))
        except Exception:  # noqa: BLE001
            mig = cand.startswith("MIG-")
        if mig:
            try:
                # NOTE: clocks, power and temperature belong to the parent GPU of a MIG instance.
                handle = nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(handle)
            except Exception:  # noqa: BLE001
                pass
        return Nvml(nv, handle, mig), ""
    bus = getattr(props, "pci_bus_id", None)
    if bus is not None:
        pci = "%08X:%02X:%02X.0" % (int(getattr(props, "pci_domain_id", 0)), int(bus), int(getattr(props, "pci_device_id", 0)))
        tried.append(pci)
        handle = _by_id(nv.nvmlDeviceGetHandleByPciBusId, pci)
        if handle is not None:
            return Nvml(nv, handle, False), ""
    return None, "no NVML device matches this CUDA device (tried %s)" % (", ".join(tried) or "no UUID or PCI id from torch")


# ------------------------------------------------------------------------------------ timing


class Runner:
    """Device, timer and time budget shared by every workload."""

    def __init__(self, torch: Any, cfg: Dict[str, Any], inject: str) -> None:
        self.torch = torch
        self.cuda = cfg.get("device") == "cuda"
        self.index = int(cfg.get("index", 0))
        self.dev = torch.device("cuda", self.index) if self.cuda else torch.device("cpu")
        self.quick = bool(cfg.get("quick"))
        self.deadline = START + float(cfg.get("budget_s", 10.0))
        self.inject = inject
        self.nvml: Optional[Nvml] = None
        self.capability = (0, 0)
        self.lock_path = str(cfg.get("lock_path") or "")
        self.first_workload = True

    def left(self) -> float:
        """Seconds left in the budget."""
        return self.deadline - time.monotonic()

    def sync(self) -> None:
        """Wait for the device to finish queued work."""
        if self.cuda:
            self.torch.cuda.synchronize(self.dev)

    def time_samples(self, fn: Callable[[], Any], inner: int, samples: int) -> Tuple[List[float], Optional[Dict[str, Any]]]:
        """Seconds per call of *fn* for each of *samples* batches of *inner* calls.

        On CUDA with events recorded around each batch (all queued, one sync at the end, so
        the GPU never idles between batches), NVML sampled while the batches run; on the CPU
        with perf_counter.
        """
        torch = self.torch
        if self.cuda:
            pairs = []
            for _ in range(samples):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(inner):
                    fn()
                end.record()
                pairs.append((start, end))
            during = self.nvml.sample() if self.nvml is not None else None
            pairs[-1][1].synchronize()
            return [s.elapsed_time(e) / 1e3 / inner for s, e in pairs], during
        out = []
        for _ in range(samples):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            out.append((time.perf_counter() - t0) / inner)
        return out, None

    def once(self, fn: Callable[[], Any]) -> float:
        """Seconds one call of *fn* takes (synchronised)."""
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - t0

    def measure(self, fn: Callable[[], Any], t_op: float, slice_s: float) -> Dict[str, Any]:
        """Warm up (clocks ramp, caches fill), then time repeats within *slice_s*; median + spread."""
        warm = 0.25 * slice_s
        t_end = time.perf_counter() + warm
        while time.perf_counter() < t_end:
            fn()
            self.sync()
        target_sample = 0.002 if self.cuda else 0.005
        inner = max(1, int(math.ceil(target_sample / max(t_op, 1e-9))))
        budget = max(0.55 * slice_s, 0.0)
        samples = int(budget / max(t_op * inner, 1e-9))
        samples = max(5, min(samples, 50 if self.quick else 100))
        times, during = self.time_samples(fn, inner, samples)
        return {"times": times, "inner": inner, "samples": samples, "during": during}


# ------------------------------------------------------------------------------------ workloads


def gemm_modes(run: Runner, dtype: str) -> Tuple[Any, str]:
    """torch dtype for *dtype*, and '' or why it is skipped on this device."""
    torch = run.torch
    tdtype = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    if run.cuda:
        need = MIN_CC[dtype]
        if run.capability < need:
            return tdtype, "compute capability %d.%d has no %s tensor cores (needs %d.%d or newer)" % (
                run.capability + (dtype.upper(),) + need)
    elif dtype == "tf32":
        return tdtype, "TF32 is a tensor-core mode of NVIDIA GPUs (sm_80+); nothing to run on the CPU"
    return tdtype, ""


def set_tf32(torch: Any, enabled: bool) -> None:
    """Allow or forbid TF32 in cuBLAS and cuDNN.

    NOTE: torch >= 2.9 has fp32_precision ("ieee"/"tf32") and raises when the legacy allow_tf32
    flags and the new API are mixed, so only the new API is used where it exists:
    https://pytorch.org/docs/main/notes/cuda.html#tensorfloat-32-tf32-on-ampere-and-later-devices
    """
    matmul = torch.backends.cuda.matmul
    conv = getattr(torch.backends.cudnn, "conv", None)
    if hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = "tf32" if enabled else "ieee"
        if conv is not None and hasattr(conv, "fp32_precision"):
            conv.fp32_precision = "tf32" if enabled else "ieee"
    else:
        matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


def settings(torch: Any) -> Dict[str, Any]:
    """cuBLAS/cuDNN settings as torch has them before the benchmark touches anything."""
    out: Dict[str, Any] = {}
    cudnn = torch.backends.cudnn
    matmul = torch.backends.cuda.matmul
    for key, fn in (
        ("cudnn.version", lambda: cudnn.version()),
        ("cudnn.enabled", lambda: bool(cudnn.enabled)),
        ("cudnn.benchmark", lambda: bool(cudnn.benchmark)),
        ("cudnn.deterministic", lambda: bool(cudnn.deterministic)),
        ("matmul.fp32_precision", lambda: matmul.fp32_precision if hasattr(matmul, "fp32_precision") else ("tf32" if matmul.allow_tf32 else "ieee")),
        ("cudnn.conv.fp32_precision", lambda: cudnn.conv.fp32_precision if hasattr(getattr(cudnn, "conv", None), "fp32_precision") else ("tf32" if cudnn.allow_tf32 else "ieee")),
        ("matmul.allow_fp16_reduced_precision_reduction", lambda: bool(matmul.allow_fp16_reduced_precision_reduction)),
        ("matmul.allow_bf16_reduced_precision_reduction", lambda: bool(matmul.allow_bf16_reduced_precision_reduction)),
        ("float32_matmul_precision", lambda: torch.get_float32_matmul_precision()),
        ("num_threads", lambda: torch.get_num_threads()),
    ):
        try:
            out[key] = fn()
        except Exception as exc:  # noqa: BLE001
            out[key] = "unknown (%s)" % error_text(exc)
    # NOTE: torch has no public API that says which cuDNN algorithm a convolution used (only
    # the profiler's kernel names hint at it), so the benchmark says so instead of guessing.
    out["cudnn.algorithm"] = "not exposed by torch"
    return out


def free_bytes(run: Runner) -> int:
    """Free device memory (CPU: a fixed 2 GiB allowance so tests stay small)."""
    if run.cuda:
        try:
            return int(run.torch.cuda.mem_get_info(run.dev)[0])
        except Exception:  # noqa: BLE001
            return int(run.torch.cuda.get_device_properties(run.dev).total_memory // 2)
    return 2 << 30


def check_result(run: Runner, full: Any, got: Any, ref: Any, tol: float, spot: List[Tuple[float, float]],
                 what: str) -> Dict[str, Any]:
    """Compare *got* (rows of the low-precision result *full*) with *ref* (float64) and the CPU
    spot checks; NaN/Inf are counted over all of *full* and left out of the error maxima (so the
    report stays valid JSON), and any of them makes the result wrong."""
    torch = run.torch
    finite = torch.isfinite(got)
    diff = torch.where(finite, (got.double() - ref).abs(), torch.zeros_like(ref))
    rms = float(ref.pow(2).mean().sqrt().item())
    scale = rms if rms > 0 else 1.0
    nonfinite = int((~torch.isfinite(full)).sum().item())
    max_err = float(diff.max().item()) / scale if diff.numel() else 0.0
    spot_errs = [abs(g - r) / scale for g, r in spot if math.isfinite(g)]
    spot_err = max(spot_errs, default=0.0)
    ok = nonfinite == 0 and len(spot_errs) == len(spot) and max_err <= tol and spot_err <= tol
    return {
        "ok": ok, "max_error": max_err, "spot_max_error": spot_err, "spot_points": len(spot),
        "tolerance": tol, "nonfinite": nonfinite, "reference": what,
        "metric": "max |result - reference| / rms(reference)",
    }


def gemm(run: Runner, dtype: str, slice_s: float) -> Dict[str, Any]:
    """C = A @ B in *dtype*: size adapted to the budget, timed, checked against float64."""
    torch = run.torch
    tdtype, why = gemm_modes(run, dtype)
    rec: Dict[str, Any] = {"name": "gemm-" + dtype, "kind": "gemm", "dtype": dtype, "layout": "", "unit": "TFLOP/s"}
    if why:
        rec.update(status="skipped", reason=why)
        return rec
    if run.cuda or dtype in ("fp32", "tf32"):
        set_tf32(torch, dtype == "tf32")
    elem = torch.tensor([], dtype=tdtype).element_size()
    if run.cuda:
        n, n_min, n_max, min_op = (4096, 1024, 16384, 0.0015)
    else:
        n, n_min, n_max, min_op = (128, 32, 1024, 0.002)
    # A, B, C plus the float64 copy of B the reference needs, with room to spare.
    while n > n_min and (3 * elem + 8) * n * n * 2 > free_bytes(run):
        n //= 2
    gen = torch.Generator(device=run.dev).manual_seed(1234)

    def alloc(size: int) -> Tuple[Any, Any, Any]:
        a = torch.randn(size, size, device=run.dev, dtype=tdtype, generator=gen)
        b = torch.randn(size, size, device=run.dev, dtype=tdtype, generator=gen)
        return a, b, torch.empty(size, size, device=run.dev, dtype=tdtype)

    a, b, c = alloc(n)
    op = lambda: torch.matmul(a, b, out=c)  # noqa: E731
    run.once(op)  # first call: library load, handle and heuristics, not timed
    if run.first_workload:
        run.first_workload = False
        maybe_hang_or_crash(run.inject)
    t_op = run.once(op)
    # Grow while one op is too short to be steady (launch overhead, clock ramp) and it fits.
    while t_op < min_op and n * 2 <= n_max and (3 * elem + 8) * (2 * n) ** 2 * 2 <= free_bytes(run) + 3 * elem * n * n \
            and t_op * 8 * 12 < slice_s * 0.5:
        del a, b, c
        n *= 2
        a, b, c = alloc(n)
        op = lambda: torch.matmul(a, b, out=c)  # noqa: E731
        run.once(op)
        t_op = run.once(op)
    # Shrink while a dozen ops would not fit in the slice (old GPU, slow CPU dtype).
    while t_op * 12 > slice_s * 0.6 and n // 2 >= n_min:
        del a, b, c
        n //= 2
        a, b, c = alloc(n)
        op = lambda: torch.matmul(a, b, out=c)  # noqa: E731
        run.once(op)
        t_op = run.once(op)
    m = run.measure(op, t_op, slice_s)
    flops = 2.0 * n * n * n
    rates = [flops / t / 1e12 for t in m["times"] if t > 0]
    run.sync()
    if run.inject == "corrupt":
        c[::7].neg_()
    # Reference: float64 on the same device for a random subset of rows (every column).
    rows = min(n, 128 if run.cuda else 64)
    idx = torch.randperm(n, device=run.dev, generator=gen)[:rows]
    set_tf32(torch, False)
    ref = a.index_select(0, idx).double() @ b.double()
    got = c.index_select(0, idx)
    # CPU spot check of a few elements, independent of the device's own float64 path.
    spot = []
    rng = random.Random(7)
    idx_cpu = idx.cpu().tolist()
    for _ in range(4):
        r = rng.randrange(rows)
        j = rng.randrange(n)
        i = idx_cpu[r]
        exact = float((a[i].double().cpu() * b[:, j].double().cpu()).sum().item())
        spot.append((float(got[r, j].item()), exact))
    check = check_result(run, c, got, ref, tolerance(dtype, n, GEMM_FACTOR), spot,
                         "float64 on %s, %d random rows x all %d columns; %d elements recomputed on the CPU" % (run.dev, rows, n, len(spot)))
    rec.update(
        status="ok" if check["ok"] else "wrong", reason="" if check["ok"] else "result differs from the float64 reference",
        shape=[n, n, n], work=flops, inner=m["inner"], repeats=m["samples"],
        seconds=quantile(m["times"], 0.5), stats=summarize(rates), correctness=check, during=m["during"],
    )
    del a, b, c, ref, got
    return rec


def conv(run: Runner, dtype: str, layout: str, slice_s: float) -> Dict[str, Any]:
    """A 3x3 convolution (cuDNN on GPUs) in *dtype* and *layout*, timed and checked."""
    torch = run.torch
    import torch.nn.functional as F

    tdtype, why = gemm_modes(run, dtype)
    rec: Dict[str, Any] = {"name": "conv-%s-%s" % (dtype, layout), "kind": "conv", "dtype": dtype,
                           "layout": layout, "unit": "TFLOP/s"}
    if why:
        rec.update(status="skipped", reason=why)
        return rec
    if run.cuda:
        nb, ch, hw = 32, 256, 56
    else:
        nb, ch, hw = 4, 32, 16
    gen = torch.Generator(device=run.dev).manual_seed(99)
    x = torch.randn(nb, ch, hw, hw, device=run.dev, dtype=tdtype, generator=gen)
    w = torch.randn(ch, ch, 3, 3, device=run.dev, dtype=tdtype, generator=gen)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
        w = w.contiguous(memory_format=torch.channels_last)
    out: List[Any] = [None]

    def op() -> None:
        out[0] = F.conv2d(x, w, padding=1)

    try:
        run.once(op)
    except Exception as exc:  # noqa: BLE001
        if unsupported(exc) and not run.cuda:
            rec.update(status="skipped", reason="not supported on the CPU by this torch: %s" % error_text(exc))
            return rec
        raise
    t_op = run.once(op)
    m = run.measure(op, t_op, slice_s)
    k = ch * 9
    flops = 2.0 * nb * ch * k * hw * hw
    rates = [flops / t / 1e12 for t in m["times"] if t > 0]
    run.sync()
    y = out[0]
    if run.inject == "corrupt":
        y[:, ::7].neg_()
    nref = 2
    set_tf32(torch, False)
    ref = F.conv2d(x[:nref].double().contiguous(), w.double().contiguous(), padding=1)
    got = y[:nref]
    spot = []
    rng = random.Random(11)
    for _ in range(4):
        n_, k_, h_, w_ = rng.randrange(nref), rng.randrange(ch), rng.randrange(hw), rng.randrange(hw)
        patch = F.pad(x[n_].double().cpu(), (1, 1, 1, 1))[:, h_:h_ + 3, w_:w_ + 3]
        exact = float((patch * w[k_].double().cpu()).sum().item())
        spot.append((float(got[n_, k_, h_, w_].item()), exact))
    check = check_result(run, y, got, ref, tolerance(dtype, k, CONV_FACTOR), spot,
                         "float64 convolution of %d of %d images on %s; %d outputs recomputed on the CPU" % (nref, nb, run.dev, len(spot)))
    rec.update(
        status="ok" if check["ok"] else "wrong", reason="" if check["ok"] else "result differs from the float64 reference",
        shape=[nb, ch, hw, hw, ch, 3, 3], work=flops, inner=m["inner"], repeats=m["samples"],
        seconds=quantile(m["times"], 0.5), stats=summarize(rates), correctness=check, during=m["during"],
    )
    return rec


class _HostLock:
    """flock on a shared file, so the GPU children's host<->device copies never overlap.

    NOTE: GPUs behind one PCIe switch share its uplink to the CPU (two per switch on DGX A100),
    so measuring them at once would halve each GPU's figure and raise false alarms.
    """

    def __init__(self, path: str, wait_s: float) -> None:
        self.path = path
        self.wait_s = wait_s
        self.fd = -1
        self.held = False

    def __enter__(self) -> "_HostLock":
        if not self.path:
            return self
        try:
            import fcntl

            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            end = time.monotonic() + self.wait_s
            while True:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self.held = True
                    break
                except OSError:
                    if time.monotonic() >= end:
                        break
                    time.sleep(0.005)
        except (ImportError, OSError):
            pass
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing releases the flock


def unavailable_here(name: str, run: Runner) -> Optional[str]:
    """Why workload *name* cannot run on this device at all (None when it can)."""
    if name in ("copy-h2d", "copy-d2h") and not run.cuda:
        return "host<->device copies need a GPU"
    return None


def copy(run: Runner, direction: str, slice_s: float) -> Dict[str, Any]:
    """Copy bandwidth: d2d (read + write counted, as CUDA's bandwidthTest does) or pinned h2d/d2h."""
    torch = run.torch
    rec: Dict[str, Any] = {"name": "copy-" + direction, "kind": "copy", "dtype": "bytes", "layout": "", "unit": "GB/s"}
    # NOTE: host<->device copies never reach here without a GPU: main() skips them (unavailable_here).
    # NOTE: a copy reaches steady state within milliseconds; short slices also keep the GPUs'
    # turns at the host-copy lock short on 8-GPU nodes.
    slice_s = min(slice_s, 0.5 if direction == "d2d" else 0.25)
    if direction == "d2d":
        size = (256 << 20) if run.cuda else (16 << 20)
        while size > (1 << 20) and size * 3 > free_bytes(run):
            size //= 2
        src = torch.empty(size, dtype=torch.uint8, device=run.dev)
        src.random_(0, 256, generator=torch.Generator(device=run.dev).manual_seed(5))
        dst = torch.empty_like(src)
        moved = 2.0 * size  # NOTE: bandwidthTest counts a device copy's read and write
        op = lambda: dst.copy_(src)  # noqa: E731
        note = ""
    else:
        size = 64 << 20
        host = torch.empty(size, dtype=torch.uint8, pin_memory=True)
        host.random_(0, 256, generator=torch.Generator().manual_seed(5))
        dev = torch.empty(size, dtype=torch.uint8, device=run.dev)
        if direction == "h2d":
            src, dst = host, dev
        else:
            dev.copy_(host)
            src, dst = dev, torch.empty(size, dtype=torch.uint8, pin_memory=True)
        moved = float(size)
        op = lambda: dst.copy_(src, non_blocking=True)  # noqa: E731
        note = ""
    with _HostLock(run.lock_path if direction != "d2d" else "", wait_s=min(3.0, max(run.left(), 0.5))) as lock:
        if direction != "d2d" and run.lock_path and not lock.held:
            note = "measured while another GPU's host copies may have been running (lock wait timed out)"
        run.once(op)
        t_op = run.once(op)
        m = run.measure(op, t_op, slice_s)
    run.sync()
    if direction == "d2d":
        same = bool(torch.equal(dst, src))
    elif direction == "h2d":
        same = bool(torch.equal(dst.cpu(), src))
    else:
        same = bool(torch.equal(dst, src.cpu()))
    rates = [moved / t / 1e9 for t in m["times"] if t > 0]
    rec.update(
        status="ok" if same else "wrong", reason="" if same else "the copy's destination differs from its source",
        shape=[size], work=moved, inner=m["inner"], repeats=m["samples"], seconds=quantile(m["times"], 0.5),
        stats=summarize(rates), during=m["during"], note=note,
        correctness={"ok": same, "max_error": 0.0 if same else 1.0, "spot_max_error": 0.0, "spot_points": 0,
                     "tolerance": 0.0, "nonfinite": 0, "reference": "byte-for-byte comparison with the source",
                     "metric": "bytes equal"},
    )
    return rec


def plan(run: Runner) -> List[Tuple[str, Callable[[float], Dict[str, Any]], float]]:
    """(name, workload(slice_s), weight) in run order; --quick keeps the headline GEMM and copies."""
    items: List[Tuple[str, Callable[[float], Dict[str, Any]], float]] = []
    gemms = list(GEMMS)
    if run.quick:
        # The headline dtype: the best this device has (bf16 on Ampere+, fp16 on Volta/Turing).
        usable = [d for d in gemms if not gemm_modes(run, d)[1]]
        gemms = usable[:1] or ["fp32"]
    for d in gemms:
        items.append(("gemm-" + d, (lambda d_: lambda s: gemm(run, d_, s))(d), WEIGHTS["gemm"]))
    if not run.quick:
        for d, layout in CONVS:
            items.append(("conv-%s-%s" % (d, layout), (lambda d_, l_: lambda s: conv(run, d_, l_, s))(d, layout), WEIGHTS["conv"]))
    for direction in ("d2d", "h2d", "d2h"):
        items.append(("copy-" + direction, (lambda d_: lambda s: copy(run, d_, s))(direction), WEIGHTS["copy"]))
    return items


# ------------------------------------------------------------------------------------ main


def device_setup(run: Runner, cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Select the device and describe it."""
    torch = run.torch
    info: Dict[str, Any] = {"device": str(run.dev), "torch": str(torch.__version__)}
    if not run.cuda:
        import platform

        info.update(name="CPU (%s)" % (platform.processor() or platform.machine()), capability="", uuid="", pci_bus_id="")
        return info
    if not torch.cuda.is_available():
        raise RuntimeError("torch.cuda.is_available() is False in this interpreter")
    count = torch.cuda.device_count()
    if run.index >= count:
        raise RuntimeError("CUDA device %d does not exist (torch sees %d)" % (run.index, count))
    torch.cuda.set_device(run.index)
    props = torch.cuda.get_device_properties(run.index)
    run.capability = (int(props.major), int(props.minor))
    bus = getattr(props, "pci_bus_id", None)
    info.update(
        name=str(props.name), capability="%d.%d" % run.capability, uuid=str(getattr(props, "uuid", "") or ""),
        pci_bus_id="%08X:%02X:%02X.0" % (int(getattr(props, "pci_domain_id", 0)), int(bus), int(getattr(props, "pci_device_id", 0))) if bus is not None else "",
        sm_count=int(props.multi_processor_count), memory_bytes=int(props.total_memory), count=count,
    )
    run.nvml, why = open_nvml(props, str(cfg.get("pynvml_path") or ""))
    if run.nvml is None:
        info["nvml_unavailable"] = why
    return info


def list_devices(torch: Any) -> Dict[str, Any]:
    """Whether CUDA works here and which devices torch sees (the parent's discovery step)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = bool(torch.cuda.is_available())
    out: Dict[str, Any] = {"available": available, "cuda": getattr(torch.version, "cuda", None), "devices": [],
                           "torch": str(torch.__version__)}
    if not available:
        reason = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
        try:
            torch.cuda.init()
        except Exception as exc:  # noqa: BLE001
            reason.append(error_text(exc))
        out["reason"] = "; ".join(r.strip() for r in reason if r.strip()) or "torch.cuda.is_available() is False"
        return out
    for i in range(torch.cuda.device_count()):
        entry: Dict[str, Any] = {"index": i}
        try:
            entry["name"] = str(torch.cuda.get_device_name(i))
        except Exception as exc:  # noqa: BLE001
            entry["error"] = error_text(exc)
        out["devices"].append(entry)
    return out


def main() -> None:
    """Run the whole benchmark of one device, emitting each result as soon as it is known."""
    claim_stdout()
    faulthandler.enable()
    try:
        cfg = json.loads(sys.argv[1])
    except (IndexError, ValueError):
        cfg = {}
    budget = float(cfg.get("budget_s", 10.0))
    hard = float(cfg.get("timeout_s", 0.0))
    if hard > 1.0:
        # NOTE: just before the parent's kill, dump every thread's stack to stderr, so the
        # report shows where the GPU work hung. https://docs.python.org/3/library/faulthandler.html
        faulthandler.dump_traceback_later(max(hard - 0.7, hard * 0.85), exit=False)
    index = int(cfg.get("index", 0))
    inject = injection(index)
    emit({"stage": "python", "value": {"executable": sys.executable, "version_info": list(sys.version_info)}})
    begin("import")
    try:
        import torch
    except BaseException as exc:  # noqa: BLE001 - SystemExit included: all of it is a fact
        emit({"stage": "import", "ok": False, "error": error_text(exc),
              "missing": isinstance(exc, ImportError) and getattr(exc, "name", "") == "torch",
              "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]})
        emit({"stage": "done"})
        return
    emit({"stage": "import", "ok": True, "t": round(time.monotonic() - START, 3)})
    if cfg.get("mode") == "list":
        begin("list")
        try:
            emit({"stage": "list", "value": list_devices(torch)})
        except Exception as exc:  # noqa: BLE001
            emit({"stage": "list", "error": error_text(exc)})
        emit({"stage": "done"})
        return
    run = Runner(torch, cfg, inject)
    begin("device")
    try:
        info = device_setup(run, cfg)
    except Exception as exc:  # noqa: BLE001
        emit({"stage": "device", "error": error_text(exc)})
        emit({"stage": "done"})
        return
    emit({"stage": "device", "value": info, "t": round(time.monotonic() - START, 3)})
    emit({"stage": "settings", "value": settings(torch)})
    if run.nvml is not None:
        begin("nvml-before")
        emit({"stage": "nvml-before", "value": run.nvml.sample()})
    torch.manual_seed(0)
    items = plan(run)
    weights_left = sum(w for _, _, w in items)
    for position, (name, fn, weight) in enumerate(items):
        left = run.left()
        slice_s = left * weight / weights_left if weights_left > 0 else 0.0
        weights_left -= weight
        minimum = 0.05 if not run.cuda else 0.1
        # A workload this device cannot run says so, whatever the budget: that reason is the
        # more useful one (and does not depend on how loaded the machine was).
        cannot = unavailable_here(name, run)
        if cannot is not None:
            emit({"stage": "measurement", "value": {"name": name, "status": "skipped", "reason": cannot}})
            continue
        # Past the budget every workload still gets a minimal slice (a smaller sample beats no
        # number); only when the overrun reaches half the budget are the rest skipped.
        if left < -0.5 * budget and position > 0:
            emit({"stage": "measurement", "value": {"name": name, "status": "skipped",
                  "reason": "time budget (%.1f s) overrun by %.1f s before this workload started" % (budget, -left)}})
            continue
        begin(name)
        t0 = time.monotonic()
        try:
            rec = fn(max(slice_s, minimum))
        except Exception as exc:  # noqa: BLE001 - a CUDA/cuDNN error is a result, not a crash
            rec = {"name": name, "status": "failed", "reason": error_text(exc),
                   "traceback": traceback.format_exc()[-2000:]}
        rec["wall_s"] = round(time.monotonic() - t0, 4)
        emit({"stage": "measurement", "value": rec})
        if run.cuda:
            try:
                torch.cuda.empty_cache()
            except Exception:  # noqa: BLE001
                pass
    if run.nvml is not None:
        begin("nvml-after")
        emit({"stage": "nvml-after", "value": run.nvml.sample()})
    faulthandler.cancel_dump_traceback_later()
    emit({"stage": "done", "t": round(time.monotonic() - START, 3)})


if __name__ == "__main__":
    main()
