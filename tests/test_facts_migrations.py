"""factsfile's migrations: typed facts that files from an older cudadoctor lack are derived once, on decoding."""

from __future__ import annotations

import json
from typing import Any

from cudadoctor.causes import ErrorKind
from cudadoctor.facts import DriverFacts, ToolkitFacts, TorchFacts, Unavailable
from cudadoctor.factsfile import decode_area, facts_from_dict, facts_to_dict
from tests.conftest import ENVS, env_facts, env_path

OLD_TORCH_KEYS = ("import_error_causes", "cuda_unavailable_causes", "cudnn_unavailable_causes")


def _raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(env_path(name).read_text())
    return data


def test_the_fixtures_are_old_files() -> None:
    """The env fixtures predate the typed causes, so they exercise the migrations (never re-save them)."""
    for path in ENVS.glob("*.json"):
        data = json.loads(path.read_text())
        for area, keys in (("torch", OLD_TORCH_KEYS), ("toolkit", ("cuda_home_exists", "cuda_headers_searched")),
                           ("driver", ("nvml_crashed", "nvml_failed_gpus"))):
            if isinstance(data.get(area), dict) and not data[area].get("unavailable"):
                assert not set(keys) & set(data[area]), (path.name, area)


def test_torch_causes_are_read_from_the_old_error_texts() -> None:
    facts = env_facts("healthy_h100_cu128", {
        "torch.status": "import-failed",
        "torch.import_error": "OSError: libcudart.so.12: cannot open shared object file",
        "torch.cuda_unavailable_reason": "Error 804: forward compatibility was attempted on non supported HW",
        "torch.cudnn_version": {"unavailable": True, "probe": "torch", "reason": "torch.backends.cudnn.version() failed",
                                "detail": "compiled against (9, 1, 0) but found runtime version (8, 9, 2)"},
    })
    t = facts.torch
    assert isinstance(t, TorchFacts)
    assert [(c.kind, c.soname) for c in t.import_error_causes] == [(ErrorKind.LIBRARY_CANNOT_OPEN, "libcudart.so.12")]
    assert [c.code for c in t.cuda_unavailable_causes] == [804]
    assert [(c.required, c.version) for c in t.cudnn_unavailable_causes] == [("9.1.0", "8.9.2")]


def test_recorded_causes_are_kept_as_recorded() -> None:
    """A file that has the typed facts is read as it is: the migration only fills what is absent."""
    facts = env_facts("healthy_h100_cu128", {"torch.import_error": "OSError: libcudart.so.12: cannot open shared object file"})
    data = json.loads(json.dumps(facts_to_dict(facts)))
    data["torch"]["import_error_causes"] = []
    assert facts_from_dict(data).torch.import_error_causes == ()  # type: ignore[union-attr]


def test_toolkit_facts_of_an_old_file() -> None:
    tk = env_facts("healthy_a100_cu121").toolkit
    assert isinstance(tk, ToolkitFacts)
    assert tk.cuda_home_exists is True
    assert tk.cuda_headers_searched is False  # this fixture has no cuda_runtime_header: it was never searched
    gone = env_facts("healthy_a100_cu121", {
        "toolkit.cuda_home": "/nowhere",
        "toolkit.cuda_home_version": {"unavailable": True, "probe": "toolkit", "reason": "CUDA home /nowhere does not exist"},
        "toolkit.cuda_runtime_header": {"unavailable": True, "probe": "toolkit", "reason": "no cuda_runtime_api.h in ..."},
    }).toolkit
    assert isinstance(gone, ToolkitFacts)
    assert gone.cuda_home_exists is False and gone.cuda_headers_searched is True
    none = env_facts("healthy_h100_cu128").toolkit
    assert isinstance(none, ToolkitFacts) and isinstance(none.cuda_home, Unavailable)
    assert none.cuda_home_exists == none.cuda_home


def test_driver_facts_of_an_old_file() -> None:
    drv = env_facts("healthy_h100_cu128").driver
    assert isinstance(drv, DriverFacts) and drv.nvml_crashed is False and drv.nvml_failed_gpus == ()
    crashed = env_facts("healthy_h100_cu128", {
        "driver.nvml_status": "other", "driver.nvml_error": "the NVML child was killed by SIGSEGV in nvmlDeviceGetName (GPU 1)",
    }).driver
    assert isinstance(crashed, DriverFacts) and crashed.nvml_crashed is True and crashed.nvml_failed_gpus == (1,)
    timeout = env_facts("healthy_h100_cu128", {
        "driver.nvml_status": "timeout", "driver.nvml_error": "the NVML child was killed by the watchdog",
    }).driver
    assert isinstance(timeout, DriverFacts) and timeout.nvml_crashed is False  # only status "other" is a crash


def test_one_area_decoded_alone_is_migrated_too() -> None:
    """The healthcheck cache decodes areas one by one: they get the same migration."""
    raw = _raw("healthy_h100_cu128")["torch"]
    raw["import_error"] = "ImportError: libc.so.6: version `GLIBC_2.28' not found"
    t = decode_area("torch", raw)
    assert isinstance(t, TorchFacts) and [c.kind for c in t.import_error_causes] == [ErrorKind.GLIBC_TOO_OLD]
