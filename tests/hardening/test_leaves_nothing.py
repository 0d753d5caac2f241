"""The doctor leaves nothing behind: its own process never touches CUDA, and no GPU memory stays held.

Every CUDA call (NVML, cuInit, library versions, import torch, the benchmark) happens in a child
process that exits, and the driver frees a process's GPU memory when it exits. So the guarantee is
checked in two ways: on any machine, the Python API leaves the calling process without torch and
without any CUDA library mapped (a probe that moved in-process would break this); on a GPU
machine (``pytest --gpu``), no compute process started by a run is still on a GPU afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

#: Libraries whose presence in the doctor's own address space means it initialised CUDA itself.
CUDA_LIBRARIES = r"lib(cuda|cudart|nvidia-ml|cudnn|cublas|cublasLt|nccl|nvrtc|nvJitLink)[.-]"

_CALLER = textwrap.dedent(f"""
    import json, re, sys
    import cudadoctor
    report = cudadoctor.check(timeout=60)
    try:
        cudadoctor.gate(cpu=True, timeout=120)
    except cudadoctor.EnvironmentNotReady:
        pass
    with open("/proc/self/maps") as f:
        mapped = sorted({{line.split()[-1] for line in f if re.search(r"{CUDA_LIBRARIES}", line)}})
    print(json.dumps({{"torch": "torch" in sys.modules, "pynvml": "pynvml" in sys.modules, "mapped": mapped,
                      "verdict": report.verdict, "torch_probed": report.facts.torch.__class__.__name__}}))
""")


def test_the_api_never_initialises_cuda_in_the_calling_process() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    proc = subprocess.run([sys.executable, "-c", _CALLER], capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The probes did run (torch was inspected, in its child) ...
    assert result["torch_probed"] == "TorchFacts", result
    # ... and none of it happened in this process.
    assert result["torch"] is False, "cudadoctor imported torch into the calling process"
    assert result["pynvml"] is False, "cudadoctor imported pynvml into the calling process"
    assert result["mapped"] == [], f"CUDA libraries mapped into the calling process: {result['mapped']}"


def _compute_pids() -> dict[int, int]:
    """{pid: bytes of GPU memory} of every compute process on every GPU, through NVML."""
    import pynvml

    pynvml.nvmlInit()
    try:
        pids: dict[int, int] = {}
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                pids[p.pid] = pids.get(p.pid, 0) + int(p.usedGpuMemory or 0)
        return pids
    finally:
        pynvml.nvmlShutdown()


@pytest.mark.gpu
def test_no_gpu_memory_is_held_after_check_and_bench() -> None:
    before = _compute_pids()
    proc = subprocess.run([sys.executable, "-m", "cudadoctor", "check", "--bench", "--format", "json"],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["facts"]["driver"].get("nvml_status") == "ok"
    left = {pid: used for pid, used in _compute_pids().items() if pid not in before}
    assert not left, f"compute processes started by the run still hold GPU memory: {left}"
