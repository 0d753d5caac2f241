"""The gate's decision as a pure function of a Report and the settings: findings, policy, --cpu waivers,
benchmark thresholds; and the settings merged from options and the policy file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cudadoctor import engine
from cudadoctor.facts_bench import BenchFacts
from cudadoctor.checks.base import Severity
from cudadoctor.errors import UsageError
from cudadoctor.gating.local import (
    CPU_WAIVED,
    GateOptions,
    bench_headlines,
    decide,
    injected,
    local_device,
    resolve_settings,
    summary_text,
)
from cudadoctor.policy import PolicyError
from tests.conftest import env_facts


def _report(tables, env: str, overrides=None, bench: BenchFacts | None = None):
    report = engine.evaluate(env_facts(env, overrides), tables, ignore=["BEN"])
    if bench is not None:
        report = dataclasses.replace(report, facts=dataclasses.replace(report.facts, bench=bench))
    return report


def _decide(report, **options):
    opts = GateOptions(bench=False, **options)
    return decide(report, resolve_settings(opts), opts)


def test_healthy_machine_goes(tables) -> None:
    result = _decide(_report(tables, "healthy_h100_cu128"))
    assert result.verdict == "go" and result.exit_code == 0 and result.reasons == ()


def test_no_driver_stops_with_the_finding_as_reason(tables) -> None:
    result = _decide(_report(tables, "no_driver"))
    assert result.verdict == "stop" and result.exit_code == 1
    assert "no-nvidia-driver" in [r.name for r in result.reasons]
    assert all(r.severity == "error" for r in result.reasons)


def test_cpu_waives_the_no_gpu_findings_and_lists_them(tables) -> None:
    result = _decide(_report(tables, "no_driver"), cpu=True)
    assert result.verdict == "go", result.reasons
    assert "no-nvidia-driver" in result.waived
    assert set(result.waived) <= set(CPU_WAIVED)


def test_cpu_does_not_waive_a_broken_torch(tables) -> None:
    report = _report(tables, "no_driver", {"torch.status": "import-failed", "torch.import_error": "ImportError: libfoo.so"})
    result = _decide(report, cpu=True)
    assert result.verdict == "stop"
    assert not {r.name for r in result.reasons} & set(CPU_WAIVED)


def test_require_gpus_is_a_policy_reason(tables) -> None:
    result = _decide(_report(tables, "healthy_h100_cu128"), require_gpus=16)
    assert result.verdict == "stop"
    (reason,) = [r for r in result.reasons if r.name == "policy-min-gpus"]
    assert "policy requires 16" in reason.message


def test_require_gpus_with_cpu_is_bad_usage() -> None:
    with pytest.raises(UsageError, match="--cpu"):
        resolve_settings(GateOptions(cpu=True, require_gpus=1))


def test_cpu_waives_policy_gpu_requirements(tables, tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('min_gpus = 8\nmin_driver_version = "550.54.15"\n')
    result = _decide(_report(tables, "no_driver"), cpu=True, policy=policy)
    assert result.verdict == "go"
    assert "policy min_gpus" in result.waived and "policy min_driver_version" in result.waived


def test_fail_on_warning_makes_warnings_blocking(tables) -> None:
    report = _report(tables, "healthy_h100_cu128", {"env.variables": {"WORLD_SIZE": "4", "RANK": "0"}})
    assert _decide(report).verdict == "go"
    stopped = _decide(report, fail_on=Severity.WARNING)
    assert "distributed-env-stray" in [r.name for r in stopped.reasons]


def test_policy_fatal_and_ignore(tables, tmp_path: Path) -> None:
    report = _report(tables, "healthy_h100_cu128", {"env.variables": {"WORLD_SIZE": "4", "RANK": "0"}})
    fatal = tmp_path / "fatal.toml"
    fatal.write_text('fatal = ["distributed-env-stray"]\n')
    assert _decide(report, policy=fatal).verdict == "stop"
    ignore = tmp_path / "ignore.toml"
    ignore.write_text('ignore = ["DRV"]\n')
    # CTR001 still fires as an error: the host has a GPU on its PCI bus that the container was not given.
    with_gpu = _report(tables, "no_driver", {"host.nvidia_pci_devices": ["0000:17:00.0"]})
    assert _decide(with_gpu, policy=ignore).verdict == "stop"


def test_policy_gate_section_sets_thresholds_and_flags_override(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text("[gate]\nmin_efficiency = 0.7\nmin_allreduce_busbw_gbs = 100\nbench = false\n")
    settings = resolve_settings(GateOptions(policy=policy))
    assert settings.thresholds.min_efficiency == 0.7 and settings.min_allreduce_gbs == 100 and settings.bench is False
    settings = resolve_settings(GateOptions(policy=policy, min_efficiency=0.3, bench=True))
    assert settings.thresholds.min_efficiency == 0.3 and settings.bench is True


@pytest.mark.parametrize("text, match", [
    ("[gate]\nmin_efficincy = 0.5\n", "unknown key 'min_efficincy'"),
    ("[gate]\nmin_efficiency = 3\n", "min_efficiency must be"),
    ("[gate]\nbench = 1\n", "bench must be"),
    ("[gate]\nmin_allreduce_busbw_gbs = nan\n", "min_allreduce_busbw_gbs must be"),
    ("[gate]\nmin_allreduce_busbw_gbs = " + "9" * 400 + "\n", "got a huge integer"),
    ("[gate]\nmin_efficiency = \"0.5\"\n", "min_efficiency must be"),
    ('fatal = ["no-such-check"]\n', "unknown check"),
])
def test_bad_policy_is_a_policy_error_naming_the_key(tmp_path: Path, text: str, match: str) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(text)
    with pytest.raises(PolicyError, match=match):
        resolve_settings(GateOptions(policy=policy))


def test_policy_may_name_the_distributed_checks(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('fatal = ["distributed-version-mismatch"]\nignore = ["DST002"]\n')
    resolve_settings(GateOptions(policy=policy))


def test_bad_thresholds_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--min-efficiency"):
        resolve_settings(GateOptions(min_efficiency=5))
    with pytest.raises(UsageError, match="--timeout"):
        resolve_settings(GateOptions(timeout=0))


def _bench(status: str = "no-gpu", reason: str = "torch was built without CUDA") -> BenchFacts:
    return BenchFacts(status=status, reason=reason, mode="gpu", python="/usr/bin/python3", quick=True, budget_s=3,
                        timeout_s=23, wall_s=0.1, devices=())


def test_bench_not_run_is_blocking_and_said_in_the_summary(tables) -> None:
    report = _report(tables, "healthy_h100_cu128", bench=_bench())
    opts = GateOptions()
    result = decide(report, resolve_settings(opts), opts)
    assert [r.name for r in result.reasons] == ["gate-bench-not-run"]
    assert result.bench == ("not run: torch was built without CUDA",)
    text = summary_text(dataclasses.replace(report, gate=result))
    assert text.startswith("cudadoctor gate: STOP — 1 blocking reason\n")
    assert "gate-bench-not-run: the smoke benchmark did not run" in text


def test_bench_headlines_without_results() -> None:
    assert bench_headlines(None) == ("not run",)


def test_local_device_maps_local_rank(tables) -> None:
    facts = env_facts("healthy_h100_cu128")
    count = len(facts.torch.devices)
    assert local_device(facts, 0) == 0
    if count > 1:
        assert local_device(facts, count - 1) == count - 1
        assert "LOCAL_RANK is 99" in local_device(facts, 99)
    assert isinstance(local_device(env_facts("no_driver"), 0), str)


@pytest.mark.parametrize("value, rank, expected", [
    ("", 1, False), ("1", 1, True), ("1", 0, False), ("0,2", 2, True), ("all", 5, True), ("0", None, True),
])
def test_injection_hook_targets(value: str, rank, expected: bool) -> None:
    assert injected("X", rank, {"X": value}) is expected
