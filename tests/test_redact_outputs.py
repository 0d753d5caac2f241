"""Secrets planted in facts never appear in any output format; --redact hides identity too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudadoctor.cli import main
from cudadoctor.factsfile import facts_to_dict
from cudadoctor.render import OutputFormat
from tests.conftest import env_facts

SECRET = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
AWS = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    data = facts_to_dict(env_facts("healthy_a100_cu121"))
    data["env"]["variables"]["HF_TOKEN"] = SECRET
    data["env"]["variables"]["NCCL_SOCKET_IFNAME"] = "eth0"
    data["env"]["variables"]["WANDB_API_KEY"] = "0123456789abcdef0123456789abcdef01234567"
    data["torch"]["status"] = "import-failed"
    data["torch"]["import_error"] = f"OSError: could not fetch with token {SECRET} and key {AWS}"
    data["host"]["hostname"] = "gpu-node-secret-17"
    p = tmp_path / "facts.json"
    p.write_text(json.dumps(data))
    return p


#: Formats that carry the report's text and facts (Prometheus metrics carry neither: its own test,
#: tests/prometheus/test_prometheus.py, checks that no secret and no identity reaches them).
TEXT_FORMATS = [f.value for f in OutputFormat if f is not OutputFormat.PROMETHEUS]


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_secrets_never_appear(planted: Path, fmt: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--facts", str(planted), "--format", fmt, "-v"])
    out = capsys.readouterr().out
    assert SECRET not in out and AWS not in out
    assert "0123456789abcdef0123456789abcdef01234567" not in out
    assert "eth0" in out or fmt == "terminal"  # configuration is kept


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_redact_hides_users_and_hosts(planted: Path, fmt: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--facts", str(planted), "--format", fmt, "--redact", "-v"])
    out = capsys.readouterr().out
    assert "gpu-node-secret-17" not in out
    assert "/home/ana" not in out
