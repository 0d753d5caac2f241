"""The facts codec: round trips, validation errors naming the JSON path, schema versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from cudadoctor.errors import FactsFileError
from cudadoctor.facts import FACTS_SCHEMA_VERSION, Unavailable
from cudadoctor.factsfile import facts_from_dict, facts_to_dict, load_facts, save_facts, set_path
from tests.conftest import ENVS, env_facts


@pytest.mark.parametrize("path", sorted(ENVS.glob("*.json")), ids=lambda p: p.stem)
def test_every_env_fixture_round_trips(path: Path, tmp_path: Path) -> None:
    facts = load_facts(path)
    out = tmp_path / "f.json"
    save_facts(facts, out)
    assert load_facts(out) == facts


def test_values_are_typed() -> None:
    facts = env_facts("healthy_h100_cu128")
    assert facts.driver.driver_version == Version("570.133.20")
    assert facts.driver.gpus[1].compute_capability == Version("9.0")
    assert facts.container.memory_limit_bytes == "unlimited"
    assert isinstance(facts.toolkit.nvcc_version, Unavailable)
    assert not facts.toolkit.nvcc_version  # Unavailable is never truthy


def test_override_makes_an_area_unavailable() -> None:
    facts = env_facts("healthy_h100_cu128", {"driver": {"unavailable": True, "probe": "driver", "reason": "boom"}})
    assert isinstance(facts.driver, Unavailable)
    assert facts.driver.reason == "boom"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: set_path(d, "driver.driver_version", "55O.54"), "driver.driver_version: '55O.54' is not a version"),
        (lambda d: set_path(d, "driver.gpus[0].memory_total_mib", "lots"), "driver.gpus[0].memory_total_mib: expected an integer"),
        (lambda d: d["torch"].pop("status"), "torch.status: missing"),
        (lambda d: set_path(d, "container.memory_limit_bytes", "huge"), "container.memory_limit_bytes"),
        (lambda d: set_path(d, "schema_version", FACTS_SCHEMA_VERSION + 1), "written by a newer cudadoctor"),
        (lambda d: set_path(d, "kind", "something-else"), "not a cudadoctor facts file"),
    ],
)
def test_bad_values_name_their_path(mutate, message: str) -> None:
    data = facts_to_dict(env_facts("healthy_h100_cu128"))
    mutate(data)
    with pytest.raises(FactsFileError) as exc:
        facts_from_dict(data, origin="x.json")
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_load_errors_are_one_line(tmp_path: Path) -> None:
    for content, needle in [(b"{not json", "not valid JSON"), (b"\xff\xfe\x00bin", "not a text file"), (b"[]", "expected a JSON object")]:
        p = tmp_path / "bad.json"
        p.write_bytes(content)
        with pytest.raises(FactsFileError, match=needle):
            load_facts(p)
    with pytest.raises(FactsFileError, match="cannot read"):
        load_facts(tmp_path / "missing.json")


def test_unknown_keys_are_ignored_for_forward_compatibility() -> None:
    data = facts_to_dict(env_facts("no_driver"))
    data["driver"]["field_from_the_future"] = 1
    data["new_area"] = {}
    assert facts_from_dict(data).driver.nvml_status == "library-not-found"


def test_saved_file_is_json_with_kind(tmp_path: Path) -> None:
    out = tmp_path / "f.json"
    save_facts(env_facts("no_driver"), out)
    data = json.loads(out.read_text())
    assert data["kind"] == "cudadoctor-facts"
    assert data["schema_version"] == FACTS_SCHEMA_VERSION
