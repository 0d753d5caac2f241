"""causes.py: error text -> typed causes (the rule table, classify, the NVML text readers)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cudadoctor import causes
from cudadoctor.causes import RULES, ErrorCause, ErrorKind, classify
from cudadoctor.factsfile import facts_from_dict, facts_to_dict
from cudadoctor.triage import signatures
from tests.conftest import FIXTURES, env_facts

K = ErrorKind


def kinds(text: str) -> list[ErrorKind]:
    return [c.kind for c in classify(text)]


# ---------------------------------------------------------------------------- the table


def test_rule_keys_are_unique_and_every_rule_says_what_it_means() -> None:
    keys = [r.key for r in RULES]
    assert len(keys) == len(set(keys))
    for rule in RULES:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rule.key), rule.key
        assert rule.meaning and not rule.meaning.endswith("."), rule.key
        assert rule.needles and all(n == n.lower() for n in rule.needles), rule.key
        assert set(rule.pattern.groupindex) <= {"library", "soname", "symbol", "symbol_version", "version", "required"}
        if rule.unless_inside:
            assert RULES.index(causes.BY_KEY[rule.unless_inside]) < RULES.index(rule), rule.key


def test_no_rule_yields_the_kind_for_unknown_values() -> None:
    assert K.UNRECOGNISED not in {r.kind for r in RULES}


def _corpus() -> list[str]:
    texts: list[str] = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix in (".txt", ".md", ".json", ".toml"):
            text = path.read_text(encoding="utf-8", errors="replace")
            texts.append(text)
    return texts


def test_the_needles_never_change_what_matches() -> None:
    """On every fixture text, the pre-filter keeps each rule whose pattern matches."""
    for text in _corpus():
        lowered = text.lower()
        for rule in RULES:
            if rule.pattern.search(text):
                assert any(n in lowered for n in rule.needles), (rule.key, rule.pattern.search(text))


def test_non_ascii_text_is_not_pre_filtered() -> None:
    # NOTE: under IGNORECASE the long s (U+017F) matches "s", and lower() keeps it: a needle
    # test on the lower-cased text would wrongly skip the rule.
    assert kinds("\u017fystem not yet initialized") == [K.CUDA_SYSTEM_NOT_READY]


def test_triage_shares_the_library_patterns() -> None:
    by_key = {s.key: s for s in signatures.SIGNATURES}
    assert by_key["cannot-open-so"].pattern is causes.CANNOT_OPEN
    assert by_key["torch-preload"].pattern is causes.NOT_IN_PATH


# ---------------------------------------------------------------------------- classify


def test_empty_text_has_no_cause() -> None:
    assert classify("") == ()
    assert classify("everything is fine") == ()


@pytest.mark.parametrize(
    ("text", "kind", "code"),
    [
        ("RuntimeError: CUDA unknown error - this may be due to an incorrectly set up environment", K.CUDA_UNKNOWN, 999),
        ("Error 999: unknown error", K.CUDA_UNKNOWN, 999),
        ("Error 804: forward compatibility was attempted on non supported HW", K.CUDA_COMPAT_NOT_SUPPORTED, 804),
        ("Error 802: system not yet initialized", K.CUDA_SYSTEM_NOT_READY, 802),
        ("cuda init: system not yet initialised", K.CUDA_SYSTEM_NOT_READY, 802),
        ("RuntimeError: No CUDA GPUs are available", K.CUDA_NO_DEVICE, 100),
        ("Error 100: no CUDA-capable device is detected", K.CUDA_NO_DEVICE, 100),
        ("CUDA driver version is insufficient for CUDA runtime version", K.DRIVER_TOO_OLD, 35),
        ("RuntimeError: Found no NVIDIA driver on your system.", K.NO_DRIVER, 0),
    ],
)
def test_cuda_initialisation_errors(text: str, kind: ErrorKind, code: int) -> None:
    (cause,) = classify(text)
    assert cause.kind is kind and cause.code == code and cause.line == text


def test_torch_driver_too_old_names_the_found_version() -> None:
    text = ("The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver "
            "by downloading and installing a new version")
    (cause,) = classify(text)
    assert cause.kind is K.DRIVER_TOO_OLD and cause.version == "11040"


def test_cannot_open_names_the_soname_and_its_family() -> None:
    (cause,) = classify("OSError: libcudnn_ops.so.9: cannot open shared object file: No such file or directory")
    assert cause == ErrorCause(
        kind=K.LIBRARY_CANNOT_OPEN, soname="libcudnn_ops.so.9", library="libcudnn_ops",
        line="OSError: libcudnn_ops.so.9: cannot open shared object file: No such file or directory",
    )


def test_auditwheel_names_reduce_to_the_family() -> None:
    (cause,) = classify("libcudart-9335f6a2.so.11.0: cannot open shared object file")
    assert cause.library == "libcudart" and cause.soname == "libcudart-9335f6a2.so.11.0"


def test_torch_preload_error() -> None:
    (cause,) = classify("ValueError: libcublas.so.*[0-9] not found in the system path ['/opt/venv/lib']")
    assert cause.kind is K.LIBRARY_NOT_IN_PATH and cause.soname == "libcublas.so" and cause.library == "libcublas"


def test_undefined_symbol_with_a_version_tag_names_the_providing_library() -> None:
    text = "ImportError: /x/libcusparse.so.12: undefined symbol: __nvJitLinkAddData_12_1, version libnvJitLink.so.12"
    (cause,) = classify(text)
    assert (cause.kind, cause.soname, cause.symbol, cause.symbol_version, cause.library) == (
        K.UNDEFINED_SYMBOL, "libcusparse.so.12", "__nvJitLinkAddData_12_1", "libnvJitLink.so.12", "libnvJitLink")


def test_undefined_symbol_without_a_version_tag_names_the_provider_by_prefix() -> None:
    (cause,) = classify("libtorch_cuda.so: undefined symbol: cudnnGetVersion")
    assert cause.library == "libcudnn" and cause.soname == "libtorch_cuda.so"
    (unknown,) = classify("libc10.so: undefined symbol: _ZN3c104cuda9SetDeviceEi")
    assert unknown.library == "" and unknown.symbol == "_ZN3c104cuda9SetDeviceEi"


def test_a_bare_undefined_symbol_counts_only_outside_a_named_one() -> None:
    (bare,) = classify("ImportError: /x/_C.cpython-311-x86_64-linux-gnu.so: undefined symbol: _ZN3c10")
    assert bare.kind is K.UNDEFINED_SYMBOL and bare.soname == "" and bare.symbol == ""
    # NOTE: without a separator the bare form must not swallow the named one that follows it.
    text = "undefined symbol: foolibcublasLt.so.12: undefined symbol: cublasLtFoo, version libcublasLt.so.12"
    named = [c for c in classify(text) if c.soname]
    assert [(c.soname, c.symbol, c.library) for c in named] == [("libcublasLt.so.12", "cublasLtFoo", "libcublasLt")]


def test_cudnn_incompatibility_names_both_versions() -> None:
    text = ("RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (9, 1, 0) but found "
            "runtime version (8, 9, 2).")
    (cause,) = classify(text)
    assert cause.kind is K.CUDNN_VERSION_INCOMPATIBLE and cause.required == "9.1.0" and cause.version == "8.9.2"


def test_glibc_and_glibcxx() -> None:
    glibc, cxx = classify(
        "/lib64/libc.so.6: version `GLIBC_2.28' not found\n"
        "/usr/lib64/libstdc++.so.6: version `GLIBCXX_3.4.30' not found"
    )
    assert (glibc.kind, glibc.required, glibc.library) == (K.GLIBC_TOO_OLD, "2.28", "glibc")
    assert (cxx.kind, cxx.required, cxx.library) == (K.GLIBCXX_TOO_OLD, "3.4.30", "libstdc++")


def test_causes_told_in_two_lines_need_both() -> None:
    assert kinds("ModuleNotFoundError: No module named 'torch._C'") == [K.TORCH_C_MISSING]
    assert kinds("from torch._C import *") == []  # torch._C alone is no failure
    assert kinds("A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0") == [K.NUMPY_ABI_MISMATCH]
    assert kinds("AttributeError: _ARRAY_API not found") == []
    assert kinds("numpy.core.multiarray failed to import (NumPy): _ARRAY_API not found") == [K.NUMPY_ABI_MISMATCH]


def test_illegal_instruction() -> None:
    assert kinds("Fatal Python error: Illegal instruction") == [K.ILLEGAL_INSTRUCTION]
    assert kinds("the child was killed by SIGILL") == [K.ILLEGAL_INSTRUCTION]


def test_causes_come_in_text_order_without_duplicates() -> None:
    text = (
        "libcudnn.so.9: cannot open shared object file\n"
        "Error 999: unknown error\n"
        "libcudnn.so.9: cannot open shared object file\n"
        "libcudart.so.12: cannot open shared object file\n"
    )
    found = classify(text)
    assert [(c.kind, c.soname) for c in found] == [
        (K.LIBRARY_CANNOT_OPEN, "libcudnn.so.9"), (K.CUDA_UNKNOWN, ""), (K.LIBRARY_CANNOT_OPEN, "libcudart.so.12")]


def test_a_log_repeating_one_line_is_bounded() -> None:
    text = "".join(f"lib{i}x.so.1: cannot open shared object file\n" for i in range(500))
    assert len(classify(text)) == causes.MAX_CAUSES_PER_RULE


def test_first_and_of_kind() -> None:
    found = classify("GLIBCXX_3.4.30' not found\nGLIBC_2.28' not found\nGLIBC_2.34' not found")
    assert causes.first(found, K.GLIBC_TOO_OLD) == found[1]
    assert causes.first(found, K.GLIBC_TOO_OLD, K.GLIBCXX_TOO_OLD) == found[0]
    assert causes.first(found, K.NO_DRIVER) is None
    assert causes.of_kind(found, K.GLIBC_TOO_OLD) == found[1:]


def test_classify_reason_reads_reason_and_detail_as_one_text() -> None:
    (cause,) = causes.classify_reason("torch.backends.cudnn.version() failed", "compiled against (9, 1, 0) but "
                                      "found runtime version (9, 0, 1)")
    assert cause.kind is K.CUDNN_VERSION_INCOMPATIBLE and cause.version == "9.0.1"


# ---------------------------------------------------------------------------- library families


def test_library_families() -> None:
    assert causes.library_family("/usr/lib/libcudnn_ops.so.9.1.0") == "libcudnn_ops"
    assert causes.library_family("not-a-library") == "not-a-library"
    assert causes.is_cuda_family("libcudnn_cnn") and causes.is_cuda_family("libnvJitLink")
    assert not causes.is_cuda_family("libc10")
    assert causes.provider_of("__nvJitLinkComplete_12_4") == "libnvJitLink"
    assert causes.provider_of("cublasLtMatmul") == "libcublasLt"
    assert causes.provider_of("_ZN3c10") == ""


# ---------------------------------------------------------------------------- NVML text


def test_nvml_text_readers() -> None:
    assert causes.killed_by_signal("the NVML child was killed by SIGSEGV in nvmlInit")
    assert not causes.killed_by_signal("the NVML child was killed after 7 s")
    assert causes.gpu_indices_named("nvmlDeviceGetTemperature (GPU 1) did not return within 1.1 s") == (1,)
    assert causes.gpu_indices_named("(GPU 3) then (GPU 0) then (GPU 3)") == (3, 0)
    assert causes.gpu_indices_named("(GPU " + "9" * 5000 + ")") == ()
    assert causes.gpu_indices_named("") == ()


# ---------------------------------------------------------------------------- as facts


def test_causes_round_trip_through_a_facts_file() -> None:
    facts = env_facts("healthy_h100_cu128", {
        "torch.status": "import-failed",
        "torch.import_error": "OSError: libcudnn.so.9: cannot open shared object file\nGLIBC_2.28' not found",
    })
    data = json.loads(json.dumps(facts_to_dict(facts)))
    assert [c["kind"] for c in data["torch"]["import_error_causes"]] == ["library-cannot-open", "glibc-too-old"]
    assert facts_from_dict(data) == facts


def test_a_kind_from_a_newer_cudadoctor_reads_as_unrecognised(tmp_path: Path) -> None:
    facts = env_facts("healthy_h100_cu128", {"torch.import_error": "OSError: libcudnn.so.9: cannot open shared object file"})
    data = json.loads(json.dumps(facts_to_dict(facts)))
    data["torch"]["import_error_causes"][0]["kind"] = "some-kind-added-later"
    again = facts_from_dict(data)
    assert isinstance(again.torch.import_error_causes[0], ErrorCause)  # type: ignore[union-attr]
    assert again.torch.import_error_causes[0].kind is K.UNRECOGNISED  # type: ignore[union-attr]
    assert ErrorKind("another-one") is K.UNRECOGNISED


def test_first_needs_a_kind() -> None:
    with pytest.raises(TypeError):
        causes.first(classify("Error 999"))
