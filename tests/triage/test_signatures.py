"""The signature table and the triage engine against the corpus in tests/fixtures/triage/ (expected.toml)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cudadoctor.checks import lookup
from cudadoctor.checks.base import Severity
from cudadoctor.report import Report
from cudadoctor.triage import engine, signatures
from cudadoctor.checks import ALL_CHECKS, EVENTS
from cudadoctor.checks.base import Check
from cudadoctor.checks.context import FixContext
from cudadoctor.triage.signatures import SIGNATURES, decode_cuda_int, decode_cudnn_int, names_in, scan
from tests.conftest import env_facts

CORPUS = Path(__file__).parents[1] / "fixtures" / "triage"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text())


@pytest.fixture
def no_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge the text alone: the parsed-facts half (another module) answers 'nothing recognised'."""
    monkeypatch.setattr(engine, "parse", lambda text, tables=None: engine.Parsed(engine.empty_facts()))


def _text_findings(report: Report) -> dict[str, Any]:
    return {f.name: f for f in report.findings if f.source == "text"}


def test_corpus_is_large_and_fully_specified() -> None:
    files = {p.name for p in CORPUS.glob("*.txt")}
    assert len(files) >= 40
    assert files == set(EXPECTED), "every corpus file needs an entry in expected.toml, and vice versa"
    assert sum(1 for e in EXPECTED.values() if e.get("none")) >= 5
    assert sum(1 for name in files if name.startswith("mixed_")) >= 3


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_signatures(name: str) -> None:
    spec = EXPECTED[name]
    found = names_in(scan((CORPUS / name).read_text(encoding="utf-8")))
    if spec.get("none"):
        assert found == [], f"{name}: expected no hit, got {found}"
        return
    for expected in spec.get("expect", []):
        assert expected in found, f"{name}: {expected} missing from {found}"
    for absent in spec.get("absent", []):
        assert absent not in found, f"{name}: {absent} must not be found ({found})"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_through_the_engine(name: str, tables, no_parse) -> None:
    spec = EXPECTED[name]
    report = engine.triage((CORPUS / name).read_text(encoding="utf-8"), tables)
    texts = _text_findings(report)
    hyps = list(report.triage.hypotheses)
    if spec.get("none"):
        assert texts == {} and hyps == []
        # NOTE: an error no signature explains is "unexplained", never "ready" (issue 11)
        assert "no known" in report.triage.verdict or report.triage.verdict.startswith("unexplained")
        return
    assert set(spec.get("expect", [])) <= set(texts)
    if "first" in spec:
        assert hyps[0]["name"] == spec["first"], [h["name"] for h in hyps]
    blob = "\n".join(f"{f.message}\n{f.fix}\n{f.evidence}" for f in texts.values())
    for piece in spec.get("contains", []):
        assert piece in blob, f"{name}: {piece!r} not in the findings"
    for n, sev in spec.get("severity", {}).items():
        assert texts[n].severity is Severity(sev), f"{name}: {n} is {texts[n].severity}"
    for f in texts.values():
        # identity from the check class (an event check too), a fix, and the matched line as evidence
        cls = lookup(f.name)
        assert cls is not None
        assert (f.code, f.title, f.url) == (cls.code, cls.title(), cls.url())
        assert f.fix and "text.lines" in f.evidence and re.search(r"line \d+: ", f.evidence["text.lines"])


def test_every_signature_is_explained_by_exactly_one_check() -> None:
    explained: dict[str, list[str]] = {}
    for cls in ALL_CHECKS:
        for key in cls.explains:
            explained.setdefault(key, []).append(cls.name)
    assert all(len(v) == 1 for v in explained.values()), {k: v for k, v in explained.items() if len(v) > 1}
    decided = {s.key for s in SIGNATURES if s.decides}
    for s in SIGNATURES:
        if not s.decides and not s.refine_only:
            assert s.key in explained, f"no check explains signature {s.key}"
    for _pattern, key, _rank in signatures.LIBRARY_KEYS:
        assert key in explained, key
    for key in ("symbol:companion", "symbol:cuda-family", "symbol:torch-own"):
        assert key in explained, key
    # every key a check declares is one the scanner can produce (no dead declarations)
    producible = {s.key for s in SIGNATURES} - decided | {k for _p, k, _r in signatures.LIBRARY_KEYS}
    producible |= {"symbol:companion", "symbol:cuda-family", "symbol:torch-own"}
    refine = set(re.findall(r'"(refine:[a-z0-9-]+)"', Path(signatures.__file__).read_text()))
    assert set(explained) <= producible | refine, set(explained) - producible - refine
    for cls in ALL_CHECKS:
        for root in cls.follows_from:
            assert lookup(root) is not None, f"{cls.name} follows from unknown {root}"
    assert len({s.key for s in SIGNATURES}) == len(SIGNATURES)


def test_event_checks_never_fire_on_probed_facts(tables) -> None:
    from cudadoctor.checks import CHECKS

    facts = env_facts("healthy_a100_cu121")
    for cls in EVENTS:
        assert cls not in CHECKS and list(cls().evaluate(facts, tables)) == []


def test_every_explaining_check_has_a_specific_fix(tables) -> None:
    generic = Check.fix
    for cls in ALL_CHECKS:
        if cls.explains:
            assert cls.fix is not generic, f"{cls.name} explains signatures but has only the standing fix"
            remedy = cls().fix(FixContext(tables=tables))
            assert remedy.fix, cls.name


@pytest.mark.parametrize(("value", "cuda"), [("11040", "11.4"), ("12020", "12.2"), ("10010", "10.1"), ("12080", "12.8"), ("13000", "13.0")])
def test_decode_cuda_int(value: str, cuda: str) -> None:
    assert decode_cuda_int(value) == cuda


@pytest.mark.parametrize(("value", "text"), [("7102", "7.1.2"), ("8902", "8.9.2"), ("90100", "9.1.0")])
def test_decode_cudnn_int(value: str, text: str) -> None:
    assert decode_cudnn_int(value) == text


def test_found_version_fix_names_driver_and_wheel_for_that_driver(tables, no_parse) -> None:
    text = (
        "torch==2.5.1+cu121\n"
        "UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).\n"
    )
    f = _text_findings(engine.triage(text, tables))["driver-too-old-for-torch"]
    assert "CUDA up to 11.4" in f.message and "CUDA 12.1" in f.message
    assert ">= 530.30.02" in f.fix  # CUDA 12.1 GA driver (rules/cuda_driver.toml)
    # the newest wheel that runs on a CUDA 11.4 driver is a cu118 build (under 11.x minor compatibility)
    assert "--index-url https://download.pytorch.org/whl/cu118" in f.fix
    assert f.evidence["text.found_version"] == "11040" and f.evidence["text.driver_cuda"] == "11.4"


def test_quoted_and_code_lines_are_not_hits() -> None:
    assert scan('print("no kernel image is available for execution on the device")') == []
    assert scan("grep -r 'Torch not compiled with CUDA enabled' logs/") == []
    assert scan("ValueError: expected 'Failed to initialize NVML: Unknown Error' in the output") == []
    # ...but Python's repr of the raised error itself is the error
    assert names_in(scan("RuntimeError('CUDA error: no kernel image is available for execution on the device')")) == [
        "gpu-arch-not-in-torch-build"
    ]
    # and a JSON log line quotes every message
    assert names_in(scan('{"level": "error", "msg": "Failed to initialize NVML: Unknown Error"}')) == ["gpu-access-lost"]
    # an apostrophe is not a quote
    assert names_in(scan("I couldn't start: Failed to initialize NVML: Driver/library version mismatch")) == [
        "driver-library-mismatch"
    ]


def test_nvml_unknown_error_is_not_cuda_unknown_error() -> None:
    assert names_in(scan("Failed to initialize NVML: Unknown Error")) == ["gpu-access-lost"]


def test_no_space_needs_shm_nearby() -> None:
    assert names_in(scan("OSError: [Errno 28] No space left on device")) == []
    assert names_in(scan("writing /dev/shm/x\nOSError: [Errno 28] No space left on device")) == ["shm-too-small"]


def test_non_cuda_missing_library_is_not_a_hit() -> None:
    assert scan("ImportError: libGL.so.1: cannot open shared object file: No such file or directory") == []
    assert names_in(scan("OSError: libcublas.so.12: cannot open shared object file: No such file or directory")) == [
        "torch-import-failed"
    ]
    assert names_in(scan("libnvidia-ml.so.1: cannot open shared object file: No such file or directory")) == [
        "no-nvidia-driver"
    ]


def test_insufficient_driver_with_torch_context_is_torch_driver() -> None:
    text = (
        '  File "/v/lib/python3.10/site-packages/torch/cuda/__init__.py", line 1\n'
        "RuntimeError: CUDA error: CUDA driver version is insufficient for CUDA runtime version\n"
    )
    assert names_in(scan(text)) == ["driver-too-old-for-torch"]
    assert names_in(scan("cudaGetDeviceCount returned 35\n")) == ["driver-too-old-for-cudart"]


def test_consequences_rank_after_roots_and_drop_to_info(tables, no_parse) -> None:
    text = (CORPUS / "mixed_nvml_mismatch_then_no_gpus.txt").read_text()
    report = engine.triage(text, tables)
    hyps = list(report.triage.hypotheses)
    assert [h["name"] for h in hyps] == ["driver-library-mismatch", "no-gpu-visible"]
    assert hyps[1]["consequence_of"] == ["driver-library-mismatch"]
    f = _text_findings(report)["no-gpu-visible"]
    assert f.severity is Severity.INFO and "consequence of driver-library-mismatch" in f.message
    assert report.exit_code() == 1


def test_select_and_ignore_apply_to_text_hits_and_know_triage_only_names(tables, no_parse) -> None:
    text = (CORPUS / "nccl_shm.txt").read_text()
    only = engine.triage(text, tables, select=["nccl-error"])
    assert {f.name for f in only.findings} == {"nccl-error"}
    assert only.outcomes and all(o.name == "nccl-error" for o in only.outcomes)
    rest = engine.triage(text, tables, ignore=["TRG"])
    assert "nccl-error" not in {f.name for f in rest.findings}
    assert "shm-too-small" in {f.name for f in rest.findings}
    from cudadoctor.errors import UsageError

    with pytest.raises(UsageError):
        engine.triage(text, tables, select=["no-such-check"])


def test_live_probe_confirms_refutes_and_marks_unverified(tables, no_parse) -> None:
    text = (
        "RuntimeError: The NVIDIA driver on your system is too old (found version 11040).\n"
        "Failed to initialize NVML: Driver/library version mismatch\n"
    )
    # a healthy machine: the driver is new enough -> refuted
    healthy = env_facts("healthy_h100_cu128")
    report = engine.triage(text, tables, live=healthy)
    status = {h["name"]: h["status"] for h in report.triage.hypotheses}
    assert status == {"driver-library-mismatch": "refuted", "driver-too-old-for-torch": "refuted"}
    f = _text_findings(report)["driver-too-old-for-torch"]
    assert f.severity is Severity.INFO and "Refuted by the live probe" in f.message
    assert report.facts_source == "probe"
    # a machine without a driver: cannot judge the driver version -> unverified; no-nvidia-driver from the probe
    report = engine.triage(text, tables, live=env_facts("no_driver"))
    status = {h["name"]: h["status"] for h in report.triage.hypotheses}
    assert status["driver-too-old-for-torch"] == "unverified"
    probe_names = {f.name for f in report.findings if f.source == "probe"}
    assert "no-nvidia-driver" in probe_names
    # the same name in the text and on the machine -> confirmed
    report = engine.triage("RuntimeError: Found no NVIDIA driver on your system.", tables, live=env_facts("no_driver"))
    assert report.triage.hypotheses[0]["status"] == "confirmed"
    assert "confirms it" in _text_findings(report)["no-nvidia-driver"].message


def test_parsed_facts_are_judged_by_the_checks_with_source_parsed(tables, monkeypatch) -> None:
    parsed = env_facts("no_driver")
    monkeypatch.setattr(engine, "parse", lambda text, tables=None: engine.Parsed(parsed, ("nvidia-smi",)))
    report = engine.triage("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", tables)
    sources = {(f.name, f.source) for f in report.findings}
    assert ("no-nvidia-driver", "parsed") in sources
    assert ("nvidia-kernel-module-not-loaded", "text") in sources
    assert list(report.triage.sections) == ["nvidia-smi"]
    assert report.facts is parsed and report.facts_source == "triage"


def test_real_parser_if_present_never_crashes_on_the_corpus(tables) -> None:
    pytest.importorskip("cudadoctor.triage.parse")
    for name in sorted(EXPECTED):
        report = engine.triage((CORPUS / name).read_text(encoding="utf-8"), tables)
        for expected in EXPECTED[name].get("expect", []):
            assert expected in {f.name for f in report.findings}, name


def test_scan_of_8_mib_is_bounded(tables) -> None:
    import time

    filler = "Epoch 1/3: 100%|██████████| 1563/1563 [04:12<00:00,  6.19it/s, loss=0.512]\n"
    text = filler * (8 * 2**20 // len(filler.encode())) + "RuntimeError: No CUDA GPUs are available\n"
    start = time.monotonic()
    found = names_in(scan(text))
    elapsed = time.monotonic() - start
    assert found == ["no-gpu-visible"]
    assert elapsed < 60, f"scanning 8 MiB took {elapsed:.1f}s"
