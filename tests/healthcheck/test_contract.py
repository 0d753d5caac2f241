"""The healthcheck's contract: exit 0 or 1 and nothing else, one line on stdout, the JSON shape."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from cudadoctor.commands.healthcheck import DRIVER_SHARE, main_fast
from cudadoctor.policy import driver_text
from cudadoctor.facts import DriverFacts
from tests.conftest import env_facts, env_path, without_system_driver
from tests.healthcheck.conftest import clean_env, run_healthcheck

HEALTHY = str(env_path("healthy_h100_cu128"))
NO_DRIVER = str(env_path("no_driver"))


def test_healthy_facts_exit_0_with_one_line() -> None:
    r = run_healthcheck(["--facts", HEALTHY])
    assert r.code == 0, r
    assert r.out == "healthy: 2 GPUs, driver 570.133.20, torch 2.8.0+cu128\n"
    assert r.err == ""


def test_unhealthy_facts_exit_1_naming_the_problem() -> None:
    r = run_healthcheck(["--facts", NO_DRIVER])
    assert r.code == 1
    assert len(r.out.splitlines()) == 1
    assert r.out.startswith("unhealthy: no-nvidia-driver: ")
    # container-without-gpus is information here (no NVIDIA GPU on the PCI bus): not a second reason
    assert "(+1 more)" not in r.out
    assert r.err == ""  # a finding is not a tool error: nothing on stderr


@without_system_driver
def test_this_machine_has_no_driver_so_it_is_unhealthy(cache_dir: Path, python_without_torch: str) -> None:
    # (an interpreter without torch keeps this quick; test_cache runs the real torch probe)
    r = run_healthcheck(["--format", "json", "--cache-dir", str(cache_dir), "--python", python_without_torch])
    assert r.code == 1, r
    data = r.json()
    assert data["healthy"] is False
    assert "no-nvidia-driver" in [x["name"] for x in data["reasons"]]
    assert data["summary"].startswith("unhealthy: no-nvidia-driver")
    assert data["gpus"] == 0 and data["driver"] is None


def test_json_shape() -> None:
    r = run_healthcheck(["--facts", NO_DRIVER, "--format", "json"])
    data = r.json()
    assert {"healthy", "summary", "reasons", "gpus", "driver", "torch", "cached", "seconds"} <= set(data)
    assert isinstance(data["seconds"], float) and data["seconds"] >= 0
    assert data["cached"] == {}  # replayed facts: nothing came from the cache
    for reason in data["reasons"] + data["notes"]:
        assert {"name", "severity", "message"} <= set(reason)
        assert reason["severity"] in ("error", "warning", "info")
    first = data["reasons"][0]
    assert first == {
        "name": "no-nvidia-driver", "code": "DRV001", "severity": "error", "message": first["message"],
    }
    # a warning and an info: not fatal by default
    assert [n["name"] for n in data["notes"]] == ["torch-cpu-only-build", "container-without-gpus"]
    healthy = run_healthcheck(["--facts", HEALTHY, "-f", "json"]).json()
    assert healthy["healthy"] is True and healthy["reasons"] == []
    assert (healthy["gpus"], healthy["driver"], healthy["torch"]) == (2, "570.133.20", "2.8.0+cu128")


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["extra-positional"],
        ["--format", "xml"],
        ["--format"],
        ["--timeout", "soon"],
        ["--timeout", "-1"],
        ["--timeout", "0"],
        ["--python", "/nonexistent/python3"],
        ["--facts", "/nonexistent/facts.json"],
        ["--policy", "/nonexistent/policy.toml"],
        ["--rules-dir", "/nonexistent/rules"],
    ],
)
def test_bad_input_exits_1_never_2(args: list[str]) -> None:
    r = run_healthcheck(["--facts", HEALTHY, *args] if args[0] not in ("--facts", "--format") else args)
    assert r.code == 1, r
    assert len(r.err.strip().splitlines()) == 1, r.err  # one line, no traceback
    assert r.err.startswith("cudadoctor healthcheck: error: ")
    assert r.out.startswith("unhealthy: ") and len(r.out.splitlines()) == 1


def test_bad_option_with_json_format_still_prints_json() -> None:
    r = run_healthcheck(["--format", "json", "--bogus"])
    assert r.code == 1
    data = r.json()
    assert data["healthy"] is False and data["reasons"][0]["name"] == "usage-error"


def test_help_exits_0() -> None:
    r = run_healthcheck(["--help"])
    assert r.code == 0
    assert "--policy" in r.out and "--timeout" in r.out and "--debug-modules" not in r.out


def test_options_from_environment_variables(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text("min_gpus = 4\n")
    r = run_healthcheck([], env=clean_env(CUDADOCTOR_FACTS=HEALTHY, CUDADOCTOR_FORMAT="json", CUDADOCTOR_POLICY=str(policy)))
    assert r.code == 1
    data = r.json()
    assert data["summary"] == "unhealthy: policy: 2 GPUs visible, policy requires 4"
    assert data["policy"] == str(policy)
    # `check`'s format name is accepted too (the variable is shared).
    r = run_healthcheck(["--facts", HEALTHY], env=clean_env(CUDADOCTOR_FORMAT="terminal"))
    assert r.code == 0 and r.out.startswith("healthy: ")


def test_a_crash_inside_is_unhealthy_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    code = main_fast([], facts_provider=broken, hard_exit=False)
    out, err = capsys.readouterr()
    assert code == 1
    assert out == "unhealthy: internal error: RuntimeError: boom\n"
    assert err == "cudadoctor healthcheck: error: internal error: RuntimeError: boom\n"


def test_in_process_with_a_facts_provider(capsys: pytest.CaptureFixture[str]) -> None:
    facts = env_facts("healthy_h100_cu128", {"driver.gpus[1].ecc_uncorrectable_volatile": 3})
    code = main_fast(["--format", "json"], facts_provider=lambda: facts, hard_exit=False)
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["reasons"][0]["name"] == "gpu-ecc-errors"
    assert data["summary"].startswith("unhealthy: gpu-ecc-errors: GPU 1 (")


def test_warnings_are_named_in_a_healthy_line(capsys: pytest.CaptureFixture[str]) -> None:
    facts = env_facts("healthy_h100_cu128", {"driver.gpus[0].persistence_mode": False})
    code = main_fast([], facts_provider=lambda: facts, hard_exit=False)
    assert code == 0
    assert capsys.readouterr().out == (
        "healthy: 2 GPUs, driver 570.133.20, torch 2.8.0+cu128 (warnings: persistence-mode-off)\n"
    )


def test_long_reasons_are_clipped_to_one_short_line(capsys: pytest.CaptureFixture[str]) -> None:
    # a GPU on the PCI bus that the container was not given: container-without-gpus is a second reason
    facts = env_facts("no_driver", {"host.nvidia_pci_devices": ["0000:17:00.0"]})
    main_fast([], facts_provider=lambda: facts, hard_exit=False)
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and len(line) < 260
    assert re.search(r" … \(\+\d+ more\)$", line.rstrip("\n")), line


def test_driver_text_keeps_nvidias_spelling() -> None:
    drv = env_facts("healthy_a100_cu121").driver
    assert isinstance(drv, DriverFacts)
    assert str(drv.driver_version) == "535.183.1"
    assert driver_text(drv) == "535.183.01"


#: Runs main_fast with probes.driver.start/collect wrapped, and reports on stderr how they were called.
SPY_ENTRY = """
import json, sys
from cudadoctor.probes import driver

calls = []
real_start = driver.start

def start(ctx, *, on_done=None):
    loaded = sorted(m for m in sys.modules if m.startswith(("cudadoctor", "packaging", "typer", "rich")))
    run = real_start(ctx, on_done=on_done)
    real_collect = run.collect

    def collect():
        facts = real_collect()
        calls.append({"collect": type(facts).__name__})
        return facts

    run.collect = collect
    calls.append({"start": ctx.timeout, "loaded": loaded})
    return run

driver.start = start
from cudadoctor.commands.healthcheck import main_fast
code = main_fast(sys.argv[1:], hard_exit=False)
sys.stderr.write("calls: " + json.dumps(calls) + "\\n")
sys.exit(code)
"""


def test_healthcheck_runs_the_driver_probe_that_check_runs(cache_dir: Path, python_without_torch: str) -> None:
    """healthcheck starts probes.driver's children first (before the checks are imported) and collects them once."""
    r = run_healthcheck(["--format", "json", "--timeout", "20", "--cache-dir", str(cache_dir),
                         "--python", python_without_torch], argv0=[sys.executable, "-c", SPY_ENTRY])
    assert r.code in (0, 1), r
    line = r.err.strip().splitlines()[-1]
    assert line.startswith("calls: "), r.err
    calls = json.loads(line.removeprefix("calls: "))
    assert [next(iter(c)) for c in calls] == ["start", "collect"]
    assert calls[0]["start"] == 20 * DRIVER_SHARE
    # The children start before anything heavy is imported (they run while the checks load).
    assert not {"cudadoctor.engine", "cudadoctor.checks", "cudadoctor.facts", "packaging.version"} & set(calls[0]["loaded"])
    assert calls[1]["collect"] == "DriverFacts"
    assert "gpus" in r.json()


def test_check_runs_the_same_start_collect_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    """probe_driver (what `check` registers) is start(ctx).collect()."""
    from cudadoctor.probes import PROBES, driver
    from cudadoctor.probes.base import ProbeContext

    assert PROBES["driver"] is driver.probe_driver
    seen: list[float] = []
    real_start = driver.start

    def start(ctx: ProbeContext, **kw: object) -> driver.DriverRun:
        seen.append(ctx.timeout)
        return real_start(ctx, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(driver, "start", start)
    facts = driver.probe_driver(ProbeContext(python=sys.executable, timeout=7))
    assert seen == [7] and type(facts).__name__ == "DriverFacts"


@pytest.mark.gpu
def test_on_a_real_gpu_host_nvml_is_read_live_and_the_rest_cached(cache_dir: Path) -> None:
    """On a GPU machine (pytest --gpu): GPUs and the driver are seen; the second run is all cache hits."""
    args = ["--format", "json", "--cache-dir", str(cache_dir)]
    cold = run_healthcheck(args).json()
    warm = run_healthcheck(args).json()
    assert warm["gpus"] >= 1 and warm["driver"]
    assert warm["cached"] == {"cuda_libs": True, "toolkit": True, "torch": True}
    assert (warm["healthy"], warm["gpus"]) == (cold["healthy"], cold["gpus"])
