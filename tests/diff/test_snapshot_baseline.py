"""cudadoctor snapshot (the --save-facts format plus a report section) and check/gate --baseline (environment-drift)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cudadoctor.cli import main
from cudadoctor.commands.check import judge
from cudadoctor.diff.drift import with_drift
from cudadoctor.facts_drift import DriftFacts
from cudadoctor.factsfile import FACTS_KIND, REPORT_KEY, load_document, load_facts
from cudadoctor.gating.local import GateOptions, decide, resolve_settings
from cudadoctor.gating.policy import is_fatal, parse_policy
from tests.conftest import env_facts, env_path

A100 = str(env_path("healthy_a100_cu121"))
A100_CU118 = str(env_path("a100_cu118_wheel"))


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


def test_snapshot_is_the_facts_format_with_a_report_section(tmp_path: Path, capsys) -> None:
    path = tmp_path / "env.json"
    code, out, err = cli(["snapshot", "--facts", A100_CU118, "-o", str(path)], capsys)
    assert code == 0 and out == "" and "wrote" in err
    data = json.loads(path.read_text())
    assert data["kind"] == FACTS_KIND and data["schema_version"] == 1
    report = data[REPORT_KEY]
    assert report["schema_version"] == 1 and report["verdict"] == "degraded"
    assert [f["name"] for f in report["findings"]] == ["nvcc-torch-cuda-mismatch"]
    assert "facts" not in report  # the document is the facts
    # An older reader (load_facts ignores unknown keys) replays it as plain facts.
    assert load_facts(path) == load_facts(Path(A100_CU118))
    doc = load_document(path)
    assert doc.kind == "snapshot" and doc.report is not None and doc.report["verdict"] == "degraded"
    code, out, _ = cli(["check", "--facts", str(path), "--format", "json"], capsys)
    assert json.loads(out)["verdict"] == "degraded"


def test_snapshot_to_stdout_and_redact(capsys) -> None:
    code, out, _ = cli(["snapshot", "--facts", A100, "--redact"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["host"]["hostname"] == "[REDACTED]"
    assert "/home/ana" not in out and "node01" not in out
    assert data[REPORT_KEY]["verdict"] == "ready"


def test_check_baseline_reports_what_moved(capsys) -> None:
    code, out, _ = cli(["check", "--facts", A100_CU118, "--baseline", A100, "--format", "json"], capsys)
    data = json.loads(out)
    drift = next(f for f in data["findings"] if f["name"] == "environment-drift")
    assert drift["code"] == "ENV001" and drift["severity"] == "warning"
    assert "torch version 2.3.1+cu121 → 2.3.1+cu118 (CUDA variant cu121 → cu118), which causes nvcc-torch-cuda-mismatch" in drift["message"]
    assert data["facts"]["drift"]["baseline"] == "healthy_a100_cu121.json"
    assert code == 0  # a warning: --fail-on error passes
    code, _, _ = cli(["check", "--facts", A100_CU118, "--baseline", A100, "--fail-on", "warning"], capsys)
    assert code == 1


def test_check_baseline_without_changes_and_with_select(capsys) -> None:
    code, out, _ = cli(["check", "--facts", A100, "--baseline", str(env_path("healthy_a100_cu121_later")),
                        "--format", "json"], capsys)
    data = json.loads(out)
    assert "ENV001" in data["passed"] and not data["findings"]
    code, out, _ = cli(["check", "--facts", A100_CU118, "--baseline", A100, "--select", "DRV", "--format", "json"], capsys)
    assert [f["code"] for f in json.loads(out)["findings"]] == ["ENV001"]  # --baseline adds its check to a --select


def test_plain_check_lists_no_drift_check(capsys) -> None:
    code, out, _ = cli(["check", "--facts", A100, "--format", "json"], capsys)
    data = json.loads(out)
    assert "ENV001" not in data["passed"] and "ENV001" not in [s["code"] for s in data["skipped"]]
    assert "drift" not in data["facts"]  # an optional area that was not gathered is left out


def test_bad_baseline_is_exit_2_before_probing(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text('{"kind": "something"}')
    code, out, err = cli(["check", "--facts", A100, "--baseline", str(bad)], capsys)
    assert code == 2 and "not a cudadoctor facts file" in err and len(err.strip().splitlines()) == 1


def test_saved_facts_keep_the_drift_area(tmp_path: Path, capsys) -> None:
    saved = tmp_path / "saved.json"
    cli(["check", "--facts", A100_CU118, "--baseline", A100, "--save-facts", str(saved)], capsys)
    drift = load_facts(saved).drift
    assert isinstance(drift, DriftFacts) and any(c.path == "torch.version" for c in drift.changes)


def _gate_report(policy_text: str, tables):  # type: ignore[no-untyped-def]
    """The gate's decision on the cu118 machine checked against its cu121 baseline, under *policy_text*."""
    import tomllib

    drifted = with_drift(env_facts("a100_cu118_wheel"), env_facts("healthy_a100_cu121"), tables, origin="known-good.json")
    report = judge(drifted, tables)
    opts = GateOptions(bench=False)
    policy = parse_policy(tomllib.loads(policy_text), source="policy.toml")
    settings = dataclasses.replace(resolve_settings(opts), policy=policy)
    return decide(report, settings, opts), report


def test_the_gate_policy_can_make_drift_fatal(tables) -> None:
    go, report = _gate_report('schema = 1\nfail_on = "error"\n', tables)
    assert "environment-drift" in [f.name for f in report.findings]
    assert go.verdict == "go"  # a warning, by default
    stop, _ = _gate_report('schema = 1\nfail_on = "error"\nfatal = ["environment-drift"]\n', tables)
    assert stop.verdict == "stop" and stop.exit_code == 1
    assert [r.name for r in stop.reasons] == ["environment-drift"]
    assert "CUDA variant cu121 → cu118" in stop.reasons[0].message
    by_code, _ = _gate_report('schema = 1\nfatal = ["ENV"]\n', tables)
    assert by_code.verdict == "stop"
    policy = parse_policy({"fatal": ["environment-drift"]}, source="p")
    assert is_fatal(policy, name="environment-drift", code="ENV001", severity="warning")


def test_gate_cli_takes_a_baseline() -> None:
    from typer.testing import CliRunner

    from cudadoctor.cli import app

    r = CliRunner().invoke(app, ["gate", "--help"])
    assert "--baseline" in r.stdout
