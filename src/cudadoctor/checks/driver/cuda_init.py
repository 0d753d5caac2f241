"""Driver checks of CUDA initialisation errors: 999 (access lost, unknown error), 804 (forward compat), 802 (fabric)."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import Version

from cudadoctor.causes import (
    CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE,
    CUDA_ERROR_SYSTEM_NOT_READY,
    CUDA_ERROR_UNKNOWN,
    ErrorKind,
)
from cudadoctor.checks.base import Check, area, maybe
from cudadoctor.checks.driver.common import (
    applies_gpu_access_lost,
    cu_init,
    driver_version,
    driver_version_evidence,
    forward_compat_unsupported,
    has_uvm,
    is_compat_path,
    sentence,
    torch_reason,
    torch_reports,
)
from cudadoctor.facts import ContainerFacts, CudaLibsFacts, DriverFacts, Facts, TorchFacts, nv_version
from cudadoctor.findings import Finding, Severity
from cudadoctor.remedies import host_side, major_minor
from cudadoctor.tables import RuleTables
from cudadoctor.visible_devices import gpu_label
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy


# --------------------------------------------------------------------------------------------
# DRV003


class GpuAccessLost(Check):
    """The container has GPU device nodes but lost access to them ("Unknown Error").

    ## What it checks
    Inside a container whose `/dev/nvidia*` nodes exist, NVML fails with "Unknown Error" (and
    `cuInit` usually returns 999, `CUDA_ERROR_UNKNOWN`, with it). Decided from NVML: where NVML
    still answers normally and only `cuInit` returns 999, the container still reaches its GPUs and
    `cuda-unknown-error` explains the failure instead.

    ## Why it matters
    This is the signature of a container whose device-cgroup rules were dropped: when systemd
    manages the container's cgroups and the host runs `systemctl daemon-reload` (package
    upgrades do this), runc's device rules for the NVIDIA nodes are lost. Jobs that ran fine
    suddenly fail with "Failed to initialize NVML: Unknown Error" and
    `RuntimeError: CUDA unknown error`, and they keep failing until the container is recreated.

    ## Example
    A training container on a Kubernetes node; an apt upgrade on the host reloads systemd; from
    then on `nvidia-smi` in the container prints "Failed to initialize NVML: Unknown Error".

    ## Fix
    Restart (recreate) the container. To stop it recurring, pass GPUs through CDI
    (`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, `docker run --device
    nvidia.com/gpu=all`), create the /dev/char symlinks (`sudo nvidia-ctk system
    create-dev-char-symlinks --create-all`), or use Docker's cgroupfs cgroup driver.

    ## References
    - https://github.com/NVIDIA/nvidia-container-toolkit/issues/48
    - https://github.com/NVIDIA/nvidia-docker/issues/1730
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/troubleshooting.html
    """

    code = "DRV003"
    name = "gpu-access-lost"
    severity = Severity.ERROR
    requires = frozenset({"driver", "container"})
    fast = True
    explains = ("nvml-unknown",)
    rank = 15

    def fix(self, ctx: FixContext) -> Remedy:
        """Restart the container now; stop the host from revoking device access again."""
        return Remedy(
            "Now: restart the container (`docker restart <container>`, or delete the pod). Permanently (on the "
            "host): use CDI (`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, then `docker run "
            "--device nvidia.com/gpu=all`), or `sudo nvidia-ctk system create-dev-char-symlinks --create-all`, or "
            "switch Docker to cgroupfs (`\"exec-opts\": [\"native.cgroupdriver=cgroupfs\"]` in "
            "/etc/docker/daemon.json). See https://github.com/NVIDIA/nvidia-container-toolkit/issues/48",
            "Typical in a container after the host ran `systemctl daemon-reload` (cgroup device rules were reset).",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on NVML unknown-error inside a container with device nodes (cuInit 999 then only adds to it)."""
        drv = area(facts, DriverFacts)
        c = area(facts, ContainerFacts)
        if not applies_gpu_access_lost(drv, c):
            return
        symptoms = []
        if drv.nvml_status == "unknown-error":
            symptoms.append(f"NVML fails with {drv.nvml_error or 'Unknown Error'!r}")
        if cu_init(drv) == CUDA_ERROR_UNKNOWN:
            symptoms.append(f"cuInit returns 999 ({drv.cu_init_error or 'CUDA_ERROR_UNKNOWN'})")
        message = (
            f"This {c.runtime} container has the GPU device nodes ({', '.join(c.device_nodes)}) but "
            + " and ".join(symptoms)
            + ": the container has lost access to its GPUs. The usual cause is the host running "
            "`systemctl daemon-reload` (e.g. during a package upgrade), which drops the container's device cgroup rules."
        )
        restart = (
            "delete the pod so it is recreated"
            if c.kubernetes
            else "restart the container (`docker restart <container>`)"
        )
        fix = (
            f"Now: {restart}; it regains the GPUs. Permanently (on the host): use CDI "
            "(`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, then `docker run --device nvidia.com/gpu=all`), "
            "or create the device symlinks runc needs (`sudo nvidia-ctk system create-dev-char-symlinks --create-all`), "
            'or switch Docker to the cgroupfs driver (`"exec-opts": ["native.cgroupdriver=cgroupfs"]` in '
            "/etc/docker/daemon.json). See https://github.com/NVIDIA/nvidia-container-toolkit/issues/48"
        )
        yield self.finding(
            message=message,
            evidence={
                "container.in_container": c.in_container,
                "container.runtime": c.runtime,
                "container.device_nodes": c.device_nodes,
                "driver.nvml_status": drv.nvml_status,
                "driver.nvml_error": drv.nvml_error or "(none)",
                "driver.cu_init_result": drv.cu_init_result,
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV004


class CudaUnknownError(Check):
    """CUDA initialisation fails with an unknown error (999).

    ## What it checks
    `cuInit` returns 999 (`CUDA_ERROR_UNKNOWN`), or torch reports "Error 999: unknown error",
    unless NVML fails with "Unknown Error" too inside a container with device nodes (that is
    `gpu-access-lost`). In a container where NVML answers normally it is this check's case.

    ## Why it matters
    `torch.cuda.is_available()` is False with "CUDA unknown error - this may be due to an
    incorrectly set up environment". The common causes are a missing `/dev/nvidia-uvm` (the
    `nvidia_uvm` module is not loaded) and a laptop or workstation resumed from suspend, after
    which the UVM module is in a bad state.

    ## Example
    A desktop after suspend/resume: `nvidia-smi` works, but every CUDA program fails with error 999.

    ## Fix
    Load or reload the UVM module: `sudo modprobe nvidia_uvm`, or
    `sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm` (no CUDA process may be running); reboot if
    that does not help.

    ## References
    - https://docs.nvidia.com/cuda/cuda-installation-guide-linux/index.html#device-node-verification
    - https://github.com/pytorch/pytorch/issues/49081
    - https://github.com/pytorch/pytorch/issues/88639
    - https://github.com/pytorch/pytorch/issues/43281
    """

    code = "DRV004"
    name = "cuda-unknown-error"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    fast = True
    explains = ("cuda-999",)
    rank = 45
    follows_from = ("gpu-access-lost", "driver-library-mismatch", "gpu-fallen-off-bus")

    def fix(self, ctx: FixContext) -> Remedy:
        """Make sure nvidia-uvm is loaded, reload it after suspend/resume."""
        return Remedy(
            "Check that /dev/nvidia-uvm exists (`sudo modprobe nvidia_uvm` or `sudo nvidia-modprobe -c 0 -u` if "
            "not); after a suspend/resume reload it with no CUDA process running: `sudo rmmod nvidia_uvm && sudo "
            "modprobe nvidia_uvm`; reboot if that does not help. Also make sure CUDA_VISIBLE_DEVICES is not "
            "changed after the program started."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on cuInit 999 (or torch's Error 999) unless DRV003 explains it."""
        drv = area(facts, DriverFacts)
        reason = torch_reason(facts)
        code = cu_init(drv)
        torch_says = torch_reports(facts, ErrorKind.CUDA_UNKNOWN)
        if not (code == CUDA_ERROR_UNKNOWN or (code is None and torch_says)):
            return
        c = maybe(facts, ContainerFacts)
        if applies_gpu_access_lost(drv, c):
            return
        seen = (
            f"cuInit returns 999 ({drv.cu_init_error or 'CUDA_ERROR_UNKNOWN'})"
            if code == CUDA_ERROR_UNKNOWN
            else f"torch reports {reason.strip()!r}"
        )
        uvm_missing = c is not None and not has_uvm(c)
        if uvm_missing and c is not None and c.in_container:
            cause = (
                "/dev/nvidia-uvm is missing inside this container: it was started without the UVM device node "
                "(e.g. with --device for /dev/nvidia0 only, or the host had not created the node yet), and CUDA "
                "cannot initialise without it"
            )
            fix = (
                "On the host, create the node (`sudo nvidia-modprobe -c 0 -u`, or `sudo modprobe nvidia_uvm`), then "
                "recreate the container through the NVIDIA runtime (`docker run --gpus all ...`), which passes "
                "/dev/nvidia-uvm in."
            )
        elif uvm_missing:
            cause = (
                "/dev/nvidia-uvm does not exist: the nvidia_uvm kernel module is not loaded, and CUDA cannot "
                "initialise without it"
            )
            fix = (
                "Load the module and create its device node: `sudo modprobe nvidia_uvm` (or `sudo nvidia-modprobe -c 0 -u`); "
                "to load it at boot: `echo nvidia_uvm | sudo tee /etc/modules-load.d/nvidia-uvm.conf`."
            )
        else:
            cause = (
                "the driver is loaded but CUDA cannot initialise; this typically follows a suspend/resume, after which "
                "the nvidia_uvm module is in a bad state"
            )
            if c is not None and c.in_container and drv.nvml_status == "ok":
                # NOTE: lost device access (gpu-access-lost) fails NVML too; it answers, so look at the host's UVM.
                cause += (
                    " on the host (NVML still answers inside this container, so the container has not lost access "
                    "to the GPUs and recreating it will not help)"
                )
            fix = (
                "Reload the UVM module with no CUDA process running: `sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`; "
                "reboot if that does not help. For suspend/resume, enable NVIDIA's suspend services "
                "(`sudo systemctl enable nvidia-suspend nvidia-resume nvidia-hibernate`)."
            )
        yield self.finding(
            message=f"CUDA fails to initialise with an unknown error: {seen}; {cause}.",
            evidence={
                "driver.cu_init_result": drv.cu_init_result,
                "driver.cu_init_error": drv.cu_init_error or "(none)",
                "torch.cuda_unavailable_reason": reason or "(none)",
                "container.device_nodes": c.device_nodes if c else facts.container,
            },
            fix=fix + ("" if uvm_missing else host_side(facts)),
        )


# --------------------------------------------------------------------------------------------
# DRV008


class ForwardCompatUnsupportedGpu(Check):
    """A cuda-compat (forward-compatibility) libcuda is in use on a GPU that does not support it.

    ## What it checks
    Whether the libcuda that loads comes from a cuda-compat directory (e.g.
    `/usr/local/cuda-12.8/compat/`), or CUDA init fails with error 804, while the GPU is not one
    of the classes forward compatibility supports (data-center GPUs, select NGC-ready RTX,
    Jetson).

    ## Why it matters
    CUDA fails to initialise with error 804 "forward compatibility was attempted on non
    supported HW" and torch sees no GPU. This happens when a CUDA container image that enables
    cuda-compat runs on a GeForce/workstation card.

    ## Example
    An image with `/usr/local/cuda/compat` on LD_LIBRARY_PATH on a GeForce RTX 3090 host.

    ## Fix
    Remove the compat directory from LD_LIBRARY_PATH (or from /etc/ld.so.conf.d/, then
    `sudo ldconfig`), or upgrade the host driver so no compat package is needed.

    ## References
    - https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html
    - https://gitlab.com/nvidia/container-images/cuda/-/issues/183
    """

    code = "DRV008"
    name = "forward-compat-unsupported-gpu"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ("gpus", "cuda_driver")
    fast = True
    explains = ("cuda-804",)
    rank = 15

    def fix(self, ctx: FixContext) -> Remedy:
        """Stop loading the cuda-compat libcuda."""
        return Remedy(
            "Stop loading the cuda-compat libcuda: remove its directory (e.g. /usr/local/cuda/compat) from "
            "LD_LIBRARY_PATH or /etc/ld.so.conf.d, or `sudo apt remove cuda-compat-*`; then either upgrade the "
            "host driver to one that supports the program's CUDA, or use a build for the CUDA the driver supports.",
            "Forward compatibility (cuda-compat) only works on data-center GPUs.",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when cuda-compat is in use (or error 804) on an unsupported GPU."""
        drv = area(facts, DriverFacts)
        compat_paths = self._compat_paths(facts)
        err804 = cu_init(drv) == CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE or torch_reports(
            facts, ErrorKind.CUDA_COMPAT_NOT_SUPPORTED
        )
        if not compat_paths and not err804:
            return
        bad = [g for g in drv.gpus if forward_compat_unsupported(g, tables)]
        if not err804 and not bad:
            return
        parts = []
        if compat_paths:
            parts.append(
                f"the libcuda in use comes from a CUDA forward-compatibility package ({', '.join(compat_paths)})"
            )
        if err804:
            parts.append(
                "CUDA initialisation fails with error 804 (CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE: "
                '"forward compatibility was attempted on non supported HW")'
            )
        gpus = bad or list(drv.gpus)
        gpu_text = (
            "; ".join(gpu_label(g) for g in gpus)
            + (" does not" if len(gpus) == 1 else " do not")
            + " support forward compatibility (only data-center GPUs, select NGC-ready RTX cards and Jetson do)"
            if gpus
            else "the GPU does not support forward compatibility"
        )
        message = sentence(" and ".join(parts)) + f", but {gpu_text}. CUDA cannot initialise, so torch sees no GPU."
        dirs = sorted({p.rsplit("/", 1)[0] for p in compat_paths})
        fix_dir = (
            f"Remove {', '.join(dirs)} from LD_LIBRARY_PATH and from /etc/ld.so.conf.d/*.conf (then `sudo ldconfig`)"
            if dirs
            else "Remove the cuda-compat directory (e.g. /usr/local/cuda/compat) from LD_LIBRARY_PATH and "
            "/etc/ld.so.conf.d/ (then `sudo ldconfig`)"
        )
        host_fix = ""
        t = maybe(facts, TorchFacts)
        if t and isinstance(t.cuda_version, Version):
            rel = tables.cuda_driver.min_driver_for(t.cuda_version)
            if rel is not None:
                host_fix = f" (>= {nv_version(rel.min_driver)} for torch's CUDA {major_minor(t.cuda_version)})"
        yield self.finding(
            message=message,
            evidence={
                "driver.libcuda_path": drv.libcuda_path,
                "driver.libcuda_version": driver_version_evidence(drv.libcuda_version),
                "driver.driver_version": driver_version_evidence(drv.driver_version),
                "driver.cu_init_result": drv.cu_init_result,
                "driver.gpus": [g.name for g in gpus],
            },
            fix=(
                f"{fix_dir}, so the host driver's own libcuda is used; or upgrade the host driver{host_fix} so no "
                "compat package is needed."
            ),
        )

    @staticmethod
    def _compat_paths(facts: Facts) -> list[str]:
        drv = area(facts, DriverFacts)
        paths: list[str] = []
        if isinstance(drv.libcuda_path, str):
            paths.append(drv.libcuda_path)
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            paths += [
                r.path
                for r in facts.cuda_libs.resolved
                if r.soname.startswith("libcuda.so") and isinstance(r.path, str)
            ]
        t = maybe(facts, TorchFacts)
        if t and isinstance(t.loaded_libraries, tuple):
            paths += [lib.path for lib in t.loaded_libraries if lib.library == "libcuda"]
        return list(dict.fromkeys(p for p in paths if is_compat_path(p)))


# --------------------------------------------------------------------------------------------
# DRV009


class FabricManagerMissing(Check):
    """An NVSwitch system whose NVLink fabric is not initialised (Fabric Manager not running).

    ## What it checks
    CUDA init fails with error 802 (`CUDA_ERROR_SYSTEM_NOT_READY`, "system not yet
    initialized") on a system whose GPUs are sold in NVSwitch (HGX/DGX) baseboards.

    ## Why it matters
    On NVSwitch systems CUDA refuses to start until the NVIDIA Fabric Manager has configured
    the NVLink fabric: `torch.cuda.is_available()` is False with "Error 802: system not yet
    initialized", while `nvidia-smi` looks healthy.

    ## Example
    An HGX H100 8-GPU server after a driver upgrade: the `nvidia-fabricmanager` package was not
    upgraded to the same version, so the service fails to start.

    ## Fix
    Install the Fabric Manager package whose version equals the driver's exactly and enable it:
    `sudo apt install nvidia-fabricmanager-<branch>=<driver version>-1 && sudo systemctl enable --now
    nvidia-fabricmanager`.

    ## References
    - https://docs.nvidia.com/datacenter/tesla/fabric-manager-user-guide/index.html
    - https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__TYPES.html
    """

    code = "DRV009"
    name = "fabric-manager-missing"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ("gpus",)
    fast = True
    explains = ("cuda-802",)
    rank = 15

    def fix(self, ctx: FixContext) -> Remedy:
        """Install and start Fabric Manager of exactly the driver's version."""
        if ctx.driver is not None:
            pkg = f"`sudo apt install nvidia-fabricmanager-{ctx.driver.major}={nv_version(ctx.driver)}-1`"
        else:
            pkg = "`sudo apt install nvidia-fabricmanager-<branch>=<driver version>-1`"
        return Remedy(
            f"Install Fabric Manager (its version must equal the driver version exactly): {pkg}, then "
            "`sudo systemctl enable --now nvidia-fabricmanager` and check `systemctl status nvidia-fabricmanager`.",
            "This is an NVSwitch (HGX/DGX) system whose fabric is not up.",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on error 802 unless the GPUs are known non-NVSwitch models."""
        drv = area(facts, DriverFacts)
        reason = torch_reason(facts)
        err802 = cu_init(drv) == CUDA_ERROR_SYSTEM_NOT_READY or torch_reports(facts, ErrorKind.CUDA_SYSTEM_NOT_READY)
        if not err802:
            return
        models = [tables.gpus.lookup(g.name) for g in drv.gpus]
        nvswitch = [g for g, m in zip(drv.gpus, models, strict=True) if m is not None and m.nvswitch]
        sxm = [g for g in drv.gpus if "SXM" in g.name.upper()]
        if drv.gpus and not nvswitch and len(sxm) < 4 and all(m is not None for m in models):
            return  # NOTE: known non-NVSwitch GPUs: 802 has another cause here.
        found = driver_version(drv)
        if nvswitch:
            system = f"{len(drv.gpus)} × {nvswitch[0].name} (a GPU sold in NVSwitch HGX/DGX systems)"
        elif len(sxm) >= 4:
            system = f"{len(drv.gpus)} SXM GPUs ({sxm[0].name}), an NVSwitch baseboard"
        else:
            system = "an NVSwitch system (GPU model not in the rule tables)" if drv.gpus else "this system"
        seen = (
            "cuInit returns 802 (CUDA_ERROR_SYSTEM_NOT_READY)"
            if cu_init(drv) == CUDA_ERROR_SYSTEM_NOT_READY
            else f"torch reports {reason.strip()!r}"
        )
        message = (
            f"CUDA is not ready on {system}: {seen}. The NVLink fabric has not been initialised, which means the NVIDIA "
            "Fabric Manager service is not running or its version differs from the driver's."
        )
        if found:
            dv = nv_version(found[0])
            pkg = f"`sudo apt install nvidia-fabricmanager-{found[0].major}={dv}-1`"
            match = f"the Fabric Manager version must equal the driver version {dv} exactly"
        else:
            pkg = "`sudo apt install nvidia-fabricmanager-<branch>=<driver version>-1`"
            match = "the Fabric Manager version must equal the driver version exactly"
        fix = (
            f"Install Fabric Manager ({match}; `apt list -a nvidia-fabricmanager-*` shows the exact package version): {pkg}, "
            "then `sudo systemctl enable --now nvidia-fabricmanager` and check `systemctl status nvidia-fabricmanager`."
            + host_side(facts)
        )
        yield self.finding(
            message=message,
            evidence={
                "driver.cu_init_result": drv.cu_init_result,
                "torch.cuda_unavailable_reason": reason or "(none)",
                "driver.driver_version": driver_version_evidence(drv.driver_version),
                "driver.gpus": [g.name for g in drv.gpus],
            },
            fix=fix,
        )
