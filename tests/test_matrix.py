"""Real torch/driver/GPU combinations (tests/fixtures/matrix.toml) get the published verdict and fix.

Each case builds one machine's Facts from the healthy A100 fixture, runs the driver and
architecture checks through the engine, and compares the findings with the expectation written
from NVIDIA's and PyTorch's published matrices. Also: ``--rules-dir`` changes a conclusion and is
reported, and a bad table under it is a one-line error with exit code 2.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from cudadoctor.archs import Coverage, cc_covered_by
from cudadoctor.checks.base import Status
from cudadoctor.engine import evaluate
from cudadoctor.facts import Facts
from cudadoctor.factsfile import save_facts
from cudadoctor.remedies import variant_name, variant_runs_on_driver
from cudadoctor.tables import RuleTables, default_rules_dir
from tests.conftest import FIXTURES, env_facts, env_path
from tests.test_cli import run_cli

MATRIX = FIXTURES / "matrix.toml"

#: verdict label -> the catalog name of the finding that expresses it
VERDICTS = {
    "minor-compat": "driver-minor-compat-only",
    "driver-too-old": "driver-too-old-for-torch",
    "arch-missing": "gpu-arch-not-in-torch-build",
    "ptx-only": "gpu-arch-ptx-jit-only",
}

#: the checks whose verdicts the matrix states, plus rules-outdated (which must stay quiet: every
#: combination is one the tables know)
SELECT = ("DRV005", "DRV006", "TRC004", "TRC005", "RUL001")

_PIP = re.compile(r"pip install torch==(?P<version>\S+) .*?--index-url https://download\.pytorch\.org/whl/(?P<variant>cu\d+)")


@dataclass(frozen=True)
class Case:
    """One row of matrix.toml."""

    torch: str
    cuda: str
    driver: str
    driver_cuda: str
    gpu: str
    cc: str
    short: str
    expect: tuple[str, ...]
    why: str
    source: str
    python: str = "3.10.12"
    arch: Any = "table"
    fix_contains: tuple[str, ...] = ()
    fix_excludes: tuple[str, ...] = ()
    message_contains: tuple[str, ...] = ()
    severity: Any = None

    @property
    def id(self) -> str:
        """Readable test id: 2.5.1+cu124/470.256.02/A100."""
        return f"{self.torch}/{self.driver}/{self.short}"

    @property
    def names(self) -> set[str]:
        """The finding names the expectation implies."""
        return {VERDICTS[v] for v in self.expect if v != "ok"}


def _load_cases() -> list[Case]:
    data = tomllib.loads(MATRIX.read_text(encoding="utf-8"))
    cases = []
    for row in data["case"]:
        row = dict(row)
        for key in ("expect", "fix_contains", "fix_excludes", "message_contains"):
            if key in row:
                row[key] = tuple(row[key])
        cases.append(Case(**row))
    return cases


CASES = _load_cases()


def _arch_list(case: Case, tables: RuleTables) -> list[str]:
    """torch.cuda.get_arch_list() for the case: the tables' row, or the case's explicit list."""
    if case.arch != "table":
        return list(case.arch)
    var = tables.torch.variant(Version(case.torch), variant_name(Version(case.cuda)))
    assert var is not None, f"rules/torch.toml has no row for {case.torch}"
    return [f"sm_{v.major}{v.minor}" for v in var.sass] + [f"compute_{v.major}{v.minor}" for v in var.ptx]


def case_facts(case: Case, tables: RuleTables) -> Facts:
    """The machine of *case*, built on the healthy A100 fixture."""
    usable = "driver-too-old" not in case.expect
    found = Version(case.driver_cuda)
    reason = "" if usable else (
        f"The NVIDIA driver on your system is too old (found version {found.major * 1000 + found.minor * 10}). "
        "Please update your GPU driver by downloading and installing a new version from the URL: "
        "http://www.nvidia.com/Download/index.aspx"
    )
    overrides: dict[str, Any] = {
        "host.python_version": case.python,
        "torch.python_version": case.python,
        "torch.version": case.torch,
        "torch.cuda_version": case.cuda,
        # NOTE: torch.cuda.get_arch_list() is [] when CUDA cannot initialise, and torch then sees
        # no devices: the checks must fall back to the tables and NVML, as on a real machine.
        "torch.arch_list": _arch_list(case, tables) if usable else [],
        "torch.cuda_available": usable,
        "torch.cuda_unavailable_reason": reason,
        "torch.device_count": 1 if usable else 0,
        "torch.devices": [{"index": 0, "name": case.gpu, "capability": case.cc}] if usable else [],
        "torch.distributions": [{"name": "torch", "version": Version(case.torch).public, "requires": []}],
        "driver.driver_version": case.driver,
        "driver.kernel_module_version": case.driver,
        "driver.libcuda_version": case.driver,
        "driver.cuda_driver_version": case.driver_cuda,
        "driver.libcuda_cuda_version": case.driver_cuda,
        "driver.proc_version_text": f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {case.driver}",
        "driver.gpus[0].name": case.gpu,
        "driver.gpus[0].compute_capability": case.cc,
    }
    return env_facts("healthy_a100_cu121", overrides)


# ---------------------------------------------------------------------------- the matrix


def test_matrix_is_large_and_mixed() -> None:
    assert len(CASES) >= 30
    healthy = [c for c in CASES if c.expect == ("ok",)]
    assert len(healthy) >= 10 and len(CASES) - len(healthy) >= 20
    seen = {v for c in CASES for v in c.expect}
    assert seen == {"ok", *VERDICTS}
    assert len({c.id for c in CASES}) == len(CASES), "duplicate case ids"
    for c in CASES:
        assert set(c.expect) <= {"ok", *VERDICTS}, c.id
        assert c.why and all(u.startswith("https://") for u in c.source.split()), c.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_facts_agree_with_the_tables(case: Case, tables: RuleTables) -> None:
    """The case itself is consistent with the tables: GPU capability and the driver's CUDA."""
    model = tables.gpus.lookup(case.gpu)
    assert model is not None and model.cc == Version(case.cc), (case.gpu, model)
    assert tables.cuda_driver.max_cuda_for_driver(Version(case.driver)) == Version(case.driver_cuda)
    if case.arch == "table":
        rel = tables.torch.release(Version(case.torch))
        assert rel is not None and variant_name(Version(case.cuda)) in rel.variants, case.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matrix_case(case: Case, tables: RuleTables) -> None:
    report = evaluate(case_facts(case, tables), tables, select=SELECT)
    assert not report.errors, [o.reason for o in report.errors]
    findings = report.findings
    assert {f.name for f in findings} == case.names, "\n\n".join(f"{f.name}: {f.message}" for f in findings)
    for name, severity in (case.severity or {}).items():
        assert [f.severity.value for f in findings if f.name == name] == [severity], name

    fixes = "\n".join(f.fix for f in findings)
    messages = "\n".join(f.message for f in findings)
    for needle in case.fix_contains:
        assert needle in fixes, f"{needle!r} not in fixes:\n{fixes}"
    for needle in case.fix_excludes:
        assert needle not in fixes, f"{needle!r} in fixes:\n{fixes}"
    for needle in case.message_contains:
        assert needle in messages, f"{needle!r} not in messages:\n{messages}"

    # NOTE: the rule: a suggested wheel is always one the tables list, it runs on this
    # driver (at least under minor-version compatibility) and covers this GPU, and it supports
    # this Python.
    for m in _PIP.finditer(fixes):
        version, name = Version(m["version"]), m["variant"]
        rel = tables.torch.release(version)
        var = tables.torch.variant(version, name)
        assert rel is not None and var is not None and name in rel.variants, m.group(0)
        assert version == rel.latest, m.group(0)
        assert variant_runs_on_driver(tables, var, Version(case.driver), full=False), m.group(0)
        assert cc_covered_by(Version(case.cc), var.sass, var.ptx) is not Coverage.NONE, m.group(0)
        py = Version(case.python)
        assert rel.python_min <= Version(f"{py.major}.{py.minor}") <= rel.python_max, m.group(0)


def test_healthy_cases_pass_every_selected_check(tables: RuleTables) -> None:
    """A healthy row is not 'ok' by skipping: every selected check ran and passed."""
    for case in (c for c in CASES if c.expect == ("ok",)):
        report = evaluate(case_facts(case, tables), tables, select=SELECT)
        statuses = {o.code: o.status for o in report.outcomes}
        assert statuses["DRV005"] is Status.PASSED and statuses["DRV006"] is Status.PASSED, case.id
        assert statuses["TRC004"] is Status.PASSED and statuses["TRC005"] is Status.PASSED, case.id


# ---------------------------------------------------------------------------- fixes the matrix forced
# Two defects this matrix exposed, now fixed: driver versions spelled as NVIDIA does, and no
# driver upgrade suggested past the last branch a GPU supports (Kepler R470, Maxwell-Volta R580).


def test_driver_versions_are_spelled_as_nvidia_does(tables: RuleTables) -> None:
    for case in CASES:
        wrong = str(Version(case.driver))
        if wrong == case.driver:
            continue
        for f in evaluate(case_facts(case, tables), tables, select=SELECT).findings:
            assert not re.search(rf"{re.escape(wrong)}(?!\d)", f.message + f.fix), (case.id, f.code, f.fix)


def test_kepler_is_never_told_to_upgrade_past_r470(tables: RuleTables) -> None:
    kepler = [c for c in CASES if c.cc == "3.7" and {"minor-compat", "driver-too-old"} & set(c.expect)]
    assert kepler
    for case in kepler:
        for f in evaluate(case_facts(case, tables), tables, select=("DRV005", "DRV006")).findings:
            for branch in re.findall(r"upgrade the driver to >= (\d+)\.", f.fix):
                assert int(branch) <= 470, (case.id, f.fix)


# ---------------------------------------------------------------------------- --rules-dir


def _facts_file(tmp_path: Path, case_id: str, tables: RuleTables) -> Path:
    """A saved-facts file of one matrix case, for the CLI's --facts."""
    case = next(c for c in CASES if c.id == case_id)
    path = tmp_path / "facts.json"
    save_facts(case_facts(case, tables), path)
    return path


def _rules_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "newer-rules"
    shutil.copytree(default_rules_dir(), dest)
    return dest


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _set_updated(path: Path, date: str) -> None:
    """Set a table's `updated` date, whatever it is now (tables are re-dated as they change)."""
    import re

    text, n = re.subn(r'(?m)^updated = "[0-9-]+"$', f'updated = "{date}"', path.read_text(encoding="utf-8"), count=1)
    assert n == 1, path
    path.write_text(text, encoding="utf-8")


def test_rules_dir_changes_the_conclusion_and_is_reported(tmp_path: Path, capsys, tables: RuleTables) -> None:
    facts = _facts_file(tmp_path, "2.5.1+cu124/535.183.01/A100", tables)
    args = ["check", "--facts", str(facts), "--format", "json", "--select", "DRV005,DRV006"]
    _, out, _ = run_cli(args, capsys)
    shipped = json.loads(out)
    assert [f["name"] for f in shipped["findings"]] == ["driver-minor-compat-only"]
    assert Path(shipped["rules_dir"]).resolve() == default_rules_dir().resolve()

    # A newer copy of the tables in which CUDA 12.4's GA driver were a 535 one: the same
    # machine is then fully supported.
    rules = _rules_copy(tmp_path)
    path = rules / "cuda_driver.toml"
    _replace(path, 'version = "12.4"\nmin_driver = "550.54.14"', 'version = "12.4"\nmin_driver = "535.104.05"')
    _set_updated(path, "2027-02-01")
    code, out, _ = run_cli([*args, "--rules-dir", str(rules)], capsys)
    newer = json.loads(out)
    assert code == 0 and newer["findings"] == []
    assert sorted(newer["passed"]) == ["DRV005", "DRV006"]
    assert newer["rules_dir"] == str(rules)
    assert newer["tables"]["cuda_driver"] == {"schema": 1, "updated": "2027-02-01", "path": str(path)}
    assert newer["tables"]["torch"]["path"] == str(rules / "torch.toml")

    # The verbose terminal report names the tables and their dates too.
    code, out, _ = run_cli(
        ["check", "--facts", str(facts), "--select", "DRV006", "--rules-dir", str(rules), "--verbose"], capsys
    )
    assert "cuda_driver (2027-02-01)" in out


def test_bad_table_under_rules_dir_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    rules = _rules_copy(tmp_path)
    path = rules / "cuda_driver.toml"
    _replace(path, 'min_driver = "450.51.05"', 'min_driver = "45O.51.05"')
    code, out, err = run_cli(
        ["check", "--facts", str(env_path("healthy_a100_cu121")), "--rules-dir", str(rules)], capsys
    )
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"cudadoctor: error: {path}: cuda[3].min_driver: '45O.51.05' is not a version"]
    assert "Traceback" not in err

    rules2 = _rules_copy(tmp_path / "b")
    torch_toml = rules2 / "torch.toml"
    torch_toml.write_text(
        torch_toml.read_text(encoding="utf-8").replace('"nvidia-cudnn-cu12==9.1.0.70"', '"nvidia-cudnn-cu12=9.1.0.70"'),
        encoding="utf-8",
    )
    code, _, err = run_cli(["rules", "--rules-dir", str(rules2)], capsys)
    assert code == 2
    line, = err.strip().splitlines()
    assert re.fullmatch(
        rf"cudadoctor: error: {re.escape(str(rules2 / 'torch.toml'))}: variant\[\d+\]\.pins: "
        r"'nvidia-cudnn-cu12=9\.1\.0\.70' is not a requirement like 'nvidia-cudnn-cu12==9\.1\.0\.70'",
        line,
    ), line


def test_rules_dir_from_the_environment(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = _rules_copy(tmp_path)
    _set_updated(rules / "torch.toml", "2027-03-03")
    monkeypatch.setenv("CUDADOCTOR_RULES_DIR", str(rules))
    code, out, _ = run_cli(["check", "--facts", str(env_path("healthy_a100_cu121")), "--format", "json"], capsys)
    data = json.loads(out)
    assert data["rules_dir"] == str(rules)
    assert data["tables"]["torch"]["updated"] == "2027-03-03"
