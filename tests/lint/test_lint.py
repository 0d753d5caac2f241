"""cudadoctor lint: one fixture directory per rule (tests/fixtures/lint/<case>/expect.toml) with exact lines."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

from cudadoctor.errors import UsageError
from cudadoctor.lint.engine import lint
from cudadoctor.lint.rules import RULES
from tests.conftest import FIXTURES

CASES = FIXTURES / "lint"
ALL = sorted(p.name for p in CASES.iterdir() if (p / "expect.toml").is_file())


def _as_list(v: object) -> list[str]:
    return [] if v is None else [v] if isinstance(v, str) else list(v)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", ALL)
def test_lint_case(case: str, tables) -> None:
    base = CASES / case
    spec = tomllib.loads((base / "expect.toml").read_text())
    report = lint([base / f for f in spec["files"]], tables, driver=Version(spec["driver"]))
    got = {(Path(f.where.path).name, f.where.line, f.finding.code) for f in report.findings}
    want = {(e["file"], e["line"], e["code"]) for e in spec.get("finding", [])}
    assert got == want, [f"{f.where} {f.finding.code}: {f.finding.message}" for f in report.findings]
    for e in spec.get("finding", []):
        (f,) = [f for f in report.findings if (Path(f.where.path).name, f.where.line, f.finding.code) == (e["file"], e["line"], e["code"])]
        for needle in _as_list(e.get("message_contains")):
            assert needle in f.finding.message, f.finding.message
        for needle in _as_list(e.get("fix_contains")):
            assert needle in f.finding.fix, f.finding.fix
        assert f.finding.fix.strip() and f.finding.evidence


def test_every_lint_rule_has_a_fixture_that_fires() -> None:
    fired = set()
    for case in ALL:
        fired |= {e["code"] for e in tomllib.loads((CASES / case / "expect.toml").read_text()).get("finding", [])}
    assert {r.code for r in RULES} <= fired
    # and the checks the lint runs on facts built from the files
    assert {"DRV005", "TRC006", "CTR003", "CTR005"} <= fired


def test_every_lint_rule_is_documented() -> None:
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes)) and len({r.name for r in RULES}) == len(RULES)
    from cudadoctor.checks import BY_CODE, BY_NAME

    for r in RULES:
        assert r.code not in BY_CODE and r.name not in BY_NAME  # never a second meaning for a name
        body = r.explanation()
        for section in ("## What it checks", "## Why it matters", "## Example", "## Fix", "## References"):
            assert section in body, (r.code, section)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "containers.md").read_text()
    for r in RULES:
        assert f"`{r.code}`" in docs and r.name in docs


def test_without_a_driver_the_driver_checks_skip(tables) -> None:
    report = lint([CASES / "driver_too_old" / "Dockerfile"], tables, driver=None)
    assert not [f for f in report.findings if f.finding.code.startswith("DRV")]


def test_bad_files_are_usage_errors(tmp_path: Path, tables) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services: [unclosed")
    with pytest.raises(UsageError, match="compose.yaml: not valid YAML"):
        lint([bad], tables, driver=None)
    notcompose = tmp_path / "x.yaml"
    notcompose.write_text("a: 1\n")
    with pytest.raises(UsageError, match="no `services:` mapping"):
        lint([notcompose], tables, driver=None)
    with pytest.raises(UsageError, match="cannot read"):
        lint([tmp_path / "Dockerfile.missing"], tables, driver=None)
    odd = tmp_path / "notes.md"
    odd.write_text("hello")
    with pytest.raises(UsageError, match="not a Dockerfile"):
        lint([odd], tables, driver=None)


def _cli(*args: str, pre: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{pre}import sys; from cudadoctor.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, "lint", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_cli_exit_codes_and_json() -> None:
    ok = _cli(str(CASES / "healthy" / "Dockerfile"), str(CASES / "healthy" / "compose.yaml"), "--driver", "570.133.20")
    assert ok.returncode == 0 and "No problems found." in ok.stdout, ok.stdout + ok.stderr
    warn = _cli(str(CASES / "no_healthcheck" / "Dockerfile"), "--driver", "570.133.20", "--fail-on", "info",
                "--format", "json")
    assert warn.returncode == 1
    data = json.loads(warn.stdout)
    assert data["findings"][0]["line"] == 1 and data["findings"][0]["name"] == "no-healthcheck"
    err = _cli(str(CASES / "driver_too_old" / "Dockerfile"), "--driver", "470.256.02")
    assert err.returncode == 1 and "Dockerfile:2: error DRV005 driver-too-old-for-torch" in err.stdout
    bad = _cli("/nonexistent/Dockerfile", "--driver", "570.133.20")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "cannot read" in bad.stderr


def test_cli_without_the_extra_says_so_in_one_line() -> None:
    out = _cli(str(CASES / "healthy" / "Dockerfile"), "--driver", "570.133.20", pre="import sys; sys.modules['yaml'] = None; ")
    assert out.returncode == 2
    assert out.stderr.strip() == "cudadoctor: error: cudadoctor lint needs PyYAML (hint: pip install 'cudadoctor[lint]')"


def test_alias_bomb_is_refused(tmp_path: Path, tables) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]"
              for i in range(1, 9)]
    lines += ["services:", "  bomb:", "    image: pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime", "    command: *a8"]
    bomb = tmp_path / "compose.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match="compose.yaml: service .bomb.: a compose service expands to more than 100000 YAML nodes"):
        lint([bomb], tables, driver=None)


def test_explain_knows_the_lint_rules() -> None:
    out = subprocess.run([sys.executable, "-m", "cudadoctor", "explain", "torch-unpinned"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.startswith("# LNT003 torch-unpinned") and "## Fix" in out.stdout
