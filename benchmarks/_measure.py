"""Shared by the speed benchmarks: run one command as a fresh process, time it, read its peak RSS."""

from __future__ import annotations

import os
import subprocess
import time


def measure(argv: list[str], env: dict[str, str], timeout: float = 300) -> tuple[float, float, int]:
    """Run *argv* once; return (wall seconds, peak RSS MiB, exit code).

    Peak RSS is ru_maxrss from wait4(): the largest single process of the command's tree.
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
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)
