"""Time and peak memory of `cudadoctor fleet` over 100, 1,000 and 10,000 synthetic node reports.

Each synthetic node report is a real `check --bench --format json` report (the two-H100 fixture
judged with a recorded benchmark, about 60 KB, as `srun ... cudadoctor check --bench --format json
-o "$SLURMD_NODENAME.json"` writes it), varied per node: 1 % run another driver, 0.5 % another
torch, 1 % a GEMM 30 % slower, 2 % a warning, 0.5 % an error. Writing the files is not timed;
`cudadoctor fleet DIR --format json` runs as a fresh process (the page cache warm, as after a job
step wrote them), and its wall time and peak RSS are reported with the growth per node. The
target: 10,000 reports in at most 5 s and 500 MB.

    python benchmarks/fleet_scale.py                 # 100, 1000, 10000
    python benchmarks/fleet_scale.py --sizes 100 1000 --runs 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _measure import measure  # noqa: E402 - benchmarks/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0
TARGET_MIB = 500.0


def template() -> dict:
    """A real check --bench JSON report of the two-H100 fixture."""
    from cudadoctor.bench.evaluate import with_bench
    from cudadoctor.bench.results import decode_results
    from cudadoctor.commands.check import judge
    from cudadoctor.factsfile import load_facts
    from cudadoctor.render.json_report import report_dict
    from cudadoctor.tables import load_tables

    tables = load_tables()
    facts = load_facts(ROOT / "tests/fixtures/envs/healthy_h100_cu128.json")
    bench = decode_results(json.loads((ROOT / "tests/bench/fixtures/h100x2_healthy.json").read_text()))
    return report_dict(judge(with_bench(facts, bench, tables), tables, bench=True))


def variants(base: dict) -> dict[str, str]:
    """The report texts nodes are drawn from, with a placeholder for the host name."""
    def text(d: dict) -> str:
        return json.dumps(d, indent=2)

    base["facts"]["host"]["hostname"] = "@@HOST@@"
    out = {"ok": text(base)}
    old_driver = json.loads(out["ok"])
    old_driver["facts"]["driver"]["driver_version"] = "550.54.15"
    out["driver"] = text(old_driver)
    old_torch = json.loads(out["ok"])
    old_torch["facts"]["torch"]["version"] = "2.7.1+cu126"
    out["torch"] = text(old_torch)
    slow = json.loads(out["ok"])
    for d in slow["bench"]["devices"]:
        for m in d["measurements"]:
            if m["name"] == "gemm-bf16" and isinstance(m.get("value"), (int, float)):
                m["value"] *= 0.7
    out["slow"] = text(slow)
    warn = json.loads(out["ok"])
    warn["verdict"] = "degraded"
    warn["findings"].append({"code": "GPU002", "name": "gpu-throttled", "severity": "warning", "title": "t",
                             "message": "GPU 1 is throttled: hw-thermal", "evidence": {}, "fix": "x", "url": "u", "source": "probe"})
    out["warn"] = text(warn)
    err = json.loads(out["ok"])
    err["verdict"] = "not-ready"
    err["findings"].append({"code": "GPU001", "name": "gpu-ecc-errors", "severity": "error", "title": "t",
                            "message": "GPU 0 has 2 uncorrectable ECC errors", "evidence": {}, "fix": "x", "url": "u", "source": "probe"})
    out["error"] = text(err)
    return out


def write_reports(directory: Path, n: int, texts: dict[str, str], seed: int = 14) -> int:
    """Write *n* node reports into *directory*; return the bytes written."""
    rng = random.Random(seed)
    total = 0
    for i in range(n):
        r = rng.random()
        kind = ("driver" if r < 0.01 else "torch" if r < 0.015 else "slow" if r < 0.025 else
                "warn" if r < 0.045 else "error" if r < 0.05 else "ok")
        name = f"node{i:05d}"
        data = texts[kind].replace("@@HOST@@", name)
        (directory / f"{name}.json").write_text(data, encoding="utf-8")
        total += len(data)
    return total


def main() -> int:
    """Build the report sets, time `cudadoctor fleet` on each, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--runs", type=int, default=3, help="runs per size (the median is reported)")
    ap.add_argument("--python", default=sys.executable, help="interpreter that has cudadoctor")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    texts = variants(template())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    rows = []
    work = Path(tempfile.mkdtemp(prefix="cudadoctor-fleet-"))
    try:
        for n in args.sizes:
            directory = work / str(n)
            directory.mkdir()
            size = write_reports(directory, n, texts)
            argv = [args.python, "-m", "cudadoctor", "fleet", str(directory), "--format", "json", "-o", str(work / f"{n}.out.json")]
            runs, cpu = [], []
            for _ in range(args.runs):
                # NOTE: CPU seconds of the command's whole tree (its worker processes included), from the
                # children's rusage: on a loaded machine they say more than the wall time does.
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                runs.append(measure(argv, env, timeout=600))
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            codes = {code for _, _, code in runs}
            summary = json.loads((work / f"{n}.out.json").read_text())
            rows.append({
                "nodes": n, "mb_of_reports": round(size / 1e6, 1),
                "seconds": round(statistics.median(w for w, _, _ in runs), 3),
                "cpu_seconds": round(statistics.median(cpu), 3), "workers": min(len(os.sched_getaffinity(0)), 64) if n >= 2000 else 1,
                "peak_rss_mib": round(max(m for _, m, _ in runs), 1), "exit_codes": sorted(codes),
                "odd_ones_out": len(summary["odd_ones_out"]), "not_ready": summary["counts"]["not-ready"],
            })
            shutil.rmtree(directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"{'nodes':>7} {'MB in':>8} {'seconds':>8} {'CPU s':>7} {'workers':>7} {'peak MiB':>9} {'ms/node':>8} {'odd':>5} {'not ready':>9}")
        for r in rows:
            print(f"{r['nodes']:>7} {r['mb_of_reports']:>8} {r['seconds']:>8} {r['cpu_seconds']:>7} {r['workers']:>7} "
                  f"{r['peak_rss_mib']:>9} {1000 * r['seconds'] / r['nodes']:>8.3f} {r['odd_ones_out']:>5} {r['not_ready']:>9}")
        if len(rows) >= 2:
            a, b = rows[0], rows[-1]
            grow_t = (b["seconds"] - a["seconds"]) / (b["nodes"] - a["nodes"]) * 1000
            grow_m = (b["peak_rss_mib"] - a["peak_rss_mib"]) / (b["nodes"] - a["nodes"]) * 1024
            print(f"growth {a['nodes']}→{b['nodes']}: {grow_t:.3f} ms and {grow_m:.1f} KiB per node")
    big = [r for r in rows if r["nodes"] >= 10000]
    ok = all(r["seconds"] <= TARGET_SECONDS and r["peak_rss_mib"] <= TARGET_MIB for r in big)
    if big:
        print(f"target (10,000 nodes ≤ {TARGET_SECONDS:g} s, ≤ {TARGET_MIB:g} MB): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
