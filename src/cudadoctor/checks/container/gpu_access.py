"""Container checks of GPU access: were the GPUs passed in, with the driver capabilities CUDA needs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from cudadoctor.checks.base import Check
from cudadoctor.checks.container.common import container_of, env_variables, require_container, runtime_label
from cudadoctor.facts import (
    ContainerFacts,
    CudaLibsFacts,
    DriverFacts,
    Facts,
    HostFacts,
    ToolkitFacts,
    TorchFacts,
    Unavailable,
)
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy

#: NVIDIA_VISIBLE_DEVICES values that make the NVIDIA container runtime expose no GPU.
#: NOTE: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/docker-specialized.html
#: ("void or empty or unset: same behavior as runc"; "none: no GPUs ... driver capabilities enabled").
NO_GPU_VALUES = frozenset({"void", "none", ""})

_GPU_NODE = re.compile(r"^/dev/nvidia\d+$")


def _capabilities(value: str) -> set[str]:
    """NVIDIA_DRIVER_CAPABILITIES as a set of lower-case names."""
    return {t.strip().lower() for t in value.split(",") if t.strip()}


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
    visible = env_variables(facts).get("NVIDIA_VISIBLE_DEVICES")
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


def _machine_has_no_gpu(facts: Facts, c: ContainerFacts) -> bool:
    """Whether the host's PCI bus, as this container sees it, is known to hold no NVIDIA GPU.

    A VM-sandboxed runtime (Kata Containers, gVisor) shows its own small PCI bus instead of the
    host's, so there an empty list says nothing about the host.
    """
    h = facts.host
    if not isinstance(h, HostFacts) or not isinstance(h.nvidia_pci_devices, tuple) or h.nvidia_pci_devices:
        return False
    return not any(word in e.lower() for e in c.evidence for word in ("kata", "gvisor", "runsc"))


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
    libcudart in the image); otherwise a warning. Information only where the host's PCI bus (which
    a runc-based container sees) holds no NVIDIA GPU: there is nothing to pass in, and
    `no-nvidia-driver` describes the machine.

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
    explains = ("docker-no-gpu-driver",)
    rank = 10

    def fix(self, ctx: FixContext) -> Remedy:
        """Install and register the NVIDIA Container Toolkit, then run with --gpus all."""
        return Remedy(
            "On the host, install the NVIDIA Container Toolkit and register it with Docker: "
            "`sudo apt install nvidia-container-toolkit && sudo nvidia-ctk runtime configure --runtime=docker && "
            "sudo systemctl restart docker`, then run `docker run --gpus all ...`."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding when this container has no usable GPU passed in."""
        c = container_of(facts)
        require_container(c)
        if _gpus_work(facts):
            return
        env = env_variables(facts)
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
        fix = fix_prefix + _gpu_run_fix(c)
        if not gpu_nodes and not wsl2 and _machine_has_no_gpu(facts, c):
            # NOTE: runc-based containers see the host's /sys/bus/pci: with no NVIDIA GPU there,
            # nothing could have been passed in. Being a container without GPUs is then a fact,
            # not the fault; no-nvidia-driver describes the machine.
            severity = Severity.INFO
            wanted = (" GPUs appear to be intended (" + "; ".join(intent) + "), but") if intent else ""
            tail = (
                f"{wanted} no NVIDIA GPU is on this machine's PCI bus (a container sees the host's bus), so there is "
                "no GPU to pass in; this is information, not a fault of the container."
            ).lstrip()
            tail = tail[0].upper() + tail[1:]
            run = _gpu_run_fix(c)
            fix = ("Nothing to change here while this machine has no NVIDIA GPU. On a machine with one: "
                   + run[0].lower() + run[1:])
        elif intent:
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
            message=f"Inside {runtime_label(c)}, no GPU is usable: {reason}. {tail}",
            evidence=evidence,
            fix=fix,
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
        c = container_of(facts)
        require_container(c)
        env = env_variables(facts)
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
