"""Run the smoke benchmark: one child of the inspected interpreter per GPU, in parallel, each
under a hard timeout, and turn what each child reported into :class:`BenchFacts`."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources, util
from typing import Any

from cudadoctor.childrecords import ChildRecords, child_program, marker, stderr_tail
from cudadoctor.childrecords import parse_records as parse_child_records
from cudadoctor._util import child_env, describe_returncode, run_command
from cudadoctor.bench.results import (
    BenchFacts,
    DeviceResult,
    Thresholds,
    Unavailable,
    decode_measurement,
    decode_sample,
    decode_settings,
)

#: Prefix of every record line the child writes (the prelude's marker for "bench").
MARKER = marker("bench")
INJECT_ENV = "CUDADOCTOR_BENCH_INJECT"

#: Wall budget per device, import torch and CUDA start-up included (DESIGN.md: <= 10 s, --quick <= 3 s).
DEFAULT_BUDGET_S = 10.0
QUICK_BUDGET_S = 3.0
#: Extra time the hard timeout allows beyond the budget: a cold `import torch` from network storage
#: or first CUDA initialisation without persistence mode can take many seconds on a healthy host.
TIMEOUT_GRACE_S = 20.0
#: Hard limit for the discovery child (import torch + device count).
LIST_TIMEOUT_S = 60.0

#: What the child was doing in each stage, for "timed out while ...".
STAGE_ACTIONS = {
    "": "while starting Python",
    "import": "during `import torch`",
    "device": "while initialising CUDA on the device",
    "list": "while counting the CUDA devices",
    "nvml-before": "while reading NVML clocks before the workloads",
    "nvml-after": "while reading NVML clocks after the workloads",
}


def child_source() -> str:
    """Source text of the stdlib+torch child script shipped beside this module."""
    return resources.files("cudadoctor.bench").joinpath("_bench_child.py").read_text(encoding="utf-8")


def pynvml_path() -> str:
    """Path of the doctor's own pynvml.py, for children whose interpreter lacks it ('' if none)."""
    try:
        spec = util.find_spec("pynvml")
    except (ImportError, ValueError):
        return ""
    origin = getattr(spec, "origin", None) if spec else None
    return origin if origin and origin.endswith(".py") and os.path.isfile(origin) else ""


def stage_action(stage: str) -> str:
    """'during gemm-bf16' / 'during `import torch`' for a stage name."""
    return STAGE_ACTIONS.get(stage, f"during the {stage} workload")


# --------------------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class _Child:
    """One finished (or killed) child run."""

    stdout: str
    stderr: str
    returncode: int | None
    wall_s: float


def _run_child(python: str, config: Mapping[str, Any], timeout: float, env: Mapping[str, str]) -> _Child:
    """``python -c <child source> <config JSON>`` under *timeout* (the process group is killed).

    NOTE: no ``-I`` (it would drop PYTHONPATH and user site-packages, so the child would benchmark
    a different torch than the user's programs import), and ``-c`` rather than the file path,
    which would put cudadoctor's bench/ directory first on sys.path.
    """
    t0 = time.monotonic()
    result = run_command([python, "-c", child_program(child_source()), json.dumps(dict(config))], timeout=timeout, env=env)
    return _Child(result.stdout, result.stderr, result.returncode, time.monotonic() - t0)


def run_bench(
    python: str | None = None,
    *,
    cpu: bool = False,
    devices: Sequence[int] | None = None,
    quick: bool = False,
    budget_s: float | None = None,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
    thresholds: Thresholds | None = None,
) -> BenchFacts:
    """Benchmark every GPU (or *devices*, CUDA ordinals) of *python*'s torch, or the CPU with *cpu*.

    Each device gets its own child process, all started at once; each is killed (with its
    process group) after *timeout_s*. *devices* None means: ask a short discovery child which
    GPUs torch sees. Never raises for a failing child: the result says what happened.
    """
    python = python or sys.executable
    budget = budget_s if budget_s is not None else (QUICK_BUDGET_S if quick else DEFAULT_BUDGET_S)
    timeout = timeout_s if timeout_s is not None else budget + TIMEOUT_GRACE_S
    env = dict(env) if env is not None else child_env()
    t0 = time.monotonic()
    base = dict(mode="cpu" if cpu else "gpu", python=python, quick=quick, budget_s=budget, timeout_s=timeout,
                thresholds=thresholds or Thresholds(), inject=env.get(INJECT_ENV, ""))
    if cpu:
        indices: list[int] = [0]
    elif devices is not None:
        indices = list(devices)
    else:
        found = discover(python, env=env, timeout=min(LIST_TIMEOUT_S, max(timeout, 10.0)))
        if isinstance(found, BenchFacts):
            return BenchFacts(**{**base, "status": found.status, "reason": found.reason,
                                 "wall_s": time.monotonic() - t0, "devices": ()})
        indices = found
    if not indices:
        return BenchFacts(**base, status="no-gpu", reason=f"torch in {python} sees no CUDA device",
                          wall_s=time.monotonic() - t0, devices=())
    lock_dir = tempfile.mkdtemp(prefix="cudadoctor-bench-")
    try:
        configs = [
            {"device": "cpu" if cpu else "cuda", "index": i, "quick": quick, "budget_s": budget,
             "timeout_s": timeout, "pynvml_path": pynvml_path(), "lock_path": os.path.join(lock_dir, "host-copies.lock")}
            for i in indices
        ]
        with ThreadPoolExecutor(max_workers=len(configs)) as pool:
            runs = list(pool.map(lambda c: _run_child(python, c, timeout, env), configs))
    finally:
        shutil.rmtree(lock_dir, ignore_errors=True)
    results = tuple(
        parse_device(r.stdout, r.returncode, r.stderr, index=c["index"], cpu=cpu, timeout=timeout, wall_s=r.wall_s)
        for c, r in zip(configs, runs)
    )
    status, reason = overall_status(results, python)
    return BenchFacts(**base, status=status, reason=reason, wall_s=time.monotonic() - t0, devices=results)


def discover(python: str, *, env: Mapping[str, str], timeout: float) -> list[int] | BenchFacts:
    """CUDA ordinals torch sees in *python*, or a device-less BenchFacts saying why there are none."""
    try:
        child = _run_child(python, {"mode": "list"}, timeout, env)
    except OSError as e:
        return _nothing("failed", f"could not run the Python interpreter {python}: {e.strerror or e}")
    records = parse_records(child.stdout)
    imp = records.stages.get("import")
    if imp is not None and not imp.get("ok"):
        return _nothing("no-torch", torch_missing_reason(python, imp))
    listed = records.stages.get("list")
    if listed is None or "error" in listed:
        why = listed.get("error") if listed else _stopped(records, child.returncode, timeout) or "it reported nothing"
        return _nothing("failed", f"could not list the CUDA devices of torch in {python}: {why}. {stderr_tail(child.stderr)}".strip())
    value = listed.get("value") or {}
    if not value.get("available"):
        return _nothing("no-gpu", f"no CUDA GPU is usable by torch {value.get('torch', '')} in {python}: "
                                  f"{value.get('reason') or 'torch.cuda.is_available() is False'}")
    return [int(d["index"]) for d in value.get("devices") or ()]


def _nothing(status: str, reason: str) -> BenchFacts:
    return BenchFacts(status=status, reason=reason, mode="gpu", python="", quick=False, budget_s=0.0,
                      timeout_s=0.0, wall_s=0.0, devices=())


def torch_missing_reason(python: str, record: Mapping[str, Any]) -> str:
    """'torch is not installed in PY ...' or 'import torch fails in PY: ...'."""
    if record.get("missing"):
        return (f"torch is not installed in {python}; the benchmark needs torch "
                f"(install it, or pass --python with an interpreter that has it)")
    return f"`import torch` fails in {python}: {record.get('error', 'unknown error')}"


def overall_status(devices: Iterable[DeviceResult], python: str) -> tuple[str, str]:
    """The run's status: 'no-torch' when no child could import torch, else 'ok'."""
    devs = list(devices)
    missing = [d for d in devs if d.status == "failed" and d.stage == "import"]
    if devs and len(missing) == len(devs):
        return "no-torch", missing[0].reason
    return "ok", ""


# --------------------------------------------------------------------------------------- parsing


#: The bench child's records (shared protocol with the torch probe).
Records = ChildRecords


def parse_records(stdout: str) -> Records:
    """Pick the bench child's marker lines out of *stdout*; anything else is ignored."""
    return parse_child_records(stdout, MARKER)


def _stopped(records: Records, returncode: int | None, timeout: float | None) -> str:
    """'' when the child finished, else how and where it stopped."""
    if records.done:
        return ""
    where = stage_action(records.last_begun)
    if returncode is None:
        return f"did not finish within {timeout:g} s and was killed {where}" if timeout else f"was killed {where}"
    code = describe_returncode(returncode)
    return f"was {code} {where}" if returncode < 0 else f"exited early with {code} {where}"


def parse_device(
    stdout: str, returncode: int | None, stderr: str, *, index: int, cpu: bool = False,
    timeout: float | None = None, wall_s: float = 0.0,
) -> DeviceResult:
    """Turn one device child's output (returncode None = timed out) into a DeviceResult."""
    records = parse_records(stdout)
    info = (records.stages.get("device") or {}).get("value") or {}
    settings = decode_settings((records.stages.get("settings") or {}).get("value"))
    measurements = tuple(decode_measurement(m) for m in records.measurements)
    stopped = _stopped(records, returncode, timeout)
    name = str(info.get("name", ""))
    label = "the CPU benchmark" if cpu else f"the benchmark of GPU {index}" + (f" ({name})" if name else "")
    status, reason, stage = "ok", "", ""
    imp = records.stages.get("import")
    device_error = (records.stages.get("device") or {}).get("error")
    if stopped:
        status = "timeout" if returncode is None else "crashed"
        stage = records.last_begun
        reason = f"{label} {stopped}"
    elif imp is not None and not imp.get("ok"):
        status, stage = "failed", "import"
        reason = torch_missing_reason(str((records.stages.get("python") or {}).get("value", {}).get("executable", "")), imp)
    elif device_error:
        status, stage, reason = "failed", "device", f"{label} could not start: {device_error}"
    elif imp is None:
        status, reason = "crashed", f"{label} reported nothing ({describe_returncode(returncode)})"
    err = stderr_tail(stderr) if status != "ok" else ""
    nvml_reason = str(info.get("nvml_unavailable") or ("no NVML on the CPU" if cpu else "not sampled"))
    before = records.stages.get("nvml-before", {}).get("value")
    after = records.stages.get("nvml-after", {}).get("value")
    return DeviceResult(
        index=index, device=str(info.get("device") or ("cpu" if cpu else f"cuda:{index}")),
        name=str(info.get("name", "")), capability=str(info.get("capability", "")), uuid=str(info.get("uuid", "")),
        pci_bus_id=str(info.get("pci_bus_id", "")), status=status, reason=reason, stage=stage, wall_s=wall_s,
        torch_version=str(info.get("torch", "")), settings=settings,
        nvml_before=decode_sample(before, nvml_reason) if before else Unavailable(probe="bench", reason=nvml_reason),
        nvml_after=decode_sample(after, nvml_reason) if after else Unavailable(probe="bench", reason=nvml_reason),
        measurements=measurements, stderr_tail=err,
    )
