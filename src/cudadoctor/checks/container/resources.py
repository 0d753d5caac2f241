"""Container checks of resources for training: /dev/shm, the memory limit, and where the data is written."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from cudadoctor.checks.base import Check, SkipCheck, area, need
from cudadoctor.checks.container.common import container_of, env_variables, require_container, runtime_label
from cudadoctor.facts import UNLIMITED, DriverFacts, EnvFacts, Facts, HostFacts, TorchFacts
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy

GIB = 1024**3
MIB = 1024**2

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
    """'8 GiB', '1.5 GiB', '64 MiB'."""
    if nbytes >= GIB:
        g = nbytes / GIB
        return f"{g:.0f} GiB" if abs(g - round(g)) < 0.05 else f"{g:.1f} GiB"
    return f"{nbytes / MIB:.0f} MiB"


def _gib_ceil(nbytes: float) -> int:
    """Whole GiB, rounded up, at least 1."""
    return max(1, math.ceil(nbytes / GIB - 1e-9))


def _host_memory_bytes(facts: Facts) -> int | None:
    """The host's RAM in bytes, when known."""
    h = facts.host
    if isinstance(h, HostFacts) and isinstance(h.memory_total_mib, int):
        return h.memory_total_mib * MIB
    return None


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
    explains = ("dataloader-bus-error", "torch-shm-write", "nccl-shm", "no-space-shm", "dataloader-exited")
    rank = 40

    def fix(self, ctx: FixContext) -> Remedy:
        """Give /dev/shm more room (or use fewer workers meanwhile)."""
        return Remedy(
            "Give /dev/shm more room: recreate the container with `--shm-size=16g` (e.g. `docker run --gpus all "
            "--shm-size=16g ...`; compose: `shm_size: \"16g\"`) or `--ipc=host`; on Kubernetes mount an emptyDir "
            "with `medium: Memory` at /dev/shm. Meanwhile fewer DataLoader workers (`num_workers`) lower the need."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when /dev/shm is below 1 GiB per GPU (at least 1 GiB)."""
        c = container_of(facts)
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
        where = f"in {runtime_label(c)}" if c.in_container else "on this machine"
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
    explains = ("dataloader-killed",)
    rank = 40

    def fix(self, ctx: FixContext) -> Remedy:
        """Raise the memory limit, or need less memory per worker."""
        return Remedy(
            "Raise the memory limit of the container/job (`docker run --memory=<size>`, Kubernetes "
            "`resources.limits.memory`, `#SBATCH --mem=`), or lower `num_workers` / `prefetch_factor` and avoid "
            "copying the dataset into every worker."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when the memory limit is below the GPUs' total memory."""
        c = container_of(facts)
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
        env = env_variables(facts)
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
            where = runtime_label(c)
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
        c = container_of(facts)
        require_container(c)
        env = area(facts, EnvFacts)
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
                    f"The {label} {path} is on {runtime_label(c)}'s writable layer ({fs}): checkpoints and "
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
