"""The CUDA toolkit from text: ``nvcc --version`` output, extension builders' version checks, conda's cudatoolkit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

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
    for m in _CONDA_ROW.finditer(text):
        out.append(Found("conda.cudatoolkit", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
    return out


__all__ = ["extract"]
