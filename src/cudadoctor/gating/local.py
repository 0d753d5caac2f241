"""The single-node gate: run the checks and the quick benchmark, apply the policy, decide go or stop.

Everything risky runs where ``check`` and ``bench`` run it: the probes and the benchmark are
child processes of the inspected interpreter with hard timeouts, so this module never imports
torch. What is *blocking* is decided by the policy (policy.py, shared with ``healthcheck``):

* a finding is blocking when :func:`cudadoctor.policy.is_fatal` says so (``fail_on``, ``fatal``,
  ``ignore``), plus the benchmark's threshold findings (``bench-slow``, ``memory-bandwidth-low``),
  which the gate treats as fatal unless the policy ignores them: thresholds are what a gate is for;
* every requirement :func:`cudadoctor.policy.evaluate_policy` reports (GPU count, driver,
  compute capability, temperature, torch CUDA) is blocking;
* the benchmark not running at all is blocking (unless the gate runs without it).

``--cpu`` is for CPU-only CI: the benchmark harness runs on the CPU, and the findings that only
say "there is no GPU here" (:data:`CPU_WAIVED`) and the policy's GPU requirements are waived
(listed in the report as waived, never hidden).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cudadoctor.errors import UsageError
from cudadoctor.facts_bench import BenchFacts, DeviceResult, Thresholds
from cudadoctor.findings import Severity
from cudadoctor.render import OutputFormat

if TYPE_CHECKING:
    from cudadoctor.facts import Facts
    from cudadoctor.gating.policy import Policy, Reason
    from cudadoctor.report import Report

EXIT_GO = 0
EXIT_STOP = 1
#: Default overall deadline of the gate, in seconds (probes, benchmark and, distributed, the collectives).
DEFAULT_TIMEOUT = 300.0
#: Longest probe deadline the gate allows (check's own default).
PROBE_TIMEOUT_CAP = 120.0
#: Findings that only say "this machine has no GPU": waived by --cpu (CPU-only CI gating).
CPU_WAIVED: tuple[str, ...] = (
    "no-nvidia-driver", "nvidia-kernel-module-not-loaded", "no-gpu-visible", "container-without-gpus",
    "torch-cpu-only-build",
)
#: Policy requirements about GPUs, waived by --cpu.
CPU_WAIVED_POLICY: tuple[str, ...] = (
    "min_gpus", "min_driver_version", "min_compute_capability", "max_temperature_c", "require_torch_cuda",
)
#: Benchmark threshold findings the gate treats as fatal whatever their severity (unless ignored).
GATE_FATAL: tuple[str, ...] = ("bench-slow", "memory-bandwidth-low")
#: Keys of the policy file's [gate] table and what each must be.
GATE_KEYS: Mapping[str, str] = {
    "bench": "true or false",
    "min_efficiency": "a fraction of peak in (0, 2]",
    "min_memory_efficiency": "a fraction of peak in (0, 2]",
    "min_host_efficiency": "a fraction of peak in (0, 2]",
    "min_allreduce_busbw_gbs": "a positive number of GB/s",
}
#: Test hooks: a rank (or "all"; "0" outside a launcher) that fails / hangs on purpose.
INJECT_FAIL_ENV = "CUDADOCTOR_GATE_INJECT_FAIL_RANK"
INJECT_HANG_ENV = "CUDADOCTOR_GATE_INJECT_HANG_RANK"
#: Where the injected hang happens: "local" (before joining the group) or "collective" (default).
INJECT_HANG_STAGE_ENV = "CUDADOCTOR_GATE_INJECT_HANG_STAGE"
#: Characters of a reason's message in the short summary.
SUMMARY_CHARS = 220


@dataclass(frozen=True, slots=True, kw_only=True)
class GateOptions:
    """Everything `gate` takes; the CLI fills it from flags and CUDADOCTOR_* variables."""

    require_gpus: int | None = None  #: overrides the policy's min_gpus
    min_efficiency: float | None = None  #: None: the policy's [gate] value, else 0.5
    min_memory_efficiency: float | None = None
    min_host_efficiency: float | None = None
    min_allreduce_gbs: float | None = None  #: distributed: lowest acceptable all-reduce bus bandwidth
    policy: Path | None = None
    output: Path | None = None
    output_format: OutputFormat = OutputFormat.TERMINAL
    python: str | None = None
    rules_dir: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    cpu: bool = False
    bench: bool | None = None  #: None: the policy's [gate] bench, else True
    fail_on: Severity | None = None  #: None: the policy's fail_on
    distributed: bool = False
    redact: bool = False
    #: a known-good snapshot: adds environment-drift (fatal when the policy's fatal list names it)
    baseline: Path | None = None
    fresh: bool = False  #: probe the slow facts again instead of re-using cached ones (--fresh)
    #: distributed: benchmark only this CUDA device (LOCAL_RANK, mapped by distributed.py)
    local_rank: int | None = None
    rank: int | None = None  #: distributed: this process's global rank (for the injection hooks)


@dataclass(frozen=True, slots=True, kw_only=True)
class GateSettings:
    """The options merged with the policy file: what the gate actually enforces."""

    policy: Policy  #: with --require-gpus/--fail-on applied and, with --cpu, GPU requirements removed
    thresholds: Thresholds
    min_allreduce_gbs: float | None
    bench: bool
    waived_policy: tuple[str, ...]  #: policy keys waived by --cpu


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    """The gate's decision: ``Report.gate`` (and the JSON report's ``gate`` object)."""

    verdict: str  #: "go" or "stop"
    exit_code: int  #: 0 go, 1 stop, 2 a check crashed (a cudadoctor bug; the gate cannot vouch)
    reasons: tuple[Reason, ...]  #: the blocking reasons, worst first
    waived: tuple[str, ...]  #: findings / policy keys not blocking because of --cpu
    policy: str  #: where the policy came from
    fail_on: str
    cpu: bool
    bench: tuple[str, ...]  #: headline benchmark numbers, one line per device (or why it did not run)
    thresholds: Thresholds
    min_allreduce_gbs: float | None
    seconds: float
    distributed: bool = False
    rank: int | None = None  #: distributed: the rank this decision belongs to (rank 0's report: the group's)

    @property
    def go(self) -> bool:
        """True when training may start."""
        return self.verdict == "go"


# ------------------------------------------------------------------------------------- settings


def resolve_settings(opts: GateOptions) -> GateSettings:
    """Load and validate the policy, merge the options into it; raise UsageError / PolicyError."""
    from cudadoctor.checks import BY_CODE, BY_NAME
    from cudadoctor.gating.checks import CHECKS as GATE_CHECKS
    from cudadoctor.gating.policy import PolicyError, check_selectors, load_policy

    if opts.timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {opts.timeout:g}")
    if opts.require_gpus is not None and opts.require_gpus < 0:
        raise UsageError(f"--require-gpus must be >= 0, got {opts.require_gpus}")
    if opts.cpu and opts.require_gpus:
        raise UsageError(f"--cpu waives the GPU requirements; it cannot be combined with --require-gpus {opts.require_gpus}",
                         hint="drop --cpu on a GPU machine, or --require-gpus in CPU-only CI")
    if opts.min_allreduce_gbs is not None and opts.min_allreduce_gbs <= 0:
        raise UsageError(f"--min-allreduce-gbs must be positive, got {opts.min_allreduce_gbs:g}")
    policy = load_policy(opts.policy)
    check_selectors(policy, [*BY_NAME, *(c.name for c in GATE_CHECKS)], [*BY_CODE, *(c.code for c in GATE_CHECKS)])
    section = dict(policy.sections.get("gate", {}))
    for key, value in section.items():
        if key not in GATE_KEYS:
            raise PolicyError(f"policy {policy.source}: [gate] unknown key {key!r} (known keys: {', '.join(sorted(GATE_KEYS))})")
        if key == "bench":
            bad = not isinstance(value, bool)
        else:
            # NOTE: TOML allows nan, inf and integers too large for a float; none is a threshold.
            try:
                number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
            except OverflowError:
                number = math.inf
            bad = not math.isfinite(number) or number <= 0 or (key.endswith("efficiency") and number > 2)
        if bad:
            shown = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
            raise PolicyError(f"policy {policy.source}: [gate] {key} must be {GATE_KEYS[key]}, got {shown}")

    def pick(flag: float | None, key: str, default: float) -> float:
        value = flag if flag is not None else section.get(key, default)
        flag_name = "--" + key.replace("_", "-")
        if not 0 < float(value) <= 2:
            raise UsageError(f"{flag_name} must be a fraction of peak in (0, 2], got {value:g}", hint="e.g. 0.5 for 50%")
        return float(value)

    thresholds = Thresholds(
        min_efficiency=pick(opts.min_efficiency, "min_efficiency", 0.5),
        min_memory_efficiency=pick(opts.min_memory_efficiency, "min_memory_efficiency", 0.6),
        min_host_efficiency=pick(opts.min_host_efficiency, "min_host_efficiency", 0.5),
    )
    changes: dict[str, Any] = {}
    if opts.require_gpus is not None:
        changes["min_gpus"] = opts.require_gpus
    if opts.fail_on is not None:
        changes["fail_on"] = opts.fail_on.value
    waived: list[str] = []
    if opts.cpu:
        defaults = {"min_gpus": 0, "min_driver_version": None, "min_compute_capability": None,
                    "max_temperature_c": None, "require_torch_cuda": False}
        for key in CPU_WAIVED_POLICY:
            if getattr(policy, key) != defaults[key]:
                waived.append(key)
        changes.update(defaults)
    allreduce = opts.min_allreduce_gbs if opts.min_allreduce_gbs is not None else section.get("min_allreduce_busbw_gbs")
    return GateSettings(
        policy=dataclasses.replace(policy, **changes) if changes else policy,
        thresholds=thresholds,
        min_allreduce_gbs=float(allreduce) if allreduce is not None else None,
        bench=opts.bench if opts.bench is not None else bool(section.get("bench", True)),
        waived_policy=tuple(waived),
    )


# ------------------------------------------------------------------------------------- running


def injected(env_name: str, rank: int | None, env: Mapping[str, str] | None = None) -> bool:
    """Whether the test hook *env_name* targets this rank ("all", or the rank number; rank 0 outside a launcher)."""
    value = (env if env is not None else os.environ).get(env_name, "").strip()
    if not value:
        return False
    if value == "all":
        return True
    mine = rank if rank is not None else 0
    return any(part.strip() == str(mine) for part in value.split(","))


def local_device(facts: Facts, local_rank: int) -> int | str:
    """The CUDA ordinal the rank with *local_rank* uses, or why there is none.

    NOTE: launchers either show every GPU to every rank (torchrun: the rank picks
    cuda:LOCAL_RANK) or one GPU per rank (Slurm --gpus-per-task, Kubernetes device plugins: the
    rank's only GPU is cuda:0). https://docs.pytorch.org/docs/stable/elastic/run.html
    """
    from cudadoctor.facts import TorchFacts

    torch = facts.torch
    if not isinstance(torch, TorchFacts) or torch.cuda_available is not True:
        return "torch in this interpreter cannot use CUDA (see the findings)"
    count = len(torch.devices)
    if count == 1:
        return 0
    if 0 <= local_rank < count:
        return local_rank
    return f"LOCAL_RANK is {local_rank} but torch sees only {count} CUDA device{'' if count == 1 else 's'}"


def run_local_gate(opts: GateOptions, *, deadline: float | None = None, reserve: float = 0.0) -> Report:
    """Check and benchmark this machine, then decide; return the Report with its ``gate`` decision.

    The probes' facts and the benchmark's results (their ``bench`` area) are judged once, by the
    engine, as ``check --bench`` judges them. *deadline* (time.monotonic) bounds the whole run
    (default: now + opts.timeout); *reserve* seconds of it are kept for what follows (the
    distributed collectives). Raises CudaDoctorError on bad options or input (exit 2), never for
    the machine's state.
    """
    from cudadoctor.bench.collect import BenchRequest, bench_facts
    from cudadoctor.commands.check import CheckOptions, gather, judge

    t0 = time.monotonic()
    deadline = deadline if deadline is not None else t0 + opts.timeout
    settings = resolve_settings(opts)  # bad options and policies fail before anything runs
    baseline = None
    if opts.baseline is not None:
        from cudadoctor.factsfile import load_document

        baseline = load_document(opts.baseline).facts  # so does an unreadable baseline
    python = opts.python or sys.executable
    budget = max(1.0, deadline - t0 - reserve)
    # NOTE: the probes get at most half the budget, so a slow probe leaves time for the benchmark.
    probe_timeout = max(1.0, min(PROBE_TIMEOUT_CAP, budget * 0.5))
    facts, tables, source = gather(CheckOptions(python=opts.python, rules_dir=opts.rules_dir, timeout=probe_timeout,
                                                    fresh=opts.fresh))
    extra: list[Reason] = []
    if settings.bench:
        from cudadoctor.bench.runner import QUICK_BUDGET_S, TIMEOUT_GRACE_S

        left = deadline - time.monotonic() - reserve
        bench_timeout = max(3.0, min(QUICK_BUDGET_S + TIMEOUT_GRACE_S, left))
        devices: tuple[int, ...] | None = None
        if opts.local_rank is not None and not opts.cpu:
            picked = local_device(facts, opts.local_rank)
            if isinstance(picked, str):
                extra.append(_reason("gate-no-local-gpu", f"no GPU for this rank: {picked}"))
            else:
                devices = (picked,)
        if not extra:
            request = BenchRequest(python=python, cpu=opts.cpu, quick=True, devices=devices, timeout=bench_timeout,
                                   thresholds=settings.thresholds)
            facts = bench_facts(facts, tables, request)
    if baseline is not None and opts.baseline is not None:
        from cudadoctor.diff.drift import with_drift

        facts = with_drift(facts, baseline, tables, origin=opts.baseline.name)
    report = judge(facts, tables, source=source, bench=settings.bench)
    if injected(INJECT_FAIL_ENV, opts.rank):
        where = f"rank {opts.rank}" if opts.rank is not None else "this machine"
        extra.append(_reason("gate-injected-failure", f"failure injected on {where} by {INJECT_FAIL_ENV} (a test hook)"))
    result = decide(report, settings, opts, extra=extra, seconds=time.monotonic() - t0)
    return dataclasses.replace(report, gate=result)


def _reason(name: str, message: str, severity: str = "error") -> Reason:
    from cudadoctor.gating.policy import Reason

    return Reason(name=name, severity=severity, message=message)


# ------------------------------------------------------------------------------------- deciding


def decide(report: Report, settings: GateSettings, opts: GateOptions, *, extra: Sequence[Reason] = (),
           seconds: float = 0.0) -> GateResult:
    """Go or stop for *report* under *settings* (pure)."""
    from cudadoctor.gating.policy import evaluate_policy, fatal_first, is_fatal

    policy = settings.policy
    gate_policy = dataclasses.replace(policy, fatal=(*policy.fatal, *GATE_FATAL))
    reasons: list[Reason] = []
    waived: list[str] = []
    for f in report.findings:
        if opts.cpu and f.name in CPU_WAIVED:
            waived.append(f.name)
            continue
        if is_fatal(gate_policy, name=f.name, code=f.code, severity=f.severity.value):
            reasons.append(_finding_reason(f))
    waived += [f"policy {key}" for key in settings.waived_policy]
    reasons += evaluate_policy(policy, report.facts)
    bench = report.facts.bench if isinstance(report.facts.bench, BenchFacts) else None
    if settings.bench and bench is not None and bench.status != "ok":
        reasons.append(_reason("gate-bench-not-run", f"the smoke benchmark did not run: {bench.reason}"))
    for o in report.errors:
        reasons.append(_reason("gate-check-crashed", f"{o.reason} (a cudadoctor bug: the gate cannot vouch for this check)"))
    reasons += extra
    reasons = fatal_first(reasons)
    go = not reasons
    return GateResult(
        verdict="go" if go else "stop",
        exit_code=EXIT_GO if go else (2 if report.errors and not opts.distributed else EXIT_STOP),
        reasons=tuple(reasons),
        waived=tuple(dict.fromkeys(waived)),
        policy=policy.source,
        fail_on=policy.fail_on,
        cpu=opts.cpu,
        bench=bench_headlines(bench) if settings.bench else ("not run (the gate ran without the benchmark)",),
        thresholds=settings.thresholds,
        min_allreduce_gbs=settings.min_allreduce_gbs,
        seconds=seconds,
        distributed=opts.distributed,
        rank=opts.rank,
    )


def _finding_reason(f: Any) -> Reason:
    from cudadoctor.gating.policy import Reason

    return Reason(name=f.name, code=f.code, severity=f.severity.value, message=f.message)


def _rate(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def measurement_text(device: DeviceResult, name: str) -> str:
    """'gemm-bf16 712 TFLOP/s (72% of peak)' for one measurement of *device* ('' when it has no value)."""
    from cudadoctor.facts import known

    m = device.get(name)
    if m is None or m.status != "ok" or not known(m.value):
        return ""
    text = f"{m.name} {_rate(float(m.value))} {m.unit}"  # type: ignore[arg-type]
    if known(m.efficiency):
        text += f" ({100 * float(m.efficiency):.0f}% of peak)"  # type: ignore[arg-type]
    return text


def headline_gemm(device: DeviceResult) -> str:
    """The name of the first GEMM that measured a rate (bf16 first, as the benchmark orders them)."""
    from cudadoctor.facts import known

    for m in device.measurements:
        if m.kind == "gemm" and m.status == "ok" and known(m.value):
            return m.name
    return ""


def bench_headlines(results: BenchFacts | None) -> tuple[str, ...]:
    """One line per benchmarked device: GEMM rate and device-memory copy rate."""
    if results is None:
        return ("not run",)
    if results.status != "ok":
        return (f"not run: {results.reason}",)
    lines = []
    for d in results.devices:
        if d.status != "ok":
            lines.append(f"{d.label}: {d.status}: {d.reason}")
            continue
        parts = [p for p in (measurement_text(d, headline_gemm(d)), measurement_text(d, "copy-d2d")) if p]
        lines.append(f"{d.label}: " + (", ".join(parts) if parts else "no workload measured"))
    return tuple(lines)


# ------------------------------------------------------------------------------------- output


def _clip(text: str, limit: int = SUMMARY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_text(report: Report, *, output: Path | None = None) -> str:
    """The short terminal summary: verdict, blocking reasons, waivers, bench headline."""
    gate = report.gate
    assert gate is not None, "summary_text needs a report the gate decided"
    lines = []
    if gate.go:
        counts = ", ".join(f"{report.count(s)} {s.value}{'' if report.count(s) == 1 else 's'}" for s in Severity)
        waived = f"; {len(gate.waived)} waived by --cpu" if gate.waived else ""
        lines.append(f"cudadoctor gate: GO — nothing blocking (findings: {counts}{waived})")
    else:
        n = len(gate.reasons)
        lines.append(f"cudadoctor gate: STOP — {n} blocking reason{'' if n == 1 else 's'}")
        for r in gate.reasons:
            lines.append(f"  ✖ {_clip(r.headline)}")
    if gate.waived:
        lines.append("  waived by --cpu: " + ", ".join(gate.waived))
    for line in gate.bench:
        lines.append(f"  bench: {_clip(line)}")
    lines.append(f"  policy: {gate.policy}; fail-on {gate.fail_on}; {gate.seconds:.1f} s")
    if output is not None:
        lines.append(f"  full report: {output}")
    return "\n".join(lines) + "\n"


def json_text(report: Report, *, redact: bool = False) -> str:
    """The full JSON report: check's document plus ``bench`` and ``gate`` (and ``distributed``)."""
    from cudadoctor.render import render

    return render(report, OutputFormat.JSON, redact_identity=redact)


def emit(report: Report, opts: GateOptions, *, summary: str | None = None) -> None:
    """Write the JSON report to --output (if any) and print the summary or the JSON on stdout."""
    if opts.output is not None:
        # NOTE: written only once the gate decided, so a crashed run never truncates an old report.
        opts.output.write_text(json_text(report, redact=opts.redact), encoding="utf-8")
    if opts.output_format is OutputFormat.JSON:
        sys.stdout.write(json_text(report, redact=opts.redact))
    else:
        sys.stdout.write(summary if summary is not None else summary_text(report, output=opts.output))
    sys.stdout.flush()


def run(opts: GateOptions) -> int:
    """Run the single-node gate end to end and return the exit code."""
    if opts.output_format is OutputFormat.MARKDOWN:
        raise UsageError("gate --format must be terminal or json")
    report = run_local_gate(opts)
    emit(report, opts)
    assert report.gate is not None
    return report.gate.exit_code

