"""Tests of the torch probe: the parser on recorded child output, and the child on real and fake torch."""

from __future__ import annotations

import ast
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from cudadoctor._util import child_env
from cudadoctor.causes import ErrorKind
from cudadoctor.facts import TorchFacts, Unavailable, known
from cudadoctor.factsfile import facts_from_dict, facts_to_dict
from cudadoctor.probes import torch_build
from cudadoctor.probes.base import ProbeContext, run_probe
from cudadoctor.probes.torch_build import (
    encoded_version,
    inspect_torch,
    lenient_version,
    library_family,
    parse_child_output,
    parse_records,
    probe_torch,
    python_version_from_info,
    stderr_tail,
)
from tests.childmodule import child_module
from tests.conftest import FIXTURES, env_facts

RAW = FIXTURES / "raw" / "torch_child"
FAKE_TORCH = FIXTURES / "fake_torch"
#: The child script as it runs: the shared prelude, then its own source.
_torch_child = child_module(Path(torch_build.__file__).with_name("_torch_child.py"), "_torch_child")

#: Set by CI: the real torch must be installed, so its test fails instead of skipping.
# NOTE: CI (CI=true) must exercise the real torch probe: a missing torch fails there, never skips.
REQUIRE_REAL_TORCH = os.environ.get("CUDADOCTOR_REQUIRE_REAL_TORCH") == "1" or os.environ.get("CI", "").lower() == "true"


def raw(name: str) -> TorchFacts | Unavailable:
    """Parse the recorded child output tests/fixtures/raw/torch_child/<name>.json."""
    doc = json.loads((RAW / f"{name}.json").read_text())
    return parse_child_output(
        doc["stdout"], doc["returncode"], doc["stderr"], python="/opt/venv/bin/python", timeout=2.0
    )


def ok(result: TorchFacts | Unavailable) -> TorchFacts:
    """The result as TorchFacts (fails the test when the whole area is Unavailable)."""
    assert isinstance(result, TorchFacts), result
    return result


def families(facts: TorchFacts) -> list[str]:
    """Library families of the loaded libraries, in mapping order."""
    assert isinstance(facts.loaded_libraries, tuple), facts.loaded_libraries
    return [lib.library for lib in facts.loaded_libraries]


# --------------------------------------------------------------------------------------------
# pure helpers


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (90100, "9.1.0"), (91002, "9.10.2"), (8902, "8.9.2"), (8500, "8.5.0"), (7605, "7.6.5"),
        (21905, "2.19.5"), (2708, "2.7.8"),
    ],
)
def test_encoded_version(code: int, expected: str) -> None:
    assert encoded_version(code) == Version(expected)


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/v/nvidia/cudnn/lib/libcudnn_ops.so.9", "libcudnn_ops"),
        ("/v/nvidia/cudnn/lib/libcudnn.so.9", "libcudnn"),
        ("/v/nvidia/cublas/lib/libcublasLt.so.12", "libcublasLt"),
        ("/v/nvidia/cusparselt/lib/libcusparseLt.so.0", "libcusparseLt"),
        ("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15", "libcuda"),
        ("/usr/local/cuda/lib64/libcudart.so.12.4.127", "libcudart"),
        ("/v/torch/lib/libcudart-d0da41ae.so.11.0", "libcudart"),  # auditwheel-hashed copy
        ("/v/torch/lib/libnvrtc-builtins.so.12.4", "libnvrtc-builtins"),
        ("/v/torch/lib/libnvrtc-672ee683.so.11.2", "libnvrtc"),
        ("/v/torch/lib/libtorch_cuda.so", "libtorch_cuda"),
        ("/v/nvidia/nvjitlink/lib/libnvJitLink.so.12", "libnvJitLink"),
        ("/v/torch/lib/libc10_cuda.so", None),
        ("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", None),
        ("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", None),
        ("/v/torch/lib/libtorch_cpu.so", None),
    ],
)
def test_library_family(path: str, family: str | None) -> None:
    assert library_family(path) == family


def test_python_version_from_info() -> None:
    assert python_version_from_info([3, 11, 7, "final", 0]) == Version("3.11.7")
    assert python_version_from_info([3, 13, 0, "candidate", 1]) == Version("3.13.0rc1")
    assert python_version_from_info([3, 14, 0, "alpha", 2]) == Version("3.14.0a2")


def test_lenient_version() -> None:
    assert lenient_version("12.4") == Version("12.4")
    assert lenient_version("6.2.41133-dd7f95766") == Version("6.2.41133")
    with pytest.raises(ValueError):
        lenient_version("garbage")


def test_stderr_tail_keeps_the_end() -> None:
    text = "\n".join(f"line {i}" for i in range(2000))
    tail = stderr_tail(text, limit=100)
    assert tail.endswith("line 1999") and len(tail) <= 100 and tail.startswith("line")


def test_parse_records_ignores_noise() -> None:
    m = torch_build.MARKER
    records = parse_records(
        ["junk", m + "{broken", m + '{"stage": "begin", "name": "import"}', "x" + m + '{"stage": "import", "ok": true}']
    )
    assert records.bad_lines == 1
    assert records.last_begun == "import"
    assert records.stages["import"] == {"stage": "import", "ok": True}
    assert not records.done


# --------------------------------------------------------------------------------------------
# the parser on recorded child output


def test_cu124_ok() -> None:
    t = ok(raw("cu124_ok"))
    assert t.status == "ok" and t.import_error == ""
    assert t.python_executable == "/opt/venv/bin/python"
    assert t.python_version == Version("3.11.7")
    assert t.location == "/opt/venv/lib/python3.11/site-packages/torch"
    assert t.version == Version("2.5.1+cu124")
    assert t.build == "cuda"
    assert t.cuda_version == Version("12.4")
    assert isinstance(t.hip_version, Unavailable) and "not a ROCm build" in t.hip_version.reason
    assert t.cudnn_version == Version("9.1.0")
    assert t.nccl_version == Version("2.21.5")
    assert t.debug is False
    assert t.git_version == "a8d6afb511a69687bbb2b7e88a3cf67917e1697e"
    assert t.cuda_available is True and t.cuda_unavailable_reason == ""
    assert t.device_count == 2
    assert [(d.index, d.name, d.capability) for d in t.devices] == [
        (0, "NVIDIA H100 80GB HBM3", Version("9.0")),
        (1, "NVIDIA A100-SXM4-80GB", Version("8.0")),
    ]
    assert t.arch_list == ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
    assert isinstance(t.build_config, str) and "CUDA Runtime 12.4" in t.build_config
    assert families(t) == [
        "libtorch_cuda", "libcudart", "libcublasLt", "libcublas", "libcudnn", "libcusparse",
        "libnvJitLink", "libcufft", "libcurand", "libnccl", "libcupti", "libnvrtc", "libcuda",
    ]
    assert isinstance(t.loaded_libraries, tuple)
    assert t.loaded_libraries[-1].path == "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"
    dists = {d.name: d for d in t.distributions}
    assert dists["torch"].version == "2.5.1+cu124"
    assert any(r.startswith("nvidia-cudnn-cu12==9.1.0.70") for r in dists["torch"].requires)
    assert dists["torchvision"].requires == ("numpy", "torch==2.5.1")
    assert dists["nvidia-cudnn-cu12"].version == "9.1.0.70"


def test_garbage_on_stdout_does_not_change_the_result() -> None:
    assert raw("garbage_stdout") == raw("cu124_ok")


def test_cpu_ok_real_recording() -> None:
    t = ok(raw("cpu_ok"))
    assert t.status == "ok"
    assert t.version == Version("2.13.0+cpu")
    assert t.build == "cpu"
    assert isinstance(t.cuda_version, Unavailable) and "CPU-only" in t.cuda_version.reason
    assert isinstance(t.cudnn_version, Unavailable) and "no cuDNN" in t.cudnn_version.reason
    assert isinstance(t.nccl_version, Unavailable) and "no NCCL" in t.nccl_version.reason
    assert t.cuda_available is False
    assert t.cuda_unavailable_reason == "torch was built without CUDA"
    assert t.device_count == 0 and t.devices == ()
    assert t.arch_list == ()
    assert t.loaded_libraries == ()
    assert isinstance(t.build_config, str) and t.build_config.startswith("PyTorch built with")
    assert [d.name for d in t.distributions if d.name == "torch"] == ["torch"]


def test_driver_too_old_warning_is_the_reason() -> None:
    t = ok(raw("driver_too_old"))
    assert t.status == "ok" and t.build == "cuda"
    assert t.cuda_version == Version("12.1")
    assert t.cudnn_version == Version("8.9.2")
    assert t.cuda_available is False
    assert t.cuda_unavailable_reason.startswith("CUDA initialization: The NVIDIA driver on your system is too old")
    assert "(found version 11040)" in t.cuda_unavailable_reason
    assert t.device_count == 0 and t.devices == ()
    # get_arch_list() is [] while CUDA is unavailable; the compiled flags still tell the truth.
    assert t.arch_list == ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")


def test_forward_compat_error_804() -> None:
    t = ok(raw("forward_compat_804"))
    assert t.cuda_available is False
    assert "Error 804: forward compatibility was attempted on non supported HW" in t.cuda_unavailable_reason
    assert "libcuda" in families(t)
    assert isinstance(t.loaded_libraries, tuple)
    assert t.loaded_libraries[-1].path == "/usr/local/cuda/compat/libcuda.so.535.104.05"


def test_no_driver_falls_back_to_init_error() -> None:
    t = ok(raw("no_driver"))
    assert t.cuda_available is False
    assert t.cuda_unavailable_reason.startswith("RuntimeError: Found no NVIDIA driver on your system")


def test_the_probe_types_the_causes_in_its_error_texts() -> None:
    too_old = ok(raw("driver_too_old"))
    assert [(c.kind, c.version) for c in too_old.cuda_unavailable_causes] == [(ErrorKind.DRIVER_TOO_OLD, "11040")]
    assert too_old.import_error_causes == () and too_old.cudnn_unavailable_causes == ()
    assert [c.code for c in ok(raw("forward_compat_804")).cuda_unavailable_causes] == [804]
    failed = ok(raw("import_error"))
    cannot_open = [c for c in failed.import_error_causes if c.kind is ErrorKind.LIBRARY_CANNOT_OPEN]
    assert {(c.soname, c.library) for c in cannot_open} == {("libcudnn.so.9", "libcudnn")}
    assert {c.kind for c in failed.cuda_unavailable_causes} == {ErrorKind.LIBRARY_CANNOT_OPEN}


def test_old_torch_int_versions_and_hashed_libraries() -> None:
    t = ok(raw("old_cu117_no_visible_devices"))
    assert t.version == Version("1.13.1+cu117")
    assert t.cudnn_version == Version("8.5.0")
    assert t.nccl_version == Version("2.14.3")
    assert t.cuda_unavailable_reason == "RuntimeError: No CUDA GPUs are available"
    assert isinstance(t.arch_list, Unavailable) and "_cuda_getArchFlags" in t.arch_list.reason
    assert families(t) == ["libtorch_cuda", "libcudart", "libnvrtc-builtins", "libcudnn_ops_infer", "libcublasLt"]


def test_rocm_build() -> None:
    t = ok(raw("rocm_ok"))
    assert t.build == "rocm"
    assert t.hip_version == Version("6.2.41133")
    assert isinstance(t.cuda_version, Unavailable) and "ROCm" in t.cuda_version.reason
    assert isinstance(t.cudnn_version, Unavailable) and "MIOpen" in t.cudnn_version.reason
    assert t.nccl_version == Version("2.20.5")
    assert t.arch_list == ("gfx900", "gfx906", "gfx908", "gfx90a", "gfx942")
    assert t.devices[0].capability == Version("9.4")


def test_import_error() -> None:
    t = ok(raw("import_error"))
    assert t.status == "import-failed"
    assert t.import_error.startswith("Traceback (most recent call last):")
    assert t.import_error.endswith(
        "ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory"
    )
    assert t.location == "/opt/venv/lib/python3.11/site-packages/torch"
    for field in ("version", "build", "cuda_version", "cudnn_version", "cuda_available", "arch_list", "build_config"):
        value = getattr(t, field)
        assert isinstance(value, Unavailable), field
        assert "libcudnn.so.9" in value.reason
    assert "libcudnn.so.9" in t.cuda_unavailable_reason
    assert t.devices == ()
    assert isinstance(t.loaded_libraries, tuple)  # what was mapped before the failure
    assert {d.name: d.version for d in t.distributions}["torch"] == "2.4.0+cu124"


def test_import_segfault() -> None:
    t = ok(raw("import_segfault"))
    assert t.status == "import-crashed"
    assert "killed by SIGSEGV during `import torch`" in t.import_error
    assert "Fatal Python error: Segmentation fault" in t.import_error  # the stderr tail
    assert isinstance(t.version, Unavailable) and "SIGSEGV" in t.version.reason
    assert "Segmentation fault" in t.version.detail
    assert isinstance(t.loaded_libraries, Unavailable)
    assert {d.name for d in t.distributions} >= {"torch"}  # gathered before the crash


def test_crash_after_import_keeps_earlier_facts() -> None:
    t = ok(raw("crashed_after_import"))
    assert t.status == "import-crashed"
    assert "killed by SIGSEGV during CUDA initialisation" in t.import_error
    assert t.version == Version("2.5.1+cu124")
    assert t.cuda_version == Version("12.4")
    assert t.cudnn_version == Version("9.1.0")
    assert isinstance(t.build_config, str)
    assert t.arch_list == ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
    assert isinstance(t.cuda_available, Unavailable)
    assert "SIGSEGV during CUDA initialisation" in t.cuda_available.reason
    assert "SIGSEGV" in t.cuda_unavailable_reason
    assert isinstance(t.device_count, Unavailable) and t.devices == ()
    assert isinstance(t.loaded_libraries, Unavailable)
    assert "before getting that far" in t.loaded_libraries.reason


def test_timeout_during_cuda_init_keeps_earlier_facts() -> None:
    t = ok(raw("timeout_cuda_init"))
    assert t.status == "import-timeout"
    assert "timed out after 2 s" in t.import_error and "CUDA initialisation" in t.import_error
    assert "Timeout (0:00:01" in t.import_error  # faulthandler's stack dump shows where it hung
    assert t.version == Version("2.5.1+cu124")
    assert isinstance(t.cuda_available, Unavailable) and "timed out" in t.cuda_available.reason


def test_import_timeout() -> None:
    t = ok(raw("import_timeout"))
    assert t.status == "import-timeout"
    assert "during `import torch`" in t.import_error
    assert isinstance(t.version, Unavailable) and "timed out" in t.version.reason
    assert {d.name: d.version for d in t.distributions}["torch"] == "2.4.0+cu121"


def test_not_installed() -> None:
    t = ok(raw("not_installed"))
    assert t.status == "not-installed"
    assert t.python_executable == "/usr/bin/python3"
    assert t.python_version == Version("3.11.2")
    assert "No module named 'torch'" in t.import_error
    assert isinstance(t.location, Unavailable) and "not installed" in t.location.reason
    assert isinstance(t.version, Unavailable) and isinstance(t.loaded_libraries, Unavailable)
    assert t.distributions == ()


def test_no_records_at_all_is_unavailable() -> None:
    stderr = '  File "<string>", line 1\nSyntaxError: invalid syntax\n'
    result = parse_child_output("", 1, stderr, python="/usr/bin/python2")
    assert isinstance(result, Unavailable)
    assert "/usr/bin/python2" in result.reason and "exit code 1" in result.reason
    assert "SyntaxError" in result.detail


def test_finished_with_nonzero_exit_is_still_ok() -> None:
    # Some builds crash at interpreter shutdown, after every fact was written.
    doc = json.loads((RAW / "cu124_ok.json").read_text())
    t = ok(parse_child_output(doc["stdout"], -11, "Segmentation fault at exit"))
    assert t.status == "ok" and t.version == Version("2.5.1+cu124")


@pytest.mark.parametrize("name", sorted(p.stem for p in RAW.glob("*.json")))
def test_every_recording_round_trips_through_the_facts_file(name: str) -> None:
    torch_facts = raw(name)
    facts = dataclasses.replace(env_facts("healthy_h100_cu128"), torch=torch_facts)
    again = facts_from_dict(json.loads(json.dumps(facts_to_dict(facts))))
    assert again.torch == torch_facts


# --------------------------------------------------------------------------------------------
# the child script itself


def test_child_is_stdlib_only_and_shares_the_marker() -> None:
    source = Path(_torch_child.__file__).read_text()
    assert source == torch_build.child_source()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"__future__", "torch", "importlib_metadata"}
    assert imported <= allowed, imported - allowed
    assert "cudadoctor" not in imported
    assert _torch_child.MARKER == torch_build.MARKER


# --------------------------------------------------------------------------------------------
# the real torch installed in the test environment


def test_real_cpu_torch() -> None:
    """The torch installed next to the tests (CPU 2.13.0 in CI), through the registered probe."""
    if importlib.util.find_spec("torch") is None:  # looked up, never imported here
        if REQUIRE_REAL_TORCH:
            pytest.fail("CUDADOCTOR_REQUIRE_REAL_TORCH=1 but torch is not installed in the test environment")
        pytest.skip("torch is not installed in the test interpreter")
    start = time.perf_counter()
    result, _seconds = run_probe("torch", probe_torch, ProbeContext(python=sys.executable, torch_timeout=120.0))
    elapsed = time.perf_counter() - start
    t = ok(result)
    installed = Version(importlib.metadata.version("torch"))
    assert t.status == "ok", t.import_error
    assert t.import_error == ""
    # NOTE: PyPI's CUDA wheels say 2.11.0 in their metadata and 2.11.0+cu130 in torch.__version__
    assert t.version == installed or (t.version.public == installed.public and not installed.local)
    if REQUIRE_REAL_TORCH:
        assert t.version == Version("2.13.0+cpu")
    assert t.python_version == Version(".".join(str(p) for p in sys.version_info[:3]))
    assert isinstance(t.location, str) and Path(t.location, "__init__.py").is_file()
    assert isinstance(t.build_config, str) and t.build_config.strip()
    assert isinstance(t.git_version, str) and isinstance(t.debug, bool)
    assert "torch" in {d.name for d in t.distributions}
    assert isinstance(t.loaded_libraries, tuple)
    if installed.local == "cpu":
        assert t.build == "cpu"
        assert t.cuda_available is False
        assert t.cuda_unavailable_reason == "torch was built without CUDA"
        assert t.arch_list == ()
        assert t.device_count == 0 and t.devices == ()
    print(f"probe_torch on the real torch {t.version}: {elapsed:.2f} s")


# --------------------------------------------------------------------------------------------
# fake torch builds on PYTHONPATH


def fake(variant: str, timeout: float = 30.0, **extra: str) -> TorchFacts | Unavailable:
    """Run the child in our interpreter with tests/fixtures/fake_torch/<variant> first on PYTHONPATH."""
    env = child_env(
        {"PYTHONPATH": str(FAKE_TORCH / variant), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", **extra}
    )
    return inspect_torch(sys.executable, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def stand_in_libs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Empty shared objects named like CUDA libraries (they only have to be mappable)."""
    out = tmp_path_factory.mktemp("cuda_libs")
    source = out / "empty.c"
    source.write_text("int cudadoctor_stand_in;\n")
    libs = out / "lib"
    libs.mkdir()
    names = ("libcudart.so.12", "libcudnn_ops.so.9", "libnccl-1a2b3c4d.so.2", "libtorch_cuda.so", "libunrelated.so.1")
    for name in names:
        try:
            subprocess.run(
                ["gcc", "-shared", "-fPIC", "-o", str(libs / name), str(source)],
                check=True, capture_output=True, timeout=60,
            )
        except FileNotFoundError:
            pytest.fail("gcc is required to build stand-in libraries (it is on every test machine)")
    return libs


def test_fake_cu124_two_gpus(stand_in_libs: Path) -> None:
    t = ok(fake("cu124", FAKE_TORCH_LIBDIR=str(stand_in_libs)))
    assert t.status == "ok"
    assert t.location == str(FAKE_TORCH / "cu124" / "torch")
    assert t.version == Version("2.5.1+cu124") and t.build == "cuda"
    assert t.cuda_version == Version("12.4") and t.cudnn_version == Version("9.1.0")
    assert t.nccl_version == Version("2.21.5")
    assert t.cuda_available is True and t.device_count == 2
    assert [d.capability for d in t.devices] == [Version("9.0"), Version("8.0")]
    assert t.arch_list == ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
    assert isinstance(t.loaded_libraries, tuple)
    found = {lib.library: lib.path for lib in t.loaded_libraries}
    assert found == {
        "libcudart": str(stand_in_libs / "libcudart.so.12"),
        "libcudnn_ops": str(stand_in_libs / "libcudnn_ops.so.9"),
        "libnccl": str(stand_in_libs / "libnccl-1a2b3c4d.so.2"),
        "libtorch_cuda": str(stand_in_libs / "libtorch_cuda.so"),
    }
    dists = {d.name: d.version for d in t.distributions}
    assert dists["torch"] == "2.5.1+cu124"  # the fake's metadata, not the real wheel behind it
    assert dists["torchvision"] == "0.20.1+cu124"


def test_fake_torch_printing_to_stdout() -> None:
    t = ok(fake("cu124", FAKE_TORCH_GARBAGE="1"))
    assert t.status == "ok" and t.version == Version("2.5.1+cu124") and t.device_count == 2


def test_fake_cu121_driver_too_old() -> None:
    t = ok(fake("cu121_driver_too_old"))
    assert t.status == "ok"
    assert t.version == Version("2.3.1+cu121") and t.cudnn_version == Version("8.9.2")
    assert t.cuda_available is False
    assert "The NVIDIA driver on your system is too old (found version 11040)" in t.cuda_unavailable_reason
    assert t.device_count == 0
    assert t.arch_list == ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")


def test_fake_import_error() -> None:
    t = ok(fake("import_error"))
    assert t.status == "import-failed"
    assert "ImportError: libcudnn.so.9: cannot open shared object file" in t.import_error
    assert "torch/_C.py" in t.import_error  # the full traceback
    assert isinstance(t.version, Unavailable)


def test_fake_import_segfault() -> None:
    t = ok(fake("import_segfault"))
    assert t.status == "import-crashed"
    assert "SIGSEGV during `import torch`" in t.import_error
    assert "import_segfault/torch/__init__.py" in t.import_error  # faulthandler's stack
    assert {d.name: d.version for d in t.distributions}["torch"] == "2.4.0+cu121"


def test_fake_import_hang_times_out_quickly() -> None:
    start = time.monotonic()
    t = ok(fake("import_hang", timeout=1.5))
    assert time.monotonic() - start < 10
    assert t.status == "import-timeout"
    assert "timed out after 1.5 s" in t.import_error and "during `import torch`" in t.import_error
    assert t.location == str(FAKE_TORCH / "import_hang" / "torch")
    assert {d.name: d.version for d in t.distributions}["torch"] == "2.4.0+cu121"


def test_fake_cuda_init_hang_keeps_the_build_facts() -> None:
    t = ok(fake("cu124", timeout=1.5, FAKE_TORCH_CUDA_INIT="hang"))
    assert t.status == "import-timeout"
    assert t.version == Version("2.5.1+cu124") and t.cudnn_version == Version("9.1.0")
    assert isinstance(t.cuda_available, Unavailable) and "CUDA initialisation" in t.cuda_available.reason
    assert "in _lazy_init" in t.cuda_available.detail


def test_fake_cuda_init_segfault_keeps_the_build_facts() -> None:
    t = ok(fake("cu124", FAKE_TORCH_CUDA_INIT="segfault"))
    assert t.status == "import-crashed"
    assert t.version == Version("2.5.1+cu124")
    assert isinstance(t.cuda_available, Unavailable) and "SIGSEGV" in t.cuda_available.reason


@pytest.fixture(scope="session")
def torchless_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh virtual environment without torch (the test environment itself has torch)."""
    venv = tmp_path_factory.mktemp("torchless") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    return str(venv / "bin" / "python")


def test_not_installed(torchless_python: str) -> None:
    env = child_env({"PYTHONNOUSERSITE": "1"}, drop=("PYTHONPATH",))
    t = ok(inspect_torch(torchless_python, timeout=30.0, env=env))
    assert t.status == "not-installed"
    assert t.python_executable == torchless_python
    assert isinstance(t.version, Unavailable) and isinstance(t.location, Unavailable)
    assert "torch" not in {d.name for d in t.distributions}


# --------------------------------------------------------------------------------------------
# a --python that cannot run the child


def test_python_does_not_exist(tmp_path: Path) -> None:
    result = probe_torch(ProbeContext(python=str(tmp_path / "no-such-python")))
    assert isinstance(result, Unavailable)
    assert "does not exist" in result.reason and "\n" not in result.reason


def test_python_is_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    for path in (script, tmp_path):
        result = probe_torch(ProbeContext(python=str(path)))
        assert isinstance(result, Unavailable) and "not an executable" in result.reason


def test_python_that_is_not_python(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'not python' >&2\nexit 3\n")
    fake_python.chmod(0o755)
    result: Any = probe_torch(ProbeContext(python=str(fake_python)))
    assert isinstance(result, Unavailable)
    assert "did not run the torch inspection script" in result.reason and "exit code 3" in result.reason
    assert result.detail == "not python"
    assert not known(result)
