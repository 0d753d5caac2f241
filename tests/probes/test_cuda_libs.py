"""Tests of the cuda_libs probe: parsers on recorded samples, and the real loading path on stub libraries."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from cudadoctor.facts import CudaLibsFacts, LibraryCopy, Unavailable
from cudadoctor.probes import cuda_libs
from cudadoctor.probes.base import ProbeContext
from cudadoctor.probes.cuda_libs import (
    SearchRoots,
    cache_dirs_from,
    classify_origin,
    collect_cuda_libs,
    is_libcuda,
    match_library,
    parse_cublaslt_version,
    parse_cudart_version,
    parse_cudnn_version,
    parse_ldconfig,
    parse_nccl_version,
    read_soname,
    version_from_filename,
)
from tests.conftest import without_system_driver
from tests.stubs import compile_stub

RAW = Path(__file__).parents[1] / "fixtures" / "raw" / "libs"


# --------------------------------------------------------------------------------------------
# pure parsers


def test_parse_ldconfig_this_machine() -> None:
    rows = parse_ldconfig((RAW / "ldconfig_debian12_cuda13_nodriver.txt").read_text())
    assert len(rows) == 536  # the header says "536 libs found in cache"
    assert ("libcudart.so.13", "libc6,x86-64", "/usr/local/cuda-13.0/lib/libcudart.so.13") in rows
    assert not any(is_libcuda(name) for name, _flags, _path in rows)


def test_parse_ldconfig_ubuntu_with_driver() -> None:
    rows = parse_ldconfig((RAW / "ldconfig_ubuntu2204_cuda121_driver535.txt").read_text())
    names = [name for name, _flags, _path in rows]
    assert "libc.so.6" in names  # a row with "OS ABI" inside the parentheses
    assert ("libcuda.so.1", "libc6", "/lib/i386-linux-gnu/libcuda.so.1") in rows
    tracked = {match_library(n)[0] for n in names if match_library(n)}  # type: ignore[index]
    assert {"libcudart", "libcudnn", "libcudnn_ops_infer", "libcublasLt", "libnccl", "libnvJitLink"} <= tracked
    assert "libcufftw" not in tracked and not any("builtins" in t for t in tracked)
    assert cache_dirs_from(rows) == ["/usr/local/cuda-12.1/targets/x86_64-linux/lib", "/lib/x86_64-linux-gnu"]
    assert "/lib/i386-linux-gnu" in cache_dirs_from(rows, native_only=False)


def test_parse_ldconfig_garbage() -> None:
    assert parse_ldconfig("ldconfig: Can't open cache file /etc/ld.so.cache\n: No such file") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("libcudart.so.12", ("libcudart", "12")),
        ("libcudart.so", ("libcudart", "")),
        ("libcudart-d0da41ae.so.11.0", ("libcudart", "11.0")),
        ("libcublasLt.so.12.4.5.8", ("libcublasLt", "12.4.5.8")),
        ("libcublas.so.12", ("libcublas", "12")),
        ("libcudnn_ops_infer.so.8", ("libcudnn_ops_infer", "8")),
        ("libcudnn_engines_runtime_compiled.so.9", ("libcudnn_engines_runtime_compiled", "9")),
        ("libnvJitLink.so.13", ("libnvJitLink", "13")),
        ("libcusparseLt.so.0", None),
        ("libnvrtc-builtins.so.12.4", None),
        ("libcufftw.so.11", None),
        ("libcudart_static.a", None),
        ("libcuda.so.1", None),
    ],
)
def test_match_library(name: str, expected: tuple[str, str] | None) -> None:
    assert match_library(name) == expected


def test_is_libcuda() -> None:
    assert is_libcuda("libcuda.so.1") and is_libcuda("libcuda.so") and is_libcuda("libcuda.so.550.54.14")
    assert not is_libcuda("libcudart.so.12") and not is_libcuda("libcudadebugger.so.1")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("libcudart.so.12.4.127", "12.4.127"),
        ("libcudnn.so.8.9.2", "8.9.2"),
        ("libcublasLt.so.12.4.5.8", "12.4.5.8"),
        ("libnccl.so.2.18.3", "2.18.3"),
    ],
)
def test_version_from_filename(name: str, expected: str) -> None:
    assert version_from_filename(name) == Version(expected)


@pytest.mark.parametrize("name", ["libcudart.so.12", "libcudart.so.11.0", "libcudart.so", "libcudnn.so.9"])
def test_version_from_filename_soname_only(name: str) -> None:
    result = version_from_filename(name)
    assert isinstance(result, Unavailable) and name in result.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [(90100, "9.1.0"), (91002, "9.10.2"), (8902, "8.9.2"), (8600, "8.6.0"), (7605, "7.6.5")],
)
def test_parse_cudnn_version(value: int, expected: str) -> None:
    assert parse_cudnn_version(value) == Version(expected)


@pytest.mark.parametrize(
    ("value", "expected"), [(22703, "2.27.3"), (21803, "2.18.3"), (2804, "2.8.4"), (2708, "2.7.8")]
)
def test_parse_nccl_version(value: int, expected: str) -> None:
    assert parse_nccl_version(value) == Version(expected)


@pytest.mark.parametrize(("value", "expected"), [(12040, "12.4"), (11080, "11.8"), (13000, "13.0"), (12090, "12.9")])
def test_parse_cudart_version(value: int, expected: str) -> None:
    assert parse_cudart_version(value) == Version(expected)


def test_parse_cublaslt_version() -> None:
    assert parse_cublaslt_version(120405) == Version("12.4.5")
    assert parse_cublaslt_version(111103) == Version("11.11.3")


@pytest.mark.parametrize(
    "parser", [parse_cudart_version, parse_cudnn_version, parse_nccl_version, parse_cublaslt_version]
)
def test_version_parsers_reject_nonsense(parser: object) -> None:
    assert isinstance(parser(0), Unavailable)  # type: ignore[operator]
    assert isinstance(parser(-1), Unavailable)  # type: ignore[operator]


def test_classify_origin() -> None:
    roots = SearchRoots(
        ld_library_path=("/opt/old/lib64",),
        cuda_homes=("/opt/cuda",),
        usr_local="/usr/local",
        conda_prefix="/opt/conda/envs/x",
        site_dirs=("/opt/conda/envs/x/lib/python3.11/site-packages",),
        cache_dirs=("/opt/cudnn/lib",),
        system_dirs=("/usr/lib/x86_64-linux-gnu",),
    )
    site = "/opt/conda/envs/x/lib/python3.11/site-packages"
    assert classify_origin("/opt/old/lib64/", roots) == "ld-library-path"
    assert classify_origin(f"{site}/nvidia/cudnn/lib", roots) == "pip-wheel"
    assert classify_origin(f"{site}/nvidia/cu13/lib", roots) == "pip-wheel"
    assert classify_origin(f"{site}/torch/lib", roots) == "torch-lib"
    assert classify_origin("/opt/conda/envs/x/lib", roots) == "conda"
    assert classify_origin("/opt/cuda/targets/x86_64-linux/lib", roots) == "cuda-home"
    assert classify_origin("/usr/local/cuda-12.1/lib64", roots) == "usr-local-cuda"
    assert classify_origin("/usr/local/cuda/lib64", roots) == "usr-local-cuda"
    assert classify_origin("/usr/local/cudax/lib64", roots) == "system"
    assert classify_origin("/opt/cudnn/lib", roots) == "loader-cache"
    assert classify_origin("/usr/lib/x86_64-linux-gnu", roots) == "system"


# --------------------------------------------------------------------------------------------
# the real loading path, on a tree of stub libraries


def _link(directory: Path, name: str, target: str) -> None:
    (directory / name).unlink(missing_ok=True)
    (directory / name).symlink_to(target)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fake machine: a /usr/local/cuda-12.1 toolkit, pip wheels, a conda env, a libcuda dir."""
    root = tmp_path_factory.mktemp("libs")
    t: dict[str, Path] = {"root": root}

    usr_local = root / "usr" / "local"
    cuda_lib = usr_local / "cuda-12.1" / "targets" / "x86_64-linux" / "lib"
    compile_stub("cudart_stub.c", cuda_lib, "libcudart.so.12.1.105", soname="libcudart.so.12",
                 defines={"CUDART_VERSION_VALUE": 12010},
                 links={"libcudart.so.12": "libcudart.so.12.1.105", "libcudart.so": "libcudart.so.12"})
    compile_stub("cublaslt_stub.c", cuda_lib, "libcublasLt.so.12.1.3.1", soname="libcublasLt.so.12",
                 defines={"CUBLASLT_VERSION_VALUE": 120103}, links={"libcublasLt.so.12": "libcublasLt.so.12.1.3.1"})
    compile_stub("nvjitlink_stub.c", cuda_lib, "libnvJitLink.so.12.1.105", soname="libnvJitLink.so.12",
                 defines={"STUB_OLD": 1}, links={"libnvJitLink.so.12": "libnvJitLink.so.12.1.105"})
    _link(usr_local / "cuda-12.1", "lib64", "targets/x86_64-linux/lib")
    _link(usr_local, "cuda", "cuda-12.1")
    t["usr_local"], t["cuda_lib"] = usr_local, cuda_lib

    site = root / "site-packages"
    cudnn_lib = site / "nvidia" / "cudnn" / "lib"
    compile_stub("cudnn_stub.c", cudnn_lib, "libcudnn.so.9", soname="libcudnn.so.9",
                 defines={"CUDNN_VERSION_VALUE": 90100})
    compile_stub("cudnn_stub.c", cudnn_lib, "libcudnn_ops.so.9", soname="libcudnn_ops.so.9")
    compile_stub("cudnn_stub.c", cudnn_lib, "libcudnn_graph.so.9", soname="libcudnn_graph.so.9")
    runtime_lib = site / "nvidia" / "cuda_runtime" / "lib"
    compile_stub("cudart_stub.c", runtime_lib, "libcudart.so.12", soname="libcudart.so.12",
                 defines={"CUDART_VERSION_VALUE": 12040})
    nccl_lib = site / "nvidia" / "nccl" / "lib"
    compile_stub("nccl_stub.c", nccl_lib, "libnccl.so.2", soname="libnccl.so.2", defines={"NCCL_VERSION_VALUE": 21903})
    info = site / "nvidia_cudnn_cu12-9.1.0.70.dist-info"
    info.mkdir(parents=True)
    (info / "RECORD").write_text(
        "nvidia/cudnn/lib/libcudnn.so.9,sha256=x,1\n"
        "nvidia/cudnn/lib/libcudnn_ops.so.9,sha256=x,1\n"
        "nvidia/cudnn/lib/libcudnn_graph.so.9,sha256=x,1\n"
        "nvidia_cudnn_cu12-9.1.0.70.dist-info/RECORD,,\n"
    )
    (site / "torch" / "lib").mkdir(parents=True)
    compile_stub("cudart_stub.c", site / "torch" / "lib", "libcudart-d0da41ae.so.11.0",
                 soname="libcudart-d0da41ae.so.11.0", defines={"CUDART_VERSION_VALUE": 11080})
    t["site"], t["cudnn_lib"], t["runtime_lib"], t["nccl_lib"] = site, cudnn_lib, runtime_lib, nccl_lib

    conda = root / "conda"
    compile_stub("cudnn_stub.c", conda / "lib", "libcudnn.so.8.9.2", soname="libcudnn.so.8",
                 defines={"CUDNN_VERSION_VALUE": 8902}, links={"libcudnn.so.8": "libcudnn.so.8.9.2"})
    compile_stub("cudnn_stub.c", conda / "lib", "libcudnn_ops_infer.so.8.9.2", soname="libcudnn_ops_infer.so.8",
                 links={"libcudnn_ops_infer.so.8": "libcudnn_ops_infer.so.8.9.2"})
    t["conda"] = conda

    system = root / "system"
    compile_stub("nccl_stub.c", system, "libnccl.so.2.18.3", soname="libnccl.so.2",
                 defines={"NCCL_VERSION_VALUE": 21803}, links={"libnccl.so.2": "libnccl.so.2.18.3"})
    _link(system, "libcudart.so.11.0", "missing-target.so")  # dangling symlink: not a copy
    t["system"] = system

    driver = root / "driver"
    compile_stub("cudnn_stub.c", driver, "libcuda.so.550.54.14", soname="libcuda.so.1",
                 links={"libcuda.so.1": "libcuda.so.550.54.14", "libcuda.so": "libcuda.so.1"})
    t["driver"] = driver

    python = root / "bin" / "python"
    python.parent.mkdir()
    python.symlink_to(sys.executable)  # a different path, so the probe asks it for its sys.path
    t["python"] = python
    return t


def _collect(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch, ld_library_path: list[Path],
             timeout: float = 30.0) -> CudaLibsFacts:
    monkeypatch.setenv("LD_LIBRARY_PATH", ":".join(str(p) for p in ld_library_path))
    monkeypatch.setenv("PYTHONPATH", str(tree["site"]))
    monkeypatch.setenv("CONDA_PREFIX", str(tree["conda"]))
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    return collect_cuda_libs(
        python=str(tree["python"]), timeout=timeout, usr_local=str(tree["usr_local"]),
        system_dirs=(str(tree["system"]),), use_loader_cache=False,
    )


def _copy(facts: CudaLibsFacts, real_path: Path) -> LibraryCopy:
    (copy,) = [c for c in facts.copies if c.real_path == str(real_path)]
    return copy


def _resolved(facts: CudaLibsFacts, soname: str) -> str | Unavailable:
    (entry,) = [r for r in facts.resolved if r.soname == soname]
    return entry.path


def test_finds_every_copy_with_versions(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    facts = _collect(tree, monkeypatch, [])

    toolkit = _copy(facts, tree["cuda_lib"] / "libcudart.so.12.1.105")
    assert toolkit.library == "libcudart" and toolkit.origin == "usr-local-cuda"
    assert toolkit.path == str(tree["usr_local"] / "cuda" / "lib64" / "libcudart.so.12")  # the soname link
    assert toolkit.soname_major == "12"
    assert (toolkit.version, toolkit.version_source) == (Version("12.1"), "library-call")

    wheel = _copy(facts, tree["runtime_lib"] / "libcudart.so.12")
    assert wheel.origin == "pip-wheel" and wheel.version == Version("12.4") and wheel.version_source == "library-call"

    cudnn9 = _copy(facts, tree["cudnn_lib"] / "libcudnn.so.9")
    assert (cudnn9.version, cudnn9.version_source) == (Version("9.1.0"), "library-call")
    ops = _copy(facts, tree["cudnn_lib"] / "libcudnn_ops.so.9")
    assert (ops.library, ops.version, ops.version_source) == ("libcudnn_ops", Version("9.1.0.70"), "metadata")

    cudnn8 = _copy(facts, tree["conda"] / "lib" / "libcudnn.so.8.9.2")
    assert cudnn8.origin == "conda" and cudnn8.path.endswith("/libcudnn.so.8") and cudnn8.soname_major == "8"
    assert (cudnn8.version, cudnn8.version_source) == (Version("8.9.2"), "library-call")
    infer = _copy(facts, tree["conda"] / "lib" / "libcudnn_ops_infer.so.8.9.2")
    assert (infer.version, infer.version_source) == (Version("8.9.2"), "filename")

    assert _copy(facts, tree["nccl_lib"] / "libnccl.so.2").version == Version("2.19.3")
    system_nccl = _copy(facts, tree["system"] / "libnccl.so.2.18.3")
    assert system_nccl.origin == "system" and system_nccl.version == Version("2.18.3")

    lt = _copy(facts, tree["cuda_lib"] / "libcublasLt.so.12.1.3.1")
    assert (lt.version, lt.version_source) == (Version("12.1.3"), "library-call")
    # NOTE: nvJitLinkVersion only exists since CUDA 12.3; older copies fall back to the file name.
    jit = _copy(facts, tree["cuda_lib"] / "libnvJitLink.so.12.1.105")
    assert (jit.version, jit.version_source) == (Version("12.1.105"), "filename")

    bundled = _copy(facts, tree["site"] / "torch" / "lib" / "libcudart-d0da41ae.so.11.0")
    assert (bundled.library, bundled.origin, bundled.soname_major) == ("libcudart", "torch-lib", "11.0")
    assert bundled.version == Version("11.8")

    assert len({c.real_path for c in facts.copies}) == len(facts.copies)  # de-duplicated by real path
    assert not any("libcudart.so.11.0" in c.path for c in facts.copies)  # the dangling link
    assert facts.ld_library_path == ()
    assert str(tree["conda"] / "lib") in facts.searched and str(tree["system"]) in facts.searched
    assert str(tree["cudnn_lib"]) in facts.searched


def test_ld_library_path_order_decides_resolution(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    wheel_first = _collect(tree, monkeypatch, [tree["runtime_lib"], tree["cuda_lib"]])
    assert _resolved(wheel_first, "libcudart.so.12") == str(tree["runtime_lib"] / "libcudart.so.12")
    assert wheel_first.ld_library_path == (str(tree["runtime_lib"]), str(tree["cuda_lib"]))
    assert _copy(wheel_first, tree["runtime_lib"] / "libcudart.so.12").origin == "ld-library-path"
    assert wheel_first.searched[:2] == wheel_first.ld_library_path

    toolkit_first = _collect(tree, monkeypatch, [tree["cuda_lib"], tree["runtime_lib"]])
    assert _resolved(toolkit_first, "libcudart.so.12") == str(tree["cuda_lib"] / "libcudart.so.12.1.105")


def test_resolves_only_sonames_present(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    facts = _collect(tree, monkeypatch, [tree["cudnn_lib"], tree["conda"] / "lib"])
    sonames = [r.soname for r in facts.resolved]
    assert sonames[0] == "libcuda.so.1"
    assert {"libcudart.so.12", "libcudnn.so.8", "libcudnn.so.9", "libnccl.so.2", "libnvJitLink.so.12"} <= set(sonames)
    assert "libcublas.so.12" not in sonames and "libcudart.so.13" not in sonames
    assert _resolved(facts, "libcudnn.so.9") == str(tree["cudnn_lib"] / "libcudnn.so.9")
    assert _resolved(facts, "libcudnn.so.8") == str(tree["conda"] / "lib" / "libcudnn.so.8.9.2")


@without_system_driver  # a real driver's libcuda.so in ld.so.cache would resolve the unversioned name
def test_unversioned_libcuda_resolved_when_cudnn8_is_present(
    tree: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cuDNN 8's sub-libraries dlopen "libcuda.so": the probe records whether that name resolves."""
    with_link = _collect(tree, monkeypatch, [tree["conda"] / "lib", tree["driver"]])
    assert _resolved(with_link, "libcuda.so") == str(tree["driver"] / "libcuda.so.550.54.14")
    # A minimal image: the runtime injected libcuda.so.1 and libcuda.so.<version>, no libcuda.so link.
    minimal = tmp_path / "minimal"
    compile_stub("cudnn_stub.c", minimal, "libcuda.so.550.54.14", soname="libcuda.so.1",
                 links={"libcuda.so.1": "libcuda.so.550.54.14"})
    without = _collect(tree, monkeypatch, [tree["conda"] / "lib", minimal])
    assert _resolved(without, "libcuda.so.1") == str(minimal / "libcuda.so.550.54.14")
    missing = _resolved(without, "libcuda.so")
    assert isinstance(missing, Unavailable) and "libcuda.so" in missing.reason


def test_libcuda_files_and_resolution(tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    facts = _collect(tree, monkeypatch, [tree["driver"]])
    assert set(facts.libcuda_files) == {
        str(tree["driver"] / n) for n in ("libcuda.so", "libcuda.so.1", "libcuda.so.550.54.14")
    }
    assert _resolved(facts, "libcuda.so.1") == str(tree["driver"] / "libcuda.so.550.54.14")
    assert not any(c.path.startswith(str(tree["driver"])) for c in facts.copies)


def test_unloadable_library_is_unavailable_with_dlerror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "libcudnn.so.9").write_text("not an ELF file\n" * 20)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(bad))
    facts = collect_cuda_libs(python=sys.executable, timeout=30, usr_local=str(tmp_path / "none"),
                              system_dirs=(), use_loader_cache=False)
    copy = _copy(facts, bad / "libcudnn.so.9")
    assert isinstance(copy.version, Unavailable) and copy.version_source == "unknown"
    assert "cannot be loaded" in copy.version.reason and "invalid ELF header" in copy.version.reason
    path = _resolved(facts, "libcudnn.so.9")
    assert isinstance(path, Unavailable) and "invalid ELF header" in path.reason


def test_crashing_library_is_named_and_others_fall_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crash, good = tmp_path / "crash", tmp_path / "good"
    compile_stub("cudart_stub.c", crash, "libcudart.so.12.6.77", soname="libcudart.so.12",
                 defines={"STUB_CRASH": 1}, links={"libcudart.so.12": "libcudart.so.12.6.77"})
    compile_stub("nccl_stub.c", good, "libnccl.so.2.21.5", soname="libnccl.so.2", defines={"NCCL_VERSION_VALUE": 22105})
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{crash}:{good}")
    facts = collect_cuda_libs(python=sys.executable, timeout=30, usr_local=str(tmp_path / "none"),
                              system_dirs=(), use_loader_cache=False)
    crashed = _copy(facts, crash / "libcudart.so.12.6.77")
    assert isinstance(crashed.version, Unavailable)
    assert "SIGSEGV" in crashed.version.reason and "12.6.77" in crashed.version.reason
    nccl = _copy(facts, good / "libnccl.so.2.21.5")
    assert (nccl.version, nccl.version_source) in {(Version("2.21.5"), "filename"), (Version("2.21.5"), "library-call")}
    # the resolve child only dlopens (never calls), so it still answers
    assert _resolved(facts, "libcudart.so.12") == str(crash / "libcudart.so.12.6.77")


def test_hanging_library_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hang = tmp_path / "hang"
    compile_stub("cudart_stub.c", hang, "libcudart.so.12", soname="libcudart.so.12", defines={"STUB_HANG": 1})
    monkeypatch.setenv("LD_LIBRARY_PATH", str(hang))
    facts = collect_cuda_libs(python=sys.executable, timeout=2, usr_local=str(tmp_path / "none"),
                              system_dirs=(), use_loader_cache=False)
    copy = _copy(facts, hang / "libcudart.so.12")
    assert isinstance(copy.version, Unavailable) and "timed out" in copy.version.reason


def test_read_soname(tree: dict[str, Path], tmp_path: Path) -> None:
    assert read_soname(str(tree["cuda_lib"] / "libcudart.so.12.1.105")) == "libcudart.so.12"
    (tmp_path / "text.so").write_text("hello")
    assert read_soname(str(tmp_path / "text.so")) == ""
    assert read_soname(str(tmp_path / "missing.so")) == ""


# --------------------------------------------------------------------------------------------
# this machine: a real CUDA 13.0 toolkit under /usr/local/cuda and no driver

REAL_CUDART = Path("/usr/local/cuda/lib64/libcudart.so.13")


@pytest.mark.skipif(not REAL_CUDART.exists(), reason="needs the CUDA 13.0 toolkit under /usr/local/cuda")
def test_real_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    facts = cuda_libs.probe_cuda_libs(ProbeContext(python=sys.executable))
    real = os.path.realpath(REAL_CUDART)
    (cudart,) = [c for c in facts.copies if c.real_path == real]
    assert cudart.library == "libcudart" and cudart.soname_major == "13"
    assert cudart.version_source == "library-call"
    assert isinstance(cudart.version, Version) and cudart.version.release[:2] == (13, 0)
    assert _resolved(facts, "libcudart.so.13") == real
    if not facts.libcuda_files:  # no NVIDIA driver here
        libcuda = _resolved(facts, "libcuda.so.1")
        assert isinstance(libcuda, Unavailable)
        assert "libcuda.so.1: cannot open shared object file: No such file or directory" in libcuda.reason
    assert "/usr/local/cuda/lib64" in facts.searched
