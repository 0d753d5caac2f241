"""Checks of how a container (or cgroup) was set up for GPU training: GPUs, capabilities, /dev/shm, memory, data.

One module per concern: ``gpu_access`` (GPUs passed in, driver capabilities) and ``resources``
(/dev/shm, the memory limit, where data is written); ``common`` holds what they share.
:data:`CHECKS` keeps the report order.
"""

from __future__ import annotations

from cudadoctor.checks.base import Check
from cudadoctor.checks.container.gpu_access import ContainerWithoutGpus, DriverCapabilitiesMissing
from cudadoctor.checks.container.resources import ContainerMemoryLimitLow, DataOnContainerLayer, ShmTooSmall

__all__ = ["CHECKS"]

CHECKS: tuple[type[Check], ...] = (
    ContainerWithoutGpus,
    DriverCapabilitiesMissing,
    ShmTooSmall,
    ContainerMemoryLimitLow,
    DataOnContainerLayer,
)
