"""The driver from text: CUDA's encoded "found version 12040", nvidia-smi header fragments, prose."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cudadoctor.causes import decode_cuda_int
from cudadoctor.triage.extract.record import RANK_FILE, RANK_OUTPUT, RANK_PROSE, Found

if TYPE_CHECKING:
    from cudadoctor.triage.normalise import Normalised

# NOTE: torch's "The NVIDIA driver on your system is too old (found version 12040)" prints
# cudaDriverGetVersion(), which encodes the CUDA version the driver supports as
# 1000 * major + 10 * minor (https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__VERSION.html).
_FOUND = re.compile(r"too old \(found version\s{0,3}(\d{4,5})\)")
_DRIVER_API = re.compile(r"(?:cudaDriverGetVersion|cuDriverGetVersion|CUDA Driver Version / Runtime Version)[^\n\d]{0,40}(\d{4,5}|\d{1,2}\.\d)")
# The nvidia-smi header, whole or in pieces (wrapped, its "|" borders lost).
_SMI_DRIVER = re.compile(r"Driver Version:\s{0,10}(\d{3}\.\d{1,3}(?:\.\d{1,3})?)\b")
_SMI_CUDA = re.compile(r"Driver Version:\s{0,10}\d{3}\.\d{1,3}(?:\.\d{1,3})?\s{0,40}(?:\|\s{0,10})?CUDA Version:\s{0,10}(\d{1,2}\.\d{1,2})\b")
# Prose: "driver version 470.82", "NVIDIA driver 535.104.05", "驱动版本 525.60".
_PROSE = re.compile(
    r"(?:driver|驱动)(?:\s{0,3}(?:version|版本))?\s{0,3}(?:is|:|=|：)?\s{0,3}v?((?:[3-9]\d{2})\.\d{2,3}(?:\.\d{2})?)(?![\w.])",
    re.IGNORECASE,
)


def extract(norm: Normalised) -> list[Found]:
    """driver.version and driver.cuda_version found in *norm*."""
    text = norm.text
    out: list[Found] = []
    for m in _FOUND.finditer(text):
        code = int(m.group(1))
        out.append(Found("driver.cuda_version", decode_cuda_int(str(code)), norm.locate(m.start(1)), RANK_OUTPUT,
                         stated=False, how=f"decoded from CUDA's driver version number {code} (1000 x major + 10 x minor)"))
    for m in _DRIVER_API.finditer(text):
        raw = m.group(1)
        value = decode_cuda_int(raw) if raw.isdigit() else raw
        out.append(Found("driver.cuda_version", value, norm.locate(m.start(1)), RANK_FILE,
                         stated=not raw.isdigit(), how="" if not raw.isdigit() else f"decoded from {raw}"))
    for m in _SMI_DRIVER.finditer(text):
        out.append(Found("driver.version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
    for m in _SMI_CUDA.finditer(text):
        out.append(Found("driver.cuda_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
    for m in _PROSE.finditer(text):
        out.append(Found("driver.version", m.group(1), norm.locate(m.start(1)), RANK_PROSE))
    return out
