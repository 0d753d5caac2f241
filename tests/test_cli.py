"""The CLI end to end: replayed facts, exit codes, one-line errors, env-var options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cudadoctor.cli import main
from tests.conftest import env_path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_replayed_healthy_facts_exit_0_with_json(capsys) -> None:
    code, out, _ = run_cli(["check", "--facts", str(env_path("healthy_h100_cu128")), "--format", "json"], capsys)
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert data["facts_source"] == "facts-file"
    assert set(data) >= {"cudadoctor", "tables", "verdict", "findings", "skipped", "facts"}
    assert code == (1 if data["verdict"] == "not-ready" else 0)
    assert all(f["source"] == "facts-file" for f in data["findings"])


def test_no_driver_facts_say_no_driver_and_exit_1(capsys) -> None:
    code, out, _ = run_cli(["check", "--facts", str(env_path("no_driver")), "--format", "json"], capsys)
    data = json.loads(out)
    names = {f["name"] for f in data["findings"]}
    assert "no-nvidia-driver" in names
    assert code == 1
    assert data["verdict"] == "not-ready"
    text = json.dumps(data["findings"])
    assert "driver version is insufficient" not in text


def test_select_runs_only_the_selected_checks(capsys) -> None:
    code, out, _ = run_cli(
        ["check", "--facts", str(env_path("no_driver")), "--format", "json", "--select", "no-nvidia-driver"], capsys
    )
    data = json.loads(out)
    assert [f["name"] for f in data["findings"]] == ["no-nvidia-driver"]
    assert data["passed"] == [] and data["skipped"] == []
    code, out, _ = run_cli(
        ["check", "--facts", str(env_path("no_driver")), "--format", "json", "--ignore", "DRV,CTR,TRC,LIB,TLK,GPU,RUL"], capsys
    )
    assert json.loads(out)["findings"] == [] and code == 0


def test_fail_on_warning(capsys, tmp_path: Path) -> None:
    data = json.loads(env_path("healthy_h100_cu128").read_text())
    data["driver"]["gpus"][0]["persistence_mode"] = False
    data["driver"]["gpus"][0]["throttle_reasons"] = ["hw-thermal"]
    p = tmp_path / "f.json"
    p.write_text(json.dumps(data))
    code, out, _ = run_cli(["check", "--facts", str(p), "--format", "json", "--fail-on", "warning"], capsys)
    severities = {f["severity"] for f in json.loads(out)["findings"]}
    assert "warning" in severities
    assert code == 1
    code, _, _ = run_cli(["check", "--facts", str(p), "--format", "json"], capsys)
    assert code == (1 if "error" in severities else 0)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["check", "--select", "no-such-check"], "unknown check 'no-such-check'"),
        (["check", "--facts", "/nonexistent/facts.json"], "cannot read facts file"),
        (["check", "--format", "xml"], "xml"),
        (["check", "--fail-on", "fatal"], "fatal"),
        (["check", "--no-such-option"], "no-such-option"),
        (["check", "--timeout", "0"], "--timeout must be positive"),
        (["check", "--python", "/nonexistent/python"], "not an executable file"),
        (["explain", "no-such-check"], "no check named"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str, capsys) -> None:
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out


def test_corrupt_facts_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    data = json.loads(env_path("no_driver").read_text())
    data["driver"]["driver_version"] = "55O.54"
    bad.write_text(json.dumps(data))
    code, _, err = run_cli(["check", "--facts", str(bad)], capsys)
    assert code == 2
    assert "driver.driver_version" in err and len(err.strip().splitlines()) == 1


def test_save_facts_then_replay_gives_the_same_findings(tmp_path: Path, capsys) -> None:
    saved = tmp_path / "saved.json"
    _, out1, _ = run_cli(["check", "--facts", str(env_path("no_driver")), "--save-facts", str(saved), "--format", "json"], capsys)
    _, out2, _ = run_cli(["check", "--facts", str(saved), "--format", "json"], capsys)
    assert json.loads(out1)["findings"] == json.loads(out2)["findings"]


def test_env_var_sets_the_format(capsys, monkeypatch) -> None:
    monkeypatch.setenv("CUDADOCTOR_FORMAT", "json")
    _, out, _ = run_cli(["check", "--facts", str(env_path("no_driver"))], capsys)
    assert json.loads(out)["schema_version"] == 1


def test_output_file(tmp_path: Path, capsys) -> None:
    target = tmp_path / "report.json"
    run_cli(["check", "--facts", str(env_path("no_driver")), "--format", "json", "-o", str(target)], capsys)
    assert json.loads(target.read_text())["verdict"] == "not-ready"


def test_explain_by_name_and_code(capsys) -> None:
    code, out, _ = run_cli(["explain", "no-nvidia-driver"], capsys)
    assert code == 0 and "## Fix" in out and "DRV001" in out
    code, out, _ = run_cli(["explain", "drv001", "--format", "json"], capsys)
    assert json.loads(out)["name"] == "no-nvidia-driver"
    code, out, _ = run_cli(["explain", "--list"], capsys)
    assert "no-nvidia-driver" in out


def test_rules_lists_tables(capsys) -> None:
    code, out, _ = run_cli(["rules", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and {t["table"] for t in data["tables"]} >= {"cuda_driver", "torch", "gpus"}


def test_version(capsys) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.startswith("cudadoctor ")


def test_terminal_report_has_areas_diagnosis_and_verdict(capsys) -> None:
    code, out, _ = run_cli(["check", "--facts", str(env_path("no_driver"))], capsys)
    for needle in ("Host:", "Container:", "Driver & GPUs:", "CUDA libraries:", "PyTorch:", "Toolkit:", "Diagnosis", "NOT READY"):
        assert needle in out
    assert "\x1b[" not in out  # not a TTY: no colour


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    env["NO_COLOR"] = "1"
    return env


def test_python_dash_m_on_this_machine() -> None:
    """The real thing, on this CPU-only CI machine: no driver, the CUDA 13.0 runtime, and torch."""
    proc = subprocess.run(
        [sys.executable, "-m", "cudadoctor", "check", "--format", "json"],
        capture_output=True, text=True, timeout=180, env=_clean_env(),
    )
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    names = {f["name"] for f in data["findings"]}
    if not Path("/proc/driver/nvidia/version").exists():
        assert "no-nvidia-driver" in names
    facts = data["facts"]
    assert facts["driver"].get("unavailable") is not True
    torch = facts["torch"]
    assert torch.get("unavailable") is not True
    assert torch["status"] in ("ok", "not-installed")
    if Path("/usr/local/cuda/lib64/libcudart.so.13").exists():
        cudarts = [c for c in facts["cuda_libs"]["copies"] if c["library"] == "libcudart"]
        assert any(str(c["version"]).startswith("13.0") for c in cudarts), cudarts


@pytest.mark.parametrize("command", [[], ["check"], ["triage"], ["gate"], ["explain"]])
def test_help_shows_no_bool_type_beside_plain_flags(command: list[str], capsys) -> None:
    """typer's rich help printed `--verbose <bool>`, as if the flag took a value."""
    code, out, _ = run_cli([*command, "--help"], capsys)
    assert code == 0 and "--help" in out
    assert "<bool>" not in out
    if command == ["check"]:
        assert "<terminal|json|markdown" in out  # options that take a value still show their type


def test_shell_completion_is_offered(capsys) -> None:
    code, out, _ = run_cli(["--help"], capsys)
    assert "--install-completion" in out and "--show-completion" in out
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")},
           "_CUDADOCTOR_COMPLETE": "complete_bash", "COMP_WORDS": "cudadoctor tri", "COMP_CWORD": "1"}
    proc = subprocess.run([sys.executable, "-m", "cudadoctor"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.stdout.split() == ["triage"], proc.stdout + proc.stderr
