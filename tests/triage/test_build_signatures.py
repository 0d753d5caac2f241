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


def test_no_kernel_image_from_an_extension_is_not_torchs_build(tables) -> None:
    err = "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    assert _lead(err + "GPU: RTX 3090\n", tables) == "gpu-arch-not-in-torch-build"
    # NOTE: an extension's arch list decides its kernels: TORCH_CUDA_ARCH_LIST or its compiled ops
    assert _lead(err + "fixed by adding 5.2 to TORCH_CUDA_ARCH_LIST\n", tables) == ""
    assert _lead(err + "the kernel is in mypkg/ops/scan_interface.py\n", tables) == ""
    # torch's own warning naming the capability stands whatever else the text names
    warn = "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.\n"
    assert _lead(warn + err + "TORCH_CUDA_ARCH_LIST=8.6\n", tables) == "gpu-arch-not-in-torch-build"


def test_a_split_build_library_missing_is_an_extension_built_for_another_torch() -> None:
    # libtorch_cuda_cu.so existed only in torch 1.10-1.12: torch itself is not broken
    assert names_in(scan("ImportError: libtorch_cuda_cu.so: cannot open shared object file: No such file or directory\n")) == []
    assert names_in(scan("ImportError: libtorch_cuda.so: cannot open shared object file: No such file or directory\n")) == [
        "torch-import-failed"]


def test_cudnn_sub_library_under_wsl_is_libcuda_when_the_text_names_it() -> None:
    line = "Could not load library libcudnn_cnn_infer.so.8\n"
    wsl = "On WSL2 Ubuntu I linked /usr/lib/wsl/lib/libcuda.so.1 next to it\n"
    assert names_in(scan(line + wsl))[0] == "libcuda-not-on-loader-path"
    assert names_in(scan(line + "On WSL2 and native Ubuntu alike\n")) == ["cudnn-missing"]


def test_companion_and_missing_torch_wordings() -> None:
    assert names_in(scan("RuntimeError: No such operator torchvision::nms\n")) == ["torch-companion-mismatch"]
    assert names_in(scan("ImportError: No module named torch\n")) == ["torch-not-installed"]
    assert names_in(scan("ImportError: No module named torchvision\n")) == []
    assert names_in(scan("when I do `import torch` it says No module .\n")) == ["torch-not-installed"]
    assert names_in(scan('It indicates that "ImportError: No module named torch".\n')) == ["torch-not-installed"]


def test_a_progress_bar_is_not_joined_to_the_code_line_above() -> None:
    from cudadoctor.triage.normalise import normalise_text

    text = ("  return f(x)  # type: ignore[attr-defined]\n"
            "  0%|          | 0/1 [00:00<?, ?it/s]Error: libcuda.so: cannot open shared object file: No such file\n")
    assert len([ln for ln in normalise_text(text).text.splitlines() if ln.strip()]) == 2


def _parsed_names(text: str, tables) -> set[str]:
    return {f.name for f in engine.triage(text, tables).findings if f.source == "parsed"}


def test_a_gpu_below_what_torchs_cuda_targets_has_no_kernel_in_any_build(tables) -> None:
    env = "PyTorch version: 1.7.1\nIs debug build: No\nCUDA used to build PyTorch: 11.0\nGPU models and configuration: GPU 0: {gpu}\n"
    # cc 3.0 (Kepler GK10x): CUDA 11 targets 3.5 and up, whatever torch 1.7's arch list was (no table row for 1.7)
    assert "gpu-arch-not-in-torch-build" in _parsed_names(env.format(gpu="GeForce GTX 680"), tables)
    # cc 6.1 is targeted by CUDA 11.0: without torch 1.7's arch list nothing is certain
    assert "gpu-arch-not-in-torch-build" not in _parsed_names(env.format(gpu="GeForce GTX 1080"), tables)


def test_an_nccl_error_title() -> None:
    assert names_in(scan("NCCL Error when training with 2x 3090s.\n")) == ["nccl-error"]


def test_a_driver_said_to_be_too_old() -> None:
    assert names_in(scan("torch.cuda.is_available() is False: my Nvidia driver is not supported for this pytorch\n")) == [
        "driver-too-old-for-torch"]
    # NOTE: a driver of something else, nowhere near torch or CUDA
    assert names_in(scan("The printer driver is outdated.\n")) == []


def test_a_gpu_lacking_a_feature_is_not_a_dropped_gpu() -> None:
    assert names_in(scan("My RTX 2080 GPU does not support bf16, so I use fp16\n")) == []
