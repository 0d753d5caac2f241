"""Checks of the installed PyTorch build: presence, import, CUDA variant, GPU archs, companions, NCCL.

One module per concern: ``install`` (present, importable, a CUDA build, an official wheel for this
Python), ``gpu_support`` (compiled architectures and NCCL against the GPUs), ``companions``
(torchvision / torchaudio pairing), ``distributed_env`` (stray launcher variables); ``common``
holds what they share. :data:`CHECKS` keeps the report order.
"""

from __future__ import annotations

from cudadoctor.checks.base import Check
from cudadoctor.checks.torch_build.companions import TorchCompanionMismatch
from cudadoctor.checks.torch_build.distributed_env import DistributedEnvStray
from cudadoctor.checks.torch_build.gpu_support import GpuArchNotInTorchBuild, GpuArchPtxJitOnly, NcclTooOldForGpu
from cudadoctor.checks.torch_build.install import (
    PythonUnsupportedByTorch,
    TorchCpuOnlyBuild,
    TorchImportFailed,
    TorchNotInstalled,
)

__all__ = ["CHECKS"]

CHECKS: tuple[type[Check], ...] = (
    TorchNotInstalled,
    TorchImportFailed,
    TorchCpuOnlyBuild,
    GpuArchNotInTorchBuild,
    GpuArchPtxJitOnly,
    TorchCompanionMismatch,
    PythonUnsupportedByTorch,
    NcclTooOldForGpu,
    DistributedEnvStray,
)
