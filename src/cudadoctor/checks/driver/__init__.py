"""Checks of the NVIDIA driver: is one loaded, does it match itself, and can it run this CUDA code.

One module per concern: ``presence`` (installed, loaded, consistent, answering), ``cuda_init``
(CUDA initialisation errors 999/804/802), ``versions`` (driver vs torch's CUDA and the runtimes
that load), ``visibility`` (which GPUs this process sees); ``common`` holds what they share.
:data:`CHECKS` keeps the report order.
"""

from __future__ import annotations

from cudadoctor.checks.base import Check
from cudadoctor.checks.driver.cuda_init import (
    CudaUnknownError,
    FabricManagerMissing,
    ForwardCompatUnsupportedGpu,
    GpuAccessLost,
)
from cudadoctor.checks.driver.presence import (
    DriverLibraryMismatch,
    NoNvidiaDriver,
    NvidiaKernelModuleNotLoaded,
    NvmlNotResponding,
)
from cudadoctor.checks.driver.versions import DriverMinorCompatOnly, DriverTooOldForCudart, DriverTooOldForTorch
from cudadoctor.checks.driver.visibility import (
    CudaDeviceOrderMismatch,
    CudaVisibleDevicesInvalid,
    MigInstanceNotSelected,
    NoGpuVisible,
)

# NOTE: re-exported for triage/engine.py, which imports them from here until it is rewritten.
from cudadoctor.facts import nv_version
from cudadoctor.remedies import install_driver_command

__all__ = ["CHECKS", "install_driver_command", "nv_version"]

CHECKS: tuple[type[Check], ...] = (
    NoNvidiaDriver,
    DriverLibraryMismatch,
    GpuAccessLost,
    CudaUnknownError,
    DriverTooOldForTorch,
    DriverMinorCompatOnly,
    DriverTooOldForCudart,
    ForwardCompatUnsupportedGpu,
    FabricManagerMissing,
    NoGpuVisible,
    CudaVisibleDevicesInvalid,
    CudaDeviceOrderMismatch,
    MigInstanceNotSelected,
    NvidiaKernelModuleNotLoaded,
    NvmlNotResponding,
)
