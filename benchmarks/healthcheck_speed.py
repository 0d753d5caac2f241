"""Wall time and peak RSS of `cudadoctor healthcheck`, cold (empty cache) and cached, against `check` and `python -c pass`.

Every command runs as a fresh process (what Docker and the kubelet do), N times, interleaved.
Peak RSS is ru_maxrss from wait4(): the largest single process of the command's tree (the
healthcheck itself when cached; the torch child on a cold run and for `check`).

The Python bytecode cache is on (PYTHONPYCACHEPREFIX in a temporary directory, warmed first), as
in an installed package; pass --no-bytecode to measure a PYTHONDONTWRITEBYTECODE environment.

    python benchmarks/healthcheck_speed.py --runs 9
    python benchmarks/healthcheck_speed.py --runs 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from _measure import measure  # noqa: E402 - benchmarks/ is on sys.path when a script runs

#: The healthcheck's fast entry point, exactly as the CLI calls it before typer is imported.
FAST_ENTRY = "import sys; from cudadoctor.commands.healthcheck import main_fast; sys.exit(main_fast(sys.argv[1:]))"


def main() -> int:
    """Run every command N times and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--python", default=sys.executable, help="interpreter that has cudadoctor (and torch)")
    ap.add_argument("--no-bytecode", action="store_true", help="run with PYTHONDONTWRITEBYTECODE=1")
    ap.add_argument("--skip-check", action="store_true", help="leave out `cudadoctor check` (slow)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="cudadoctor-hc-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    env["NO_COLOR"] = "1"
    if args.no_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(work, "pycache")
    warm_cache = os.path.join(work, "warm")
    py = args.python
    cold_dirs: list[str] = []

    def cold_dir() -> str:
        d = tempfile.mkdtemp(prefix="cold-", dir=work)
        cold_dirs.append(d)
        return d

    commands: dict[str, object] = {
        "python -c pass (floor)": [py, "-c", "pass"],
        "healthcheck, cached (main_fast)": [py, "-c", FAST_ENTRY, "--cache-dir", warm_cache],
        "healthcheck, cold (main_fast)": lambda: [py, "-c", FAST_ENTRY, "--cache-dir", cold_dir()],
        "healthcheck, cached (via typer CLI)": [py, "-m", "cudadoctor", "healthcheck", "--cache-dir", warm_cache],
        "healthcheck --facts (judge only, no probes)": None,
    }
    if not args.skip_check:
        commands["cudadoctor check --format json"] = [py, "-m", "cudadoctor", "check", "--format", "json"]

    facts = os.path.join(work, "facts.json")
    subprocess.run([py, "-m", "cudadoctor", "check", "--save-facts", facts, "--format", "json"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=300, check=False)
    commands["healthcheck --facts (judge only, no probes)"] = [py, "-c", FAST_ENTRY, "--facts", facts]

    def argv_of(spec: object) -> list[str]:
        return spec() if callable(spec) else spec  # type: ignore[return-value]

    # Warm the bytecode cache, the page cache and the healthcheck's facts cache.
    for spec in commands.values():
        measure(argv_of(spec), env)
    measure(argv_of(commands["healthcheck, cached (main_fast)"]), env)

    results: dict[str, dict[str, list[float]]] = {name: {"wall": [], "rss": [], "exit": []} for name in commands}
    for _ in range(args.runs):
        for name, spec in commands.items():
            wall, rss, code = measure(argv_of(spec), env)
            results[name]["wall"].append(wall)
            results[name]["rss"].append(rss)
            results[name]["exit"].append(code)
    summary = {
        name: {
            "median_s": round(statistics.median(r["wall"]), 3),
            "min_s": round(min(r["wall"]), 3),
            "max_s": round(max(r["wall"]), 3),
            "peak_rss_mib": round(max(r["rss"]), 1),
            "exit_codes": sorted(set(int(c) for c in r["exit"])),
            "runs": args.runs,
        }
        for name, r in results.items()
    }
    shutil.rmtree(work, ignore_errors=True)
    meta = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "bytecode_cache": not args.no_bytecode,
    }
    if args.json:
        print(json.dumps({"meta": meta, "results": summary}, indent=2))
        return 0
    width = max(len(n) for n in summary)
    print(f"cudadoctor healthcheck speed: {args.runs} runs each, Python {meta['python']}, {meta['cpus']} CPUs, "
          f"bytecode cache {'on' if meta['bytecode_cache'] else 'off'}")
    print(f"{'command':<{width}}  {'median s':>8}  {'min s':>6}  {'max s':>6}  {'peak RSS MiB':>12}  exit")
    for name, s in summary.items():
        print(f"{name:<{width}}  {s['median_s']:>8.3f}  {s['min_s']:>6.3f}  {s['max_s']:>6.3f}  "
              f"{s['peak_rss_mib']:>12.1f}  {','.join(map(str, s['exit_codes']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
