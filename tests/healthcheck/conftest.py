"""Helpers for the healthcheck tests: run it as a process (its real contract) with a clean environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: Runs the fast entry point exactly as cli.main will (before typer is imported).
ENTRY = "import sys; from cudadoctor.commands.healthcheck import main_fast; sys.exit(main_fast(sys.argv[1:]))"


@dataclass
class Result:
    """A finished healthcheck process."""

    code: int
    out: str
    err: str
    seconds: float

    def json(self) -> dict[str, Any]:
        """stdout as the --format json object (exactly one line)."""
        lines = self.out.splitlines()
        assert len(lines) == 1, self.out
        return json.loads(lines[0])


def clean_env(**overrides: str) -> dict[str, str]:
    """Our environment without CUDADOCTOR_* settings (a developer's shell may set some)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    env.update(overrides)
    return env


def run_healthcheck(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60, argv0: list[str] | None = None
) -> Result:
    """Run the healthcheck in a fresh interpreter and return what it did."""
    start = time.monotonic()
    proc = subprocess.run(
        (argv0 or [sys.executable, "-c", ENTRY]) + args,
        capture_output=True, text=True, timeout=timeout, env=env if env is not None else clean_env(),
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """An empty cache directory for one test."""
    d = tmp_path / "cache"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def python_without_torch(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv interpreter with no torch: the torch probe answers in milliseconds instead of ~3 s."""
    import venv

    root = tmp_path_factory.mktemp("venv-no-torch")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = str(root / "bin" / "python")
    probe = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
                           capture_output=True, text=True, timeout=60)
    if probe.stdout.strip() != "True":
        pytest.skip("the base interpreter has torch installed")
    return python
