"""GPU only: is the smoke benchmark's BF16 GEMM number within 10% of a long, steady-state run?

Runs, on one GPU of this machine:
  1. `run_bench(quick=False)` and `run_bench(quick=True)` (the code `cudadoctor bench` runs),
  2. a long BF16 GEMM, 8192^3 by default, warmed up for 1 s and then timed with CUDA events for
     at least --seconds (default 3 s) in batches of 10 calls (median of the batches),
and writes one JSON document with every per-dtype TFLOP/s and efficiency, the wall times, the
ratio quick/steady and full/steady for BF16, and the GPU, driver and torch it ran on.

    python benchmarks/bench_steady_state.py --device 0 --out docs/bench-results/h100-sxm.json

Exit code: 0 when both ratios are within --tolerance (default 0.10) of the steady state, 1 when
not, 2 when there is no usable GPU. Needs torch with CUDA in --python (default: this interpreter);
torch runs in child processes, never in this one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cudadoctor.bench.evaluate import annotate  # noqa: E402
from cudadoctor.bench.runner import run_bench  # noqa: E402
from cudadoctor.factsfile import encode  # noqa: E402
from cudadoctor.tables import load_tables  # noqa: E402

STEADY_SOURCE = r'''
import json, sys, time, torch
index, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
torch.cuda.set_device(index)
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
c = torch.empty(n, n, device="cuda", dtype=torch.bfloat16)
t_end = time.perf_counter() + 1.0
while time.perf_counter() < t_end:
    torch.matmul(a, b, out=c)
    torch.cuda.synchronize()
rates, t0 = [], time.perf_counter()
while time.perf_counter() - t0 < seconds:
    pairs = []
    for _ in range(10):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(10):
            torch.matmul(a, b, out=c)
        e.record()
        pairs.append((s, e))
    torch.cuda.synchronize()
    rates += [2.0 * n ** 3 * 10 / (s.elapsed_time(e) / 1e3) / 1e12 for s, e in pairs]
rates.sort()
print(json.dumps({"n": n, "samples": len(rates), "seconds": time.perf_counter() - t0,
                  "median_tflops": rates[len(rates) // 2], "min_tflops": rates[0], "max_tflops": rates[-1],
                  "name": torch.cuda.get_device_name(index), "torch": torch.__version__, "cuda": torch.version.cuda}))
'''


def nvidia_smi(index: int) -> dict[str, str]:
    """Driver, clocks, power and PCIe from nvidia-smi, for the record ({} when it is missing)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return {}
    fields = ("name,driver_version,pci.bus_id,pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,"
              "pcie.link.width.max,clocks.max.sm,clocks.sm,power.limit,power.default_limit,temperature.gpu,persistence_mode")
    try:
        out = subprocess.run([exe, f"--query-gpu={fields}", "--format=csv,noheader", "-i", str(index)],
                             capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(zip(fields.split(","), (v.strip() for v in out.split(","))))


def bf16(results) -> float | None:  # type: ignore[no-untyped-def]
    """The BF16 GEMM median of the first device, if it ran."""
    for m in results.devices[0].measurements if results.devices else ():
        if m.name == "gemm-bf16" and m.status == "ok":
            return float(m.value)
    return None


def main() -> int:
    """Run the comparison and write the JSON evidence."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    tables = load_tables()
    record: dict[str, object] = {"nvidia_smi_before": nvidia_smi(args.device)}
    runs = {}
    for label, quick in (("full", False), ("quick", True)):
        t0 = time.monotonic()
        res = annotate(run_bench(args.python, devices=[args.device], quick=quick), tables)
        runs[label] = res
        record[f"bench_{label}"] = encode(res)
        record[f"bench_{label}_wall_s"] = time.monotonic() - t0
        if res.status != "ok" or not res.devices or res.devices[0].status != "ok":
            print(f"bench ({label}) did not run: {res.reason or res.devices[0].reason}", file=sys.stderr)
            return 2
    proc = subprocess.run([args.python, "-c", STEADY_SOURCE, str(args.device), str(args.n), str(args.seconds)],
                          capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        print(f"steady-state run failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return 2
    steady = json.loads(proc.stdout.strip().splitlines()[-1])
    record["steady_state"] = steady
    record["nvidia_smi_after"] = nvidia_smi(args.device)
    ok = True
    summary = {}
    for label, res in runs.items():
        value = bf16(res)
        ratio = value / steady["median_tflops"] if value else None
        summary[label] = {"bf16_tflops": value, "ratio_to_steady": ratio,
                          "within_tolerance": ratio is not None and abs(ratio - 1.0) <= args.tolerance}
        ok = ok and bool(summary[label]["within_tolerance"])
    record["summary"] = summary
    text = json.dumps(record, indent=2, default=str)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(f"GPU {args.device}: {steady['name']}, torch {steady['torch']} (CUDA {steady['cuda']})")
    print(f"steady state BF16 {args.n}^3: {steady['median_tflops']:.1f} TFLOP/s "
          f"({steady['samples']} batches over {steady['seconds']:.1f} s)")
    for label, res in runs.items():
        print(f"\n{label} bench: wall {record[f'bench_{label}_wall_s']:.1f} s "
              f"(child {res.devices[0].wall_s:.1f} s)")
        for m in res.devices[0].measurements:
            eff = f"{100 * float(m.efficiency):.0f}%" if isinstance(m.efficiency, float) else "peak unknown"
            val = f"{float(m.value):.1f} {m.unit}" if isinstance(m.value, float) else m.reason
            print(f"  {m.name:26s} {m.status:8s} {val:>20s}  {eff}")
        s = summary[label]
        if s["ratio_to_steady"] is not None:
            print(f"  BF16 vs steady state: {100 * s['ratio_to_steady']:.1f}%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
