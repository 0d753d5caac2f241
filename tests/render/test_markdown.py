"""The Markdown report: structure, escaping, redaction, and `check --format markdown` through the CLI."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from cudadoctor import engine
from cudadoctor.cli import main
from cudadoctor.facts import EnvFacts, TorchFacts
from cudadoctor.render import OutputFormat, render
from cudadoctor.render.markdown import render as render_markdown
from cudadoctor.report import Report
from tests.conftest import env_facts, env_path

GHP = "ghp_Zx9YwVu8Ts7Rq6Po5Nm4Lk3Ji2Hg1Fe0DcBa"
HF = "hf_QwErTyUiOpAsDfGhJkLzXcVbNm1234567890"


def report_for(name: str, tables, **overrides) -> Report:  # type: ignore[no-untyped-def]
    return engine.evaluate(env_facts(name, overrides), tables, source="facts-file")


def facts_json(md: str) -> dict:  # type: ignore[type-arg]
    m = re.search(r"^(`{3,})json\n(.*?)\n\1$", md, re.S | re.M)
    assert m, md[-2000:]
    return json.loads(m.group(2))


def test_markdown_structure_for_a_broken_machine(tables) -> None:  # type: ignore[no-untyped-def]
    report = report_for("no_driver", tables)
    md = render(report, OutputFormat.MARKDOWN)
    assert md.startswith("## ❌ cudadoctor: NOT READY for GPU training\n")
    assert "NOT-READY" not in md.split("<details>")[0] and md.count("NOT READY") == 1
    assert "| Severity | Code | Name | Title |" in md
    assert "| ❌ error | [DRV001](" in md and "`no-nvidia-driver`" in md
    assert "### ❌ error: DRV001 `no-nvidia-driver`" in md
    assert "**Fix:**" in md
    assert "- `driver.nvml_status`: library-not-found" in md
    assert md.count("<details><summary>Facts</summary>") == 1 and md.rstrip().endswith("</details>")
    assert "- **Driver & GPUs:** no NVIDIA driver installed" in md
    data = facts_json(md)
    assert data["driver"]["nvml_status"] == "library-not-found"
    # the finding table lists every finding once, worst first
    rows = [line for line in md.splitlines() if line.startswith("| ") and "](" in line]
    assert len(rows) == len(report.findings)


def test_markdown_for_a_healthy_machine(tables) -> None:  # type: ignore[no-untyped-def]
    report = report_for("healthy_h100_cu128", tables)
    md = render_markdown(report)
    if not report.findings:
        assert "No problems found." in md
    assert f"cudadoctor: {report.verdict_heading()}" in md
    assert facts_json(md)["host"]["hostname"]


def test_table_cells_and_fences_are_escaped(tables) -> None:  # type: ignore[no-untyped-def]
    from cudadoctor.checks.base import Finding, Outcome, Severity, Status

    facts = env_facts("no_driver")
    torch = facts.torch
    assert isinstance(torch, TorchFacts)
    facts = dataclasses.replace(facts, torch=dataclasses.replace(torch, import_error="```\n</details> | pipe"))
    finding = Finding(code="TRC002", name="torch-import-failed", severity=Severity.ERROR, title="a | b <x>",
                      message="first line\nTraceback ...\n```\nend", evidence={"k": "v\nw"}, fix="do it", url="u")
    outcome = Outcome(code="TRC002", name="torch-import-failed", status=Status.FOUND, findings=(finding,))  # type: ignore[call-arg]
    md = render_markdown(Report(facts=facts, tables=tables, outcomes=(outcome,)))
    assert "| a \\| b &lt;x&gt; |" in md
    assert "- `k`: v w" in md
    assert "````\nTraceback ...\n```\nend\n````" in md
    assert facts_json(md)["torch"]["import_error"] == "```\n</details> | pipe"
    assert md.count("</details>") == 1


def test_planted_secrets_never_reach_the_markdown(tables) -> None:  # type: ignore[no-untyped-def]
    facts = env_facts("healthy_a100_cu121")
    assert isinstance(facts.env, EnvFacts) and isinstance(facts.torch, TorchFacts)
    env = dataclasses.replace(facts.env, variables={
        **facts.env.variables, "HF_TOKEN": "plainsecretvalue42", "WANDB_API_KEY": "0123456789abcdef0123456789abcdef01234567",
        "PIP_INDEX_URL": "https://alice:pw-s3cr3t@pypi.example.com/simple",
    })
    torch = dataclasses.replace(
        facts.torch, import_error=f"OSError: token {GHP} rejected",
        python_executable=f"/home/ana/{HF}/bin/python", status="import-failed",
    )
    planted = dataclasses.replace(facts, env=env, torch=torch)
    report = engine.evaluate(planted, tables, source="facts-file")
    md = render_markdown(report)
    for secret in ("plainsecretvalue42", "0123456789abcdef0123456789abcdef01234567", "pw-s3cr3t", GHP, HF):
        assert secret not in md, secret
    assert "[REDACTED]" in md
    assert "node01" in md and "/home/ana" in md  # identity is kept unless asked
    hidden = render(report, OutputFormat.MARKDOWN, redact_identity=True)
    assert "node01" not in hidden and "/home/ana/" not in hidden
    for secret in ("plainsecretvalue42", GHP, HF):
        assert secret not in hidden


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_check_format_markdown_through_the_cli(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(["check", "--facts", str(env_path("no_driver")), "--format", "markdown"], capsys)
    assert code == 1, err
    assert out.startswith("## ❌ cudadoctor: NOT READY for GPU training")
    assert "`no-nvidia-driver`" in out and "<details><summary>Facts</summary>" in out
    code, out, _ = run_cli(["check", "--facts", str(env_path("no_driver")), "-f", "markdown", "--select", "DRV001"], capsys)
    assert "DRV001" in out and "CTR001" not in out.split("<details>")[0]
