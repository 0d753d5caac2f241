"""The terminal report of `triage`: it speaks of the pasted text, and shows only what the text holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from cudadoctor.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _triage(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["triage", *args])
    return capsys.readouterr().out


def test_error_text_alone_shows_no_block_of_unprobed_areas(capsys: pytest.CaptureFixture[str]) -> None:
    out = _triage(["--text", "RuntimeError: CUDA error: no kernel image is available for execution on the device"], capsys)
    head = out.split("Diagnosis", 1)[0]
    assert "the pasted text" in head.splitlines()[0]
    assert "this machine" not in out
    assert "could not be probed" not in out and "not in the pasted text" not in head
    assert "holds no machine facts" in head
    assert "TRC004 gpu-arch-not-in-torch-build" in out


def test_collect_env_shows_the_areas_it_holds_and_only_those(capsys: pytest.CaptureFixture[str]) -> None:
    out = _triage([str(FIXTURES / "collect_env" / "torch1.13.1_cu117_2x3090_conda.txt")], capsys)
    head = out.split("Diagnosis", 1)[0]
    assert "Driver & GPUs: driver 515.105.01" in head and "PyTorch: torch 1.13.1" in head
    assert "Container:" not in head  # collect_env says nothing about containers
    assert "could not be probed" not in head and "0 CPUs" not in head
    assert "this machine" not in head
