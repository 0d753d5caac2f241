"""The distributed gate: every rank gates its own GPU, then the ranks compare notes over torch.distributed.

Runs under any launcher that sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT
(torchrun, srun with those variables exported, a Kubeflow PyTorchJob). Per rank:

1. the local gate (:func:`cudadoctor.gating.local.run_local_gate`) on the rank's LOCAL_RANK GPU:
   probes and the benchmark in child processes, no torch in this process yet, so a torch that
   crashes on import is diagnosed rather than taking the gate down with it;
2. ``import torch`` in *this* process (the one exception to "never import torch in the doctor":
   under a launcher the gate process stands in for a training process, and the collective test
   must run where torch.distributed runs), then ``torch.distributed.rendezvous("env://")`` and
   ``init_process_group`` (NCCL when CUDA is usable, else gloo) with the remaining time as timeout;
3. each rank posts its compact summary to the rendezvous store (so rank 0 can still name a rank
   that hangs later), all ranks all-gather every summary, run an all-reduce correctness and
   bandwidth test, and all-gather the results;
4. what the ranks sent becomes the ``ranks`` fact area (facts_ranks.RanksFacts; summaries travel
   in its wire form) and the engine judges it with the distributed checks, as it judges the rest;
   every rank decides the same verdict from the same gathered data; rank 0 prints one table and
   writes the combined JSON report; a final all-reduce of the fail flag keeps the other ranks
   alive until rank 0 has printed and confirms they agree; every rank exits 0 (go) or 1 (stop).

Nothing may hang: the rendezvous, init and collectives use the time left before the overall
deadline (``--timeout``) as their timeout, and a watchdog thread ``os._exit(1)``s the process at
the deadline (rank 0 first prints what it knows, naming the ranks that never answered).

NOTE: summaries travel as JSON bytes in uint8 tensors through ``all_gather``, not through
``all_gather_object``: that pickles (ranks may run different cudadoctor versions; unpickling
is code execution) and needs numpy in torch 2.x (``tensor.numpy()``), which a minimal training
image may lack. https://docs.pytorch.org/docs/stable/distributed.html#torch.distributed.all_gather
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cudadoctor._version import __version__
from cudadoctor.errors import UsageError
from cudadoctor.facts_bench import BenchFacts
from cudadoctor.facts_ranks import (
    AllreduceResult,
    RankFacts,
    RankReason,
    RanksFacts,
    RankVersions,
    SilentRank,
    allreduce_from_wire,
    rank_from_wire,
    rank_to_wire,
)
from cudadoctor.gating.local import (
    EXIT_GO,
    EXIT_STOP,
    INJECT_HANG_ENV,
    INJECT_HANG_STAGE_ENV,
    GateOptions,
    injected,
)
from cudadoctor.render import OutputFormat
from cudadoctor.unavailable import Unavailable

if TYPE_CHECKING:
    from cudadoctor.findings import Outcome
    from cudadoctor.gating.policy import Policy, Reason
    from cudadoctor.report import Report

#: Variables a launcher sets; RANK, WORLD_SIZE and MASTER_ADDR together turn distributed mode on.
LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")
#: Key prefix of everything the gate writes into the rendezvous store.
STORE_PREFIX = "cudadoctor-gate"
#: All-reduce sizes (bytes) and timed iterations: (size, iterations). The schedule must be the
#: same on every rank (collectives pair up by order), so it depends only on the backend.
NCCL_SIZES: tuple[tuple[int, int], ...] = ((1 << 20, 20), (32 << 20, 10), (256 << 20, 5))
GLOO_SIZES: tuple[tuple[int, int], ...] = ((64 << 10, 5), (1 << 20, 5), (4 << 20, 3))
#: Distinct values per position in the all-reduce test tensors (keeps every sum an exact small integer).
PATTERN = 13


def launched(env: Mapping[str, str]) -> bool:
    """Whether a launcher (torchrun, srun, a PyTorchJob) set the variables of an env:// rendezvous."""
    return all(env.get(name, "").strip() for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


@dataclass(frozen=True, slots=True)
class RankEnv:
    """Where this process sits in the job, from the launcher's variables."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: str


def rank_env(env: Mapping[str, str]) -> RankEnv:
    """Read RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; a missing or bad one is a UsageError."""
    missing = [n for n in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if not env.get(n, "").strip()]
    if missing:
        raise UsageError(f"--distributed needs the launcher's variables; {', '.join(missing)} not set",
                         hint="run it under torchrun, or export RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT")
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        text = env.get(name, "0" if name == "LOCAL_RANK" else "").strip() or "0"
        try:
            values[name] = int(text)
        except ValueError:
            raise UsageError(f"{name}={text!r} is not an integer") from None
    if values["WORLD_SIZE"] < 1 or not 0 <= values["RANK"] < values["WORLD_SIZE"] or values["LOCAL_RANK"] < 0:
        raise UsageError(f"RANK={values['RANK']}, WORLD_SIZE={values['WORLD_SIZE']}, LOCAL_RANK={values['LOCAL_RANK']} "
                         "do not describe a rank of a job")
    return RankEnv(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"], env["MASTER_ADDR"].strip(),
                   env["MASTER_PORT"].strip())


# ------------------------------------------------------------------------------------- state


@dataclass(slots=True)
class State:
    """What this rank knows so far; the watchdog prints it if the deadline passes."""

    where: RankEnv
    opts: GateOptions
    started: float
    deadline: float
    stage: str = "local gate"
    summary: RankFacts | None = None
    summaries: list[RankFacts] | None = None
    backend: str = ""
    store: Any = None
    error: str = ""
    printed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, stage: str) -> None:
        """Enter *stage*; tell the store too, so rank 0 can say where a silent rank stopped."""
        self.stage = stage
        if self.store is not None:
            try:
                self.store.set(f"{STORE_PREFIX}/stage/{self.where.rank}", stage)
            except Exception:  # noqa: BLE001 - the store is a diagnostic aid only
                pass


class Watchdog:
    """Ends the process with exit 1 at the deadline, whatever the main thread is stuck in."""

    def __init__(self, state: State, on_expire: Callable[[State], None]) -> None:
        self.state = state
        self.on_expire = on_expire
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cudadoctor-gate-watchdog", daemon=True)

    def start(self) -> Watchdog:
        """Start watching."""
        self._thread.start()
        return self

    def cancel(self) -> None:
        """The run ended in time."""
        self._cancel.set()

    def _run(self) -> None:
        if self._cancel.wait(max(0.0, self.state.deadline - time.monotonic())):
            return
        try:
            self.on_expire(self.state)
        finally:
            # NOTE: os._exit, not sys.exit: the main thread may be blocked inside a C++ collective
            # that no Python exception can interrupt. Exit 1: a gate that timed out says stop.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_STOP)


# ------------------------------------------------------------------------------------- summaries


def rank_summary(report: Report, where: RankEnv, *, device: str) -> RankFacts:
    """This rank's compact summary (what every other rank receives, in its wire form)."""
    from cudadoctor.facts import DriverFacts, HostFacts, TorchFacts
    from cudadoctor.gating.policy import driver_text

    gate = report.gate
    assert gate is not None, "rank_summary needs the local gate's report"
    facts = report.facts
    torch = facts.torch if isinstance(facts.torch, TorchFacts) else None

    def text(value: Any, key: str) -> str | Unavailable:
        if value is None or isinstance(value, Unavailable):
            why = value.reason if isinstance(value, Unavailable) else "torch could not be inspected"
            return Unavailable(probe="ranks", reason=f"{key} version unknown: {why}")
        return str(value)

    driver = driver_text(facts.driver) if isinstance(facts.driver, DriverFacts) else None
    gpu, uuid = "CPU" if device == "cpu" else device, ""
    bench = facts.bench if isinstance(facts.bench, BenchFacts) else None
    if bench is not None and bench.devices:
        first = bench.devices[0]
        gpu = (first.name or gpu) if first.device != "cpu" else "CPU"
        uuid = first.uuid
    elif device.startswith("cuda") and torch is not None:
        index = int(device.partition(":")[2] or 0)
        gpu = next((d.name for d in torch.devices if d.index == index), gpu)
    host = facts.host.hostname if isinstance(facts.host, HostFacts) else socket.gethostname()
    return RankFacts(
        rank=where.rank, local_rank=where.local_rank, world_size=where.world_size,
        host=host, pid=os.getpid(), device=device, gpu=gpu, gpu_uuid=uuid,
        verdict=gate.verdict,
        reasons=tuple(RankReason(name=r.name, severity=r.severity, message=r.message, code=r.code) for r in gate.reasons),
        waived=tuple(gate.waived), bench=tuple(gate.bench), local_seconds=round(gate.seconds, 3),
        versions=RankVersions(
            torch=text(torch.version if torch else None, "torch"),
            cuda=text(torch.cuda_version if torch else None, "cuda"),
            cudnn=text(torch.cudnn_version if torch else None, "cudnn"),
            nccl=text(torch.nccl_version if torch else None, "nccl"),
            driver=text(driver, "driver"),
        ),
        cudadoctor=__version__,
        allreduce=Unavailable(probe="ranks", reason="the all-reduce test has not run yet"),
    )


def torch_problem(report: Report) -> str:
    """Why this interpreter's torch cannot run the collective phase ('' when it can)."""
    from cudadoctor.facts import TorchFacts

    torch = report.facts.torch
    if not isinstance(torch, TorchFacts):
        return f"torch could not be inspected: {torch.reason}"
    if torch.status != "ok":
        return f"torch does not import in this interpreter ({torch.status})"
    return ""


# ------------------------------------------------------------------------------------- collectives


def gather_json(obj: Any, *, device: Any, world_size: int, group: Any = None) -> list[Any]:
    """All-gather one JSON-able object from every rank (as UTF-8 bytes in uint8 tensors) over *group*."""
    import torch
    import torch.distributed as dist

    data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    length = torch.tensor([len(data)], dtype=torch.int64, device=device)
    lengths = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(world_size)]
    dist.all_gather(lengths, length, group=group)
    sizes = [int(t.item()) for t in lengths]
    padded = torch.zeros(max(sizes), dtype=torch.uint8, device=device)
    padded[: len(data)] = torch.tensor(list(data), dtype=torch.uint8, device=device)
    outs = [torch.zeros(max(sizes), dtype=torch.uint8, device=device) for _ in range(world_size)]
    dist.all_gather(outs, padded, group=group)
    return [json.loads(bytes(o[:n].cpu().tolist()).decode("utf-8")) for o, n in zip(outs, sizes)]


def allreduce_test(*, device: Any, rank: int, world_size: int, schedule: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Sum known tensors over the group: check every element exactly, time each size.

    Rank r contributes ``(i % 13) + r + 1`` at position i, so the sum is
    ``world * (i % 13) + world * (world + 1) / 2``: small integers, exact in float32 for any
    realistic world size. Bandwidth follows nccl-tests: algbw = bytes / time, busbw = algbw *
    2 (n - 1) / n (the per-link traffic of a ring all-reduce).
    https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md
    """
    import torch
    import torch.distributed as dist

    cuda = getattr(device, "type", "cpu") == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    sizes = []
    for nbytes, iterations in schedule:
        n = nbytes // 4
        pattern = (torch.arange(n, device=device, dtype=torch.int64) % PATTERN).to(torch.float32)
        result = pattern + float(rank + 1)
        dist.all_reduce(result)
        expected = pattern * world_size + float(world_size * (world_size + 1) // 2)
        sync()
        wrong = int((result != expected).sum().item())
        max_error = float((result - expected).abs().max().item()) if wrong else 0.0
        del result, expected, pattern
        # NOTE: timed on zeros (values cannot overflow however many iterations run); one warm-up
        # all-reduce already happened above with the same size.
        buf = torch.zeros(n, dtype=torch.float32, device=device)
        dist.all_reduce(buf)
        sync()
        t0 = time.perf_counter()
        for _ in range(iterations):
            dist.all_reduce(buf)
        sync()
        seconds = (time.perf_counter() - t0) / iterations
        del buf
        # NOTE: with one rank an all-reduce moves no data (NCCL returns at once: an H100 showed
        # "11,000 GB/s" for 256 MiB), so there is no bandwidth to report, only correctness.
        algbw = nbytes / seconds / 1e9 if seconds > 0 and world_size > 1 else None
        busbw = algbw * 2 * (world_size - 1) / world_size if algbw is not None else None
        sizes.append({"bytes": nbytes, "mib": nbytes / (1 << 20), "iterations": iterations,
                      "seconds": seconds, "algbw_gbs": algbw, "busbw_gbs": busbw,
                      "correct": wrong == 0, "wrong_elements": wrong, "max_error": max_error})
    result = {"sizes": sizes, "busbw_gbs": sizes[-1]["busbw_gbs"] if sizes else None,
              "algbw_gbs": sizes[-1]["algbw_gbs"] if sizes else None, "dtype": "float32", "op": "sum"}
    if world_size == 1:
        result["note"] = "one rank: an all-reduce moves no data, so no bandwidth is measured (correctness only)"
    return result


# ------------------------------------------------------------------------------------- deciding


def group_outcomes(report: Report) -> tuple[Outcome, ...]:
    """The distributed checks' outcomes in a report judged with the gathered ranks."""
    from cudadoctor.engine import needing

    codes = set(needing("ranks"))
    return tuple(o for o in report.outcomes if o.code in codes)


def group_reasons(ranks: Sequence[RankFacts], missing: Mapping[int, str], outcomes: Sequence[Outcome],
                  policy: Policy, min_allreduce_gbs: float | None) -> list[Reason]:
    """Blocking reasons of the whole job: every rank's own, the distributed findings, silent ranks, slow all-reduce."""
    from cudadoctor.gating.policy import Reason, fatal_first, is_fatal

    reasons: list[Reason] = []
    for r in ranks:
        for reason in r.reasons:
            reasons.append(Reason(name=reason.name, code=reason.code, severity=reason.severity,
                                  message=f"rank {r.rank} ({r.host}): {reason.message}"))
        allreduce = r.allreduce
        if not isinstance(allreduce, AllreduceResult):
            continue
        if allreduce.error:
            reasons.append(Reason(name="gate-collective-failed", severity="error",
                                  message=f"rank {r.rank} ({r.host}): {allreduce.error}"))
        busbw = allreduce.busbw_gbs
        if min_allreduce_gbs is not None and isinstance(busbw, float) and busbw < min_allreduce_gbs:
            reasons.append(Reason(name="gate-allreduce-slow", severity="error",
                                  message=f"rank {r.rank} ({r.host}): all-reduce bus bandwidth "
                                          f"{busbw:.3g} GB/s is below the minimum {min_allreduce_gbs:g} GB/s"))
    for rank, why in sorted(missing.items()):
        reasons.append(Reason(name="gate-rank-silent", severity="error", message=f"rank {rank}: {why}"))
    for o in outcomes:
        for f in o.findings:
            if is_fatal(policy, name=f.name, code=f.code, severity=f.severity.value):
                reasons.append(Reason(name=f.name, code=f.code, severity=f.severity.value, message=f.message))
    return fatal_first(reasons)


# ------------------------------------------------------------------------------------- output


def _gbs(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else "–"


def table_text(ranks: Sequence[RankFacts], world_size: int, missing: Mapping[int, str], *,
               verdict: str, reasons: Sequence[Reason], backend: str, output: Any = None) -> str:
    """Rank 0's summary: a header line, one table row per rank, the job's blocking reasons."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for col, justify in (("rank", "right"), ("host", "left"), ("GPU", "left"), ("verdict", "left"),
                         ("all-reduce GB/s", "right"), ("reason", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    by_rank = {r.rank: r for r in ranks}
    for rank in range(world_size):
        r = by_rank.get(rank)
        if r is None:
            table.add_row(*(Text(c) for c in (str(rank), "?", "?", "STOP", "–", missing.get(rank, "no answer"))))
            continue
        allreduce = r.allreduce if isinstance(r.allreduce, AllreduceResult) else None
        own = [x.name for x in r.reasons]
        if allreduce is not None and allreduce.error:
            own.append(allreduce.error)
        if allreduce is not None and any(not s.correct for s in allreduce.sizes):
            own.append("allreduce-wrong-result")
        if rank in missing:
            own.append(missing[rank])
        row_verdict = "GO" if not own else "STOP"
        # NOTE: Text cells: error texts contain "[...]" that rich would read as markup.
        table.add_row(*(Text(c) for c in (str(rank), r.host, r.gpu, row_verdict,
                                           _gbs(allreduce.busbw_gbs if allreduce else None), "; ".join(own)[:120] or "—")))
    buf = io.StringIO()
    Console(file=buf, width=160, no_color=True, color_system=None, highlight=False, soft_wrap=True).print(table)
    n = len(reasons)
    head = (f"cudadoctor gate --distributed: {verdict.upper()} — {world_size} rank{'' if world_size == 1 else 's'}, "
            f"backend {backend or 'none'}")
    if n:
        head += f"; {n} blocking reason{'' if n == 1 else 's'}"
    lines = [head, *(line.rstrip() for line in buf.getvalue().splitlines())]
    for reason in reasons[:20]:
        text = " ".join(reason.headline.split())
        lines.append(f"  ✖ {text[:240]}")
    if n > 20:
        lines.append(f"  … and {n - 20} more (see the JSON report)")
    first = next((r.allreduce for r in ranks if r.rank == 0), None)
    sizes = first.sizes if isinstance(first, AllreduceResult) else ()
    if sizes:
        lines.append("  all-reduce (rank 0, float32 sum): " + ", ".join(
            f"{s.mib:g} MiB {_gbs(s.algbw_gbs)}/{_gbs(s.busbw_gbs)} GB/s algbw/busbw" for s in sizes))
    if output is not None:
        lines.append(f"  full report: {output}")
    return "\n".join(lines) + "\n"


def _rank_line(where: RankEnv, host: str, code: int, why: str = "") -> None:
    verdict = "GO" if code == EXIT_GO else "STOP"
    extra = f": {why}" if why else ""
    print(f"cudadoctor gate: rank {where.rank}/{where.world_size} ({host}): {verdict} (exit {code}){extra}",
          file=sys.stderr, flush=True)


def posted_summaries(store: Any, world_size: int) -> tuple[dict[int, RankFacts], dict[int, str]]:
    """What each rank posted to the store: its summary, and the stage it last entered."""
    summaries: dict[int, RankFacts] = {}
    stages: dict[int, str] = {}
    if store is None:
        return summaries, stages
    try:
        import datetime

        store.set_timeout(datetime.timedelta(seconds=2))
    except Exception:  # noqa: BLE001
        pass
    for rank in range(world_size):
        for kind in ("summary", "stage"):
            key = f"{STORE_PREFIX}/{kind}/{rank}"
            try:
                if not store.check([key]):
                    continue
                value = store.get(key).decode("utf-8")
            except Exception:  # noqa: BLE001 - the store itself may be gone with the rank hosting it
                continue
            if kind == "summary":
                try:
                    data = json.loads(value)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    summaries[rank] = rank_from_wire(data)
            else:
                stages[rank] = value
    return summaries, stages


#: The stages a rank goes through, in order (what State.mark writes to the store).
STAGES = ("local gate", "import torch", "rendezvous", "rendezvous done", "init_process_group", "gather summaries",
          "all-reduce test", "gather results", "agree on the verdict", "done")


def silent_ranks(where: RankEnv, my_stage: str, stages: Mapping[int, str]) -> dict[int, str]:
    """The ranks to blame when a collective timed out on this rank: those behind it (or every other one).

    A rank that reached the same stage waits in the same collective, a victim; a rank still at an
    earlier stage (or that never reached the store) is the one the others waited for.
    """
    mine = STAGES.index(my_stage) if my_stage in STAGES else len(STAGES)
    behind: dict[int, str] = {}
    for rank in range(where.world_size):
        if rank == where.rank:
            continue
        stage = stages.get(rank)
        if stage is None:
            behind[rank] = "never reached the rendezvous before the timeout"
        elif STAGES.index(stage) < mine if stage in STAGES else False:
            behind[rank] = f"did not answer within the timeout (stuck after: {stage})"
    if behind:
        return behind
    return {rank: f"did not answer within the timeout (last stage: {stages.get(rank, '?')})"
            for rank in range(where.world_size) if rank != where.rank}


# ------------------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class DistributedOutcome:
    """What one rank ends with: its report (rank 0: the job's combined report) and exit code."""

    report: Report | None
    exit_code: int
    text: str  #: what rank 0 prints on stdout ("" on the other ranks)


def run_distributed(opts: GateOptions, *, env: Mapping[str, str] | None = None, hard_deadline: bool = True,
                    emit_output: bool = True) -> DistributedOutcome:
    """Run the distributed gate on this rank; see the module docstring for the phases.

    *hard_deadline*: start the watchdog that os._exit(1)s at the deadline (the CLI; not the
    Python API, which must not kill its caller). *emit_output*: rank 0 prints and writes files.
    """
    env = env if env is not None else os.environ
    where = rank_env(env)
    if opts.python and os.path.realpath(opts.python) != os.path.realpath(sys.executable):
        raise UsageError("--distributed runs the collective test in this interpreter; --python must be it",
                         hint=f"run `{opts.python} -m cudadoctor gate --distributed` instead")
    opts = dataclasses.replace(opts, distributed=True, rank=where.rank, local_rank=where.local_rank)
    t0 = time.monotonic()
    state = State(where=where, opts=opts, started=t0, deadline=t0 + opts.timeout)
    from cudadoctor.gating.local import resolve_settings

    settings = resolve_settings(opts)  # bad usage fails (exit 2) on every rank before anything starts
    watchdog = Watchdog(state, _on_expire if emit_output else (lambda s: None)) if hard_deadline else None
    if watchdog is not None:
        watchdog.start()
    try:
        return _run(state, settings, emit_output=emit_output)
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _hang_here(state: State, stage: str) -> None:
    """Test hook: hang this rank at *stage* (the watchdog or the launcher ends it)."""
    if injected(INJECT_HANG_ENV, state.where.rank) and (os.environ.get(INJECT_HANG_STAGE_ENV, "").strip() or "collective") == stage:
        print(f"cudadoctor gate: rank {state.where.rank}: hanging on purpose at {stage} ({INJECT_HANG_ENV}, a test hook)",
              file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)


def _margin(timeout: float) -> float:
    """Seconds kept between the collectives' timeout and the hard deadline, to report and exit."""
    return max(1.0, min(5.0, timeout * 0.1))


def _run(state: State, settings: Any, *, emit_output: bool) -> DistributedOutcome:
    from cudadoctor.gating.local import run_local_gate

    opts, where = state.opts, state.where
    _hang_here(state, "local")
    # NOTE: the collectives need a few seconds (import torch, connect, gather, all-reduce); keep
    # them out of the local gate's budget.
    reserve = max(3.0, min(60.0, opts.timeout * 0.3))
    report = run_local_gate(opts, deadline=state.deadline, reserve=reserve)
    host = report.facts.host.hostname if hasattr(report.facts.host, "hostname") else socket.gethostname()  # type: ignore[union-attr]
    problem = torch_problem(report)
    if problem:
        # Without torch this rank cannot join; the others name it as silent when their timeout fires.
        state.summary = rank_summary(report, where, device="cpu")
        if emit_output and where.rank == 0:
            _print_and_write(state, report, [state.summary], {}, opts, backend="",
                             extra_reason=f"this rank cannot join the collective test: {problem}")
        _rank_line(where, host, EXIT_STOP, f"cannot join the collective test: {problem}")
        return DistributedOutcome(report, EXIT_STOP, "")
    state.mark("import torch")
    import datetime
    import warnings

    with warnings.catch_warnings():
        # NOTE: torch warns on import when numpy is missing; the gate does not need numpy.
        warnings.simplefilter("ignore")
        import torch
        import torch.distributed as dist

    use_cuda = not opts.cpu and torch.cuda.is_available()
    if use_cuda:
        from cudadoctor.gating.local import local_device

        picked = local_device(report.facts, where.local_rank)
        device = torch.device("cuda", picked if isinstance(picked, int) else 0)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    state.backend = "nccl" if use_cuda else "gloo"
    summary = rank_summary(report, where, device=str(device))
    state.summary = summary
    missing: dict[int, str] = {}
    created = False
    meta_group: Any = None  # None: the default group
    meta_device = device
    ranks: list[RankFacts] = []
    try:
        left = state.deadline - time.monotonic() - _margin(opts.timeout)
        if left <= 0:
            raise TimeoutError("the local gate used the whole --timeout; no time left for the collective test")
        timeout = datetime.timedelta(seconds=left)
        if dist.is_available() and dist.is_initialized():
            state.store = _default_store(dist)
            state.backend = str(dist.get_backend())
        else:
            state.mark("rendezvous")
            store, _, _ = next(dist.rendezvous("env://", rank=where.rank, world_size=where.world_size, timeout=timeout))
            state.store = store
        state.mark("rendezvous done")
        if state.store is not None:
            state.store.set(f"{STORE_PREFIX}/summary/{where.rank}", json.dumps(rank_to_wire(summary)))
        if not dist.is_initialized():
            state.mark("init_process_group")
            dist.init_process_group(state.backend, store=dist.PrefixStore("default_pg", state.store), rank=where.rank,
                                    world_size=where.world_size, timeout=timeout)
            created = True
        if state.backend == "nccl":
            # NOTE: the summaries, results and the verdict travel over a gloo group on the CPU: a
            # gloo collective that times out raises, while an NCCL one is aborted by NCCL's
            # watchdog, which takes the whole process down (TORCH_NCCL_ASYNC_ERROR_HANDLING), so
            # rank 0 could not report which rank went silent. Only the all-reduce test uses NCCL.
            meta_group = dist.new_group(backend="gloo", timeout=timeout)
            meta_device = torch.device("cpu")
        _hang_here(state, "collective")
        state.mark("gather summaries")
        ranks = [rank_from_wire(r) for r in gather_json(rank_to_wire(summary), device=meta_device,
                                                         world_size=where.world_size, group=meta_group)]
        state.summaries = ranks
        state.mark("all-reduce test")
        try:
            allreduce: dict[str, Any] = allreduce_test(device=device, rank=where.rank, world_size=where.world_size,
                                                       schedule=NCCL_SIZES if state.backend == "nccl" else GLOO_SIZES)
        except RuntimeError as e:
            allreduce = {"error": f"all-reduce failed: {_first_line(e)}", "sizes": []}
        state.mark("gather results")
        results = gather_json(allreduce, device=meta_device, world_size=where.world_size, group=meta_group)
        ranks = [dataclasses.replace(r, allreduce=allreduce_from_wire(a)) for r, a in zip(ranks, results)]
        state.summaries = ranks
    except Exception as e:  # noqa: BLE001 - timeouts, refused connections, NCCL errors: the job must stop
        state.error = f"{state.stage}: {_first_line(e)}"
    if state.error:
        posted, stages = posted_summaries(state.store, where.world_size)
        known = {r.rank: r for r in ranks} or posted
        known[where.rank] = dataclasses.replace(summary, allreduce=_failed(state.error))
        ranks = [known[r] for r in sorted(known)]
        missing = silent_ranks(where, state.stage, stages)
    group = _group_report(report, ranks, missing, state, complete=not state.error)
    reasons = group_reasons(ranks, missing, group_outcomes(group), settings.policy, settings.min_allreduce_gbs)
    code = EXIT_STOP if reasons else EXIT_GO
    combined = _with_verdict(group, reasons, state)
    text = ""
    if where.rank == 0:
        text = table_text(ranks, where.world_size, missing, verdict="go" if code == EXIT_GO else "stop",
                          reasons=reasons, backend=state.backend, output=opts.output)
        if emit_output:
            _write(combined, opts, text)
            state.printed = True
    why = "" if code == EXIT_GO else (state.error or f"{len(reasons)} blocking reason{'' if len(reasons) == 1 else 's'}")
    _rank_line(where, host, code, why)
    if not state.error:
        # NOTE: the final all-reduce of the fail flag holds every rank until rank 0 has printed
        # (a launcher tears the job down as soon as one rank exits non-zero) and checks that all
        # ranks reached the same verdict.
        try:
            state.mark("agree on the verdict")
            flag = torch.tensor([code], dtype=torch.int32, device=meta_device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=meta_group)
            agreed = int(flag.item())
            if agreed != code:
                print(f"cudadoctor gate: rank {where.rank}: another rank decided stop", file=sys.stderr, flush=True)
                code = EXIT_STOP
        except Exception as e:  # noqa: BLE001
            print(f"cudadoctor gate: rank {where.rank}: could not confirm the verdict: {_first_line(e)}",
                  file=sys.stderr, flush=True)
            code = EXIT_STOP
        if created:
            try:
                dist.destroy_process_group()
            except Exception:  # noqa: BLE001
                pass
    state.mark("done")
    return DistributedOutcome(combined if where.rank == 0 else _this_rank_report(report, code, reasons), code, text)


def _first_line(e: BaseException) -> str:
    """'RuntimeError: Timed out waiting 14217ms for send operation to complete' (gloo's source location dropped)."""
    import re

    lines = str(e).strip().splitlines()
    text = re.sub(r"^\[[^\]]*\.(?:cc|cpp|h|hpp):\d+\]\s*", "", lines[0] if lines else "")
    return f"{type(e).__name__}: {text}"[:300]


def _default_store(dist: Any) -> Any:
    """The store of an already initialised default group (private API; None if it moved)."""
    try:
        return dist.distributed_c10d._get_default_store()
    except Exception:  # noqa: BLE001
        return None


def _failed(error: str) -> AllreduceResult:
    """The all-reduce result of a rank whose collective phase failed with *error*."""
    why = Unavailable(probe="ranks", reason=error)
    return AllreduceResult(sizes=(), busbw_gbs=why, algbw_gbs=why, error=error)


def _group_report(report: Report, ranks: Sequence[RankFacts], missing: Mapping[int, str], state: State, *,
                  complete: bool) -> Report:
    """Rank 0's report judged again, by the engine, with what the ranks reported as its ``ranks`` facts.

    The checks the local gate ran are run again on the same facts (the same outcomes), plus the
    distributed checks when the collective phase is *complete*; otherwise the gathered data is
    partial and the job already stops for the failure itself.
    """
    from cudadoctor import engine

    facts = dataclasses.replace(report.facts, ranks=RanksFacts(
        world_size=state.where.world_size, backend=state.backend, error=state.error, ranks=tuple(ranks),
        missing=tuple(SilentRank(rank=k, why=v) for k, v in missing.items()),
        master_addr=state.where.master_addr, master_port=state.where.master_port,
    ))
    codes = [o.code for o in report.outcomes] + (list(engine.needing("ranks")) if complete else [])
    judged = engine.evaluate(facts, report.tables, select=codes, source=report.facts_source) if codes else report
    return dataclasses.replace(judged, gate=report.gate)


def _with_verdict(report: Report, reasons: Sequence[Reason], state: State) -> Report:
    """The job's report: *report* with the job's verdict as its gate decision."""
    local = report.gate
    assert local is not None
    code = EXIT_STOP if reasons else EXIT_GO
    gate = dataclasses.replace(local, verdict="go" if code == EXIT_GO else "stop", exit_code=code,
                               reasons=tuple(reasons), seconds=time.monotonic() - state.started,
                               distributed=True, rank=None)
    return dataclasses.replace(report, gate=gate)


def _this_rank_report(report: Report, code: int, reasons: Sequence[Reason]) -> Report:
    """A non-zero rank's own report, with the job's verdict."""
    local = report.gate
    assert local is not None
    gate = dataclasses.replace(local, verdict="go" if code == EXIT_GO else "stop", exit_code=code, reasons=tuple(reasons))
    return dataclasses.replace(report, gate=gate)


def _write(report: Report, opts: GateOptions, text: str) -> None:
    from cudadoctor.gating.local import json_text

    if opts.output is not None:
        try:
            opts.output.write_text(json_text(report, redact=opts.redact), encoding="utf-8")
        except OSError as e:
            print(f"cudadoctor gate: cannot write {opts.output}: {e.strerror or e}", file=sys.stderr, flush=True)
    if opts.output_format is OutputFormat.JSON:
        sys.stdout.write(json_text(report, redact=opts.redact))
    else:
        sys.stdout.write(text)
    sys.stdout.flush()


def _print_and_write(state: State, report: Report, ranks: Sequence[RankFacts], missing: Mapping[int, str],
                     opts: GateOptions, *, backend: str, extra_reason: str = "") -> None:
    """Rank 0's output when the collective phase never completed."""
    from cudadoctor.gating.policy import Reason, fatal_first

    with state.lock:
        if state.printed:
            return
        state.printed = True
    reasons = [Reason(name=x.name, code=x.code, severity=x.severity, message=f"rank {r.rank} ({r.host}): {x.message}")
               for r in ranks for x in r.reasons]
    if extra_reason:
        reasons.append(Reason(name="gate-collective-failed", severity="error", message=f"rank {state.where.rank}: {extra_reason}"))
    reasons += [Reason(name="gate-rank-silent", severity="error", message=f"rank {k}: {v}") for k, v in sorted(missing.items())]
    reasons = fatal_first(reasons)
    text = table_text(ranks, state.where.world_size, missing, verdict="stop", reasons=reasons, backend=backend,
                      output=opts.output)
    combined = _with_verdict(_group_report(report, ranks, missing, state, complete=False), reasons, state)
    _write(combined, opts, text)


def _on_expire(state: State) -> None:
    """The deadline passed: say so (rank 0: print what it knows), then the watchdog exits 1."""
    where = state.where
    host = socket.gethostname()
    print(f"cudadoctor gate: rank {where.rank}/{where.world_size} ({host}): STOP (exit 1): deadline of "
          f"{state.opts.timeout:g} s passed during {state.stage}", file=sys.stderr, flush=True)
    if where.rank != 0 or state.printed:
        return
    known = {r.rank: r for r in state.summaries or ()}
    posted, stages = posted_summaries(state.store, where.world_size)
    for rank, summary in posted.items():
        known.setdefault(rank, summary)
    if state.summary is not None:
        known.setdefault(where.rank, state.summary)
    missing = silent_ranks(where, state.stage, stages)
    from cudadoctor.gating.policy import Reason, fatal_first

    ranks = [known[r] for r in sorted(known)]
    reasons = [Reason(name="gate-timeout", severity="error",
                      message=f"rank 0: the deadline of {state.opts.timeout:g} s passed during {state.stage}")]
    reasons += [Reason(name="gate-rank-silent", severity="error", message=f"rank {k}: {v}") for k, v in sorted(missing.items())]
    with state.lock:
        if state.printed:
            return
        state.printed = True
    sys.stdout.write(table_text(ranks, where.world_size, missing, verdict="stop", reasons=fatal_first(reasons),
                                backend=state.backend, output=None))
    sys.stdout.flush()
