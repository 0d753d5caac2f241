"""The healthcheck policy: strict loading, each rule, and what makes a finding fatal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from cudadoctor.checks import CHECKS
from cudadoctor.commands.healthcheck import main_fast
from cudadoctor.facts import Facts
from cudadoctor.policy import (
    DEFAULT_SOURCE,
    KEYS,
    Policy,
    PolicyError,
    check_selectors,
    evaluate_policy,
    is_fatal,
    load_policy,
    parse_policy,
)
from tests.conftest import env_facts, env_path
from tests.healthcheck.conftest import run_healthcheck


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def run(facts: Facts, policy_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """The healthcheck in-process on *facts* under a policy file; (exit code, JSON output)."""
    path = write(tmp_path, policy_text)
    code = main_fast(["--format", "json", "--policy", str(path)], facts_provider=lambda: facts, hard_exit=False)
    return code, json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------------------------
# loading


def test_default_policy_is_shipped_and_minimal() -> None:
    policy = load_policy(None)
    assert policy == Policy(source=DEFAULT_SOURCE)
    assert (policy.fail_on, policy.fatal, policy.ignore, policy.min_gpus) == ("error", (), (), 0)


def test_every_key_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "healthcheck.md").read_text()
    for key in KEYS:
        assert f"`{key}`" in docs, key


def test_full_policy_parses() -> None:
    policy = parse_policy({
        "schema": 1, "fail_on": "warning", "fatal": ["gpu-throttled"], "ignore": ["CTR003"], "min_gpus": 8,
        "min_driver_version": "550.54.15", "min_compute_capability": 8.0, "max_temperature_c": 85,
        "require_torch_cuda": True, "gate": {"min_efficiency": 0.5},
    }, source="p.toml")
    assert policy.min_driver_version == Version("550.54.15")
    assert policy.min_compute_capability == Version("8.0")
    assert policy.max_temperature_c == 85.0
    assert policy.sections == {"gate": {"min_efficiency": 0.5}}


@pytest.mark.parametrize("text, message", [
    ("min_gpu = 8\n", "unknown key 'min_gpu'"),
    ("[healthcheck]\nmin_gpus = 8\n", "unknown key 'healthcheck'"),
    ("min_gpus = -1\n", "min_gpus must be a non-negative integer, got -1"),
    ("min_gpus = '8'\n", "min_gpus must be a non-negative integer, got '8'"),
    ("min_gpus = true\n", "min_gpus must be"),
    ("fail_on = 'fatal'\n", "fail_on must be one of"),
    ("fatal = 'gpu-throttled'\n", "fatal must be a list of check names or codes"),
    ("ignore = [1]\n", "ignore must be a list"),
    ("min_driver_version = 'latest'\n", "min_driver_version must be a driver version string"),
    ("min_compute_capability = true\n", "min_compute_capability must be a compute capability"),
    ("max_temperature_c = 'hot'\n", "max_temperature_c must be a number"),
    ("max_temperature_c = 0\n", "max_temperature_c must be a number"),
    ("require_torch_cuda = 'yes'\n", "require_torch_cuda must be true or false"),
    ("schema = 2\n", "schema 2 is newer than this cudadoctor reads (1)"),
    ("fatal = ['GPU002']\nignore = ['gpu002']\n", "'gpu002' is in both fatal and ignore"),
    ("gate = 3\n", "[gate] must be a table"),
    ("min_gpus = \n", "not valid TOML"),
])
def test_invalid_policies_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as e:
        load_policy(path)
    assert str(e.value).startswith(f"policy {path}: ")
    assert message in str(e.value)


def test_unreadable_policy(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="file does not exist"):
        load_policy(tmp_path / "missing.toml")
    with pytest.raises(PolicyError, match="is a directory"):
        load_policy(tmp_path)
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PolicyError, match="not a text file"):
        load_policy(tmp_path / "bin.toml")


def test_unknown_check_names_are_rejected() -> None:
    names, codes = [c.name for c in CHECKS], [c.code for c in CHECKS]
    check_selectors(parse_policy({"fatal": ["gpu-throttled", "GPU", "drv001"]}, source="p"), names, codes)
    with pytest.raises(PolicyError, match="ignore: unknown check 'gpu-throttle'"):
        check_selectors(parse_policy({"ignore": ["gpu-throttle"]}, source="p"), names, codes)


def test_bad_policy_is_unhealthy_exit_1_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "min_gpus = 8\nmax_temp = 80\n")
    r = run_healthcheck(["--facts", str(env_path("healthy_h100_cu128")), "--policy", str(path)])
    assert r.code == 1
    assert r.err == f"cudadoctor healthcheck: error: policy {path}: unknown key 'max_temp' (known keys: " + ", ".join(sorted(KEYS)) + ")\n"
    assert r.out.startswith(f"unhealthy: policy {path}: unknown key 'max_temp'")
    path.write_text("fatal = ['no-such-check']\n")
    r = run_healthcheck(["--facts", str(env_path("healthy_h100_cu128")), "--policy", str(path)])
    assert r.code == 1 and "unknown check 'no-such-check'" in r.err


# --------------------------------------------------------------------------------------------
# each rule


def healthy(overrides: dict[str, Any] | None = None) -> Facts:
    return env_facts("healthy_h100_cu128", overrides)


def test_min_gpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run(healthy(), "min_gpus = 8\n", tmp_path, capsys)
    assert code == 1
    assert data["summary"] == "unhealthy: policy: 2 GPUs visible, policy requires 8"
    assert data["reasons"] == [{"name": "policy-min-gpus", "severity": "error",
                                "message": "2 GPUs visible, policy requires 8"}]
    assert run(healthy(), "min_gpus = 2\n", tmp_path, capsys)[0] == 0


def test_min_gpus_without_a_driver(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = env_facts("no_driver")
    code, data = run(facts, "min_gpus = 1\nignore = ['DRV', 'CTR']\n", tmp_path, capsys)
    assert code == 1
    assert data["reasons"][0]["message"] == "0 GPUs visible, policy requires 1"


def test_min_driver_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run(healthy(), "min_driver_version = '575.51.03'\n", tmp_path, capsys)
    assert code == 1
    assert data["reasons"][0]["message"] == "driver 570.133.20 is older than the policy's minimum 575.51.03"
    assert run(healthy(), "min_driver_version = '570.133.20'\n", tmp_path, capsys)[0] == 0
    old = env_facts("healthy_a100_cu121")  # NVIDIA writes 535.183.01; Version would say 535.183.1
    reasons = evaluate_policy(parse_policy({"min_driver_version": "550.54.05"}, source="p"), old)
    assert reasons[0].message == "driver 535.183.01 is older than the policy's minimum 550.54.05"
    assert run(healthy(), "min_driver_version = 550\n", tmp_path, capsys)[0] == 0


def test_min_driver_version_with_unknown_driver() -> None:
    policy = parse_policy({"min_driver_version": "550"}, source="p")
    reasons = evaluate_policy(policy, env_facts("no_driver"))
    assert len(reasons) == 1 and reasons[0].message.startswith("driver version unknown (")


def test_min_compute_capability(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = healthy({"driver.gpus[1].compute_capability": "8.0"})
    code, data = run(facts, "min_compute_capability = 9.0\n", tmp_path, capsys)
    assert code == 1
    message = data["reasons"][0]["message"]
    assert message.startswith("GPU 1 (") and message.endswith("has compute capability 8.0, policy requires >= 9.0")
    assert "GPU 0" not in message
    assert run(healthy(), "min_compute_capability = '9.0'\n", tmp_path, capsys)[0] == 0


def test_max_temperature(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = healthy({"driver.gpus[0].temperature_c": 91, "driver.gpus[1].temperature_c": 60})
    code, data = run(facts, "max_temperature_c = 85\n", tmp_path, capsys)
    assert code == 1
    assert data["reasons"][0]["name"] == "policy-max-temperature-c"
    assert data["reasons"][0]["message"].endswith("is at 91 °C, policy allows at most 85 °C")
    assert run(facts, "max_temperature_c = 95\n", tmp_path, capsys)[0] == 0
    unknown = healthy({"driver.gpus[0].temperature_c": {"unavailable": True, "probe": "driver", "reason": "n/a"},
                       "driver.gpus[1].temperature_c": 60})
    assert run(unknown, "max_temperature_c = 50\n", tmp_path, capsys)[0] == 1  # GPU 1 is still hot enough
    assert not evaluate_policy(parse_policy({"max_temperature_c": 200}, source="p"), unknown)


def test_require_torch_cuda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(healthy(), "require_torch_cuda = true\n", tmp_path, capsys)[0] == 0
    cpu = healthy({"torch.cuda_available": False, "torch.cuda_unavailable_reason": "Found no NVIDIA driver"})
    code, data = run(cpu, "require_torch_cuda = true\n", tmp_path, capsys)
    assert code == 1
    assert data["reasons"][-1]["message"] == (
        "torch 2.8.0+cu128 reports torch.cuda.is_available() False (Found no NVIDIA driver), "
        "policy requires torch with working CUDA"
    )
    assert run(cpu, "require_torch_cuda = false\n", tmp_path, capsys)[0] == 0
    gone = healthy({"torch": {"unavailable": True, "probe": "torch", "reason": "timed out"}})
    reasons = evaluate_policy(parse_policy({"require_torch_cuda": True}, source="p"), gone)
    assert reasons[0].message.startswith("torch facts unavailable (timed out)")


def test_fail_on_warning_makes_warnings_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = healthy({"driver.gpus[0].throttle_reasons": ["hw-thermal"]})
    code, data = run(facts, "", tmp_path, capsys)
    assert code == 0 and [n["name"] for n in data["notes"]] == ["gpu-throttled"]
    code, data = run(facts, "fail_on = 'warning'\n", tmp_path, capsys)
    assert code == 1 and data["reasons"][0]["name"] == "gpu-throttled"


def test_fatal_list_makes_a_finding_fatal_whatever_its_severity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = healthy({"driver.gpus[0].persistence_mode": False})  # info
    assert run(facts, "fail_on = 'warning'\n", tmp_path, capsys)[0] == 0
    code, data = run(facts, "fatal = ['persistence-mode-off']\n", tmp_path, capsys)
    assert code == 1 and data["reasons"][0] == {
        "name": "persistence-mode-off", "code": "GPU005", "severity": "info", "message": data["reasons"][0]["message"],
    }
    assert run(facts, "fatal = ['GPU']\n", tmp_path, capsys)[0] == 1  # a code prefix


def test_ignore_list_is_never_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = healthy({"driver.gpus[1].ecc_uncorrectable_volatile": 2})
    assert run(facts, "", tmp_path, capsys)[0] == 1
    code, data = run(facts, "ignore = ['GPU001']\n", tmp_path, capsys)
    assert code == 0
    assert [n["name"] for n in data["notes"]] == ["gpu-ecc-errors"]  # still reported, not fatal
    assert data["summary"].endswith("(warnings: gpu-ecc-errors)")


def test_is_fatal_precedence() -> None:
    policy = parse_policy({"fail_on": "info", "ignore": ["GPU005"], "fatal": ["DRV"]}, source="p")
    assert not is_fatal(policy, name="persistence-mode-off", code="GPU005", severity="info")
    assert is_fatal(policy, name="gpu-throttled", code="GPU002", severity="warning")
    strict = parse_policy({"fatal": ["DRV012"]}, source="p")
    assert is_fatal(strict, name="cuda-device-order-mismatch", code="DRV012", severity="warning")
    assert not is_fatal(strict, name="gpu-throttled", code="GPU002", severity="warning")


def test_several_reasons_put_findings_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = healthy({"driver.gpus[1].ecc_uncorrectable_volatile": 2})
    code, data = run(facts, "min_gpus = 4\n", tmp_path, capsys)
    assert code == 1
    assert [r["name"] for r in data["reasons"]] == ["gpu-ecc-errors", "policy-min-gpus"]
    assert data["summary"].endswith("(+1 more)")


# --------------------------------------------------------------------------------------------
# the decision itself (gating.policy.judge_health), without the command around it


def test_judge_health_splits_fatal_findings_from_notes_and_adds_requirements(tables: Any) -> None:
    from cudadoctor import engine
    from cudadoctor.gating.policy import judge_health

    fast = [c.code for c in CHECKS if c.fast]
    report = engine.evaluate(env_facts("no_driver"), tables, select=fast)
    verdict = judge_health(report, load_policy(None), check_order=[c.code for c in CHECKS])
    assert not verdict.healthy
    assert verdict.reasons[0].name == "no-nvidia-driver" and verdict.reasons[0].code == "DRV001"
    assert [n.name for n in verdict.notes] == ["torch-cpu-only-build", "container-without-gpus"]
    strict = parse_policy({"fail_on": "warning", "min_gpus": 1}, source="p")
    verdict = judge_health(report, strict, check_order=[c.code for c in CHECKS])
    # only the information is left as a note once warnings are fatal
    assert [n.name for n in verdict.notes] == ["container-without-gpus"] and verdict.reasons[-1].name == "policy-min-gpus"
    assert "torch-cpu-only-build" in [r.name for r in verdict.reasons]


def test_judge_health_never_calls_a_machine_without_driver_facts_healthy(tables: Any) -> None:
    import dataclasses

    from cudadoctor import engine
    from cudadoctor.facts import Unavailable
    from cudadoctor.gating.policy import judge_health

    facts = dataclasses.replace(healthy(), driver=Unavailable(probe="driver", reason="the driver probe failed: boom"))
    report = engine.evaluate(facts, tables, select=["DRV001"])
    verdict = judge_health(report, parse_policy({"ignore": ["DRV"]}, source="p"))
    assert [(r.name, r.message) for r in verdict.reasons] == [("driver-probe-failed", "the driver probe failed: boom")]
