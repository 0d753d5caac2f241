"""The distributed gate for real: `torchrun --nproc-per-node 2 -m cudadoctor gate --distributed --cpu` (gloo on the
CPU): healthy, one rank with an injected failure, one rank that hangs; the same hang with plain processes (as srun
starts them, nobody to kill the hung rank but its own watchdog); the Python API in a one-rank job.

These need torch; they are skipped without it, except in CI (CI=true), where a missing torch fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cudadoctor._util import child_env

TORCH = importlib.util.find_spec("torch") is not None
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
#: Variables of the surrounding environment that must not leak into the jobs started here.
DROP = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK", "LOCAL_WORLD_SIZE",
        "TORCHELASTIC_RUN_ID", "CUDADOCTOR_OUTPUT", "CUDADOCTOR_FORMAT", "CUDADOCTOR_POLICY", "CUDADOCTOR_GATE_TIMEOUT",
        "CUDADOCTOR_GATE_INJECT_FAIL_RANK", "CUDADOCTOR_GATE_INJECT_HANG_RANK", "CUDADOCTOR_GATE_INJECT_HANG_STAGE")
RANK_LINE = re.compile(r"^cudadoctor gate: rank (\d+)/(\d+) \([^)]*\): (GO|STOP) \(exit (\d+)\)", re.M)


def test_torch_is_installed_in_ci() -> None:
    """CI must run the distributed tests: no silent skip there."""
    if IN_CI:
        assert TORCH, "torch is missing in CI: the distributed gate tests cannot run (pip install '.[test]')"


needs_torch = pytest.mark.skipif(not TORCH and not IN_CI, reason="the distributed gate needs torch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 90):
    out = tmp_path / "gate.json"
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
            "-m", "cudadoctor", "gate", "--distributed", "--cpu", "--output", str(out), *args]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=child_env(env, drop=DROP),
                          cwd=tmp_path)
    return proc, out, time.monotonic() - t0


def rank_lines(stderr: str) -> dict[int, tuple[str, int]]:
    return {int(m[1]): (m[3], int(m[4])) for m in RANK_LINE.finditer(stderr)}


def table_rows(stdout: str) -> dict[int, str]:
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0].isdigit() and len(parts) >= 4:
            rows[int(parts[0])] = line
    return rows


@needs_torch
def test_healthy_job_both_ranks_go(tmp_path: Path) -> None:
    proc, out, wall = torchrun(tmp_path, "--timeout", "60")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert proc.stdout.startswith("cudadoctor gate --distributed: GO — 2 ranks, backend gloo")
    rows = table_rows(proc.stdout)
    assert set(rows) == {0, 1}
    for row in rows.values():
        assert " GO " in row and re.search(r"\d\.\d+|\d+", row.split("GO", 1)[1])  # a GB/s figure
    assert rank_lines(proc.stderr) == {0: ("GO", 0), 1: ("GO", 0)}
    data = json.loads(out.read_text())
    assert data["gate"]["verdict"] == "go" and data["gate"]["distributed"] is True
    dist = data["distributed"]
    assert dist["world_size"] == 2 and dist["backend"] == "gloo" and dist["error"] == ""
    assert [r["rank"] for r in dist["ranks"]] == [0, 1]
    for r in dist["ranks"]:
        sizes = r["allreduce"]["sizes"]
        assert sizes and all(s["correct"] for s in sizes) and r["allreduce"]["busbw_gbs"] > 0
        assert r["versions"]["torch"] and r["verdict"] == "go"
    outcomes = {f["code"] for f in data["findings"]} | {s["code"] for s in data["skipped"]} | set(data["passed"])
    assert {"DST001", "DST002"} <= outcomes
    assert wall < 80  # ~13-20 s here; the budget is 60 s on a 2-core CI machine, with margin


@needs_torch
def test_injected_failure_on_one_rank_stops_every_rank(tmp_path: Path) -> None:
    proc, out, wall = torchrun(tmp_path, "--timeout", "60", env={"CUDADOCTOR_GATE_INJECT_FAIL_RANK": "1"})
    assert proc.returncode != 0
    assert proc.stdout.startswith("cudadoctor gate --distributed: STOP — 2 ranks"), (proc.stdout[-2000:], proc.stderr[-4000:])
    rows = table_rows(proc.stdout)
    assert " GO " in rows[0] and " STOP " in rows[1] and "gate-injected-failure" in rows[1]
    assert "✖ gate-injected-failure: rank 1 " in proc.stdout
    # every rank decided stop with exit 1 (the launcher then reports the job failed)
    assert rank_lines(proc.stderr) == {0: ("STOP", 1), 1: ("STOP", 1)}
    data = json.loads(out.read_text())
    assert data["gate"]["verdict"] == "stop" and data["gate"]["exit_code"] == 1
    assert wall < 80  # ~13-20 s here; the budget is 60 s on a 2-core CI machine, with margin


@needs_torch
def test_hung_rank_under_torchrun_times_out_and_is_named(tmp_path: Path) -> None:
    timeout = 25
    proc, out, wall = torchrun(tmp_path, "--timeout", str(timeout), env={"CUDADOCTOR_GATE_INJECT_HANG_RANK": "1"})
    assert proc.returncode != 0
    assert wall < timeout + 15, wall
    assert proc.stdout.startswith("cudadoctor gate --distributed: STOP — 2 ranks")
    rows = table_rows(proc.stdout)
    assert " STOP " in rows[1] and "did not answer within the timeout" in rows[1]
    assert rank_lines(proc.stderr)[0] == ("STOP", 1)
    data = json.loads(out.read_text())
    assert data["gate"]["verdict"] == "stop"
    assert "1" in data["distributed"]["missing"]
    assert "gate-rank-silent" in {r["name"] for r in data["gate"]["reasons"]}


@needs_torch
def test_hung_rank_without_a_launcher_to_kill_it_exits_by_its_watchdog(tmp_path: Path) -> None:
    """As srun starts ranks: plain processes. Rank 1 hangs before joining; rank 0 times out in the
    rendezvous and names rank 1; rank 1's own watchdog ends it at the deadline. Nobody waits forever."""
    timeout = 25
    port = str(free_port())
    procs = []
    t0 = time.monotonic()
    for rank in (0, 1):
        env = child_env({"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
                         "MASTER_PORT": port, "CUDADOCTOR_GATE_INJECT_HANG_RANK": "1",
                         "CUDADOCTOR_GATE_INJECT_HANG_STAGE": "local", "OMP_NUM_THREADS": "1"}, drop=DROP[5:])
        out = tmp_path / f"rank{rank}.json"
        procs.append(subprocess.Popen([sys.executable, "-m", "cudadoctor", "gate", "--cpu", "--timeout", str(timeout),
                                       "--output", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=env, cwd=tmp_path))
    results = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a rank was still running 30 s after the gate's deadline")
        results.append((p.returncode, stdout, stderr, time.monotonic() - t0))
    (code0, out0, err0, wall0), (code1, _, err1, wall1) = results
    assert code0 == 1 and code1 == 1, (err0[-3000:], err1[-3000:])
    assert wall1 < timeout + 10 and wall0 < timeout + 10
    assert "deadline of 25 s passed during local gate" in err1
    rows = table_rows(out0)
    assert " STOP " in rows[1] and "never reached the rendezvous" in rows[1]
    assert json.loads((tmp_path / "rank0.json").read_text())["gate"]["verdict"] == "stop"


@needs_torch
def test_python_api_in_a_one_rank_job(tmp_path: Path) -> None:
    script = ("import cudadoctor, torch.distributed as dist\n"
              "r = cudadoctor.gate(distributed=True, cpu=True, timeout=60)\n"
              "from cudadoctor.render.json_report import report_dict\n"
              "d = report_dict(r)['distributed']\n"
              "print('RESULT', r.gate.verdict, d['world_size'], d['ranks'][0]['allreduce']['busbw_gbs'], "
              "dist.is_initialized())\n")
    env = child_env({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                     "MASTER_PORT": str(free_port())}, drop=DROP[5:])
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the gate's process group is destroyed again, so the training script can create its own
    # one rank: correctness is tested, but an all-reduce over one rank moves no data: no bandwidth
    assert "RESULT go 1 None False" in proc.stdout
