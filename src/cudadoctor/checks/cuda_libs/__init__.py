"""Checks of the CUDA user-space libraries torch loads: cudart, cuDNN, libcuda, the nvidia-* wheels.

One module per concern: ``runtime`` (libcudart present, no foreign copy shadowing torch's, how
many copies exist), ``cudnn`` (the right cuDNN, and one at all), ``loader`` (libcuda on the loader
path), ``pins`` (the nvidia-* wheels torch pins); ``common`` holds what they share, including
which check owns a failed import's cause. :data:`CHECKS` keeps the report order.
"""

from __future__ import annotations

from cudadoctor.checks.base import Check
from cudadoctor.checks.cuda_libs.cudnn import CudnnMissing, CudnnVersionMismatch
from cudadoctor.checks.cuda_libs.loader import LibcudaNotOnLoaderPath
from cudadoctor.checks.cuda_libs.pins import NvidiaWheelsMismatch
from cudadoctor.checks.cuda_libs.runtime import CudaLibShadowed, CudartMissing, MultipleCudaRuntimes

# NOTE: re-exported for triage/engine.py, which imports it from here until it is rewritten.
from cudadoctor.wheels import WHEEL_OF_FAMILY

__all__ = ["CHECKS", "WHEEL_OF_FAMILY"]

CHECKS: tuple[type[Check], ...] = (
    CudartMissing,
    CudaLibShadowed,
    CudnnVersionMismatch,
    CudnnMissing,
    LibcudaNotOnLoaderPath,
    NvidiaWheelsMismatch,
    MultipleCudaRuntimes,
)
