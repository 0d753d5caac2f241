"""The triage engine's wording of findings (issue 11 items 2-3): lines, basis, confirm command, `unexplained`."""

from __future__ import annotations

import pytest

from cudadoctor.findings import Severity
from cudadoctor.triage import engine
from cudadoctor.triage.provenance import Provenance
from tests.conftest import env_facts


def _parsed(monkeypatch: pytest.MonkeyPatch, facts, *, provenance=None, placeholders=(), normalised="") -> None:
    monkeypatch.setattr(engine, "parse", lambda text, tables=None: engine.Parsed(
        facts, placeholders=tuple(placeholders), normalised=normalised, provenance=provenance or {}))


def test_error_nothing_explains_is_unexplained_never_ready(tables, monkeypatch) -> None:
    _parsed(monkeypatch, engine.empty_facts())
    report = engine.triage("Traceback (most recent call last):\n  File \"x.py\", line 3\nRuntimeError: boom\n", tables)
    assert report.verdict == "unexplained" and report.triage.unexplained
    assert report.triage.verdict.startswith("unexplained")
    assert "python -m torch.utils.collect_env" in report.triage.verdict  # says what to paste
    assert report.exit_code() == 0  # NOTE: the exit code stays defined by severity (documented)


def test_text_without_an_error_can_be_ready(tables, monkeypatch) -> None:
    _parsed(monkeypatch, engine.empty_facts())
    report = engine.triage("Thu Dec  3 10:00:00 2026\n| NVIDIA-SMI 550.54.14   Volatile Uncorr. ECC |\n", tables)
    assert report.verdict == "ready" and not report.triage.unexplained


def test_text_finding_names_its_lines_basis_and_confirm_command(tables, monkeypatch) -> None:
    _parsed(monkeypatch, engine.empty_facts())
    report = engine.triage("RuntimeError: Found no NVIDIA driver on your system.\n", tables)
    f = next(f for f in report.findings if f.name == "no-nvidia-driver")
    assert f.evidence["text.lines"].startswith("line 1: ")
    assert f.evidence["text.basis"] == "stated in the text"
    assert f.evidence["text.confirm"] == "`cudadoctor check --select DRV001`"
    assert f.message.startswith("The pasted text shows")


def test_event_finding_confirms_with_its_own_command(tables, monkeypatch) -> None:
    _parsed(monkeypatch, engine.empty_facts())
    report = engine.triage("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n", tables)
    f = next(f for f in report.findings if f.name == "cuda-out-of-memory")
    assert f.code == "TRG002" and "nvidia-smi" in f.evidence["text.confirm"]


def test_parsed_finding_rests_on_the_lines_the_facts_came_from(tables, monkeypatch) -> None:
    prov = {
        "toolkit.nvcc_version": Provenance(3, "Cuda compilation tools, release 12.1, V12.1.105"),
        "torch.version": Provenance(1, "torch==2.3.1+cu118"),
        "torch.cuda_version": Provenance(1, "torch==2.3.1+cu118", stated=False, how="from the wheel tag +cu118"),
    }
    _parsed(monkeypatch, env_facts("a100_cu118_wheel"), provenance=prov)
    report = engine.triage("torch==2.3.1+cu118\nnvcc: NVIDIA (R) Cuda compiler driver\n", tables)
    f = next(f for f in report.findings if f.name == "nvcc-torch-cuda-mismatch")
    assert f.source == "parsed"
    assert "line 3: Cuda compilation tools" in f.evidence["text.lines"]
    assert "line 1: torch==2.3.1" in f.evidence["text.lines"]
    assert f.evidence["text.basis"] == "inferred: torch.cuda_version (from the wheel tag +cu118)"
    assert f.evidence["text.confirm"] == f"`cudadoctor check --select {f.code}`"


def test_finding_resting_only_on_stand_ins_is_not_reported(tables, monkeypatch) -> None:
    stand_ins = ("toolkit.nvcc_version", "toolkit.cuda_home", "toolkit.cuda_home_source", "torch.version",
                 "torch.cuda_version")
    _parsed(monkeypatch, env_facts("a100_cu118_wheel"), placeholders=stand_ins)
    report = engine.triage("nothing much\n", tables)
    assert "nvcc-torch-cuda-mismatch" not in {f.name for f in report.findings}
    outcome = next(o for o in report.outcomes if o.name == "nvcc-torch-cuda-mismatch")
    assert "stand-ins" in outcome.reason


def test_signatures_are_scanned_over_the_normalised_text(tables, monkeypatch) -> None:
    # NOTE: the paste wraps CUDA's sentence mid-way; the extractor's normalised text rejoins it
    wrapped = "UserWarning: The NVIDIA driver on your system is too old\n(found version 11040)."
    joined = "UserWarning: The NVIDIA driver on your system is too old (found version 11040)."
    _parsed(monkeypatch, engine.empty_facts(), normalised=joined)
    report = engine.triage(wrapped, tables)
    assert report.triage.ranked[0] == "driver-too-old-for-torch"


def test_the_finding_that_explains_the_error_comes_first(tables, monkeypatch) -> None:
    _parsed(monkeypatch, env_facts("a100_cu118_wheel"))
    text = "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    report = engine.triage(text, tables)
    assert report.triage.ranked[0] == "gpu-arch-not-in-torch-build"
    assert {f.name for f in report.findings} >= {"gpu-arch-not-in-torch-build", "nvcc-torch-cuda-mismatch"}
    assert next(f for f in report.findings if f.name == "gpu-arch-not-in-torch-build").severity is Severity.ERROR


def test_every_format_leads_with_the_explaining_finding(tables, monkeypatch) -> None:
    import json

    from cudadoctor.render import json_report

    # NOTE: the text's hypothesis is a warning, the parsed facts give an error: the explanation still leads
    _parsed(monkeypatch, env_facts("no_driver"))
    text = "RuntimeError: DataLoader worker (pid 4242) is killed by signal: Bus error.\n"
    report = engine.triage(text, tables)
    assert report.triage.ranked[0] == "shm-too-small"
    assert report.ordered_findings()[0].name == "shm-too-small"
    assert json.loads(json_report.render(report))["findings"][0]["name"] == "shm-too-small"


def test_a_text_error_under_a_root_the_parsed_facts_show_follows_it(tables, monkeypatch) -> None:
    from dataclasses import replace as dc_replace

    from cudadoctor.findings import Finding, Outcome, Status

    # NOTE: the NCCL the pasted collect_env names is too old for the GPU; the traceback shows an NCCL error
    root = Finding(code="TRC008", name="nccl-too-old-for-gpu", severity=Severity.WARNING, title="t", message="m",
                   evidence={}, fix="upgrade NCCL", url="u", source="parsed")
    real_evaluate = engine_module().evaluate

    def evaluate(facts, tables_, **kw):
        report = real_evaluate(facts, tables_, **kw)
        extra = Outcome(code="TRC008", name="nccl-too-old-for-gpu", status=Status.FOUND, findings=(root,))
        kept = tuple(o for o in report.outcomes if o.name != "nccl-too-old-for-gpu")
        return dc_replace(report, outcomes=(*kept, extra))

    monkeypatch.setattr(engine_module(), "evaluate", evaluate)
    _parsed(monkeypatch, engine.empty_facts())
    report = engine.triage("torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, "
                           "unhandled cuda error\n", tables)
    assert report.triage.ranked[0] == "nccl-too-old-for-gpu"
    assert report.triage.verdict == "most likely cause: nccl-too-old-for-gpu"
    nccl = next(f for f in report.findings if f.name == "nccl-error")
    assert nccl.caused_by == "nccl-too-old-for-gpu" and nccl.severity is Severity.INFO


def engine_module():
    from cudadoctor import engine as core

    return core
