"""Shared fixtures: facts environments as data, rule tables, the --gpu option."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cudadoctor.facts import Facts
from cudadoctor.factsfile import facts_from_dict, set_path
from cudadoctor.tables import RuleTables, load_tables

FIXTURES = Path(__file__).parent / "fixtures"
ENVS = FIXTURES / "envs"


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
