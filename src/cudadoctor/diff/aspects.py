"""What a difference between two environments means: its group (ordered by consequence), its label, or noise.

One table, :data:`RULES`, read top to bottom (the first pattern that matches a fact's path wins),
says for every fact whether it is *noise* (live state that differs between two runs of the same
machine: temperatures, memory in use, PIDs, timestamps, host names, clocks, probe timings,
utilisation, power) or which *group* it belongs to. :data:`GROUPS` orders the groups by how much a
difference there tends to cost a PyTorch job: the driver branch and its CUDA first, then the CUDA
libraries torch actually loads, torch's build, its arch list against each GPU, the GPU models,
Python, companion packages and nvidia-* pins, the loader-relevant environment, and the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Groups in order of consequence: (key, title).
GROUPS: tuple[tuple[str, str], ...] = (
    ("driver", "Driver and its CUDA"),
    ("loaded", "CUDA libraries torch loads"),
    ("torch", "torch build"),
    ("arch", "Arch list vs each GPU"),
    ("gpus", "GPU models"),
    ("python", "Python"),
    ("packages", "Companions and nvidia-* pins"),
    ("environment", "Loader-relevant environment"),
    ("container", "Container"),
    ("libraries", "CUDA libraries on disk"),
    ("toolkit", "Extension toolchain"),
    ("host", "Host"),
    ("bench", "Benchmark"),
)
GROUP_RANK: dict[str, int] = {key: i for i, (key, _) in enumerate(GROUPS)}
GROUP_TITLE: dict[str, str] = dict(GROUPS)

#: The group of a fact no rule names, by its area.
AREA_GROUP: dict[str, str] = {
    "host": "host", "env": "environment", "container": "container", "driver": "gpus", "cuda_libs": "libraries",
    "toolkit": "toolkit", "torch": "torch", "bench": "bench",
}

NOISE = "noise"

#: Environment variables that name one run, not the environment (a job id, a port, a restart count).
RUN_VARIABLES = (
    "SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_PROCID", "SLURM_LOCALID", "TORCHELASTIC_RUN_ID",
    "TORCHELASTIC_RESTART_COUNT", "MASTER_PORT",
)
#: Environment variables that change what the dynamic loader and CUDA load or see, first in their group.
LOADER_VARIABLES = (
    "LD_LIBRARY_PATH", "LD_PRELOAD", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_HOME", "CUDA_PATH",
    "CUDA_MODULE_LOADING", "PYTHONPATH", "CONDA_PREFIX", "VIRTUAL_ENV",
)


@dataclass(frozen=True, slots=True)
class Rule:
    """Facts whose path matches *pattern* belong to *group* (or are NOISE), labelled *label*.

    *label* is a format string over the pattern's groups ("GPU {0} model").
    """

    pattern: re.Pattern[str]
    group: str
    label: str


def _r(pattern: str, group: str, label: str = "") -> Rule:
    return Rule(re.compile(pattern), group, label)


_GPU = r"^driver\.gpus\[(\d+)\]"
_RUN = "|".join(RUN_VARIABLES)
_LOADER = "|".join(LOADER_VARIABLES)

#: First match wins; the order inside a group is the order shown.
RULES: tuple[Rule, ...] = (
    # -- noise: what differs between two runs of the very same machine
    _r(r"^(schema_version|cudadoctor_version|collected_at)$", NOISE),
    _r(r"^probe_seconds", NOISE),
    _r(r"^(ranks|drift)(\.|$)", NOISE),  # one job's ranks; a diff against another baseline
    _r(r"^host\.(hostname|python_executable|nvidia_pci_devices)$", NOISE),
    _r(_GPU + r"\.(temperature_c|memory_used_mib|power_draw_w|power_limit_w|utilization_percent|throttle_reasons"
       r"|pcie_gen_current|pcie_width_current|uuid|pci_bus_id)$", NOISE),
    _r(_GPU + r"\.processes", NOISE),
    _r(_GPU + r"\.mig_devices\[\d+\]\.uuid$", NOISE),
    _r(r"^driver\.proc_version_text$", NOISE),  # the kernel module's version is its own fact; this adds a build date
    _r(r"^env\.working_directory$", NOISE),
    _r(rf"^env\.variables\[({_RUN})\]$", NOISE),
    _r(r"^container\.evidence$", NOISE),  # detection evidence names container ids
    _r(r"^cuda_libs\.searched$", NOISE),  # follows from the environment and the library copies
    _r(r"^torch\.build_config$", NOISE),  # follows from torch's version; long
    # -- the driver and the CUDA it supports
    _r(r"^driver$", "driver", "driver facts"),
    _r(r"^driver\.driver_version$", "driver", "driver version"),
    _r(r"^driver\.cuda_driver_version$", "driver", "CUDA the driver supports"),
    _r(r"^driver\.kernel_module_version$", "driver", "kernel module version"),
    _r(r"^driver\.libcuda_version$", "driver", "libcuda version"),
    _r(r"^driver\.libcuda_cuda_version$", "driver", "CUDA libcuda reports"),
    _r(r"^driver\.libcuda_path$", "driver", "libcuda.so.1 loaded from"),
    _r(r"^driver\.nvml_status$", "driver", "NVML status"),
    _r(r"^driver\.nvml_error$", "driver", "NVML error"),
    _r(r"^driver\.cu_init_result$", "driver", "cuInit result"),
    _r(r"^driver\.cu_init_error$", "driver", "cuInit error"),
    _r(r"^driver\.cu_device_count$", "driver", "CUDA device count"),
    # -- the CUDA libraries torch actually loads
    _r(r"^torch\.loaded_libraries\[([^\]]+)\]$", "loaded", "{0} torch loaded"),
    _r(r"^torch\.loaded_libraries$", "loaded", "libraries torch loaded"),
    _r(r"^torch\.cudnn_version$", "loaded", "cuDNN torch uses"),
    _r(r"^torch\.nccl_version$", "loaded", "NCCL torch uses"),
    _r(r"^cuda_libs\.resolved\[([^\]]+)\](\.path)?$", "loaded", "{0} resolves to"),
    # -- torch's build
    _r(r"^torch$", "torch", "torch facts"),
    _r(r"^torch\.status$", "torch", "torch import"),
    _r(r"^torch\.version$", "torch", "torch version"),
    _r(r"^torch\.cuda_version$", "torch", "CUDA torch was built with"),
    _r(r"^torch\.build$", "torch", "torch build kind"),
    _r(r"^torch\.cuda_available$", "torch", "torch.cuda.is_available()"),
    _r(r"^torch\.cuda_unavailable_reason$", "torch", "why CUDA is unavailable"),
    _r(r"^torch\.import_error$", "torch", "torch import error"),
    _r(r"^torch\.device_count$", "torch", "CUDA devices torch sees"),
    _r(r"^torch\.devices\[(\d+)\]$", "torch", "torch device {0}"),
    _r(r"^torch\.devices\[(\d+)\]\.(\w+)$", "torch", "torch device {0} {1}"),
    _r(r"^torch\.(hip_version|debug|git_version|location)$", "torch", "torch {0}"),
    # -- the arch list against each GPU
    _r(r"^torch\.arch_list$", "arch", "torch arch list"),
    _r(r"^arch\.coverage\[([^\]]+)\]$", "arch", "{0} in the arch list"),
    # -- the GPUs
    _r(r"^driver\.gpus$", "gpus", "GPUs"),
    _r(_GPU + r"$", "gpus", "GPU {0}"),
    _r(_GPU + r"\.name$", "gpus", "GPU {0} model"),
    _r(_GPU + r"\.compute_capability$", "gpus", "GPU {0} compute capability"),
    _r(_GPU + r"\.memory_total_mib$", "gpus", "GPU {0} memory (MiB)"),
    _r(_GPU + r"\.(\w+)$", "gpus", "GPU {0} {1}"),
    _r(_GPU + r"\.(.+)$", "gpus", "GPU {0} {1}"),
    # -- Python
    _r(r"^torch\.python_version$", "python", "Python torch runs in"),
    _r(r"^torch\.python_executable$", "python", "Python interpreter"),
    _r(r"^host\.python_version$", "python", "Python cudadoctor runs in"),
    # -- companions and nvidia-* pins
    _r(r"^torch\.distributions\[([^\]]+)\](\.version)?$", "packages", "{0}"),
    _r(r"^torch\.distributions\[([^\]]+)\]\.requires$", "packages", "{0} requires"),
    _r(r"^torch\.distributions\[([^\]]+)\]", "packages", "{0}"),
    # -- the loader-relevant environment (the variables that change what loads, first)
    _r(rf"^env\.variables\[({_LOADER})\]$", "environment", "{0}"),
    _r(r"^env\.variables\[(NVIDIA_[^\]]*)\]$", "environment", "{0}"),
    _r(r"^env\.variables\[(CUDA_[^\]]*)\]$", "environment", "{0}"),
    _r(r"^cuda_libs\.ld_library_path$", "environment", "loader path (LD_LIBRARY_PATH entries)"),
    _r(r"^env\.variables\[([^\]]+)\]$", "environment", "{0}"),
    # -- the rest, by area
    _r(r"^container\.(\w+)$", "container", "container {0}"),
    _r(r"^cuda_libs\.copies\[([^@\]]+)@([^\]]+)\]$", "libraries", "{0} at {1}"),
    _r(r"^cuda_libs\.(\w+)$", "libraries", "{0}"),
    _r(r"^toolkit\.(\w+)$", "toolkit", "{0}"),
    _r(r"^host\.(\w+)$", "host", "{0}"),
    # -- the benchmark: what ran and how it ended; rates compare with a tolerance (flatten.py)
    _r(r"^bench\.status$", "bench", "benchmark"),
    _r(r"^bench\.devices\[(\d+)\]\.status$", "bench", "benchmark of GPU {0}"),
    _r(r"^bench\.devices\[(\d+)\]\.measurements\[([^\]]+)\]\.status$", "bench", "GPU {0} {1}"),
    _r(r"^bench\.devices\[(\d+)\]\.measurements\[([^\]]+)\]\.rate$", "bench", "GPU {0} {1} rate"),
    _r(r"^bench(\.|$)", NOISE),  # timings, samples, NVML readings during the run
)


@dataclass(frozen=True, slots=True)
class Aspect:
    """Where a fact belongs: its group (or NOISE), its label, and its place in the group."""

    group: str
    label: str
    order: int  #: index of the rule that matched (the order inside a group)

    @property
    def noise(self) -> bool:
        """Whether differences in this fact are ignored."""
        return self.group == NOISE

    @property
    def rank(self) -> tuple[int, int]:
        """Sort key: the group's consequence, then the rule's place."""
        return (GROUP_RANK.get(self.group, len(GROUPS)), self.order)


def aspect_of(path: str) -> Aspect:
    """The group, label and order of the fact at *path* (e.g. "torch.version")."""
    for i, rule in enumerate(RULES):
        m = rule.pattern.match(path)
        if m:
            label = rule.label.format(*m.groups()) if rule.label else path
            return Aspect(rule.group, label, i)
    area = path.split(".", 1)[0].split("[", 1)[0]
    return Aspect(AREA_GROUP.get(area, "host"), path, len(RULES))
