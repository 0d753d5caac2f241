"""Signatures of the build torch was installed as (a stated CPU build) and of a GPU the build cannot run.

From the mechanics: a CPU build is stated by its version tag, its conda build string or a
collect-style "built with CUDA: False"; cuBLAS failing to execute on a GPU its build has no kernels
for is the arch problem unless the text's own facts show every build covers that GPU.
"""

from __future__ import annotations

import pytest

from cudadoctor.triage import engine
from cudadoctor.triage.signatures import names_in, scan


def _lead(text: str, tables) -> str:
    hyps = engine.triage(text, tables).triage.hypotheses
    return hyps[0]["name"] if hyps else ""


@pytest.mark.parametrize("line", [
    "PyTorch built with CUDA:         False",
    "torch.version.cuda -> None",
    "pytorch: 2.1.0+cpu",
    "  pytorch-1.9.0-py3.8_cpu_0   pytorch",
])
def test_a_stated_cpu_build(line: str) -> None:
    assert names_in(scan(line + "\n")) == ["torch-cpu-only-build"]


@pytest.mark.parametrize("line", [
    "PyTorch built with CUDA: True",
    "torch 2.1.0+cu121",
    "cpuinfo 9.0.0+cpu-extensions",  # not a version ending in +cpu
])
def test_not_a_cpu_build(line: str) -> None:
    assert "torch-cpu-only-build" not in names_in(scan(line + "\n"))


def test_installer_gave_the_cpu_build_in_prose() -> None:
    assert names_in(scan("conda install pytorch cudatoolkit=11.1 -c pytorch\nThis installs the cpu version.\n")) == [
        "torch-cpu-only-build"]
    # NOTE: nothing about torch/conda/CUDA nearby: a CPU version of something else
    assert names_in(scan("The installer installs the CPU version of the game.\n")) == []


def test_cublas_execution_failure_points_at_the_build(tables) -> None:
    text = "RuntimeError: cublas runtime error : the GPU program failed to execute at THCBlas.cu:411\n"
    assert _lead(text, tables) == "gpu-arch-not-in-torch-build"


def test_cublas_failure_with_a_build_that_covers_the_gpu_is_not_the_arch(tables) -> None:
    # torch 2.1.0+cu121 has SASS for an A100 (8.0): the cuBLAS failure has another cause
    text = ("torch 2.1.0+cu121\nGPU 0: NVIDIA A100-SXM4-40GB\n"
            "RuntimeError: CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle)`\n")
    assert _lead(text, tables) != "gpu-arch-not-in-torch-build"


def test_a_release_that_dropped_the_gpu_in_prose() -> None:
    assert names_in(scan("PyTorch 1.3 no longer supports my Tesla K40m?\n")) == ["gpu-arch-not-in-torch-build"]
    assert names_in(scan("pip no longer supports Python 2.7\n")) == []
