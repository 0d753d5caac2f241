"""Driver checks of presence and health: is a driver installed, loaded, consistent with itself, answering."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import Version

from cudadoctor.causes import CUDA_SUCCESS
from cudadoctor.checks.base import Check, area, maybe
from cudadoctor.checks.driver.common import (
    applies_gpu_access_lost,
    driver_version_evidence,
    is_compat_path,
)
from cudadoctor.facts import (
    ContainerFacts,
    CudaLibsFacts,
    DriverFacts,
    Facts,
    HostFacts,
    TorchFacts,
    Unavailable,
    known,
    nv_version,
)
from cudadoctor.findings import Finding, Severity
from cudadoctor.remedies import CONTAINER_TOOLKIT_URL, host_side, install_driver_command
from cudadoctor.tables import RuleTables
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy, driver_needed_for, major_minor


# --------------------------------------------------------------------------------------------
# DRV001


class NoNvidiaDriver(Check):
    """No NVIDIA driver is installed.

    ## What it checks
    That some part of the NVIDIA driver exists: NVML (`libnvidia-ml.so.1`), the kernel module
    (`/proc/driver/nvidia/version`) or `libcuda.so.1` (loadable, or at least present on disk).
    It fires only when all of them are missing, and says whether an NVIDIA GPU is on the PCI bus.

    ## Why it matters
    Without a driver nothing can use the GPU: `torch.cuda.is_available()` is False and
    `nvidia-smi` is missing or fails. CUDA's own message for this case, "CUDA driver version is
    insufficient for CUDA runtime version", is misleading: there is no driver at all.

    ## Example
    A fresh Ubuntu server with an A100 in its PCI slot and no `nvidia-driver-*` package; or a
    container started without `--gpus`; or a CPU-only CI runner.

    ## Fix
    Bare metal: install the driver branch torch's CUDA build needs (e.g.
    `sudo apt install nvidia-driver-580`), then reboot. In a container: start it with GPUs
    (`docker run --gpus all`, with the NVIDIA Container Toolkit on the host; on Kubernetes request
    `nvidia.com/gpu`). The driver belongs on the host, never in the image.

    ## References
    - https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/index.html
    - https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html
    - https://docs.nvidia.com/cuda/wsl-user-guide/index.html
    """

    code = "DRV001"
    name = "no-nvidia-driver"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ("cuda_driver",)
    fast = True
    explains = ("torch-no-driver", "nvml-not-found", "smi-not-found", "lib:libcuda", "lib:libnvidia-ml",
                "refine:cuda-35-without-driver")
    rank = 10
    follows_from = ("container-without-gpus",)

    def fix(self, ctx: FixContext) -> Remedy:
        """Install the driver branch torch's CUDA needs (on the host, for a container)."""
        branch = None
        if ctx.torch_cuda is not None:
            need_driver = driver_needed_for(ctx.tables, ctx.torch_cuda)
            branch = need_driver.major if need_driver else None
        if branch is None:
            need_driver = driver_needed_for(ctx.tables, ctx.tables.cuda_driver.newest)
            branch = need_driver.major if need_driver else 580
        why = f" (torch's CUDA {major_minor(ctx.torch_cuda)} needs branch {branch}+)" if ctx.torch_cuda else ""
        return Remedy(
            f"Install the NVIDIA driver{why}: {install_driver_command(branch)}. Inside a container, install it on "
            "the host instead and start the container with `--gpus all` (NVIDIA Container Toolkit); `nvidia-smi` "
            "must work there."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire only when NVML, the kernel module and libcuda are all absent."""
        drv = area(facts, DriverFacts)
        if drv.nvml_status not in ("library-not-found", "driver-not-loaded"):
            return
        if known(drv.kernel_module_version) or known(drv.proc_version_text) or known(drv.libcuda_path):
            return
        libcuda_files: tuple[str, ...] = ()
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            libcuda_files = facts.cuda_libs.libcuda_files
            if libcuda_files:
                # NOTE: libcuda exists but does not load: libcuda-not-on-loader-path's case.
                return
        host = maybe(facts, HostFacts)
        pci = host.nvidia_pci_devices if host else Unavailable(probe="host", reason="host facts unavailable")
        wsl = bool(host and host.wsl2)
        container = maybe(facts, ContainerFacts)

        if drv.nvml_status == "library-not-found":
            what = "No NVIDIA driver is installed: NVML (libnvidia-ml.so.1) is not found"
        else:
            what = "No NVIDIA driver is installed or loaded: NVML is present but reports no driver loaded"
        what += ", the kernel module is not loaded (/proc/driver/nvidia/version is absent) and libcuda.so.1 cannot be loaded"
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            what += " (no libcuda.so* anywhere on disk)"
        if wsl:
            gpu = " This is WSL2: the GPU driver lives on Windows and is exposed through /usr/lib/wsl/lib."
        elif isinstance(pci, tuple) and pci:
            gpu = f" An NVIDIA GPU is on the PCI bus at {', '.join(pci)} but no driver is loaded for it."
        elif isinstance(pci, tuple):
            gpu = " There is no NVIDIA GPU on the PCI bus either — this looks like a CPU-only machine."
        else:
            gpu = f" Whether an NVIDIA GPU is on the PCI bus is unknown ({pci.reason})."
        message = f"{what}.{gpu}"

        cpu_only = isinstance(pci, tuple) and not pci and not wsl
        fix = self._fix(facts, tables, container, wsl=wsl, cpu_only=cpu_only)
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": drv.nvml_status,
                "driver.nvml_error": drv.nvml_error or "(none)",
                "driver.kernel_module_version": driver_version_evidence(drv.kernel_module_version),
                "driver.libcuda_path": drv.libcuda_path,
                "cuda_libs.libcuda_files": libcuda_files
                if isinstance(facts.cuda_libs, CudaLibsFacts)
                else facts.cuda_libs,
                "host.nvidia_pci_devices": pci,
                "container.in_container": container.in_container if container else facts.container,
            },
            fix=fix,
        )

    def _fix(
        self, facts: Facts, tables: RuleTables, container: ContainerFacts | None, *, wsl: bool, cpu_only: bool
    ) -> str:
        branch, why = self._branch(facts, tables)
        if wsl:
            return (
                "Install the current NVIDIA Windows driver (it includes WSL2 support) on the Windows host and "
                "restart WSL (`wsl --shutdown`); do not install a Linux NVIDIA driver inside WSL2. "
                "See https://docs.nvidia.com/cuda/wsl-user-guide/index.html"
            )
        if container and container.in_container:
            if container.kubernetes:
                start = (
                    "Request a GPU for this pod (`resources: limits: nvidia.com/gpu: 1`) on a node with the NVIDIA "
                    "device plugin / GPU Operator"
                )
            else:
                start = (
                    "Start the container with GPUs: `docker run --gpus all ...` (or `--device nvidia.com/gpu=all` with CDI); "
                    f"the host needs the NVIDIA driver and the NVIDIA Container Toolkit ({CONTAINER_TOOLKIT_URL})"
                )
            tail = (
                " This host shows no NVIDIA GPU on its PCI bus, so run the container on a GPU machine"
                " (or install a CPU-only torch if you do not need a GPU)."
                if cpu_only
                else f" The host needs NVIDIA driver branch {branch} or newer ({why}); the driver is installed on the "
                "host, never in the image."
            )
            return start + "." + tail
        if cpu_only:
            return (
                "This machine has no NVIDIA GPU, so no driver can help: run on a machine with an NVIDIA GPU, "
                "or install the CPU-only torch (`pip install torch --index-url https://download.pytorch.org/whl/cpu`)."
            )
        return (
            f"Install the NVIDIA driver, branch {branch} or newer ({why}): {install_driver_command(branch)}. "
            "Check with `nvidia-smi`."
        )

    @staticmethod
    def _branch(facts: Facts, tables: RuleTables) -> tuple[int, str]:
        t = maybe(facts, TorchFacts)
        if t and t.build == "cuda" and isinstance(t.cuda_version, Version):
            rel = tables.cuda_driver.min_driver_for(t.cuda_version)
            if rel is not None:
                return rel.min_driver.major, (
                    f"torch {t.version} is built for CUDA {major_minor(t.cuda_version)}, which needs driver >= "
                    f"{nv_version(rel.min_driver)}"
                )
        newest = tables.cuda_driver.newest
        floor = tables.cuda_driver.minor_compat_floor(newest.major)
        if floor is not None:
            return (
                floor.min_driver.major,
                f"runs every CUDA {newest.major}.x build: driver >= {nv_version(floor.min_driver)}",
            )
        rel = tables.cuda_driver.releases[-1]
        return rel.min_driver.major, f"runs CUDA {major_minor(rel.version)}: driver >= {nv_version(rel.min_driver)}"


# --------------------------------------------------------------------------------------------
# DRV002


class DriverLibraryMismatch(Check):
    """The loaded NVIDIA kernel module and the user-space driver libraries are different versions.

    ## What it checks
    NVML's "Driver/library version mismatch" error, or a kernel module version
    (`/proc/driver/nvidia/version`) that differs from the user-space driver NVML or libcuda
    reports.

    ## Why it matters
    `nvidia-smi` fails with "Failed to initialize NVML: Driver/library version mismatch" and CUDA
    cannot initialise. It almost always follows a driver upgrade (often by unattended-upgrades)
    while the old kernel module stays loaded until the next reboot.

    ## Example
    Kernel module 535.161.08 still loaded after `apt` upgraded the libraries to 535.183.01.

    ## Fix
    Reboot. Or, with nothing using the GPU, reload the modules:
    `sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia nvidia_uvm`.
    In a container the host has to do this.

    ## References
    - https://stackoverflow.com/questions/43022843/nvidia-nvml-driver-library-version-mismatch
    - https://github.com/NVIDIA/nvidia-container-toolkit/issues/394
    """

    code = "DRV002"
    name = "driver-library-mismatch"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    fast = True
    explains = ("nvml-mismatch", "nvrm-api-mismatch", "cuda-803")
    rank = 10

    def fix(self, ctx: FixContext) -> Remedy:
        """Reboot, or reload the kernel modules with no GPU user left."""
        client, kernel = ctx.group("client_version"), ctx.group("kernel_version")
        detail = (f"The driver libraries are {client} but the loaded kernel module is {kernel}: the driver was "
                  "upgraded without reloading the module." if client and kernel else
                  "The driver was upgraded (often by unattended-upgrades) without reloading the kernel module.")
        return Remedy(
            "Reboot the machine; or, with no process using the GPU (`sudo lsof /dev/nvidia*`; stop "
            "nvidia-persistenced, dcgm and the display manager), reload the modules: "
            "`sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia nvidia_uvm`.",
            detail,
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Compare the kernel module with NVML's and libcuda's versions."""
        drv = area(facts, DriverFacts)
        kernel = drv.kernel_module_version
        user: list[str] = []
        if isinstance(kernel, Version):
            if isinstance(drv.driver_version, Version) and drv.driver_version != kernel:
                user.append(f"NVML reports {nv_version(drv.driver_version)}")
            # NOTE: a cuda-compat libcuda is *meant* to differ from the kernel module
            # (https://docs.nvidia.com/deploy/cuda-compatibility/forward-compatibility.html).
            compat = isinstance(drv.libcuda_path, str) and is_compat_path(drv.libcuda_path)
            if isinstance(drv.libcuda_version, Version) and drv.libcuda_version != kernel and not compat:
                user.append(f"libcuda.so is {nv_version(drv.libcuda_version)}")
        if drv.nvml_status != "driver-library-mismatch" and not user:
            return
        kernel_text = nv_version(kernel) if isinstance(kernel, Version) else "unknown"
        if not user and isinstance(drv.libcuda_version, Version):
            user.append(f"libcuda.so is {nv_version(drv.libcuda_version)}")
        user_text = " and ".join(user) if user else "the user-space libraries are another version"
        message = (
            f"The loaded NVIDIA kernel module is {kernel_text} but {user_text}"
            + (f"; NVML says: {drv.nvml_error!r}" if drv.nvml_status == "driver-library-mismatch" else "")
            + ". The driver was upgraded without reloading the kernel module, so CUDA cannot initialise until it is."
        )
        fix = (
            "Reboot the machine; or, with no process using the GPU (`sudo lsof /dev/nvidia*`; stop nvidia-persistenced, "
            "dcgm and the display manager), reload the modules: "
            "`sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia nvidia_uvm`."
            + host_side(facts)
        )
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": drv.nvml_status,
                "driver.kernel_module_version": driver_version_evidence(kernel),
                "driver.driver_version": driver_version_evidence(drv.driver_version),
                "driver.libcuda_version": driver_version_evidence(drv.libcuda_version),
                "driver.proc_version_text": drv.proc_version_text,
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV014


class NvidiaKernelModuleNotLoaded(Check):
    """The NVIDIA user-space driver is installed but its kernel module is not loaded.

    ## What it checks
    That the kernel half of the driver is running whenever the user-space half is installed:
    NVML reports "Driver Not Loaded", or `libcuda.so*` exists, while `/proc/driver/nvidia/version`
    is absent (the `nvidia` kernel module is not loaded).

    ## Why it matters
    Everything CUDA fails: `nvidia-smi` prints "NVIDIA-SMI has failed because it couldn't
    communicate with the NVIDIA driver", `torch.cuda.is_available()` is False and `cuInit`
    returns an error. The usual causes are a kernel upgrade whose DKMS rebuild of the module
    failed (the module exists only for the previous kernel), Secure Boot refusing the unsigned
    module ("Key was rejected by service"), the nouveau driver holding the GPU, or a driver
    installed without a reboot.

    ## Example
    Ubuntu upgraded from kernel 6.5 to 6.8 overnight; `nvidia-driver-550` is installed but
    `modprobe nvidia` says "Module nvidia not found in directory /lib/modules/6.8.0-45-generic".

    ## Fix
    `sudo modprobe nvidia` and read its error. "Module not found": rebuild it for the running
    kernel (`sudo apt install linux-headers-$(uname -r) && sudo dkms autoinstall`, or reinstall
    the driver package), then reboot. "Key was rejected": enrol the DKMS signing key with
    `sudo mokutil --import /var/lib/shim-signed/mok/MOK.der` or disable Secure Boot. nouveau
    loaded: blacklist it and rebuild the initramfs.

    ## References
    - https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/index.html
    - https://wiki.ubuntu.com/UEFI/SecureBoot/DKMS
    - https://download.nvidia.com/XFree86/Linux-x86_64/550.54.14/README/installdriver.html
    """

    code = "DRV014"
    name = "nvidia-kernel-module-not-loaded"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ()
    fast = True
    explains = ("smi-no-driver", "container-cli-driver-not-loaded")
    rank = 10

    def fix(self, ctx: FixContext) -> Remedy:
        """Load the kernel module, and the usual reasons it does not load."""
        return Remedy(
            "Load the kernel module: `sudo modprobe nvidia` and read `sudo dmesg | grep -i -e nvrm -e nvidia` if it "
            "fails (common causes: Secure Boot blocks the unsigned module — enroll the MOK key or disable Secure "
            "Boot; a kernel update without a rebuilt module — `sudo apt install --reinstall nvidia-dkms-<branch>` or "
            "`sudo dkms autoinstall`, then reboot)."
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when user-space driver pieces exist but /proc/driver/nvidia does not."""
        drv = area(facts, DriverFacts)
        if known(drv.kernel_module_version) or known(drv.proc_version_text):
            return
        if drv.nvml_status == "ok" or drv.cu_init_result == CUDA_SUCCESS:
            # NOTE: NVML or cuInit answered, so the module is loaded; /proc/driver/nvidia is only
            # hidden from us (some sandboxes mask /proc).
            return
        host = maybe(facts, HostFacts)
        if host and host.wsl2:
            return  # WSL2 has no Linux kernel module: the Windows driver serves /usr/lib/wsl/lib.
        files: tuple[str, ...] = ()
        if isinstance(facts.cuda_libs, CudaLibsFacts):
            # NOTE: a cuda-compat libcuda (shipped inside CUDA images) is not an installed driver.
            files = tuple(f for f in facts.cuda_libs.libcuda_files if not is_compat_path(f))
        pieces = []
        if drv.nvml_status == "driver-not-loaded":
            pieces.append("NVML is installed but reports \"Driver Not Loaded\"")
        if known(drv.libcuda_path) and not is_compat_path(str(drv.libcuda_path)):
            pieces.append(f"libcuda.so.1 loads from {drv.libcuda_path}")
        elif files:
            pieces.append(f"libcuda is on disk ({', '.join(files[:3])})")
        if not pieces:
            return
        container = maybe(facts, ContainerFacts)
        if container and container.in_container and not container.device_nodes:
            return  # a container started without GPUs: container-without-gpus explains it
        version = drv.libcuda_version if known(drv.libcuda_version) else drv.driver_version
        kernel = host.kernel if host else "the running kernel"
        message = (
            f"The NVIDIA user-space driver{f' {driver_version_evidence(version)}' if known(version) else ''} is installed "
            f"({'; '.join(pieces)}), but the nvidia kernel module is not loaded for kernel {kernel} "
            "(/proc/driver/nvidia/version is absent), so no CUDA call can reach the GPU."
        )
        pci = host.nvidia_pci_devices if host else ()
        if isinstance(pci, tuple) and pci:
            message += f" The GPU is on the PCI bus at {', '.join(pci)}."
        fix = (
            "Run `sudo modprobe nvidia` and read its error. \"Module nvidia not found\": the module was not built "
            f"for kernel {kernel} — `sudo apt install linux-headers-$(uname -r) && sudo dkms autoinstall` "
            "(or reinstall the driver package), then reboot. \"Key was rejected by service\": Secure Boot blocks the "
            "unsigned module — enrol the key (`sudo mokutil --import /var/lib/shim-signed/mok/MOK.der`) or disable "
            "Secure Boot. `lsmod | grep nouveau` non-empty: blacklist nouveau and rebuild the initramfs."
            + host_side(facts)
        )
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": drv.nvml_status,
                "driver.kernel_module_version": drv.kernel_module_version,
                "driver.libcuda_path": drv.libcuda_path,
                "driver.libcuda_version": driver_version_evidence(drv.libcuda_version),
                "cuda_libs.libcuda_files": files,
                "host.kernel": kernel,
            },
            fix=fix,
        )


# --------------------------------------------------------------------------------------------
# DRV015


class NvmlNotResponding(Check):
    """NVML hung, crashed or failed with an unknown error while the driver is installed.

    ## What it checks
    The outcome of initialising NVML (the library behind `nvidia-smi`) and querying every GPU in
    a child process with a deadline: a call that never returns, a crash inside the library, or
    NVML's "Unknown Error" where neither a lost container cgroup (`gpu-access-lost`) nor a missing
    driver explains it.

    ## Why it matters
    A GPU that has fallen off the bus (Xid 79), a wedged driver or a GPU stuck in a bad state makes
    NVML calls hang or fail; `nvidia-smi` hangs too, and CUDA work on that node hangs or dies. Such a
    node must be drained, not trusted with a job — even when libcuda still loads.

    ## Example
    `nvidia-smi` never returns on one node of a cluster; `dmesg` shows
    "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus".

    ## Fix
    Read the kernel log (`sudo dmesg -T | grep -i -E "xid|nvrm"`), then reset the GPU
    (`sudo nvidia-smi -r -i <index>` when nothing uses it) or reboot the node; if it recurs, drain
    the node and contact the vendor (power, PCIe seating, GPU health).

    ## References
    - https://docs.nvidia.com/deploy/xid-errors/index.html
    - https://docs.nvidia.com/deploy/nvml-api/nvml-api-reference.html#nvml-api-reference
    """

    code = "DRV015"
    name = "nvml-not-responding"
    severity = Severity.ERROR
    requires = frozenset({"driver"})
    tables = ()
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on an NVML timeout, a crash of the NVML child, or an unexplained NVML Unknown Error."""
        drv = area(facts, DriverFacts)
        status = drv.nvml_status
        if status == "timeout":
            what = f"NVML did not answer: {drv.nvml_error or 'the query timed out'}"
        elif drv.nvml_crashed:
            what = f"NVML crashed: {drv.nvml_error}"
        elif status == "unknown-error" and not applies_gpu_access_lost(drv, maybe(facts, ContainerFacts)):
            what = f"NVML failed with an unknown error ({drv.nvml_error or 'NVML_ERROR_UNKNOWN'})"
        else:
            return
        message = (
            f"{what}. A GPU that fell off the bus (Xid 79), a wedged driver or a GPU in a bad state does this; "
            "`nvidia-smi` will hang or fail the same way, and CUDA work on this node cannot be trusted."
        )
        if known(drv.libcuda_path):
            message += " libcuda.so.1 still loads, so only the driver's management path shows the problem so far."
        target = f"-i {drv.nvml_failed_gpus[0]}" if drv.nvml_failed_gpus else "-i <index>"
        yield self.finding(
            message=message,
            evidence={
                "driver.nvml_status": status,
                "driver.nvml_error": drv.nvml_error or "(none)",
                "driver.driver_version": driver_version_evidence(drv.driver_version),
                "driver.cu_init_result": drv.cu_init_result,
            },
            fix=(
                "Check the kernel log for Xid errors (`sudo dmesg -T | grep -i -E 'xid|nvrm'`); reset the GPU when "
                f"nothing uses it (`sudo nvidia-smi -r {target}`) or reboot the node; if it comes back, drain the node "
                "and have the GPU checked." + host_side(facts)
            ),
        )
