"""The IPython extension (%load_ext cudadoctor / %cudadoctor), without IPython installed."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cudadoctor
from cudadoctor import notebook


class FakeShell:
    """What load_ipython_extension uses of IPython's InteractiveShell."""

    def __init__(self) -> None:
        self.magics: dict[str, object] = {}

    def register_magic_function(self, func, magic_kind: str = "line", magic_name: str | None = None) -> None:  # type: ignore[no-untyped-def]
        assert magic_kind == "line"
        self.magics[magic_name or func.__name__] = func


def test_load_ext_registers_the_magic() -> None:
    shell = FakeShell()
    cudadoctor.load_ipython_extension(shell)
    assert shell.magics == {"cudadoctor": notebook.cudadoctor_magic}


def test_import_cudadoctor_does_not_import_ipython() -> None:
    code = "import sys, cudadoctor; assert callable(cudadoctor.load_ipython_extension); print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_magic_arguments() -> None:
    assert notebook.parse_magic_args("--kernels --select DRV,TRC --json") == {
        "kernels": True, "select": ["DRV,TRC"], "ignore": [], "json": True}
    with pytest.raises(ValueError, match="usage: %cudadoctor"):
        notebook.parse_magic_args("--bogus")


def test_magic_runs_check_in_the_kernel(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cudadoctor import api

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(api, "check", lambda **kw: calls.append(kw) or "REPORT")
    assert notebook.cudadoctor_magic("--kernels --ignore LIB") == "REPORT"
    assert calls == [{"select": [], "ignore": ["LIB"], "kernels": True}]
    assert notebook.cudadoctor_magic("--nope") is None
    assert "unknown argument '--nope'" in capsys.readouterr().out


def test_inside_a_kernel_the_report_says_which_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from cudadoctor.render.summary import summarize
    from tests.conftest import env_facts

    facts = env_facts("jupyter_kernels_h100")
    facts = replace(facts, jupyter=replace(facts.jupyter, in_kernel=True))
    (jup,) = [s for s in summarize(facts) if s.area == "jupyter"]
    assert "running inside a Jupyter kernel: inspecting the kernel's own interpreter /opt/venv/bin/python" in jup.lines[0]
