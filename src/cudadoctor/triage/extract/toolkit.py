"""The CUDA toolkit from text: ``nvcc --version`` output, extension builders' version checks, conda's cudatoolkit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cudadoctor.causes import decode_cudnn_int
from cudadoctor.triage.extract.record import RANK_OUTPUT, Found

if TYPE_CHECKING:
    from cudadoctor.triage.normalise import Normalised

_X_Y = r"(\d{1,2}\.\d{1,2})"
# nvcc --version: "Cuda compilation tools, release 11.7, V11.7.64"
_NVCC = re.compile(r"Cuda compilation tools, release " + _X_Y + r"\b")
# NOTE: the builders compare nvcc's release (of CUDA_HOME) with torch.version.cuda and print both:
#   torch.utils.cpp_extension: "The detected CUDA version (11.8) mismatches the version that was
#     used to compile PyTorch (12.4)" (also "... has a minor version mismatch with ...");
#   DeepSpeed op_builder: "Installed CUDA version 11.7 does not match the version torch was compiled with 12.1";
#   apex setup.py: "... does not match the version used to compile Pytorch binaries.  Pytorch
#     binaries were compiled with Cuda 10.2." (nvcc's own output is printed above it).
_CPP_EXT = re.compile(
    r"The detected CUDA version \(" + _X_Y + r"[\d.]{0,6}\) (?:mismatches|has a minor version mismatch with) the version"
    r" that was used to compile\s{1,12}PyTorch \(" + _X_Y + r"[\d.]{0,6}\)"
)
_DEEPSPEED = re.compile(r"Installed CUDA version " + _X_Y + r" does not match the version torch was compiled with " + _X_Y)
_APEX = re.compile(r"Pytorch binaries were compiled with Cuda " + _X_Y, re.IGNORECASE)
_APEX_BARE = re.compile(r"Compiling cuda extensions with\s{0,3}\n?[^\n]{0,200}?release " + _X_Y)
# NCCL's own init line ("NCCL version 2.4.8+cuda10.2", also after "NCCL INFO ") names the NCCL in use;
# torch.cuda.nccl.version() prints (2, 14, 3), or an int in old torch (2708 = 2.7.8, 21403 = 2.14.3).
_NCCL_LOG = re.compile(r"(?:^|NCCL INFO )NCCL version (\d{1,2}\.\d{1,2}\.\d{1,2})\b", re.MULTILINE)
_NCCL_TORCH = re.compile(r"torch\.cuda\.nccl\.version\(\)\)?\s{0,4}(?:\n\s{0,4})?(?:\((\d{1,2}), ?(\d{1,2}), ?(\d{1,2})\)|(\d{4,5})\b)")
# conda list row: "cudatoolkit               11.3.1               h2bc3f7f_2"
_CONDA_ROW = re.compile(r"^cudatoolkit\s{1,80}(\d{1,2}\.\d{1,2}(?:\.\d{1,5})?)\s{1,80}\S", re.MULTILINE)


def extract(norm: Normalised) -> list[Found]:
    """toolkit.nvcc_version (and torch.cuda_version a builder printed) found in *norm*."""
    text = norm.text
    out: list[Found] = []
    for m in _NVCC.finditer(text):
        out.append(Found("toolkit.nvcc_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
    builder = "the extension builder's CUDA check"
    for m in _CPP_EXT.finditer(text):
        out.append(Found("toolkit.nvcc_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT, stated=True,
                         how=f"{builder} (torch.utils.cpp_extension)"))
        out.append(Found("torch.cuda_version", m.group(2), norm.locate(m.start(2)), RANK_OUTPUT))
        out.append(Found("torch.build", "cuda", norm.locate(m.start(2)), RANK_OUTPUT, stated=False,
                         how="the extension builder names the CUDA torch was built with"))
    for m in _DEEPSPEED.finditer(text):
        out.append(Found("toolkit.nvcc_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT, how=f"{builder} (DeepSpeed)"))
        out.append(Found("torch.cuda_version", m.group(2), norm.locate(m.start(2)), RANK_OUTPUT))
        out.append(Found("torch.build", "cuda", norm.locate(m.start(2)), RANK_OUTPUT, stated=False,
                         how="the extension builder names the CUDA torch was built with"))
    for m in _APEX.finditer(text):
        out.append(Found("torch.cuda_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
        out.append(Found("torch.build", "cuda", norm.locate(m.start(1)), RANK_OUTPUT, stated=False,
                         how="the extension builder names the CUDA torch was built with"))
    for m in _APEX_BARE.finditer(text):
        out.append(Found("toolkit.nvcc_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
    for m in (_NCCL_LOG.finditer(text) if "NCCL version" in text else ()):
        out.append(Found("torch.nccl_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT,
                         how="NCCL's own init line (the NCCL this process loaded)"))
    for m in (_NCCL_TORCH.finditer(text) if "nccl.version" in text else ()):
        if m.group(4):
            code = int(m.group(4))
            v = decode_cudnn_int(str(code))  # NOTE: NCCL_VERSION_CODE uses the same two encodings as cuDNN
            out.append(Found("torch.nccl_version", v, norm.locate(m.start(4)), RANK_OUTPUT, stated=False,
                             how=f"decoded from torch.cuda.nccl.version() {code}"))
        else:
            out.append(Found("torch.nccl_version", ".".join(m.group(1, 2, 3)), norm.locate(m.start(1)), RANK_OUTPUT))
    for m in _CONDA_ROW.finditer(text):
        out.append(Found("conda.cudatoolkit", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
    return out


__all__ = ["extract"]
