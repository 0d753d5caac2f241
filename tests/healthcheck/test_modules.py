"""The healthcheck must stay light: no typer, rich, pydantic or torch in its process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import cudadoctor
from tests.conftest import env_path, system_driver
from tests.healthcheck.conftest import Result, clean_env, run_healthcheck

#: Modules whose import would blow the start-up budget (or, for torch, break the design).
FORBIDDEN = ("typer", "rich", "pydantic", "torch", "click")


def modules_of(r: Result) -> set[str]:
    """The module names the process reported with --debug-modules (last stderr line)."""
    line = r.err.strip().splitlines()[-1]
    assert line.startswith("modules: "), r.err
    return set(json.loads(line.removeprefix("modules: ")))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)


def test_main_fast_imports_nothing_heavy_when_probing(cache_dir: Path, python_without_torch: str) -> None:
    r = run_healthcheck(["--debug-modules", "--cache-dir", str(cache_dir), "--python", python_without_torch])
    assert r.code == 1  # no driver here
    modules = modules_of(r)
    assert "cudadoctor.engine" in modules  # the flag really lists this process's modules
    assert heavy(modules) == []


def test_main_fast_imports_nothing_heavy_with_json_and_replay() -> None:
    r = run_healthcheck(["--debug-modules", "--format", "json", "--facts", str(env_path("healthy_h100_cu128"))])
    assert r.code == 0
    assert heavy(modules_of(r)) == []


def _wired() -> bool:
    """Whether `cudadoctor healthcheck` reaches main_fast before typer is imported (the lead's change)."""
    root = Path(cudadoctor.__file__).parent
    return any("main_fast" in (root / name).read_text(encoding="utf-8") for name in ("__main__.py", "cli.py"))


@pytest.mark.skipif(not _wired(), reason="cli/__main__ does not route `healthcheck` to main_fast yet")
def test_python_m_cudadoctor_healthcheck_is_light(cache_dir: Path) -> None:
    r = run_healthcheck(
        ["healthcheck", "--debug-modules", "--cache-dir", str(cache_dir)],
        argv0=[sys.executable, "-m", "cudadoctor"],
    )
    assert r.code in (0, 1), r
    if not system_driver():
        assert r.code == 1 and r.out.startswith("unhealthy: no-nvidia-driver"), r
    assert heavy(modules_of(r)) == []


def test_cli_lists_healthcheck_and_keeps_the_contract() -> None:
    """Through typer (before the fast path is wired, or via `cudadoctor --help`) exit codes are still 0/1."""
    r = run_healthcheck(["--help"], argv0=[sys.executable, "-m", "cudadoctor"])
    assert r.code == 0 and "healthcheck" in r.out
    r = run_healthcheck(["healthcheck", "--no-such-option"], argv0=[sys.executable, "-m", "cudadoctor"])
    assert r.code == 1 and r.out.startswith("unhealthy: bad usage")
    r = run_healthcheck(["healthcheck", "--facts", str(env_path("healthy_h100_cu128"))],
                        argv0=[sys.executable, "-m", "cudadoctor"])
    assert r.code == 0 and r.out == "healthy: 2 GPUs, driver 570.133.20, torch 2.8.0+cu128\n"
    r = run_healthcheck(["healthcheck", "--help"], argv0=[sys.executable, "-m", "cudadoctor"])
    assert r.code == 0 and "--policy" in r.out


#: What a warm healthcheck must not import either (issue 13): the triage and bench packages, the
#: optional fact areas, packaging's requirement and tag machinery, and the checks that are not fast.
NOT_WHEN_WARM = (
    "cudadoctor.triage", "cudadoctor.bench", "cudadoctor.facts_bench", "cudadoctor.facts_ranks",
    "cudadoctor.facts_drift", "cudadoctor.checks.bench", "cudadoctor.checks.drift", "cudadoctor.gating.checks",
    "packaging.utils", "packaging.requirements", "packaging.tags", "cudadoctor.probes.torch_build",
    "cudadoctor.probes.cuda_libs", "cudadoctor.probes.toolkit",
)


def test_a_warm_healthcheck_imports_only_what_it_runs(cache_dir: Path, python_without_torch: str) -> None:
    args = ["--debug-modules", "--cache-dir", str(cache_dir), "--python", python_without_torch]
    env_dir = {"CUDADOCTOR_CACHE_DIR": str(cache_dir)}  # the check index and the tables share the directory
    run_healthcheck(args, env=clean_env(**env_dir))  # cold: probes, indexes, parses
    r = run_healthcheck(args, env=clean_env(**env_dir))
    modules = modules_of(r)
    assert "cudadoctor.engine" in modules
    assert sorted(m for m in modules if m.startswith(NOT_WHEN_WARM)) == []
    assert heavy(modules) == []
