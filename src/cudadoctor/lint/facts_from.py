"""Facts as an image built from the linted files would produce them, for the same checks `check` runs.

The lint never re-implements a rule the checks already judge: it describes the image (the torch
build it installs, its companions, the target driver, the container's /dev/shm and working
directory) as Facts and runs the check classes on them — driver-too-old-for-torch,
driver-minor-compat-only, torch-companion-mismatch, shm-too-small, data-on-container-layer. Facts
no file tells (the host, the libraries on disk) are Unavailable, so checks that need them skip.
"""

from __future__ import annotations

from packaging.version import Version

from cudadoctor._version import __version__
from cudadoctor.facts import (
    ContainerFacts,
    Distribution,
    DriverFacts,
    EnvFacts,
    Facts,
    NvmlStatus,
    TorchFacts,
    Unavailable,
)
from cudadoctor.tables import RuleTables

PROBE = "lint"

#: Checks run on facts describing the image's torch and the target driver.
TORCH_CHECKS = ("driver-too-old-for-torch", "driver-minor-compat-only", "torch-companion-mismatch")
#: Checks run on facts describing a compose service's container.
CONTAINER_CHECKS = ("shm-too-small", "data-on-container-layer")

#: Docker's default /dev/shm size when neither shm_size nor ipc: host is given.
DOCKER_DEFAULT_SHM = 64 * 1024 * 1024


def _unknown(what: str) -> Unavailable:
    return Unavailable(probe=PROBE, reason=f"{what} is not known from the linted files")


def driver_facts(tables: RuleTables, driver: Version | None) -> DriverFacts | Unavailable:
    """The target driver (--driver, or this host's) as driver facts; Unavailable without one."""
    if driver is None:
        return Unavailable(probe=PROBE, reason="no target driver (pass --driver; this host has no NVIDIA driver)")
    cuda = tables.cuda_driver.max_cuda_for_driver(driver)
    return DriverFacts(
        nvml_status=NvmlStatus.OK, nvml_error="", driver_version=driver,
        cuda_driver_version=cuda if cuda is not None else _unknown("the driver's CUDA version"),
        kernel_module_version=driver, proc_version_text=_unknown("/proc/driver/nvidia/version"),
        libcuda_path=_unknown("libcuda"), libcuda_version=_unknown("libcuda"), libcuda_cuda_version=_unknown("libcuda"),
        cu_init_result=_unknown("cuInit"), cu_init_error="", cu_device_count=_unknown("the device count"), gpus=(),
    )


def torch_facts(
    version: Version, variant: str | None, cuda: Version | None, companions: dict[str, str], device_count: int | None = None
) -> TorchFacts:
    """The torch an image installs: *version* built for *variant* (CUDA *cuda*), with *companions* (name -> version)."""
    full = Version(f"{version.public}+{variant}") if variant and not version.local else version
    build: str | Unavailable = "cuda" if cuda is not None else ("cpu" if variant == "cpu" else _unknown("torch's build"))
    dists = (Distribution(name="torch", version=str(full), requires=()),) + tuple(
        Distribution(name=n, version=v, requires=()) for n, v in sorted(companions.items())
    )
    return TorchFacts(
        python_executable="python", python_version=Version("3.11"), status="ok", import_error="",
        location=_unknown("torch's location"), version=full, build=build,
        cuda_version=cuda if cuda is not None else _unknown("torch's CUDA version"),
        hip_version=_unknown("HIP"), cudnn_version=_unknown("cuDNN"), nccl_version=_unknown("NCCL"),
        debug=False, git_version=_unknown("git version"),
        cuda_available=_unknown("torch.cuda.is_available() (nothing runs during a lint)"), cuda_unavailable_reason="",
        device_count=device_count if device_count is not None else _unknown("the device count"), devices=(),
        arch_list=_unknown("the arch list"), build_config=_unknown("the build config"),
        loaded_libraries=_unknown("the loaded libraries"), distributions=dists,
    )


def container_facts(*, shm_bytes: int | None, workdir_on_layer: bool | None, label: str) -> ContainerFacts:
    """A compose service's container: its /dev/shm and whether its working directory is on the writable layer."""
    return ContainerFacts(
        in_container=True, runtime="docker", kubernetes=False, evidence=(label,),
        cgroup_version=_unknown("the cgroup version"), memory_limit_bytes=_unknown("the memory limit"),
        cpu_limit_cores=_unknown("the CPU limit"),
        shm_size_bytes=shm_bytes if shm_bytes is not None else _unknown("the /dev/shm size (ipc: host shares the host's)"),
        device_nodes=(), workdir_on_writable_layer=(
            workdir_on_layer if workdir_on_layer is not None else _unknown("the working directory")),
        workdir_filesystem="overlay",
    )


def image_facts(
    *,
    torch: TorchFacts | Unavailable,
    driver: DriverFacts | Unavailable,
    container: ContainerFacts | Unavailable | None = None,
    env: dict[str, str] | None = None,
    workdir: str = "/",
) -> Facts:
    """Assemble the facts; areas no file describes are Unavailable (their checks skip)."""
    return Facts(
        cudadoctor_version=__version__, collected_at="",
        host=_unknown("the host"), env=EnvFacts(variables=dict(env or {}), working_directory=workdir),
        container=container if container is not None else _unknown("the container"),
        driver=driver, cuda_libs=_unknown("the CUDA libraries"), toolkit=_unknown("the toolkit"), torch=torch,
    )
