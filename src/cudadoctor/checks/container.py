"""Checks of how a container (or cgroup) was set up for GPU training: GPUs, capabilities, /dev/shm, memory, data."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from cudadoctor.checks.base import Check, SkipCheck, need
from cudadoctor.findings import Finding, Severity
from cudadoctor.facts import (
    UNLIMITED,
    ContainerFacts,
    CudaLibsFacts,
    DriverFacts,
    EnvFacts,
    Facts,
    HostFacts,
    ToolkitFacts,
    TorchFacts,
    Unavailable,
)
from cudadoctor.tables import RuleTables

GIB = 1024**3
MIB = 1024**2

#: NVIDIA_VISIBLE_DEVICES values that make the NVIDIA container runtime expose no GPU.
#: NOTE: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html
#: ("void or empty or unset: same behavior as runc"; "none: no GPUs ... driver capabilities enabled").
NO_GPU_VALUES = frozenset({"void", "none", ""})

#: /dev/shm below this much per GPU (and at least this much overall) is too small for DataLoader
#: workers. NVIDIA's NGC containers ask for `--shm-size=1g` as the minimum, and each data-parallel
#: rank (one per GPU) runs its own workers whose prefetched batches all sit in /dev/shm.
SHM_MIN_PER_GPU = 1 * GIB
#: What the fix suggests per GPU (and at least): room for 8 workers x prefetch_factor 2 of ~0.5 GiB
#: batches; capped at half of the RAM the container may use, since /dev/shm pages are RAM.
SHM_SUGGEST_PER_GPU = 8 * GIB

#: Fire when the cgroup memory limit is below this multiple of the GPUs' total memory.
MEMORY_MIN_FACTOR = 1.0
#: Suggest this multiple of total GPU memory (capped at the host's RAM).
MEMORY_SUGGEST_FACTOR = 2.0

_GPU_NODE = re.compile(r"^/dev/nvidia\d+$")


# --------------------------------------------------------------------------------------------
# helpers shared by the container checks


def _env(facts: Facts) -> dict[str, str]:
    return facts.env.variables if isinstance(facts.env, EnvFacts) else {}


def _container(facts: Facts) -> ContainerFacts:
    c = facts.container
    assert isinstance(c, ContainerFacts)  # guaranteed by requires={"container"}
    return c


def _require_container(c: ContainerFacts) -> None:
    if not c.in_container:
        raise SkipCheck("not running in a container")


def _runtime_label(c: ContainerFacts) -> str:
    if c.kubernetes:
        return "a Kubernetes pod"
    return f"a {c.runtime} container" if c.runtime not in ("unknown-container", "none") else "a container"


def _capabilities(value: str) -> set[str]:
    return {t.strip().lower() for t in value.split(",") if t.strip()}


def _gpu_count(facts: Facts) -> int:
    """GPUs this process can use, best source first (0 when none is known)."""
    drv = facts.driver
    if isinstance(drv, DriverFacts) and drv.gpus:
        return len(drv.gpus)
    t = facts.torch
    if isinstance(t, TorchFacts) and isinstance(t.device_count, int) and t.device_count > 0:
        return t.device_count
    return 0


def _human(nbytes: float) -> str:
    if nbytes >= GIB:
        g = nbytes / GIB
        return f"{g:.0f} GiB" if abs(g - round(g)) < 0.05 else f"{g:.1f} GiB"
    return f"{nbytes / MIB:.0f} MiB"


def _gib_ceil(nbytes: float) -> int:
    return max(1, math.ceil(nbytes / GIB - 1e-9))


def _host_memory_bytes(facts: Facts) -> int | None:
    h = facts.host
    if isinstance(h, HostFacts) and isinstance(h.memory_total_mib, int):
        return h.memory_total_mib * MIB
    return None


# --------------------------------------------------------------------------------------------
# CTR001


def _libcuda_state(facts: Facts) -> bool | None:
    """Whether the driver's libcuda is present: True, False, or None when unknown."""
    drv, libs = facts.driver, facts.cuda_libs
    if isinstance(drv, DriverFacts) and isinstance(drv.libcuda_path, str):
        return True
    if isinstance(libs, CudaLibsFacts):
        return bool(libs.libcuda_files)
    return None


def _gpus_work(facts: Facts) -> bool:
    """The driver answered with at least one GPU: access works, whatever the other facts say."""
    drv = facts.driver
    if isinstance(drv, DriverFacts) and drv.gpus:
        return True
    return isinstance(drv, DriverFacts) and isinstance(drv.cu_device_count, int) and drv.cu_device_count > 0


def _gpu_intent(facts: Facts) -> list[str]:
    """Evidence that this container was meant to use GPUs, as short phrases."""
    why: list[str] = []
    visible = _env(facts).get("NVIDIA_VISIBLE_DEVICES")
    if visible is not None and visible.strip().lower() not in NO_GPU_VALUES:
        why.append(f"NVIDIA_VISIBLE_DEVICES={visible} asks for GPUs (NVIDIA's CUDA base images set it)")
    t = facts.torch
    if isinstance(t, TorchFacts) and t.build == "cuda":
        why.append(f"torch {t.version} is a CUDA build")
    h = facts.host
    if isinstance(h, HostFacts) and isinstance(h.nvidia_pci_devices, tuple) and h.nvidia_pci_devices:
        n = len(h.nvidia_pci_devices)
        why.append(f"the host has {n} NVIDIA GPU{'s' if n != 1 else ''} on the PCI bus")
    tk = facts.toolkit
    has_toolkit = False
    if isinstance(tk, ToolkitFacts):
        v = tk.nvcc_version if not isinstance(tk.nvcc_version, Unavailable) else tk.cuda_home_version
        if not isinstance(v, Unavailable):
            has_toolkit = True
            where = f" at {tk.cuda_home}" if isinstance(tk.cuda_home, str) else ""
            why.append(f"a CUDA {v} toolkit is installed{where}")
    libs = facts.cuda_libs
    if isinstance(libs, CudaLibsFacts) and not has_toolkit:
        rt = [c for c in libs.copies if c.library == "libcudart"]
        if rt:
            why.append(f"libcudart is installed ({rt[0].path})")
    return why


def _gpu_run_fix(c: ContainerFacts) -> str:
    """How to start this kind of container with GPUs."""
    docker = (
        "start it with `docker run --gpus all ...` (Docker + NVIDIA Container Toolkit on the host: "
        "`sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker`; "
        "docker compose: `deploy.resources.reservations.devices: [{driver: nvidia, count: all, "
        "capabilities: [gpu]}]`)"
    )
    podman = (
        "start it with `podman run --device nvidia.com/gpu=all ...` (CDI; generate the spec on the host "
        "with `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`)"
    )
    k8s = (
        "request GPUs in the pod spec: `resources: {limits: {nvidia.com/gpu: 1}}`, with the NVIDIA "
        "device plugin (or GPU Operator) on the node, and `runtimeClassName: nvidia` where nvidia is "
        "not the default runtime"
    )
    if c.kubernetes or c.runtime == "kubernetes":
        return k8s[0].upper() + k8s[1:] + "."
    match c.runtime:
        case "docker":
            return docker[0].upper() + docker[1:] + "."
        case "podman":
            return podman[0].upper() + podman[1:] + "."
        case "containerd":
            return "Start it with `nerdctl run --gpus all ...` (or `ctr run --gpus 0 ...`)."
        case "lxc":
            return (
                "Pass the GPU to the container: `lxc config device add <container> gpu gpu` and "
                "`lxc config set <container> nvidia.runtime true`, then restart it."
            )
        case _:
            return f"Docker: {docker}. Podman: {podman}. Kubernetes: {k8s}."


class ContainerWithoutGpus(Check):
    """This container was started without access to the NVIDIA GPUs.

    ## What it checks
    Inside a container: whether `NVIDIA_VISIBLE_DEVICES` is `void`, `none` or empty, whether any
    `/dev/nvidiaN` device node exists, and whether the driver's `libcuda.so` was injected. On WSL2
    (Docker Desktop) there are no `/dev/nvidia*` nodes; there, the injected
    `/usr/lib/wsl/lib/libcuda.so.1` is the sign of GPU access.

    ## Why it matters
    Running an image is not enough: the GPUs, and the host driver's user-space libraries, are
    only passed in when the container is started through the NVIDIA Container Toolkit
    (`--gpus`, CDI, or the Kubernetes device plugin). Without it `nvidia-smi` is missing or says
    "couldn't communicate with the NVIDIA driver", and torch warns "Found no NVIDIA driver on your
    system" with `torch.cuda.is_available()` False. Passing only `--device /dev/nvidia0` gives
    device nodes without `libcuda.so.1`, which fails the same way.

    It is an error when something shows GPUs were intended (`NVIDIA_VISIBLE_DEVICES` set by a
    CUDA base image, a CUDA torch build, NVIDIA GPUs on the host's PCI bus, a CUDA toolkit or
    libcudart in the image); otherwise a warning.

    ## Example
    `docker run -it nvcr.io/nvidia/pytorch:25.01-py3` without `--gpus all`: the image sets
    `NVIDIA_VISIBLE_DEVICES=all`, but the container has no `/dev/nvidia0`.

    ## Fix
    Docker: `docker run --gpus all ...` (NVIDIA Container Toolkit installed and configured).
    Podman / CDI: `podman run --device nvidia.com/gpu=all ...`. Kubernetes:
    `resources.limits: {nvidia.com/gpu: 1}` with the NVIDIA device plugin, and
    `runtimeClassName: nvidia` where needed. Do not override `NVIDIA_VISIBLE_DEVICES` with `void`.

    ## References
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/cdi-support.html
    - https://github.com/NVIDIA/k8s-device-plugin
    - https://docs.docker.com/compose/how-tos/gpu-support/
    """

    code = "CTR001"
    name = "container-without-gpus"
    severity = Severity.ERROR
    requires = frozenset({"container"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when this container has no usable GPU passed in."""
        c = _container(facts)
        _require_container(c)
        if _gpus_work(facts):
            return
        env = _env(facts)
        visible = env.get("NVIDIA_VISIBLE_DEVICES")
        caps = env.get("NVIDIA_DRIVER_CAPABILITIES")
        wsl2 = isinstance(facts.host, HostFacts) and facts.host.wsl2
        gpu_nodes = [n for n in c.device_nodes if _GPU_NODE.match(n)]
        libcuda = _libcuda_state(facts)
        evidence: dict[str, object] = {
            "container.runtime": c.runtime,
            "container.device_nodes": c.device_nodes,
            "env.NVIDIA_VISIBLE_DEVICES": visible if visible is not None else "(unset)",
        }
        fix_prefix = ""
        if visible is not None and visible.strip().lower() in NO_GPU_VALUES and (not gpu_nodes or libcuda is False):
            what = (
                f"NVIDIA_VISIBLE_DEVICES={visible!r}" if visible.strip() else "NVIDIA_VISIBLE_DEVICES is empty, which"
            )
            reason = f"{what} tells the NVIDIA container runtime to pass in no GPU"
            fix_prefix = (
                f"Remove the NVIDIA_VISIBLE_DEVICES={visible} setting from the pod spec and image. "
                if c.kubernetes
                else f"Remove the NVIDIA_VISIBLE_DEVICES={visible} override (`-e NVIDIA_VISIBLE_DEVICES=all`, or "
                f"drop the variable). "
            )
        elif wsl2 and libcuda is False:
            reason = (
                "this WSL2 container has no /usr/lib/wsl/lib/libcuda.so.1: GPU paravirtualisation was not passed in"
            )
        elif not gpu_nodes and not wsl2:
            present = f" (only {', '.join(c.device_nodes)})" if c.device_nodes else ""
            reason = (
                f"there is no /dev/nvidiaN GPU device node{present}: the container was not started through "
                f"the NVIDIA container runtime"
            )
        elif libcuda is False:
            if caps is not None and caps.strip() and not ({"compute", "all"} & _capabilities(caps)):
                # NOTE: NVIDIA_DRIVER_CAPABILITIES without `compute` is the cause here; CTR002
                # (driver-capabilities-missing) reports it with the exact fix, so don't say it twice.
                return
            reason = (
                f"GPU device nodes exist ({', '.join(gpu_nodes)}) but the driver's libcuda.so was not injected "
                f"(no libcuda.so* anywhere): the nodes were passed with --device instead of through the NVIDIA "
                f"container runtime"
            )
            evidence["cuda_libs.libcuda_files"] = ()  # libcuda is False only when this is known empty
            fix_prefix = (
                "Don't pass /dev/nvidia* with --device or install a driver in the image; the runtime mounts "
                "the host driver's libraries. "
            )
        else:
            return
        intent = _gpu_intent(facts)
        if gpu_nodes:
            intent.insert(0, "GPU device nodes were passed in")
        evidence["gpu_intent"] = intent
        severity = None
        if intent:
            tail = "GPUs appear to be intended: " + "; ".join(intent) + "."
        else:
            severity = Severity.WARNING
            tail = (
                "Nothing here suggests GPUs were wanted (no NVIDIA_VISIBLE_DEVICES request, no CUDA torch build, "
                "no CUDA toolkit or libcudart, no NVIDIA GPU on the PCI bus), so this is a warning; "
                "ignore CTR001 if this container is meant to run on CPU."
            )
        yield self.finding(
            severity=severity,
            message=f"Inside {_runtime_label(c)}, no GPU is usable: {reason}. {tail}",
            evidence=evidence,
            fix=fix_prefix + _gpu_run_fix(c),
        )


# --------------------------------------------------------------------------------------------
# CTR002


class DriverCapabilitiesMissing(Check):
    """NVIDIA_DRIVER_CAPABILITIES leaves out `compute` or `utility`.

    ## What it checks
    Inside a container, when `NVIDIA_DRIVER_CAPABILITIES` is set and not empty: whether it
    includes `compute` (libcuda, needed by CUDA and torch) and `utility` (nvidia-smi and NVML).
    `all` includes both. Unset or empty means the NVIDIA Container Toolkit default
    (`utility,compute`), so nothing is reported.

    ## Why it matters
    The variable decides which driver libraries the NVIDIA container runtime mounts. Without
    `compute`, `libcuda.so.1` is not mounted: the GPU device nodes exist, `nvidia-smi` may even
    work, but torch says "Found no NVIDIA driver on your system". Without `utility`, CUDA works
    but `nvidia-smi` and NVML (GPU monitoring, `torch.cuda.list_gpu_processes`, this doctor's
    driver probe) do not. Images made for video work often set only `video` or `graphics`.

    Missing `compute` is an error when no libcuda is present; otherwise a warning.

    ## Example
    `docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=utility pytorch/pytorch ...`:
    `nvidia-smi` lists the GPUs, `torch.cuda.is_available()` is False.

    ## Fix
    Include both: `-e NVIDIA_DRIVER_CAPABILITIES=compute,utility` (keep any others you need,
    e.g. `compute,utility,video`), or `all`; in a Dockerfile `ENV NVIDIA_DRIVER_CAPABILITIES=...`;
    in Kubernetes the container's `env`.

    ## References
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html#driver-capabilities
    """

    code = "CTR002"
    name = "driver-capabilities-missing"
    severity = Severity.WARNING
    requires = frozenset({"container"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when the capability list is set and lacks compute or utility."""
        c = _container(facts)
        _require_container(c)
        env = _env(facts)
        raw = env.get("NVIDIA_DRIVER_CAPABILITIES")
        if raw is None or not raw.strip():
            return  # the toolkit default, utility + compute
        visible = env.get("NVIDIA_VISIBLE_DEVICES")
        if visible is not None and visible.strip().lower() in NO_GPU_VALUES:
            return  # no GPU requested at all: CTR001's concern, capabilities are moot
        caps = _capabilities(raw)
        if "all" in caps:
            return
        missing = [cap for cap in ("compute", "utility") if cap not in caps]
        if not missing:
            return
        consequences = []
        severity = None
        if "compute" in missing:
            libcuda = _libcuda_state(facts)
            consequences.append(
                "without `compute` the runtime does not mount libcuda.so.1, so CUDA and torch find no driver"
                + (" (and no libcuda is present here)" if libcuda is False else "")
            )
            # NOTE: only a confirmed absence of libcuda makes it an error; a libcuda that is present
            # anyway (a CDI spec, a bind mount) may still make CUDA work, so that stays a warning.
            if libcuda is False:
                severity = Severity.ERROR
        if "utility" in missing:
            consequences.append("without `utility` nvidia-smi and NVML (GPU monitoring) are not available")
        wanted = ",".join(["compute", "utility", *sorted(caps - {"compute", "utility"})])
        if c.kubernetes:
            fix = (
                f"Set it in the container spec: `env: [{{name: NVIDIA_DRIVER_CAPABILITIES, value: \"{wanted}\"}}]` "
                f"(or `ENV NVIDIA_DRIVER_CAPABILITIES={wanted}` in the Dockerfile), then recreate the pod."
            )
        else:
            fix = (
                f"Recreate the container with `-e NVIDIA_DRIVER_CAPABILITIES={wanted}` "
                f"(e.g. `docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES={wanted} ...`), or set "
                f"`ENV NVIDIA_DRIVER_CAPABILITIES={wanted}` in the Dockerfile; `all` also works."
            )
        yield self.finding(
            severity=severity,
            message=(
                f"NVIDIA_DRIVER_CAPABILITIES={raw} lacks {' and '.join(missing)}: "
                + "; ".join(consequences) + "."
            ),
            evidence={
                "env.NVIDIA_DRIVER_CAPABILITIES": raw,
                "container.runtime": c.runtime,
                "driver.libcuda_path": (
                    facts.driver.libcuda_path if isinstance(facts.driver, DriverFacts) else facts.driver
                ),
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# CTR003


class ShmTooSmall(Check):
    """/dev/shm is too small for DataLoader worker processes.

    ## What it checks
    The size of `/dev/shm` against 1 GiB per GPU (at least 1 GiB), wherever it is small: in
    practice inside containers, where Docker and Kubernetes default to 64 MiB. Outside
    containers Linux sizes it at half the RAM.

    The threshold: NVIDIA's NGC container documentation asks for at least `--shm-size=1g`, and
    every data-parallel rank (one per GPU) runs its own DataLoader workers, each holding
    `prefetch_factor` (default 2) batches in shared memory. A single batch of 256 ImageNet
    images (3x224x224 float32) is already 147 MiB. The fix suggests 8 GiB per GPU, capped at
    half of the memory the container may use, since /dev/shm is RAM.

    ## Why it matters
    `DataLoader(num_workers>0)` passes every batch from the workers to the main process through
    shared memory files in /dev/shm. When it fills up, training dies with "RuntimeError:
    DataLoader worker (pid N) is killed by signal: Bus error", "ERROR: Unexpected bus error
    encountered in worker. This might be caused by insufficient shared memory (shm)", or
    "unable to write to file </torch_...>: No space left on device". NCCL also uses /dev/shm for
    intra-node transport.

    ## Example
    `docker run --gpus all pytorch/pytorch` without `--shm-size`: /dev/shm is 64 MiB.

    ## Fix
    Docker: `--shm-size=16g` or `--ipc=host`. Kubernetes: mount an `emptyDir` with
    `medium: Memory` (and a `sizeLimit`) at `/dev/shm`.

    ## References
    - https://github.com/pytorch/pytorch#docker-image ("increase shared memory size either with
      --ipc=host or --shm-size")
    - https://docs.nvidia.com/deeplearning/frameworks/user-guide/index.html#setincshmem
    - https://pytorch.org/docs/stable/data.html#multi-process-data-loading
    - https://kubernetes.io/docs/concepts/storage/volumes/#emptydir
    """

    code = "CTR003"
    name = "shm-too-small"
    severity = Severity.WARNING
    requires = frozenset({"container"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when /dev/shm is below 1 GiB per GPU (at least 1 GiB)."""
        c = _container(facts)
        shm: int = need(c.shm_size_bytes, "/dev/shm size")
        gpus = _gpu_count(facts)
        minimum = SHM_MIN_PER_GPU * max(1, gpus)
        if shm >= minimum:
            return
        suggest = SHM_SUGGEST_PER_GPU * max(1, gpus)
        ram = c.memory_limit_bytes if isinstance(c.memory_limit_bytes, int) else _host_memory_bytes(facts)
        if ram is not None:
            suggest = max(minimum, min(suggest, ram // 2))
        size = f"{_gib_ceil(suggest)}g"
        per = f" for {gpus} GPU{'s' if gpus != 1 else ''}" if gpus > 1 else ""
        where = f"in {_runtime_label(c)}" if c.in_container else "on this machine"
        default = " (Docker's and Kubernetes' default)" if c.in_container and shm == 64 * MIB else ""
        if c.kubernetes:
            fix = (
                f"Mount a memory-backed volume at /dev/shm: `volumes: [{{name: dshm, emptyDir: {{medium: Memory, "
                f"sizeLimit: {_gib_ceil(suggest)}Gi}}}}]` and `volumeMounts: [{{name: dshm, mountPath: /dev/shm}}]`."
            )
        elif c.in_container:
            fix = (
                f"Recreate the container with `--shm-size={size}` (e.g. `docker run --gpus all --shm-size={size} ...`; "
                f"compose: `shm_size: \"{size}\"`), or `--ipc=host` to share the host's /dev/shm."
            )
        else:
            fix = f"Enlarge it: `sudo mount -o remount,size={_gib_ceil(suggest)}G /dev/shm` (persist it in /etc/fstab)."
        yield self.finding(
            message=(
                f"/dev/shm {where} is {_human(shm)}{default}, below the {_human(minimum)}{per} that "
                f"DataLoader workers need: with num_workers > 0 training can die with \"DataLoader worker ... "
                f"is killed by signal: Bus error\" or \"No space left on device\"."
            ),
            evidence={
                "container.shm_size_bytes": shm,
                "container.in_container": c.in_container,
                "gpu_count": gpus,
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# CTR004


def _gpu_memory_mib(drv: DriverFacts) -> tuple[int, list[str]]:
    """Total GPU memory this process can use, and a description per GPU (MIG slices when enabled)."""
    total = 0
    parts: list[str] = []
    for g in drv.gpus:
        if g.mig_enabled is True and g.mig_devices:
            mib = sum(m.memory_total_mib for m in g.mig_devices if isinstance(m.memory_total_mib, int))
            label = f"{g.name} ({len(g.mig_devices)} MIG instance{'s' if len(g.mig_devices) != 1 else ''})"
        elif isinstance(g.memory_total_mib, int):
            mib, label = g.memory_total_mib, g.name
        else:
            continue
        total += mib
        parts.append(label)
    counted = Counter(parts)
    return total, [f"{n}x {label}" if n > 1 else label for label, n in counted.items()]


class ContainerMemoryLimitLow(Check):
    """The cgroup memory limit is smaller than the GPUs' total memory.

    ## What it checks
    The memory limit of this process's cgroup (Docker `--memory`, Kubernetes
    `resources.limits.memory`, a Slurm job's `--mem`, a systemd slice) against the total memory
    of the visible GPUs. It reports a limit below 1x the GPU memory and suggests 2x (at most the
    host's RAM). No limit, or one at least as large as the host's RAM, is fine.

    The sizing rule: GPU servers are built with at least as much RAM as GPU memory (NVIDIA's DGX
    H100 has 2 TiB for 640 GB of GPU memory), because everything on a GPU passes through host
    memory first: `torch.load` materialises checkpoints and state dicts on the CPU, pinned
    staging buffers and DataLoader worker prefetch live in RAM, and optimizer offload (ZeRO,
    FSDP CPU offload) keeps whole tensors there.

    ## Why it matters
    When the limit is reached the kernel's OOM killer ends the process: the job disappears with
    exit code 137 / "Killed", or "DataLoader worker (pid N) is killed by signal: Killed", without
    a Python traceback, often only when a checkpoint is saved or loaded.

    ## Example
    A pod with two H100 80GB and `resources.limits.memory: 64Gi`.

    ## Fix
    Raise the limit: `docker run --memory=<size>`, Kubernetes `resources.limits.memory`,
    Slurm `--mem=<size>`.

    ## References
    - https://docs.docker.com/engine/containers/resource_constraints/#memory
    - https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    - https://docs.nvidia.com/dgx/dgxh100-user-guide/introduction-to-dgxh100.html
    - https://pytorch.org/docs/stable/notes/faq.html
    """

    code = "CTR004"
    name = "container-memory-limit-low"
    severity = Severity.WARNING
    requires = frozenset({"container", "driver"})
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when the memory limit is below the GPUs' total memory."""
        c = _container(facts)
        drv = facts.driver
        assert isinstance(drv, DriverFacts)
        if not drv.gpus:
            raise SkipCheck("no GPU visible: nothing to size host memory against")
        limit = need(c.memory_limit_bytes, "cgroup memory limit")
        if limit == UNLIMITED:
            return
        assert isinstance(limit, int)
        gpu_mib, names = _gpu_memory_mib(drv)
        n_gpus = len(drv.gpus)
        if gpu_mib == 0:
            raise SkipCheck("the GPUs' memory sizes are unknown")
        gpu_bytes = gpu_mib * MIB
        host = _host_memory_bytes(facts)
        if limit >= gpu_bytes * MEMORY_MIN_FACTOR or (host is not None and limit >= host):
            return
        suggest = gpu_bytes * MEMORY_SUGGEST_FACTOR
        if host is not None:
            suggest = min(suggest, host)
        size = _gib_ceil(suggest)
        env = _env(facts)
        if c.kubernetes:
            fix = (
                f"Raise the pod's limit: `resources: {{limits: {{memory: {size}Gi}}, "
                f"requests: {{memory: {size}Gi}}}}`."
            )
        elif c.in_container:
            fix = (
                f"Recreate the container with `--memory={size}g` "
                f"(e.g. `docker run --gpus all --memory={size}g ...`), or drop the limit."
            )
        elif "SLURM_JOB_ID" in env:
            fix = f"Request more memory for the job: `#SBATCH --mem={size}G` (or `srun --mem={size}G ...`)."
        else:
            fix = (
                f"Raise the cgroup limit of this session, e.g. "
                f"`systemd-run --user --scope -p MemoryMax={size}G <command>`."
            )
        if c.in_container:
            where = _runtime_label(c)
        else:
            where = "this Slurm job" if "SLURM_JOB_ID" in env else "this process's cgroup"
        host_note = f" (the host has {_human(host)})" if host is not None else ""
        yield self.finding(
            message=(
                f"The memory limit of {where} is {_human(limit)}, less than the {_human(gpu_bytes)} of GPU memory "
                f"({n_gpus} GPU{'s' if n_gpus != 1 else ''}: {', '.join(names)}){host_note}. Loading or saving a "
                f"checkpoint, pinned buffers and DataLoader workers can exceed it, and the OOM killer ends the job "
                f"(exit code 137, \"Killed\") without a traceback."
            ),
            evidence={
                "container.memory_limit_bytes": limit,
                "driver.gpus.memory_total_mib": gpu_mib,
                "host.memory_total_mib": host // MIB if host is not None else "unknown",
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# CTR005


class DataOnContainerLayer(Check):
    """The working directory lives on the container's writable layer.

    ## What it checks
    Inside a container: whether the working directory (where scripts write checkpoints, logs
    and caches by default) is on the container's own writable layer (overlayfs upper directory)
    rather than on a mounted volume or bind mount.

    ## Why it matters
    Everything written there is lost when the container is removed (`docker run --rm`, a pod
    rescheduled or evicted): hours of checkpoints disappear. Overlay filesystems are also slow
    for the many small reads of a dataset and for large checkpoint writes, and their size
    counts against the node's ephemeral storage (Kubernetes evicts pods that exceed it).

    ## Example
    `docker run --gpus all -w /workspace my-image python train.py` with no `-v`: checkpoints
    in /workspace/checkpoints vanish with the container.

    ## Fix
    Mount a volume for data and outputs: `docker run -v /host/data:/workspace ...`; in
    Kubernetes a `volumeMount` backed by a PersistentVolumeClaim.

    ## References
    - https://docs.docker.com/engine/storage/
    - https://docs.docker.com/engine/storage/drivers/overlayfs-driver/
    - https://kubernetes.io/docs/concepts/storage/persistent-volumes/
    """

    code = "CTR005"
    name = "data-on-container-layer"
    severity = Severity.WARNING
    requires = frozenset({"container", "env"})
    fast = False  # data durability, not runtime health

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding per user-relevant path that sits on the writable layer."""
        c = _container(facts)
        _require_container(c)
        env = facts.env
        assert isinstance(env, EnvFacts)
        # NOTE: paths come from facts only. Today that is the working directory; a future
        # --data-path would add (label, path, on_writable_layer) entries here.
        on_layer = need(c.workdir_on_writable_layer, "working directory's filesystem")
        paths = [("working directory", env.working_directory, on_layer)]
        for label, path, on_layer in paths:
            if not on_layer:
                continue
            fs = c.workdir_filesystem if isinstance(c.workdir_filesystem, str) else "overlay"
            if c.kubernetes:
                fix = (
                    f"Mount persistent storage at {path}: `volumeMounts: [{{name: data, mountPath: {path}}}]` with "
                    f"`volumes: [{{name: data, persistentVolumeClaim: {{claimName: <your-pvc>}}}}]`."
                )
            else:
                fix = (
                    f"Mount a host directory or volume there: `docker run -v /host/data:{path} -w {path} ...` "
                    f"(or `--mount type=volume,src=<volume>,dst={path}`)."
                )
            yield self.finding(
                message=(
                    f"The {label} {path} is on {_runtime_label(c)}'s writable layer ({fs}): checkpoints and "
                    f"outputs written there are lost when the container is removed, and overlay I/O is slow "
                    f"for datasets."
                ),
                evidence={
                    "env.working_directory": path,
                    "container.workdir_on_writable_layer": on_layer,
                    "container.workdir_filesystem": c.workdir_filesystem,
                },
                fix=fix,
            )


CHECKS: tuple[type[Check], ...] = (
    ContainerWithoutGpus,
    DriverCapabilitiesMissing,
    ShmTooSmall,
    ContainerMemoryLimitLow,
    DataOnContainerLayer,
)
