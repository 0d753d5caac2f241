"""Benchmark: how the driver probe's wall time grows with the number of GPUs (1, 8, 64 fake GPUs).

Builds the stub libnvidia-ml.so.1 and libcuda.so.1 from tests/stubs/, then, for each GPU count,
runs probe_driver() repeatedly in a worker process whose environment selects the stubs (so this
script never touches its own os.environ) and prints the median wall time.

    python benchmarks/driver_probe_scaling.py [--repeats 15] [--gpus 1 8 64] [--call-us 0]

``--call-us`` makes every stub NVML call sleep that long, to mimic a real driver's latency
(tens of microseconds per query on a healthy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def build_stubs(out: Path) -> tuple[Path, Path]:
    """Compile the NVML and libcuda stubs into *out*; returns their directories."""
    sys.path.insert(0, str(ROOT))
    from tests.stubs import compile_stub

    nvml, cuda = out / "nvml", out / "cuda"
    compile_stub("nvml_stub.c", nvml, "libnvidia-ml.so.1", soname="libnvidia-ml.so.1")
    compile_stub("cuda_stub.c", cuda, "libcuda.so.550.54.14", soname="libcuda.so.1",
                 links={"libcuda.so.1": "libcuda.so.550.54.14"})
    return nvml, cuda


def worker(repeats: int) -> None:
    """Time probe_driver() *repeats* times (after one warm-up) and print the times as JSON."""
    from cudadoctor.probes.base import ProbeContext
    from cudadoctor.probes.driver import probe_driver

    ctx = ProbeContext(python=sys.executable, timeout=60.0)
    facts = probe_driver(ctx)
    gpus = len(facts.gpus)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        probe_driver(ctx)
        times.append(time.perf_counter() - start)
    print(json.dumps({"gpus": gpus, "status": facts.nvml_status, "times": times}))


def measure(gpus: int, repeats: int, call_us: int, libs: tuple[Path, Path]) -> dict[str, Any]:
    """Run the worker for *gpus* fake GPUs; returns its JSON result."""
    env = dict(os.environ)
    env.update({
        "LD_LIBRARY_PATH": ":".join(str(p) for p in libs),
        "STUB_NVML_GPUS": str(gpus),
        "STUB_CUDA_DEVICES": str(gpus),
        "STUB_NVML_PROCS": "1:512,2:256",
        "STUB_NVML_CALL_US": str(call_us),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH", "")])),
    })
    argv = [sys.executable, __file__, "--worker", "--repeats", str(repeats)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=True)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Print median probe times for each GPU count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--call-us", type=int, default=0, help="simulated latency of each NVML call")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeats)
        return
    with tempfile.TemporaryDirectory(prefix="driver-bench-") as tmp:
        libs = build_stubs(Path(tmp))
        print(f"probe_driver() wall time, median of {args.repeats} (NVML call latency {args.call_us} us), "
              f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(f"{'GPUs':>5} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'ms/GPU over 1':>14}")
        base: float | None = None
        for n in args.gpus:
            result = measure(n, args.repeats, args.call_us, libs)
            times = [t * 1000 for t in result["times"]]
            assert result["gpus"] == n and result["status"] == "ok", result
            median = statistics.median(times)
            base = median if base is None else base
            per_gpu = (median - base) / (n - args.gpus[0]) if n != args.gpus[0] else 0.0
            print(f"{n:>5} {median:>10.1f} {min(times):>8.1f} {max(times):>8.1f} {per_gpu:>14.2f}")


if __name__ == "__main__":
    main()
