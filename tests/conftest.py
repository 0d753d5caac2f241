"""Shared fixtures: facts environments as data, rule tables, the --gpu option."""

from __future__ import annotations

import ctypes.util
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from cudadoctor.facts import Facts
from cudadoctor.factsfile import facts_from_dict, set_path
from cudadoctor.tables import RuleTables, load_tables

FIXTURES = Path(__file__).parent / "fixtures"
ENVS = FIXTURES / "envs"


@cache
def system_driver() -> str:
    """Why this machine's own NVIDIA driver would be seen by a test ("" on a machine without one).

    The stubs are found through LD_LIBRARY_PATH, but a library a stub directory lacks is still
    found in the loader cache, and /proc/driver/nvidia/version cannot be faked for a subprocess:
    tests that describe a driverless host are only meaningful where there is none.
    """
    if Path("/proc/driver/nvidia/version").exists():
        return "the NVIDIA kernel module is loaded (/proc/driver/nvidia/version exists)"
    for name in ("nvidia-ml", "cuda"):
        if ctypes.util.find_library(name):
            return f"lib{name} is installed: the loader finds it where a test expects none"
    return ""


#: For tests that describe a machine without an NVIDIA driver (this CI machine); skipped, with the
#: reason, on a GPU host.
without_system_driver = pytest.mark.skipif(
    bool(system_driver()), reason=f"describes a host without an NVIDIA driver, but {system_driver()}")


def env_path(name: str) -> Path:
    """Path of a saved-facts environment fixture."""
    return ENVS / f"{name}.json"


def env_facts(name: str, overrides: dict[str, Any] | None = None) -> Facts:
    """Load environment *name*, with dotted-path overrides applied to its JSON before decoding."""
    data = json.loads(env_path(name).read_text())
    for path, value in (overrides or {}).items():
        set_path(data, path, value)
    return facts_from_dict(data, origin=name)


@pytest.fixture(scope="session")
def tables() -> RuleTables:
    """The shipped rule tables."""
    return load_tables()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--gpu", action="store_true", default=False, help="run tests that need a real NVIDIA GPU")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--gpu"):
        return
    skip = pytest.mark.skip(reason="needs a real GPU: run with --gpu")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _private_facts_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own slow-facts cache (probes/cached.py): no test sees another's entries,
    and none writes to the developer's ~/.cache. XDG_CACHE_HOME survives the helpers that strip
    CUDADOCTOR_* variables from a child's environment."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.delenv("CUDADOCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("CUDADOCTOR_FRESH", raising=False)
