"""Wall time, CPU and peak RSS of `cudadoctor healthcheck`, cold (empty cache) and warm, against
collect_env, `cudadoctor check` and the floors `python -c pass` and `python -c "import torch"`.

Every command runs as a fresh process (what Docker and the kubelet do), alternating, N rounds.
Peak RSS is ru_maxrss from wait4(): the largest single process of the command's tree (the
healthcheck itself when warm; the torch child on a cold run and for `check`). CPU is the whole
tree's user + system time, which other work on a shared machine disturbs less than wall time.
Also timed: `--help` and `explain NAME` (served by fastpath.py once typer rendered them).

The Python bytecode cache is on (PYTHONPYCACHEPREFIX in a temporary directory, warmed first), as in
an installed package; pass --no-bytecode to measure a PYTHONDONTWRITEBYTECODE environment.

    python benchmarks/healthcheck_speed.py --runs 9
    python benchmarks/healthcheck_speed.py --runs 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

from _measure import alternate, child_env, load_note, print_table, summarise  # noqa: E402 - benchmarks/ is on sys.path

#: The targets from DESIGN.md / issue 13 (checked by eye in the output, never asserted).
TARGETS = {"healthcheck, warm cache": 0.2, "cudadoctor --help": 0.15, "cudadoctor explain DRV001": 0.15}
COLLECT_ENV = "python -m torch.utils.collect_env"


def main() -> int:
    """Run every command N times and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--python", default=sys.executable, help="interpreter that has cudadoctor (and torch)")
    ap.add_argument("--no-bytecode", action="store_true", help="run with PYTHONDONTWRITEBYTECODE=1")
    ap.add_argument("--skip-check", action="store_true", help="leave out `cudadoctor check` and collect_env (slow)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="cudadoctor-hc-bench-")
    env = child_env(work, no_bytecode=args.no_bytecode)
    py = args.python
    hc = [py, "-m", "cudadoctor", "healthcheck"]
    warm = {"CUDADOCTOR_CACHE_DIR": os.path.join(work, "warm")}

    def cold() -> tuple[list[str], dict[str, str]]:
        return hc, {"CUDADOCTOR_CACHE_DIR": tempfile.mkdtemp(prefix="cold-", dir=work)}

    commands: dict[str, object] = {
        "python -c pass (floor)": ([py, "-c", "pass"], {}),
        'python -c "import torch" (floor)': ([py, "-c", "import torch"], {}),
        "healthcheck, cold cache": cold,
        "healthcheck, warm cache": (hc, warm),
        "healthcheck --format json, warm cache": ([*hc, "--format", "json"], warm),
        "cudadoctor --help": ([py, "-m", "cudadoctor", "--help"], warm),
        "cudadoctor explain DRV001": ([py, "-m", "cudadoctor", "explain", "DRV001"], warm),
    }
    if not args.skip_check:
        commands[COLLECT_ENV] = ([py, "-m", "torch.utils.collect_env"], {})
        commands["cudadoctor check, warm cache"] = ([py, "-m", "cudadoctor", "check", "--format", "json"], warm)
    try:
        summary = summarise(alternate(commands, env, args.runs))  # type: ignore[arg-type]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = {"python": sys.version.split()[0], "machine": load_note(), "bytecode_cache": not args.no_bytecode}
    if args.json:
        print(json.dumps({"meta": meta, "results": summary, "targets_s": TARGETS}, indent=2))
        return 0
    print_table(f"cudadoctor healthcheck speed: {args.runs} alternating runs each, Python {meta['python']}, "
                f"{meta['machine']}, bytecode cache {'on' if meta['bytecode_cache'] else 'off'}",
                summary, ratio_to=COLLECT_ENV if COLLECT_ENV in summary else None)
    for name, target in TARGETS.items():
        s = summary[name]
        print(f"{name}: median {s['median_s']:.3f} s (target {target} s), peak RSS {s['peak_rss_mib']:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
