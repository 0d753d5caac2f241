"""Plain-text, one-line-per-area summaries of Facts, shared by the renderers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from packaging.version import Version

from cudadoctor.facts import (
    UNLIMITED,
    ContainerFacts,
    CudaLibsFacts,
    DriverFacts,
    Facts,
    HostFacts,
    JupyterFacts,
    SessionFacts,
    ToolkitFacts,
    TorchFacts,
    Unavailable,
    known,
    nv_version,
)

#: Area name -> the check-code prefixes whose findings belong to it.
AREA_CODES: dict[str, tuple[str, ...]] = {
    "host": ("HST",),
    "container": ("CTR",),
    "driver": ("DRV", "GPU"),
    "cuda_libs": ("LIB",),
    "torch": ("TRC",),
    "toolkit": ("TLK",),
    "jupyter": ("JUP",),
    "session": ("SSH",),
}

AREA_TITLES: dict[str, str] = {
    "host": "Host",
    "container": "Container",
    "driver": "Driver & GPUs",
    "cuda_libs": "CUDA libraries",
    "torch": "PyTorch",
    "toolkit": "Toolkit",
    "jupyter": "Jupyter kernels",
    "session": "SSH session",
}


@dataclass(frozen=True, slots=True)
class AreaSummary:
    """One area's headline and detail lines."""

    area: str
    title: str
    lines: tuple[str, ...]


def mib_text(mib: int | float) -> str:
    """'80 GiB' / '512 MiB'."""
    return f"{mib / 1024:.0f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def bytes_text(n: int) -> str:
    """Bytes as MiB/GiB text."""
    return mib_text(n / 2**20)


def _v(value: object) -> str:
    return "unknown" if isinstance(value, Unavailable) else str(value)


def summarize(facts: Facts) -> list[AreaSummary]:
    """A summary per area, in report order."""
    makers = {
        "host": _host, "container": _container, "driver": _driver,
        "cuda_libs": _libs, "torch": _torch, "toolkit": _toolkit,
    }
    out = []
    for area, make in makers.items():
        value = facts.area(area)
        if isinstance(value, Unavailable):
            lines: tuple[str, ...] = (f"could not be probed: {value.reason}",)
        else:
            lines = tuple(make(value))  # type: ignore[operator]
        out.append(AreaSummary(area, AREA_TITLES[area], lines))
    # NOTE: optional areas are shown only when gathered and worth a line (facts from an older
    # cudadoctor have none; a machine without kernels or SSH needs no "none" line).
    if isinstance(facts.jupyter, JupyterFacts) and (facts.jupyter.kernels or facts.jupyter.in_kernel):
        out.append(AreaSummary("jupyter", AREA_TITLES["jupyter"], tuple(_jupyter(facts.jupyter))))
    if isinstance(facts.session, SessionFacts) and facts.session.ssh:
        out.append(AreaSummary("session", AREA_TITLES["session"], tuple(_session(facts.session))))
    return out


def _jupyter(j: JupyterFacts) -> list[str]:
    n = len(j.kernels)
    lines = [f"{n} kernelspec{'' if n == 1 else 's'}" if n else "no kernelspecs found"]
    if j.in_kernel:
        lines[0] = f"running inside a Jupyter kernel: inspecting the kernel's own interpreter {j.inspected_python}; " + lines[0]
    for k in j.kernels:
        interp = k.interpreter if isinstance(k.interpreter, str) else f"({k.interpreter.reason})"
        if isinstance(k.interpreter_dir, str) and k.interpreter_dir == j.inspected_dir:
            torch = "the inspected interpreter"
        elif isinstance(k.torch, TorchFacts):
            t = k.torch
            torch = (f"torch {_v(t.version)}, CUDA {'available' if t.cuda_available is True else 'not available'}"
                     if t.status == "ok" else f"torch {t.status}")
        elif isinstance(k.interpreter, str) and k.language.lower() == "python":
            torch = "torch not inspected (--kernels)"
        else:
            torch = ""
        lines.append(f"{k.name} (\"{k.display_name}\"): {interp}" + (f" — {torch}" if torch else ""))
    return lines


def _session(s: SessionFacts) -> list[str]:
    pid1 = ("PID 1's environment unreadable" if isinstance(s.pid1_variables, Unavailable)
            else f"compared with PID 1's {', '.join(sorted(s.pid1_variables)) or 'environment (no CUDA variables)'}")
    return [f"SSH login ({', '.join(s.ssh_markers)}); {pid1}"]


def _host(h: HostFacts) -> list[str]:
    parts = [_v(h.os_name), f"kernel {h.kernel}", h.arch]
    if known(h.glibc_version):
        parts.append(f"glibc {h.glibc_version}")
    parts.append(f"Python {h.python_version}")
    lines = [", ".join(parts)]
    # NOTE: a CPU count of 0 means "not recorded" (pasted text rarely carries it): say nothing, not "0 CPUs".
    extras = [f"{h.cpu_count} CPUs" + (f" ({h.cpu_model})" if known(h.cpu_model) else "")] if h.cpu_count > 0 else []
    if known(h.memory_total_mib):
        extras.append(f"{mib_text(h.memory_total_mib)} RAM")
    if h.wsl2:
        extras.append("WSL2")
    if extras:
        lines.append(", ".join(extras))
    return lines


def _container(c: ContainerFacts) -> list[str]:
    if not c.in_container:
        head = "not in a container"
    else:
        head = f"{c.runtime} container" + (" (Kubernetes)" if c.kubernetes and c.runtime != "kubernetes" else "")
    limits = []
    if known(c.cgroup_version):
        limits.append(f"cgroup v{c.cgroup_version}")
    if known(c.memory_limit_bytes):
        limits.append("memory " + ("unlimited" if c.memory_limit_bytes == UNLIMITED else bytes_text(c.memory_limit_bytes)))  # type: ignore[arg-type]
    if known(c.cpu_limit_cores):
        limits.append("CPUs " + ("unlimited" if c.cpu_limit_cores == UNLIMITED else f"{c.cpu_limit_cores:g}"))
    if known(c.shm_size_bytes):
        limits.append(f"/dev/shm {bytes_text(c.shm_size_bytes)}")
    nodes = ", ".join(n.removeprefix("/dev/") for n in c.device_nodes) if c.device_nodes else "none"
    return [head + (": " + ", ".join(limits) if limits else ""), f"NVIDIA device nodes: {nodes}"]


def _drv(value: object) -> str:
    """A driver version as NVIDIA spells it, or why it is unknown."""
    return nv_version(value) if isinstance(value, Version) else _v(value)


def _driver(d: DriverFacts) -> list[str]:
    if d.nvml_status != "ok" and not known(d.driver_version):
        missing = []
        if d.nvml_status == "library-not-found":
            missing.append("no NVML library")
        else:
            missing.append(f"NVML: {d.nvml_status} ({d.nvml_error})" if d.nvml_error else f"NVML: {d.nvml_status}")
        missing.append("no kernel module" if not known(d.kernel_module_version) else f"kernel module {_drv(d.kernel_module_version)}")
        missing.append("libcuda.so.1 not loadable" if not known(d.libcuda_path) else f"libcuda {_drv(d.libcuda_version)}")
        nothing = (
            d.nvml_status == "library-not-found"
            and not known(d.kernel_module_version)
            and not known(d.libcuda_path)
        )
        head = "no NVIDIA driver installed" if nothing else "NVIDIA driver not working"
        return [f"{head}: " + ", ".join(missing)]
    head = f"driver {_drv(d.driver_version)}"
    if known(d.cuda_driver_version):
        head += f" (supports CUDA up to {d.cuda_driver_version})"
    if d.nvml_status != "ok":
        head += f"; NVML: {d.nvml_status}"
    if known(d.cu_init_result) and d.cu_init_result != 0:
        head += f"; cuInit failed: {d.cu_init_error or d.cu_init_result}"
    lines = [head]
    models = Counter(
        f"{g.name} (cc {_v(g.compute_capability)}"
        + (f", {mib_text(g.memory_total_mib)}" if known(g.memory_total_mib) else "")
        + ")"
        for g in d.gpus
    )
    if models:
        lines.extend(f"{n} × {m}" for m, n in models.items())
    else:
        lines.append("no GPUs visible")
    return lines


def _libs(c: CudaLibsFacts) -> list[str]:
    main = [x for x in c.copies if x.library in ("libcudart", "libcudnn", "libnccl", "libcublas")]
    problems = [f"incomplete: {p}" for p in c.problems]
    if not main:
        return ["no libcudart / libcudnn / libcublas / libnccl found", *problems]
    by_family: dict[str, list[str]] = {}
    for x in main:
        by_family.setdefault(x.library, []).append(f"{_v(x.version)} ({x.origin})")
    return [*(f"{fam}: " + ", ".join(dict.fromkeys(vs)) for fam, vs in by_family.items()), *problems]


def _torch(t: TorchFacts) -> list[str]:
    where = f"in {t.python_executable} (Python {t.python_version})"
    if t.status == "not-installed":
        return [f"torch is not installed {where}"]
    if t.status != "ok":
        first = t.import_error.strip().splitlines()[-1] if t.import_error.strip() else t.status
        return [f"torch {_v(t.version)} does not import {where}: {first}"]
    build = {"cuda": f"CUDA {_v(t.cuda_version)} build", "rocm": f"ROCm {_v(t.hip_version)} build", "cpu": "CPU-only build"}
    head = f"torch {_v(t.version)} ({build.get(str(t.build), 'unknown build')}) {where}"
    extra = []
    if known(t.cudnn_version):
        extra.append(f"cuDNN {t.cudnn_version}")
    if known(t.nccl_version):
        extra.append(f"NCCL {t.nccl_version}")
    if t.cuda_available is True:
        extra.append(f"CUDA available: {t.device_count} device(s)" if known(t.device_count) else "CUDA available: yes")
    elif t.cuda_available is False:
        extra.append("CUDA available: no" + (f" ({t.cuda_unavailable_reason.strip().splitlines()[0]})" if t.cuda_unavailable_reason.strip() else ""))
    lines = [head]
    if extra:
        lines.append(", ".join(extra))
    companions = [f"{d.name} {d.version}" for d in t.distributions if d.name in ("torchvision", "torchaudio")]
    if companions:
        lines.append(", ".join(companions))
    return lines


def _toolkit(k: ToolkitFacts) -> list[str]:
    if known(k.nvcc_version):
        head = f"nvcc {k.nvcc_version} ({_v(k.nvcc_path)})"
    else:
        head = "no nvcc"
    real = k.nvcc_real_path
    if k.real_toolkit and isinstance(real, str) and isinstance(k.nvcc_path, str) and real != k.nvcc_path:
        # NOTE: only where it leads out of CUDA_HOME; /usr/local/cuda -> cuda-12.4 is the same toolkit.
        head += f" -> {real}"
    if known(k.cuda_home):
        head += f", CUDA_HOME {k.cuda_home} [{k.cuda_home_source}]"
    gcc = f"gcc {k.gcc_version}" if known(k.gcc_version) else "no gcc"
    lines = [head, gcc]
    if k.real_toolkit and isinstance(k.cuda_home, str):
        # NOTE: say where torch's own CUDA_HOME guess differs from the toolkit the wrapper/link leads to.
        lines.insert(1, f"real toolkit: {k.real_toolkit} (torch's CUDA_HOME guess is {k.cuda_home})")
    return lines
