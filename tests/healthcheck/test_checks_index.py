"""commands/healthcheck_checks.py: the cached index finds exactly the fast checks, and a stale or
damaged index falls back to importing every check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cudadoctor import keyed_entries
from cudadoctor.checks import CHECKS
from cudadoctor.commands import healthcheck_checks as hc


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    d = tmp_path / "cache"
    d.mkdir(mode=0o700)
    return {"CUDADOCTOR_CACHE_DIR": str(d)}


def test_index_gives_the_same_checks_as_the_registry(env: dict[str, str]) -> None:
    cold = hc.health_checks(env)
    warm = hc.health_checks(env)
    assert not cold.from_index and warm.from_index
    for found in (cold, warm):
        assert found.fast == tuple(c for c in CHECKS if c.fast)
        assert found.names == tuple(c.name for c in CHECKS) and found.codes == tuple(c.code for c in CHECKS)


def test_a_changed_source_makes_a_new_index(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    hc.health_checks(env)
    real = hc.index_key

    def changed() -> dict[str, object]:
        key = real()
        key["sources"] = [*key["sources"], ["checks/new_family.py", [1, 2, 3, 4]]]  # type: ignore[list-item]
        return key

    monkeypatch.setattr(hc, "index_key", changed)
    assert not hc.health_checks(env).from_index


@pytest.mark.parametrize("damage", [
    lambda rows: rows[:-1] + [["cudadoctor.checks.nowhere", "Gone", "XXX001", "gone", True]],
    lambda rows: [[m, q, c + "X", n, f] for m, q, c, n, f in rows],
    lambda rows: "garbage",
    lambda rows: [],
])
def test_a_damaged_index_falls_back(env: dict[str, str], damage) -> None:  # type: ignore[no-untyped-def]
    hc.health_checks(env)
    key = hc.index_key()
    path = Path(keyed_entries.entry_path(env["CUDADOCTOR_CACHE_DIR"], "checks", key))
    data = json.loads(path.read_text())
    data["payload"]["checks"] = damage(data["payload"]["checks"])
    path.write_text(json.dumps(data))
    found = hc.health_checks(env)
    assert not found.from_index and found.fast == tuple(c for c in CHECKS if c.fast)


def test_no_cache_directory_imports_every_check(tmp_path: Path) -> None:
    found = hc.health_checks({"CUDADOCTOR_CACHE_DIR": str(tmp_path / "missing")})
    assert not found.from_index and found.fast == tuple(c for c in CHECKS if c.fast)
