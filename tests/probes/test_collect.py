"""collect_facts: probes run concurrently, failures and overruns become Unavailable facts."""

from __future__ import annotations

import threading
import time

from cudadoctor.facts import Unavailable
from cudadoctor.probes import PROBES, collect_facts
from cudadoctor.probes.base import ProbeContext, run_probe

CTX = ProbeContext(python="/usr/bin/python3", timeout=5)


def test_registry_covers_every_area() -> None:
    # every always-probed area, plus the optional areas `check` also probes (Jupyter kernels, the SSH session)
    assert set(PROBES) == {"host", "env", "container", "driver", "cuda_libs", "toolkit", "torch", "jupyter", "session"}


def test_collect_facts_fills_the_optional_areas_it_probed() -> None:
    from cudadoctor.facts import JupyterFacts, SessionFacts
    from cudadoctor.probes import collect_facts
    from cudadoctor.probes.jupyter import probe_jupyter
    from cudadoctor.probes.session import probe_session

    facts = collect_facts(CTX, probes={"jupyter": probe_jupyter, "session": probe_session})
    assert isinstance(facts.jupyter, JupyterFacts) and isinstance(facts.session, SessionFacts)
    plain = collect_facts(CTX, probes={})
    assert "not recorded" in plain.jupyter.reason  # type: ignore[union-attr]


def test_a_raising_probe_becomes_unavailable_naming_it() -> None:
    def boom(ctx: ProbeContext) -> object:
        raise PermissionError("/proc/driver/nvidia/version: Permission denied")

    value, seconds = run_probe("driver", boom, CTX)
    assert isinstance(value, Unavailable)
    assert value.probe == "driver"
    assert "PermissionError" in value.reason and "Permission denied" in value.reason
    assert "Traceback" in value.detail
    assert seconds >= 0


def test_probes_run_concurrently_and_a_hung_probe_hits_the_deadline() -> None:
    release = threading.Event()
    started = []

    def slow(name: str):
        def probe(ctx: ProbeContext) -> Unavailable:
            started.append(name)
            time.sleep(0.3)
            return Unavailable(probe=name, reason="slow but done")
        return probe

    def hang(ctx: ProbeContext) -> object:
        release.wait(10)
        return None

    probes = {name: slow(name) for name in ("host", "env", "container", "cuda_libs", "toolkit", "torch")}
    probes["driver"] = hang
    t0 = time.monotonic()
    facts = collect_facts(CTX, deadline=1.0, probes=probes)
    elapsed = time.monotonic() - t0
    release.set()
    assert elapsed < 1.8, "probes must run concurrently and the deadline must bound the wait"
    assert isinstance(facts.driver, Unavailable) and "deadline" in facts.driver.reason
    assert facts.host.reason == "slow but done"
    assert facts.probe_seconds["driver"] == 1.0


def test_missing_probe_is_reported_not_run() -> None:
    facts = collect_facts(CTX, deadline=5, probes={})
    assert isinstance(facts.torch, Unavailable) and "not run" in facts.torch.reason
