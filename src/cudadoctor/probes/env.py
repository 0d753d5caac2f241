"""The env probe: the environment variables that change how CUDA and torch behave."""

from __future__ import annotations

import os
import re

from cudadoctor.facts import EnvFacts
from cudadoctor.probes.base import ProbeContext
from cudadoctor.redact import secret_name

#: Exact names worth reporting. An allow-list, so secrets can never be captured by accident.
NAMES = frozenset({
    "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_HOME", "CUDA_PATH", "CUDA_ROOT",
    "CUDA_MODULE_LOADING", "CUDA_LAUNCH_BLOCKING", "CUDA_CACHE_PATH", "CUDA_CACHE_DISABLE",
    "LD_LIBRARY_PATH", "LD_PRELOAD", "PATH", "PYTHONPATH", "CONDA_PREFIX", "CONDA_DEFAULT_ENV",
    "VIRTUAL_ENV", "TORCH_CUDA_ARCH_LIST", "PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_NVML_BASED_CUDA_CHECK",
    "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NODE_RANK", "GROUP_RANK",
    "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT",
    "SLURM_JOB_ID", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS", "SLURM_STEP_ID",
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "PMIX_RANK",
    "MV2_COMM_WORLD_RANK", "KUBERNETES_SERVICE_HOST", "WSL_DISTRO_NAME", "WSL_INTEROP",
    "OMP_NUM_THREADS", "XLA_FLAGS", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
    "CC", "CXX", "NVCC_CCBIN", "NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS", "MAX_JOBS",
})
#: Prefixes whose variables are all configuration, never credentials.
PREFIXES = ("NVIDIA_", "NCCL_", "CUDNN_", "CUBLAS_", "TORCH_", "PYTORCH_")
#: Even under an allowed prefix, a name that looks like a secret is dropped. Stricter than
#: redact.secret_name (a substring, not a whole word), for fused names such as NVIDIA_APITOKEN.
SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSW|CREDENTIAL|AUTH|SESSION|COOKIE", re.IGNORECASE)


def wanted(name: str) -> bool:
    """Whether an environment variable of this name belongs in the facts."""
    if secret_name(name) or SECRET_NAME.search(name):
        return False
    return name in NAMES or name.startswith(PREFIXES)


def probe_env(ctx: ProbeContext) -> EnvFacts:
    """Snapshot the relevant environment variables and the working directory."""
    return EnvFacts(
        variables={k: v for k, v in sorted(os.environ.items()) if wanted(k)},
        working_directory=working_directory(),
    )


def working_directory() -> str:
    """The working directory; for one removed under us, what the kernel calls it ("/x (deleted)")."""
    try:
        return os.getcwd()
    except OSError:
        # NOTE: os.getcwd() raises FileNotFoundError once the directory is removed (a shell left
        # in a deleted build dir); /proc/self/cwd still names it, with " (deleted)" appended.
        try:
            return os.readlink("/proc/self/cwd")
        except OSError:
            return ""
