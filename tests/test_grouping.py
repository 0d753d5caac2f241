"""Grouping (issue 12): a root cause leads, its consequences are listed under it, no fix is given twice."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

from cudadoctor.checks.base import Check, Finding, Severity
from cudadoctor.engine import evaluate, link_consequences
from cudadoctor.facts import Facts
from cudadoctor.render import json_report, markdown, terminal
from tests.conftest import env_facts


class _Root(Check):
    """A root cause.

    ## What it checks
    Nothing.
    """

    code = "TST101"
    name = "test-root"
    severity = Severity.WARNING

    def evaluate(self, facts: Facts, tables) -> Iterator[Finding]:
        yield self.finding(message="root", evidence={}, fix="do the one thing")


class _Consequence(Check):
    """What follows from the root.

    ## What it checks
    Nothing.
    """

    code = "TST002"  # NOTE: sorts before the root, so grouping (not the code order) must put it after
    name = "test-consequence"
    severity = Severity.ERROR
    follows_from = ("test-root",)

    def evaluate(self, facts: Facts, tables) -> Iterator[Finding]:
        yield self.finding(message="consequence", evidence={}, fix="do the one thing")


class _Alone(Check):
    """Unrelated.

    ## What it checks
    Nothing.
    """

    code = "TST003"
    name = "test-alone"
    severity = Severity.INFO
    follows_from = ("test-absent",)

    def evaluate(self, facts: Facts, tables) -> Iterator[Finding]:
        yield self.finding(message="alone", evidence={}, fix="something else")


FAKE = (_Root, _Consequence, _Alone)


def _report(tables):
    return evaluate(env_facts("healthy_a100_cu121"), tables, checks=FAKE)


def test_consequence_is_linked_to_its_root_and_counts_stay_by_severity(tables) -> None:
    report = _report(tables)
    by_name = {f.name: f for f in report.findings}
    assert by_name["test-consequence"].caused_by == "test-root"
    assert by_name["test-root"].caused_by is None
    assert by_name["test-alone"].caused_by is None  # its root is not in the report
    # NOTE: grouping is display: the error still counts and still decides the exit code
    assert report.count(Severity.ERROR) == 1 and report.verdict == "not-ready" and report.exit_code() == 1
    assert [f.name for f in report.findings][0] == "test-consequence"  # worst first, as before
    assert [f.name for f in report.ordered_findings()] == ["test-root", "test-consequence", "test-alone"]


def test_every_format_leads_with_the_root_and_gives_the_fix_once(tables) -> None:
    report = _report(tables)
    data = json.loads(json_report.render(report))
    assert [f["name"] for f in data["findings"]] == ["test-root", "test-consequence", "test-alone"]
    assert data["findings"][1]["caused_by"] == "test-root"
    assert data["findings"][1]["same_fix_as"] == "test-root" and "same_fix_as" not in data["findings"][0]
    text = terminal.render(report, width=100)
    assert text.index("test-root") < text.index("↳ consequence of test-root") < text.index("TST002 test-consequence")
    assert text.count("do the one thing") == 1 and "same fix as test-root (above)" in text
    md = markdown.render(report)
    assert "↳ `test-consequence` (consequence of `test-root`)" in md
    assert md.count("do the one thing") == 1 and "same fix as `test-root`" in md


def test_checks_naming_each_other_are_not_linked(tables) -> None:
    class _A(_Root):
        follows_from = ("test-consequence",)

    outcomes = evaluate(env_facts("healthy_a100_cu121"), tables, checks=(_A, _Consequence)).outcomes
    assert all(f.caused_by is None for o in link_consequences(outcomes, (_A, _Consequence)) for f in o.findings)


def test_container_without_gpus_leads_the_no_driver_host(tables) -> None:
    # A GPU host (NVIDIA GPUs on the PCI bus the container sees) whose container got no GPUs.
    facts = env_facts("no_driver")
    facts = dataclasses.replace(facts, host=dataclasses.replace(facts.host, nvidia_pci_devices=("0000:17:00.0",)))
    report = evaluate(facts, tables)
    names = {f.name: f for f in report.findings}
    assert names["no-nvidia-driver"].caused_by == "container-without-gpus"
    assert report.ordered_findings()[0].name == "container-without-gpus"


def test_triage_libcuda_unversioned_explains_cudnn(tables) -> None:
    from cudadoctor.triage import engine as triage_engine

    text = ("Could not load library libcudnn_cnn_infer.so.8. Error: libcuda.so: cannot open shared object file: "
            "No such file or directory\nAborted (core dumped)\n")
    report = triage_engine.triage(text, tables)
    assert report.triage.ranked[0] == "libcuda-not-on-loader-path"
    by_name = {f.name: f for f in report.findings if f.source == "text"}
    assert "no-nvidia-driver" not in by_name
    assert by_name["cudnn-missing"].caused_by == "libcuda-not-on-loader-path"
    assert by_name["cudnn-missing"].severity is Severity.INFO


def test_an_information_root_is_no_cause_of_an_error(tables) -> None:
    # A CPU-only machine (no NVIDIA GPU on the PCI bus the container sees): the container line is
    # information, so the missing driver is not listed as its consequence.
    report = evaluate(env_facts("no_driver"), tables)
    names = {f.name: f for f in report.findings}
    assert names["container-without-gpus"].severity is Severity.INFO
    assert names["no-nvidia-driver"].caused_by is None
    assert report.ordered_findings()[0].name == "no-nvidia-driver"
