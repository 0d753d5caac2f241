"""Tests of the toolkit probe: parsers on recorded samples, CUDA_HOME resolution, fake and real tools."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from packaging.version import Version

from cudadoctor.facts import Unavailable
from cudadoctor.probes.toolkit import (
    collect_toolkit,
    find_cuda_header,
    header_search_dirs,
    parse_cudart_header,
    parse_gcc_version,
    parse_nvcc_version,
    parse_version_json,
    parse_version_txt,
    read_cuda_home_version,
    resolve_cuda_home,
)

RAW = Path(__file__).parents[1] / "fixtures" / "raw" / "toolkit"


def _raw(name: str) -> str:
    return (RAW / name).read_text()


# --------------------------------------------------------------------------------------------
# pure parsers


@pytest.mark.parametrize(
    ("name", "expected"),
    [("nvcc_13.0_debian12.txt", "13.0"), ("nvcc_12.4_ubuntu.txt", "12.4"), ("nvcc_11.8_ubuntu.txt", "11.8")],
)
def test_parse_nvcc_version(name: str, expected: str) -> None:
    assert parse_nvcc_version(_raw(name)) == Version(expected)


@pytest.mark.parametrize("text", [_raw("nvcc_garbage.txt"), "", "release notes"])
def test_parse_nvcc_version_garbage(text: str) -> None:
    result = parse_nvcc_version(text)
    assert isinstance(result, Unavailable) and "release X.Y" in result.reason


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gcc_dumpfullversion_12.2.0.txt", "12.2.0"),
        ("gcc_version_debian12.txt", "12.2.0"),
        ("gcc_version_ubuntu2204.txt", "11.4.0"),
        ("gcc_version_rhel8.txt", "8.5.0"),
        ("gcc_version_conda.txt", "12.3.0"),
    ],
)
def test_parse_gcc_version(name: str, expected: str) -> None:
    assert parse_gcc_version(_raw(name)) == Version(expected)


@pytest.mark.parametrize("text", [_raw("gcc_garbage.txt"), "", "\n\n"])
def test_parse_gcc_version_garbage(text: str) -> None:
    assert isinstance(parse_gcc_version(text), Unavailable)


def test_parse_version_json() -> None:
    assert parse_version_json(_raw("version_json_12.4.1.json")) == Version("12.4.1")
    garbage = parse_version_json(_raw("version_json_garbage.json"))
    assert isinstance(garbage, Unavailable) and "cuda.version" in garbage.reason
    no_cuda = parse_version_json('{"cuda_cudart": {"version": "12.4.127"}}')
    assert isinstance(no_cuda, Unavailable)
    assert isinstance(parse_version_json('{"cuda": {"version": "twelve"}}'), Unavailable)


def test_parse_version_txt() -> None:
    assert parse_version_txt(_raw("version_txt_10.2.89.txt")) == Version("10.2.89")
    assert parse_version_txt(_raw("version_txt_11.0.228.txt")) == Version("11.0.228")
    assert isinstance(parse_version_txt(_raw("version_txt_garbage.txt")), Unavailable)


def test_parse_cudart_header() -> None:
    assert parse_cudart_header(_raw("cuda_runtime_api_h_13.0_excerpt.txt")) == Version("13.0")
    assert parse_cudart_header("#define CUDART_VERSION 12040\n") == Version("12.4")
    assert isinstance(parse_cudart_header("/* CUDART_VERSION is not defined here */"), Unavailable)


def test_resolve_cuda_home_order() -> None:
    both = {"CUDA_HOME": "/opt/a", "CUDA_PATH": "/opt/b"}
    assert resolve_cuda_home(both, "/usr/bin/nvcc", True) == ("/opt/a", "CUDA_HOME")
    assert resolve_cuda_home({"CUDA_PATH": "/opt/b"}, "/usr/bin/nvcc", True) == ("/opt/b", "CUDA_PATH")
    # NOTE: torch tests `CUDA_HOME or CUDA_PATH`, so an empty CUDA_HOME falls through.
    assert resolve_cuda_home({"CUDA_HOME": ""}, "/opt/cuda-12.4/bin/nvcc", True) == ("/opt/cuda-12.4", "nvcc-on-path")
    assert resolve_cuda_home({}, None, True) == ("/usr/local/cuda", "/usr/local/cuda")
    home, source = resolve_cuda_home({}, None, False)
    assert isinstance(home, Unavailable) and source == "none" and "nvcc is not on PATH" in home.reason


# --------------------------------------------------------------------------------------------
# fake tools in a temp tree


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _fake_cuda(root: Path, nvcc_output: str, version_json: str | None = None) -> Path:
    (root / "bin").mkdir(parents=True, exist_ok=True)
    (root / "nvcc.out").write_text(nvcc_output)
    _script(root / "bin" / "nvcc", f'exec cat "{root / "nvcc.out"}"\n')
    if version_json is not None:
        (root / "version.json").write_text(version_json)
    return root


def test_cuda_home_from_env_with_fake_nvcc(tmp_path: Path) -> None:
    home = _fake_cuda(tmp_path / "cuda-12.4", _raw("nvcc_12.4_ubuntu.txt"), _raw("version_json_12.4.1.json"))
    facts = collect_toolkit(timeout=10, environ={"CUDA_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert (facts.cuda_home, facts.cuda_home_source) == (str(home), "CUDA_HOME")
    assert facts.cuda_home_version == Version("12.4.1")
    assert (facts.nvcc_path, facts.nvcc_version) == (str(home / "bin" / "nvcc"), Version("12.4"))

    facts = collect_toolkit(timeout=10, environ={"CUDA_PATH": str(home), "PATH": "/usr/bin:/bin"})
    assert facts.cuda_home_source == "CUDA_PATH"


def test_cuda_home_from_nvcc_on_path(tmp_path: Path) -> None:
    home = _fake_cuda(tmp_path / "toolkit", _raw("nvcc_11.8_ubuntu.txt"))
    (home / "version.txt").write_text(_raw("version_txt_11.0.228.txt"))
    facts = collect_toolkit(timeout=10, environ={"PATH": f"{home / 'bin'}:/usr/bin:/bin"},
                            default_cuda_home=str(tmp_path / "absent"))
    assert (facts.cuda_home, facts.cuda_home_source) == (str(home), "nvcc-on-path")
    assert facts.nvcc_version == Version("11.8") and facts.cuda_home_version == Version("11.0.228")


def test_nvcc_missing_under_cuda_home_names_the_one_on_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty-home"
    empty.mkdir()
    other = _fake_cuda(tmp_path / "other", _raw("nvcc_12.4_ubuntu.txt"))
    facts = collect_toolkit(timeout=10, environ={"CUDA_HOME": str(empty), "PATH": f"{other / 'bin'}:/usr/bin:/bin"})
    assert facts.cuda_home == str(empty)
    assert isinstance(facts.nvcc_path, Unavailable) and isinstance(facts.nvcc_version, Unavailable)
    assert str(other / "bin" / "nvcc") in facts.nvcc_path.reason
    assert isinstance(facts.cuda_home_version, Unavailable)


def test_cuda_home_that_does_not_exist(tmp_path: Path) -> None:
    facts = collect_toolkit(timeout=10, environ={"CUDA_HOME": str(tmp_path / "gone"), "PATH": "/usr/bin:/bin"})
    assert facts.cuda_home == str(tmp_path / "gone")
    assert isinstance(facts.cuda_home_version, Unavailable) and "does not exist" in facts.cuda_home_version.reason


def test_the_probe_records_whether_cuda_home_exists_and_that_it_searched_the_headers(tmp_path: Path) -> None:
    home = _fake_cuda(tmp_path / "cuda-12.4", _raw("nvcc_12.4_ubuntu.txt"), _raw("version_json_12.4.1.json"))
    facts = collect_toolkit(timeout=10, environ={"CUDA_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert facts.cuda_home_exists is True and facts.cuda_headers_searched is True
    gone = collect_toolkit(timeout=10, environ={"CUDA_HOME": str(tmp_path / "gone"), "PATH": "/usr/bin:/bin"})
    assert gone.cuda_home_exists is False and gone.cuda_headers_searched is True
    none = collect_toolkit(timeout=10, environ={"PATH": "/usr/bin:/bin"}, default_cuda_home=str(tmp_path / "absent"))
    assert isinstance(none.cuda_home, Unavailable) and none.cuda_home_exists == none.cuda_home


def test_garbage_and_failing_nvcc(tmp_path: Path) -> None:
    garbage = _fake_cuda(tmp_path / "garbage", _raw("nvcc_garbage.txt"))
    facts = collect_toolkit(timeout=10, environ={"CUDA_HOME": str(garbage), "PATH": "/usr/bin:/bin"})
    assert facts.nvcc_path == str(garbage / "bin" / "nvcc")
    assert isinstance(facts.nvcc_version, Unavailable) and "release X.Y" in facts.nvcc_version.reason

    failing = tmp_path / "failing"
    _script(failing / "bin" / "nvcc", "echo 'nvcc fatal : Unknown option' >&2\nexit 1\n")
    facts = collect_toolkit(timeout=10, environ={"CUDA_HOME": str(failing), "PATH": "/usr/bin:/bin"})
    assert isinstance(facts.nvcc_version, Unavailable)
    assert "exit code 1" in facts.nvcc_version.reason and "Unknown option" in facts.nvcc_version.reason


def test_hanging_nvcc_times_out(tmp_path: Path) -> None:
    hang = tmp_path / "hang"
    _script(hang / "bin" / "nvcc", "sleep 30\n")
    facts = collect_toolkit(timeout=1, environ={"CUDA_HOME": str(hang), "PATH": "/usr/bin:/bin"})
    assert isinstance(facts.nvcc_version, Unavailable) and "timed out" in facts.nvcc_version.reason


def test_old_gcc_without_dumpfullversion(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    (tmp_path / "banner").write_text(_raw("gcc_version_rhel8.txt"))
    _script(bin_dir / "gcc", f'[ "$1" = --version ] && exec cat "{tmp_path / "banner"}"\n'
                             'echo "gcc: fatal error: no input files" >&2\nexit 1\n')
    facts = collect_toolkit(timeout=10, environ={"PATH": f"{bin_dir}:/usr/bin:/bin"},
                            default_cuda_home=str(tmp_path / "absent"))
    assert (facts.gcc_path, facts.gcc_version) == (str(bin_dir / "gcc"), Version("8.5.0"))


def test_no_gcc_no_toolkit(tmp_path: Path) -> None:
    facts = collect_toolkit(timeout=10, environ={"PATH": str(tmp_path)}, default_cuda_home=str(tmp_path / "absent"))
    assert facts.cuda_home_source == "none"
    for value in (facts.cuda_home, facts.cuda_home_version, facts.nvcc_path, facts.nvcc_version,
                  facts.gcc_path, facts.gcc_version):
        assert isinstance(value, Unavailable)
    assert "gcc is not on PATH" in facts.gcc_path.reason  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------
# this machine: CUDA 13.0 under /usr/local/cuda, gcc 12


REAL_NVCC = Path("/usr/local/cuda/bin/nvcc")


@pytest.mark.skipif(not REAL_NVCC.exists(), reason="needs the CUDA 13.0 toolkit under /usr/local/cuda")
def test_real_toolkit_found_via_usr_local_cuda() -> None:
    facts = collect_toolkit(timeout=30, environ={"PATH": "/usr/bin:/bin"})  # nvcc not on PATH
    assert (facts.cuda_home, facts.cuda_home_source) == ("/usr/local/cuda", "/usr/local/cuda")
    assert facts.nvcc_path == str(REAL_NVCC) and facts.nvcc_version == Version("13.0")
    assert isinstance(facts.cuda_home_version, Version) and facts.cuda_home_version.release[:2] == (13, 0)
    assert facts.gcc_path == "/usr/bin/gcc"
    assert isinstance(facts.gcc_version, Version) and facts.gcc_version.major >= 7  # 12 here, 13 on the GPU host


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs an nvcc on PATH")
def test_real_nvcc_on_path_follows_torch_rule() -> None:
    environ = {"PATH": os.environ["PATH"]}
    facts = collect_toolkit(timeout=30, environ=environ)
    nvcc = shutil.which("nvcc")
    assert nvcc is not None
    # NOTE: torch takes dirname(dirname(which("nvcc"))) without resolving symlinks or wrappers.
    assert (facts.cuda_home, facts.cuda_home_source) == (os.path.dirname(os.path.dirname(nvcc)), "nvcc-on-path")
    if facts.nvcc_path == nvcc:
        assert isinstance(facts.nvcc_version, Version) and facts.nvcc_version.major >= 11


def test_read_cuda_home_version_prefers_version_json(tmp_path: Path) -> None:
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "cuda_runtime_api.h").write_text("#define CUDART_VERSION 12040\n")
    assert read_cuda_home_version(str(tmp_path)) == Version("12.4")
    (tmp_path / "version.txt").write_text(_raw("version_txt_10.2.89.txt"))
    assert read_cuda_home_version(str(tmp_path)) == Version("10.2.89")
    (tmp_path / "version.json").write_text(_raw("version_json_12.4.1.json"))
    assert read_cuda_home_version(str(tmp_path)) == Version("12.4.1")


# --------------------------------------------------------------------------------------------
# where the host compiler finds cuda_runtime_api.h


def _header(root: Path, rel: str) -> Path:
    path = root / rel / "cuda_runtime_api.h"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#define CUDART_VERSION 12040\n")
    return path


def test_header_in_cuda_home_include(tmp_path: Path) -> None:
    home = tmp_path / "cuda"
    want = _header(home, "include")
    found, elsewhere = find_cuda_header(str(home), {})
    assert found == str(want) and elsewhere == ()


def test_header_only_under_targets_is_not_found_but_named(tmp_path: Path) -> None:
    home = tmp_path / "conda-env"
    hidden = _header(home, "targets/x86_64-linux/include")
    found, elsewhere = find_cuda_header(str(home), {"CPATH": "", "C_INCLUDE_PATH": "::"})
    assert isinstance(found, Unavailable)
    assert f"{home}/include" in found.reason and "/usr/include" in found.reason
    assert elsewhere == (str(hidden),)


@pytest.mark.parametrize("variable", ["CUDA_INC_PATH", "CPATH", "CPLUS_INCLUDE_PATH", "C_INCLUDE_PATH"])
def test_header_through_the_compiler_environment(tmp_path: Path, variable: str) -> None:
    inc = _header(tmp_path, "extra").parent
    # CUDA_INC_PATH is one directory (torch appends it as is); the others are gcc's lists
    value = str(inc) if variable == "CUDA_INC_PATH" else f"/nonexistent:{inc}"
    found, _ = find_cuda_header(str(tmp_path / "no-such-home"), {variable: value})
    assert found == str(inc / "cuda_runtime_api.h")


def test_header_search_order_follows_cpp_extension(tmp_path: Path) -> None:
    dirs = header_search_dirs("/opt/cuda", {"CUDA_INC_PATH": "/a", "CPATH": "/b:/c", "CPLUS_INCLUDE_PATH": "/d"})
    assert dirs == ["/opt/cuda/include", "/a", "/b", "/c", "/d", "/usr/local/include", "/usr/include"]
    assert header_search_dirs(Unavailable(probe="toolkit", reason="none"), {})[0] == "/usr/local/include"


@pytest.mark.skipif(not REAL_NVCC.exists(), reason="needs the CUDA 13.0 toolkit under /usr/local/cuda")
def test_real_toolkit_headers() -> None:
    facts = collect_toolkit(timeout=30, environ={"PATH": "/usr/bin:/bin"})
    assert facts.cuda_runtime_header == "/usr/local/cuda/include/cuda_runtime_api.h"
