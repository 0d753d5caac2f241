"""table_cache.py: parsed rule tables re-used only while every table file is unchanged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cudadoctor import table_cache, tables
from cudadoctor.errors import RuleTableError


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "rules"
    shutil.copytree(tables.default_rules_dir(), copy)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("CUDADOCTOR_CACHE_DIR", str(cache))
    return copy


def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count tomllib parses made by tables._load."""
    calls: list[int] = []
    real = tables.tomllib.loads

    def counting(text: str) -> object:
        calls.append(1)
        return real(text)

    monkeypatch.setattr(tables.tomllib, "loads", counting)
    return calls


def test_second_load_uses_the_cache_and_is_equal(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = parses(monkeypatch)
    first = tables._load(rules)
    assert len(calls) == len(tables.TABLE_FILES)
    second = tables._load(rules)
    assert len(calls) == len(tables.TABLE_FILES)  # no parse the second time
    assert second == first


def test_an_edited_table_is_parsed_again(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = parses(monkeypatch)
    tables._load(rules)
    path = rules / "cudnn.toml"
    path.write_text(path.read_text() + "\n# edited\n")
    tables._load(rules)
    assert len(calls) == 2 * len(tables.TABLE_FILES)


def test_a_broken_table_is_reported_with_or_without_a_cache(rules: Path) -> None:
    tables._load(rules)
    path = rules / "gpus.toml"
    st = path.stat()
    path.write_text("this is = = not toml")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: the size, inode or ctime still differ
    with pytest.raises(RuleTableError, match="not valid TOML"):
        tables._load(rules)


def test_fresh_bypasses(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables._load(rules)
    calls = parses(monkeypatch)
    monkeypatch.setenv("CUDADOCTOR_FRESH", "1")
    tables._load(rules)
    assert len(calls) == len(tables.TABLE_FILES)


def test_documents_json_cannot_carry_are_not_stored() -> None:
    import datetime

    assert not table_cache._jsonable({"updated": datetime.date(2026, 1, 1)})
    assert not table_cache._jsonable({"x": float("nan")})
    assert table_cache._jsonable({"a": [1, "b", True, 1.5, {"c": None}]}) is False  # None is not TOML
    assert table_cache._jsonable({"a": [1, "b", True, 1.5, {"c": "d"}]})
