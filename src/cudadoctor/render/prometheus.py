"""Prometheus metrics (``--format prometheus``) in the text exposition format node-exporter's textfile collector reads.

``check``, ``bench`` and ``healthcheck`` write the same families: ``cudadoctor_ready``,
``cudadoctor_findings{name,severity}`` (one series per finding name that fired, its count), the
counts by severity, the GPU count and an info series with the versions; a run with the benchmark
adds per-GPU gauges (``cudadoctor_bench_tflops``, ``_gbps``, ``_efficiency_ratio``, ``_correct``).
Host names are never labels: node-exporter adds the ``instance`` of the node itself.

Standard library only: the healthcheck's fast path imports this module.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cudadoctor.report import Report

SEVERITIES = ("error", "warning", "info")
VERDICTS = ("ready", "degraded", "not-ready")


@dataclass
class Family:
    """One metric family: its name, HELP text and samples (labels, value)."""

    name: str
    help: str
    kind: str = "gauge"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        """Add one sample (returns the family, to chain)."""
        self.samples.append((labels, float(value)))
        return self


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def exposition(families: Iterable[Family]) -> str:
    """The families as Prometheus text exposition format (HELP and TYPE lines, then the samples)."""
    out: list[str] = []
    for fam in families:
        out.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        out.append(f"# TYPE {fam.name} {fam.kind}")
        for labels, value in fam.samples:
            text = ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in labels.items())
            out.append(f"{fam.name}{{{text}}} {_number(value)}" if text else f"{fam.name} {_number(value)}")
    return "\n".join(out) + "\n"


def _common(*, ready: bool, findings: Iterable[tuple[str, str]], gpus: int | None, info: Mapping[str, str],
            ready_help: str) -> list[Family]:
    """The families every command writes. *findings*: (name, severity) per finding."""
    counts = Counter(findings)
    by_severity = Counter(sev for (_, sev), n in counts.items() for _ in range(n))
    fams = [
        Family("cudadoctor_ready", ready_help).add(1 if ready else 0),
        Family("cudadoctor_findings", "Findings by catalog name and severity (only those that fired; see `cudadoctor explain NAME`)."),
        Family("cudadoctor_findings_by_severity", "Number of findings of each severity."),
    ]
    for (name, severity), n in sorted(counts.items()):
        fams[1].add(n, name=name, severity=severity)
    for sev in SEVERITIES:
        fams[2].add(by_severity.get(sev, 0), severity=sev)
    if gpus is not None:
        fams.append(Family("cudadoctor_gpus", "GPUs the NVIDIA driver reports.").add(gpus))
    fams.append(Family("cudadoctor_info", "cudadoctor's version and the driver and torch it found (value always 1).")
                .add(1, **{k: v for k, v in info.items()}))
    return fams


# -------------------------------------------------------------------------------------- reports


def families(report: Report) -> list[Family]:
    """The metric families of a check / bench report."""
    from cudadoctor._version import __version__
    from cudadoctor.facts import DriverFacts, TorchFacts, nv_version
    from cudadoctor.facts_bench import BenchFacts
    from packaging.version import Version

    facts = report.facts
    drv, t = facts.driver, facts.torch
    info = {"version": __version__, "driver": "", "torch": "", "cuda": ""}
    if isinstance(drv, DriverFacts) and isinstance(drv.driver_version, Version):
        info["driver"] = nv_version(drv.driver_version)
    if isinstance(t, TorchFacts):
        info["torch"] = str(t.version) if isinstance(t.version, Version) else ""
        info["cuda"] = str(t.cuda_version) if isinstance(t.cuda_version, Version) else ""
    fams = _common(
        ready=report.verdict != "not-ready" and not report.errors,
        findings=[(f.name, f.severity.value) for f in report.findings],
        gpus=len(drv.gpus) if isinstance(drv, DriverFacts) else None, info=info,
        ready_help="1 when no finding is an error (verdict ready or degraded) and every check ran, else 0.",
    )
    verdict = Family("cudadoctor_verdict", "The report's verdict: 1 for the current one of ready, degraded, not-ready.")
    for v in VERDICTS:
        verdict.add(1 if report.verdict == v else 0, verdict=v)
    checks = Family("cudadoctor_checks", "Checks by what happened to them (found, passed, skipped, error).")
    statuses = Counter(o.status.value for o in report.outcomes)
    for status in ("found", "passed", "skipped", "error"):
        checks.add(statuses.get(status, 0), status=status)
    fams += [verdict, checks]
    stamp = _timestamp(facts.collected_at)
    if stamp is not None:
        fams.append(Family("cudadoctor_facts_timestamp_seconds", "When the facts were collected (Unix time).").add(stamp))
    if isinstance(facts.bench, BenchFacts):
        fams += bench_families(facts.bench)
    return fams


def render(report: Report) -> str:
    """*report* as Prometheus text (``check --format prometheus``)."""
    return exposition(families(report))


def _timestamp(text: str) -> float | None:
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except (ValueError, TypeError):
        return None


def bench_families(bench: Any) -> list[Family]:
    """Per-GPU benchmark gauges: rates by unit, efficiency against peak, correctness, device status."""
    from cudadoctor.facts import Unavailable

    ok = Family("cudadoctor_bench_device_ok", "1 when the benchmark of this GPU finished, else 0.")
    tflops = Family("cudadoctor_bench_tflops", "Median throughput of a compute workload, TFLOP/s.")
    gbps = Family("cudadoctor_bench_gbps", "Median bandwidth of a copy workload, GB/s.")
    eff = Family("cudadoctor_bench_efficiency_ratio", "Measured rate over the GPU model's peak (1.0 = the datasheet).")
    correct = Family("cudadoctor_bench_correct", "1 when a workload's result matched its reference, 0 when it did not.")
    for d in bench.devices:
        gpu = "cpu" if d.device == "cpu" else str(d.index)
        labels = {"gpu": gpu, "model": d.name}
        if d.uuid:
            labels["uuid"] = d.uuid
        ok.add(1 if d.status == "ok" else 0, **labels)
        for m in d.measurements:
            wl = {**labels, "workload": m.name}
            if m.status in ("ok", "wrong"):
                correct.add(1 if m.status == "ok" else 0, **wl)
            if m.status != "ok" or isinstance(m.value, Unavailable):
                continue
            (tflops if m.unit == "TFLOP/s" else gbps).add(float(m.value), **wl)
            if not isinstance(m.efficiency, Unavailable):
                eff.add(float(m.efficiency), **wl)
    return [ok, tflops, gbps, eff, correct]


# ---------------------------------------------------------------------------------- healthcheck


def render_health(outcome: Mapping[str, Any], *, now: float | None = None) -> str:
    """The healthcheck's outcome (its --format json object) as Prometheus text.

    *now*: the run's Unix time, for ``cudadoctor_healthcheck_timestamp_seconds`` (an alert on its
    age finds a healthcheck that stopped running).
    """
    from cudadoctor._version import __version__

    reasons = [*outcome.get("reasons", ()), *outcome.get("notes", ())]
    fams = _common(
        ready=bool(outcome.get("healthy")),
        findings=[(str(r.get("name", "")), str(r.get("severity", "error"))) for r in reasons],
        gpus=outcome.get("gpus") if isinstance(outcome.get("gpus"), int) else None,
        info={"version": __version__, "driver": outcome.get("driver") or "", "torch": outcome.get("torch") or ""},
        ready_help="1 when the healthcheck found this machine healthy under its policy, else 0.",
    )
    fams.append(Family("cudadoctor_healthcheck_seconds", "Wall seconds the healthcheck took.")
                .add(float(outcome.get("seconds") or 0.0)))
    if now is not None:
        fams.append(Family("cudadoctor_healthcheck_timestamp_seconds", "When the healthcheck ran (Unix time).").add(now))
    return exposition(fams)
