"""Time `cudadoctor triage` on large pastes: 1 MB and 100 MB of mixed real-looking text (target: 1 MB in <= 1 s).

The paste repeats a block of what people paste (collect_env, an nvidia-smi table, pip list,
prompts, a fenced traceback, wrapped prose naming a GPU and a torch version) and ends on the
error. Two figures per size:

- in-process: read_input + triage + render (the full triage path without interpreter start-up),
  best of --runs;
- CLI: `python -m cudadoctor triage FILE` as a fresh process (what a user types), with peak RSS.

    python benchmarks/triage_speed.py --runs 3
    python benchmarks/triage_speed.py --sizes 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _measure import measure  # noqa: E402 - benchmarks/ is on sys.path when a script runs

BLOCK = """\
(venv) user@host:~/proj$ python -m torch.utils.collect_env
PyTorch version: 1.7.0+cu101
Is debug build: False
CUDA used to build PyTorch: 10.1
OS: Ubuntu 20.04.1 LTS (x86_64)
Python version: 3.8 (64-bit runtime)
Is CUDA available: True
GPU models and configuration: GPU 0: GeForce RTX 3090
Nvidia driver version: 455.23.05
\x1b[1;36m+-----------------------------------------------------------------------------+\x1b[0m
| NVIDIA-SMI 455.23.05    Driver Version: 455.23.05    CUDA Version: 11.1     |
|-------------------------------+----------------------+----------------------+
|   0  GeForce RTX 3090    Off  | 00000000:01:00.0 Off |                  N/A |
| 30%   35C    P8    20W / 350W |      1MiB / 24268MiB |      0%      Default |
+-------------------------------+----------------------+----------------------+
$ pip list | grep torch
torch                1.7.0+cu101
torchvision          0.8.1+cu101
> I installed it with `pip install torch==1.7.0 -f https://download.pytorch.org/whl/torch_stable.html` and
> my card is an RTX 3090, the training crashes right at the start when the model is moved
> to the GPU, any idea?
```
>>> import torch
>>> torch.cuda.get_device_name(0)
'GeForce RTX 3090'
Traceback (most recent call last):
  File "train.py", line 12, in <module>
    model.cuda()
RuntimeError: CUDA error: no kernel image is available for execution on the device
```
"""
TAIL = "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"


def paste(size: int) -> str:
    """About *size* bytes of BLOCK repeated, ending on the error."""
    reps = max(1, size // len(BLOCK.encode()))
    return BLOCK * reps + TAIL


def in_process(text: str, runs: int) -> float:
    """Best wall time of read_input + triage + render over *runs*."""
    from cudadoctor.commands.triage import TriageOptions, build_report
    from cudadoctor.render import OutputFormat, render

    best = float("inf")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(text)
    try:
        for _ in range(runs):
            start = time.perf_counter()
            report = build_report(TriageOptions(source=f.name))
            render(report, OutputFormat.TERMINAL)
            best = min(best, time.perf_counter() - start)
    finally:
        os.unlink(f.name)
    return best


def cli(text: str, python: str) -> tuple[float, float, int]:
    """(wall s, peak RSS MiB, exit code) of one fresh `cudadoctor triage FILE`."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    env["NO_COLOR"] = "1"
    try:
        return measure([python, "-m", "cudadoctor", "triage", f.name], env)
    finally:
        os.unlink(f.name)


def main() -> int:
    """Measure each size and print the table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,100", help="paste sizes in MB, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    rows = []
    for mb in (float(s) for s in args.sizes.split(",") if s.strip()):
        text = paste(int(mb * 1_000_000))
        inproc = in_process(text, args.runs)
        wall, rss, rc = cli(text, args.python)
        rows.append({"size_mb": mb, "bytes": len(text.encode()), "in_process_s": round(inproc, 3),
                     "cli_s": round(wall, 3), "cli_peak_rss_mib": round(rss, 1), "exit_code": rc})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'paste':>8}  {'in-process (best)':>18}  {'CLI wall':>9}  {'CLI peak RSS':>12}  exit")
    for r in rows:
        print(f"{r['size_mb']:>6g}MB  {r['in_process_s']:>16.3f} s  {r['cli_s']:>7.3f} s  {r['cli_peak_rss_mib']:>8.1f} MiB  {r['exit_code']:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
