"""Wall time, CPU and peak RSS of `cudadoctor check` (cold and warm cache) vs `python -m torch.utils.collect_env`.

Every command runs as a fresh process (what a user types), alternating, N rounds, with the floors
`python -c pass` and `python -c "import torch"` (what any torch-inspecting tool pays). "cold" gets
an empty slow-facts cache every run (what the first run, or `--fresh`, costs); "warm" re-uses one
(the slow facts unchanged since the last run; NVML and everything live is still read). Prints
medians with min/max and the ratio of each median to collect_env's; --json for machine-readable
output. The Python bytecode cache is on (PYTHONPYCACHEPREFIX in a temporary directory), as in an
installed package; --no-bytecode measures a PYTHONDONTWRITEBYTECODE environment.

    python benchmarks/check_speed.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

from _measure import alternate, child_env, load_note, print_table, summarise  # noqa: E402 - benchmarks/ is on sys.path

COLLECT_ENV = "python -m torch.utils.collect_env"


def main() -> int:
    """Run the comparison and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--python", default=sys.executable, help="interpreter that has cudadoctor (and torch)")
    ap.add_argument("--no-bytecode", action="store_true", help="run with PYTHONDONTWRITEBYTECODE=1")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cudadoctor-check-bench-")
    env = child_env(work, no_bytecode=args.no_bytecode)
    py = args.python
    check = [py, "-m", "cudadoctor", "check", "--format", "json"]
    warm = {"CUDADOCTOR_CACHE_DIR": os.path.join(work, "warm")}

    def cold() -> tuple[list[str], dict[str, str]]:
        return check, {"CUDADOCTOR_CACHE_DIR": tempfile.mkdtemp(prefix="cold-", dir=work)}

    commands = {
        "python -c pass (floor)": ([py, "-c", "pass"], {}),
        'python -c "import torch" (floor)': ([py, "-c", "import torch"], {}),
        COLLECT_ENV: ([py, "-m", "torch.utils.collect_env"], {}),
        "cudadoctor check, cold cache": cold,
        "cudadoctor check, warm cache": (check, warm),
    }
    try:
        summary = summarise(alternate(commands, env, args.runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = {"python": sys.version.split()[0], "machine": load_note(), "bytecode_cache": not args.no_bytecode}
    if args.json:
        print(json.dumps({"meta": meta, "results": summary}, indent=2))
        return 0
    print_table(f"cudadoctor check speed: {args.runs} alternating runs each, Python {meta['python']}, "
                f"{meta['machine']}, bytecode cache {'on' if meta['bytecode_cache'] else 'off'}",
                summary, ratio_to=COLLECT_ENV)
    base = summary[COLLECT_ENV]["median_s"]
    for name in ("cudadoctor check, cold cache", "cudadoctor check, warm cache"):
        print(f"{name}: {summary[name]['median_s'] / base:.2f}x collect_env's median wall time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
