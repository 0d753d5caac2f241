"""Wall time and peak RSS of `cudadoctor check` (no benchmark) vs `python -m torch.utils.collect_env`.

Both run in the same session, alternating, as fresh processes (what a user types). Prints a table;
use --json for machine-readable output. Peak RSS is ru_maxrss from wait4(): the largest single
process of the command's process tree (for cudadoctor usually the torch child, which imports torch).

    python benchmarks/check_speed.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from _measure import measure  # noqa: E402 - benchmarks/ is on sys.path when a script runs


def main() -> int:
    """Run the comparison and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--python", default=sys.executable, help="interpreter that has cudadoctor (and torch)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    env["NO_COLOR"] = "1"
    commands = {
        "cudadoctor check": [args.python, "-m", "cudadoctor", "check", "--format", "json"],
        "collect_env": [args.python, "-m", "torch.utils.collect_env"],
        "cudadoctor check --facts (replay, no probing)": None,
    }
    # A replay run isolates the fixed cost of starting the CLI and judging.
    facts_file = "/tmp/cudadoctor-bench-facts.json"
    subprocess.run([args.python, "-m", "cudadoctor", "check", "--save-facts", facts_file, "--format", "json"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=300, check=False)
    commands["cudadoctor check --facts (replay, no probing)"] = [args.python, "-m", "cudadoctor", "check", "--facts", facts_file, "--format", "json"]
    results: dict[str, dict[str, float | list[float] | int]] = {}
    for name in commands:
        results[name] = {"wall": [], "rss": []}
    measure(commands["cudadoctor check"], env)  # warm the page cache for both
    measure(commands["collect_env"], env)
    for _ in range(args.runs):
        for name, argv in commands.items():
            wall, rss, code = measure(argv, env)
            results[name]["wall"].append(wall)  # type: ignore[union-attr]
            results[name]["rss"].append(rss)  # type: ignore[union-attr]
            results[name]["exit"] = code
    summary = {
        name: {
            "median_s": round(statistics.median(r["wall"]), 3),  # type: ignore[arg-type]
            "min_s": round(min(r["wall"]), 3),  # type: ignore[arg-type]
            "max_s": round(max(r["wall"]), 3),  # type: ignore[arg-type]
            "peak_rss_mib": round(max(r["rss"]), 1),  # type: ignore[arg-type]
            "exit_code": r["exit"],
            "runs": args.runs,
        }
        for name, r in results.items()
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{'command':<46} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MiB':>13} {'exit':>5}")
    for name, s in summary.items():
        print(f"{name:<46} {s['median_s']:>9} {s['min_s']:>7} {s['max_s']:>7} {s['peak_rss_mib']:>13} {s['exit_code']:>5}")
    ratio = summary["collect_env"]["median_s"] / summary["cudadoctor check"]["median_s"]
    print(f"\ncudadoctor check is {ratio:.2f}x the speed of collect_env ({args.runs} runs each, same session)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
