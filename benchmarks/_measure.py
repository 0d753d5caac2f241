"""Shared by the speed benchmarks: run commands as fresh processes, alternating, and summarise.

``measure`` times one run (wall, peak RSS, exit code); ``measure_cpu`` adds the CPU seconds of
the whole process tree, a figure that other work on a shared machine disturbs far less than the
wall time. ``alternate`` runs every command once per round, N rounds, so a load spike hits all of
them alike; ``summarise`` and ``print_table`` give medians with min/max, peak RSS and ratios.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any, Union

#: A command: its argv and extra environment, or a function giving a fresh pair each run (a cold cache).
Spec = Union[tuple[list[str], dict[str, str]], Callable[[], tuple[list[str], dict[str, str]]]]


def child_env(work: str, *, no_bytecode: bool) -> dict[str, str]:
    """The environment every timed command runs in: no CUDADOCTOR_* settings, no colour, and either
    no bytecode at all or a bytecode cache of its own under *work* (so runs do not share .pyc files
    with the checkout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    env["NO_COLOR"] = "1"
    if no_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(work, "pycache")
    return env


def measure(argv: list[str], env: dict[str, str], timeout: float = 300) -> tuple[float, float, int]:
    """Run *argv* once; return (wall seconds, peak RSS MiB, exit code).

    Peak RSS is ru_maxrss from wait4(): the largest single process of the command's tree.
    """
    wall, rss, code, _ = measure_cpu(argv, env, timeout)
    return wall, rss, code


def measure_cpu(argv: list[str], env: dict[str, str], timeout: float = 300) -> tuple[float, float, int, float]:
    """Run *argv* once; return (wall seconds, peak RSS MiB, exit code, CPU seconds of its tree).

    CPU is ru_utime + ru_stime from wait4(), which include the waited-for children (the torch
    child, the driver children).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.001)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def alternate(commands: Mapping[str, Spec], env: dict[str, str], runs: int, *, warmup: int = 1) -> dict[str, dict[str, list[float]]]:
    """Run each command once per round (in order), *runs* rounds, after *warmup* untimed rounds."""
    def resolve(spec: Spec) -> tuple[list[str], dict[str, str]]:
        return spec() if callable(spec) else spec

    for _ in range(warmup):
        for spec in commands.values():
            argv, extra = resolve(spec)
            measure_cpu(argv, {**env, **extra})
    results: dict[str, dict[str, list[float]]] = {n: {"wall": [], "rss": [], "exit": [], "cpu": []} for n in commands}
    for _ in range(runs):
        for name, spec in commands.items():
            argv, extra = resolve(spec)
            wall, rss, code, cpu = measure_cpu(argv, {**env, **extra})
            r = results[name]
            r["wall"].append(wall)
            r["rss"].append(rss)
            r["exit"].append(code)
            r["cpu"].append(cpu)
    return results


def summarise(results: Mapping[str, Mapping[str, list[float]]]) -> dict[str, dict[str, Any]]:
    """Median, min and max wall seconds, median CPU seconds, peak RSS and exit codes per command."""
    return {
        name: {
            "median_s": round(statistics.median(r["wall"]), 3),
            "min_s": round(min(r["wall"]), 3),
            "max_s": round(max(r["wall"]), 3),
            "cpu_median_s": round(statistics.median(r["cpu"]), 3),
            "peak_rss_mib": round(max(r["rss"]), 1),
            "exit_codes": sorted({int(c) for c in r["exit"]}),
            "runs": len(r["wall"]),
        }
        for name, r in results.items()
    }


def load_note() -> str:
    """The machine's load average and CPU count (other work on a shared machine moves wall times)."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return f"{os.cpu_count()} CPUs"
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min) {five:.1f} (5 min)"


def print_table(title: str, summary: Mapping[str, Mapping[str, Any]], *, ratio_to: str | None = None) -> None:
    """Print *summary* as a table; with *ratio_to*, each median as a ratio of that command's."""
    width = max(len(n) for n in summary)
    print(title)
    head = f"{'command':<{width}}  {'median s':>8}  {'min s':>6}  {'max s':>6}  {'CPU s':>6}  {'RSS MiB':>7}  exit"
    if ratio_to:
        head += f"  {'× ' + ratio_to[:18]:>20}"
    print(head)
    base = summary[ratio_to]["median_s"] if ratio_to else None
    for name, s in summary.items():
        line = (f"{name:<{width}}  {s['median_s']:>8.3f}  {s['min_s']:>6.3f}  {s['max_s']:>6.3f}  "
                f"{s['cpu_median_s']:>6.3f}  {s['peak_rss_mib']:>7.1f}  {','.join(map(str, s['exit_codes'])):<4}")
        if base:
            line += f"  {s['median_s'] / base:>20.2f}"
        print(line)
