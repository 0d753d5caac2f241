"""The toolkit probe follows nvcc wrappers and symlinks to the real toolkit (issue 12).

/usr/local/bin/nvcc as a two-line script that execs /usr/local/cuda-13.0/bin/nvcc makes
torch.utils.cpp_extension guess CUDA_HOME=/usr/local; the probe keeps that guess (it is what
builds use) and records where the real nvcc and its toolkit are.
"""

from __future__ import annotations

from pathlib import Path

from packaging.version import Version

from cudadoctor.facts import Unavailable
from cudadoctor.probes.toolkit import collect_toolkit, resolve_nvcc
from tests.probes.test_toolkit import _fake_cuda, _raw, _script


def test_wrapper_script_is_followed_to_the_real_nvcc(tmp_path: Path) -> None:
    real = _fake_cuda(tmp_path / "cuda-13.0", _raw("nvcc_12.4_ubuntu.txt"))
    wrapper = _script(tmp_path / "local" / "bin" / "nvcc", f'exec {real / "bin" / "nvcc"} "$@"\n')
    assert resolve_nvcc(str(wrapper)) == str(real / "bin" / "nvcc")
    quoted = _script(tmp_path / "q" / "bin" / "nvcc", f'# wrapper\nexec "{real / "bin" / "nvcc"}" "$@"\n')
    assert resolve_nvcc(str(quoted)) == str(real / "bin" / "nvcc")


def test_symlinks_and_wrapper_chains_are_followed(tmp_path: Path) -> None:
    real = _fake_cuda(tmp_path / "cuda-12.4", _raw("nvcc_12.4_ubuntu.txt"))
    link = tmp_path / "links" / "nvcc"
    link.parent.mkdir()
    link.symlink_to(real / "bin" / "nvcc")
    outer = _script(tmp_path / "outer" / "bin" / "nvcc", f"exec {link} \"$@\"\n")
    assert resolve_nvcc(str(link)) == str(real / "bin" / "nvcc")
    assert resolve_nvcc(str(outer)) == str(real / "bin" / "nvcc")


def test_a_script_that_does_other_things_is_the_nvcc_itself(tmp_path: Path) -> None:
    own = _script(tmp_path / "bin" / "nvcc", 'echo "Cuda compilation tools, release 12.4, V12.4.131"\n')
    assert resolve_nvcc(str(own)) == str(own)
    dangling = _script(tmp_path / "d" / "bin" / "nvcc", "exec /nonexistent/cuda/bin/nvcc \"$@\"\n")
    assert resolve_nvcc(str(dangling)) == str(dangling)


def test_wrappers_that_exec_each_other_are_a_loop_not_a_hang(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "bin" / "nvcc", tmp_path / "b" / "bin" / "nvcc"
    _script(a, f"exec {b} \"$@\"\n")
    _script(b, f"exec {a} \"$@\"\n")
    result = resolve_nvcc(str(a))
    assert isinstance(result, Unavailable) and "loop" in result.reason


def test_collect_keeps_torchs_guess_and_records_the_real_toolkit(tmp_path: Path) -> None:
    real = _fake_cuda(tmp_path / "cuda-13.0", _raw("nvcc_12.4_ubuntu.txt"))
    local = tmp_path / "local"
    _script(local / "bin" / "nvcc", f'exec {real / "bin" / "nvcc"} "$@"\n')
    facts = collect_toolkit(timeout=10, environ={"PATH": f"{local / 'bin'}:/usr/bin:/bin"},
                            default_cuda_home=str(tmp_path / "absent"))
    assert (facts.cuda_home, facts.cuda_home_source) == (str(local), "nvcc-on-path")  # what torch guesses
    assert facts.nvcc_path == str(local / "bin" / "nvcc") and facts.nvcc_version == Version("12.4")
    assert facts.nvcc_real_path == str(real / "bin" / "nvcc")
    assert facts.real_toolkit == str(real)


def test_no_real_toolkit_note_when_cuda_home_is_a_symlink_to_it(tmp_path: Path) -> None:
    real = _fake_cuda(tmp_path / "cuda-13.0", _raw("nvcc_12.4_ubuntu.txt"))
    home = tmp_path / "cuda"
    home.symlink_to(real)
    facts = collect_toolkit(timeout=10, environ={"CUDA_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert facts.nvcc_real_path == str(real / "bin" / "nvcc")
    assert facts.real_toolkit == ""  # /usr/local/cuda -> cuda-13.0 is the same toolkit
