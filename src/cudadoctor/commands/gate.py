"""`cudadoctor gate`: the pre-training sanity gate (check + quick benchmark + policy), single-node or per rank under a launcher."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from cudadoctor.findings import Severity
from cudadoctor.errors import UsageError


def run(
    *,
    require_gpus: int | None = None,
    min_efficiency: float | None = None,
    min_memory_efficiency: float | None = None,
    min_host_efficiency: float | None = None,
    min_allreduce_gbs: float | None = None,
    policy: Path | None = None,
    output: Path | None = None,
    output_format: str = "terminal",
    python: str | None = None,
    rules_dir: Path | None = None,
    timeout: float | None = None,
    cpu: bool = False,
    bench: bool | None = None,
    fail_on: Severity | None = None,
    distributed: bool | None = None,
    redact: bool = False,
    baseline: Path | None = None,
    fresh: bool = False,
) -> int:
    """Run `gate` end to end and return the exit code (0 go, 1 stop; bad usage raises, exit 2)."""
    from cudadoctor.gating.local import DEFAULT_TIMEOUT, GateOptions
    from cudadoctor.render import OutputFormat

    fmt = output_format.strip().lower()
    if fmt not in ("terminal", "json"):
        raise UsageError(f"--format must be terminal or json, got {output_format!r}")
    opts = GateOptions(
        require_gpus=require_gpus, min_efficiency=min_efficiency, min_memory_efficiency=min_memory_efficiency,
        min_host_efficiency=min_host_efficiency, min_allreduce_gbs=min_allreduce_gbs, policy=policy, output=output,
        output_format=OutputFormat(fmt), python=python, rules_dir=rules_dir,
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT, cpu=cpu, bench=bench, fail_on=fail_on,
        redact=redact, baseline=baseline, fresh=fresh,
    )
    from cudadoctor.gating.distributed import launched

    if distributed is None:
        distributed = launched(os.environ)
    if distributed:
        from cudadoctor.gating.distributed import run_distributed

        code = run_distributed(opts).exit_code
        # NOTE: a launcher (torchrun) SIGTERMs the other ranks as soon as one exits non-zero, so
        # every rank leaves at once after the final agreement, skipping the interpreter's slow
        # teardown (torch's atexit handlers): all ranks then end with the same exit code.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    from cudadoctor.gating.local import run as run_local

    return run_local(opts)


def register(app: typer.Typer) -> None:
    """Add the `gate` command to the CLI."""

    @app.command(name="gate")
    def gate(
        require_gpus: Annotated[Optional[int], typer.Option("--require-gpus", envvar="CUDADOCTOR_REQUIRE_GPUS", help="Stop unless at least this many GPUs are visible (overrides the policy's min_gpus).")] = None,
        min_efficiency: Annotated[Optional[float], typer.Option("--min-efficiency", envvar="CUDADOCTOR_MIN_EFFICIENCY", help="Stop when GEMM throughput is below this fraction of the GPU's dense peak (default 0.5).")] = None,
        min_memory_efficiency: Annotated[Optional[float], typer.Option("--min-memory-efficiency", envvar="CUDADOCTOR_MIN_MEMORY_EFFICIENCY", help="Stop when device memory bandwidth is below this fraction of peak (default 0.6).")] = None,
        min_host_efficiency: Annotated[Optional[float], typer.Option("--min-host-efficiency", envvar="CUDADOCTOR_MIN_HOST_EFFICIENCY", help="host-device-bandwidth-low below this fraction of the PCIe link rate (default 0.5).")] = None,
        min_allreduce_gbs: Annotated[Optional[float], typer.Option("--min-allreduce-gbs", envvar="CUDADOCTOR_MIN_ALLREDUCE_GBS", help="With --distributed: stop when a rank's all-reduce bus bandwidth is below this many GB/s.")] = None,
        policy: Annotated[Optional[Path], typer.Option("--policy", envvar="CUDADOCTOR_POLICY", help="TOML policy: required GPUs, driver, compute capability, temperature, fatal findings, [gate] thresholds.")] = None,
        output: Annotated[Optional[Path], typer.Option("--output", "-o", envvar="CUDADOCTOR_OUTPUT", help="Also write the full JSON report (check's JSON plus bench and gate) to this file.")] = None,
        output_format: Annotated[str, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="terminal (a short summary) or json (the full report).")] = "terminal",
        python: Annotated[Optional[str], typer.Option("--python", envvar="CUDADOCTOR_PYTHON", help="Interpreter whose torch to check and benchmark (default: this one).")] = None,
        rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Use the rule tables in this directory.")] = None,
        timeout: Annotated[Optional[float], typer.Option("--timeout", envvar="CUDADOCTOR_GATE_TIMEOUT", help="Overall deadline in seconds: probes, benchmark and (distributed) the collectives (default 300).")] = None,
        cpu: Annotated[bool, typer.Option("--cpu", envvar="CUDADOCTOR_CPU", help="CPU-only CI: benchmark on the CPU and waive the 'no GPU here' findings and the policy's GPU requirements.")] = False,
        bench: Annotated[Optional[bool], typer.Option("--bench/--no-bench", envvar="CUDADOCTOR_GATE_BENCH", help="Run the quick benchmark (default: yes, or the policy's [gate] bench).")] = None,
        fail_on: Annotated[Optional[Severity], typer.Option("--fail-on", envvar="CUDADOCTOR_FAIL_ON", help="Lowest finding severity that stops (default: the policy's fail_on, error).")] = None,
        distributed: Annotated[Optional[bool], typer.Option("--distributed/--no-distributed", envvar="CUDADOCTOR_DISTRIBUTED", help="Gate every rank and the collective path over torch.distributed (default: on when RANK, WORLD_SIZE and MASTER_ADDR are set).")] = None,
        redact: Annotated[bool, typer.Option("--redact", envvar="CUDADOCTOR_REDACT", help="Also hide user names, host names and home paths in the JSON report.")] = False,
        baseline: Annotated[Optional[Path], typer.Option("--baseline", envvar="CUDADOCTOR_BASELINE", help="Known-good snapshot: also report environment-drift (stop on it with fatal = [\"environment-drift\"] in the policy).")] = None,
        fresh: Annotated[bool, typer.Option("--fresh", envvar="CUDADOCTOR_FRESH", help="Probe torch, the CUDA libraries and the toolkit again instead of re-using cached facts.")] = False,
    ) -> None:
        """Pre-training gate: check + quick benchmark + thresholds; exit 0 go, 1 stop."""
        raise typer.Exit(run(
            require_gpus=require_gpus, min_efficiency=min_efficiency, min_memory_efficiency=min_memory_efficiency,
            min_host_efficiency=min_host_efficiency, min_allreduce_gbs=min_allreduce_gbs, policy=policy, output=output,
            output_format=output_format, python=python, rules_dir=rules_dir, timeout=timeout, cpu=cpu, bench=bench,
            fail_on=fail_on, distributed=distributed, redact=redact, baseline=baseline, fresh=fresh,
        ))

