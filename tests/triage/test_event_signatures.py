"""Wordings of CUDA/NCCL/kernel failures seen in the wild, and NCCL failures judged against the stated NCCL.

From the mechanics: an NCCL failure is the old-NCCL finding only when the text states an NCCL older
than the floor (rules/compute_capability.toml) of a GPU the text names; otherwise it stays the event.
"""

from __future__ import annotations

import pytest

from cudadoctor.triage import engine
from cudadoctor.triage.signatures import names_in, scan


def _names(text: str, tables) -> list[str]:
    return [h["name"] for h in engine.triage(text, tables).triage.hypotheses]


@pytest.mark.parametrize(("line", "name"), [
    ("CUDA initialization fails with 802 system error", "fabric-manager-missing"),
    ("nvidia-container-cli: initialization error: cuda error: unknown error", "cuda-unknown-error"),
    ("RuntimeError: cuda runtime error (999) : unknown error at THCGeneral.cpp:50", "cuda-unknown-error"),
    ("Cuda failure 999 'unknown error'", "cuda-unknown-error"),
    ("NVRM: The NVIDIA GPU 0000:b3:00.0 (PCI ID: 10de:26b5) installed in this system has fallen off the bus and is "
     "not responding to commands.", "gpu-fallen-off-bus"),
    ("NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch ins",
     "gpu-arch-not-in-torch-build"),
    ("  warnings.warn(incompatible_device_warn.format(device_name, capability, \" \".join(arch_list), device_name))",
     "gpu-arch-not-in-torch-build"),
])
def test_wordings(line: str, name: str) -> None:
    assert names_in(scan(line + "\n"))[:1] == [name]


def test_802_in_other_numbers_is_not_802() -> None:
    assert names_in(scan("Processed 1802 system errors in the log\n")) == []


_NCCL_FAIL = "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1275, internal error, NCCL version {v}\n"


def test_nccl_failure_with_an_nccl_older_than_the_gpu(tables) -> None:
    text = "GPU 0: NVIDIA H100 80GB HBM3\n" + _NCCL_FAIL.format(v="2.14.3")
    names = _names(text, tables)
    assert names[0] == "nccl-too-old-for-gpu" and "nccl-error" in names


def test_nccl_failure_with_an_nccl_new_enough_stays_the_event(tables) -> None:
    text = "GPU 0: NVIDIA H100 80GB HBM3\n" + _NCCL_FAIL.format(v="2.18.5")
    assert _names(text, tables) == ["nccl-error"]
    # no GPU named: nothing to judge the NCCL against
    assert _names(_NCCL_FAIL.format(v="2.4.8"), tables) == ["nccl-error"]


def test_nccl_min_comp_cap_line(tables) -> None:
    log = ("NCCL version 2.4.8+cuda10.2\n"
           "node01:1:1 [7] NCCL INFO Using 256 threads, Min Comp Cap 8, Trees disabled\n")
    assert _names(log, tables) == ["nccl-too-old-for-gpu"]
    assert _names(log.replace("2.4.8", "2.18.3"), tables) == []
