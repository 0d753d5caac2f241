"""torch's wheel pins and the pip command lines that reinstall them, for the interpreter being inspected.

What torch's ``Requires-Dist`` pins for this machine (markers evaluated for Linux and the inspected
Python), which wheel ships a CUDA library family, and the exact ``<python> -m pip ...`` line a fix
prints. Pure: reads TorchFacts, never runs pip.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cudadoctor.tables import canonicalize_name  # NOTE: not packaging.utils (~8 ms of imports on the healthcheck path)
from packaging.version import Version

from cudadoctor.facts import Distribution, Facts, HostFacts, TorchFacts
from cudadoctor.remedies import parse_version, variant_name

if TYPE_CHECKING:
    from packaging.requirements import Requirement

#: library family -> pip wheel base name (the wheel is "<base>-cuNN"), e.g. nvidia-cudnn-cu12.
WHEEL_OF_FAMILY = {
    "libcudart": "nvidia-cuda-runtime", "libcublas": "nvidia-cublas", "libcublasLt": "nvidia-cublas",
    "libnvJitLink": "nvidia-nvjitlink", "libcusparse": "nvidia-cusparse",
    "libcusparseLt": "nvidia-cusparselt", "libcufft": "nvidia-cufft", "libcurand": "nvidia-curand",
    "libcusolver": "nvidia-cusolver", "libnvrtc": "nvidia-cuda-nvrtc", "libcupti": "nvidia-cuda-cupti",
    "libnccl": "nvidia-nccl", "libcudnn": "nvidia-cudnn", "libnvToolsExt": "nvidia-nvtx",
    "libcufile": "nvidia-cufile", "libnvshmem_host": "nvidia-nvshmem",
}

#: library family -> extra of the ``cuda-toolkit`` meta-wheel that torch 2.11+ (CUDA 13) pins instead.
# NOTE: torch 2.11+ Requires-Dist `cuda-toolkit[cudart,cublas,...]==13.0.x` (PyPI wheel METADATA).
TOOLKIT_EXTRA_OF_FAMILY = {
    "libcudart": "cudart", "libcublas": "cublas", "libcublasLt": "cublas", "libnvJitLink": "nvjitlink",
    "libcusparse": "cusparse", "libcufft": "cufft", "libcurand": "curand", "libcusolver": "cusolver",
    "libnvrtc": "nvrtc", "libcupti": "cupti", "libcufile": "cufile", "libnvToolsExt": "nvtx",
}

_VARIANT_LABEL = re.compile(r"cu\d+|cpu|rocm[\d.]+")


def find_distribution(t: TorchFacts, name: str) -> Distribution | None:
    """The installed distribution *name* (any spelling) in the inspected interpreter."""
    key = canonicalize_name(name)
    return next((d for d in t.distributions if canonicalize_name(d.name) == key), None)


def torch_version(t: TorchFacts) -> Version | None:
    """torch.__version__, or the installed distribution's version when import failed."""
    if isinstance(t.version, Version):
        return t.version
    dist = find_distribution(t, "torch")
    return parse_version(dist.version) if dist else None


def _marker_env(facts: Facts, t: TorchFacts) -> dict[str, str]:
    # NOTE: pins are evaluated for the inspected interpreter on Linux, as pip would, not for
    # the doctor's own interpreter.
    machine = facts.host.arch if isinstance(facts.host, HostFacts) else "x86_64"
    py = t.python_version
    return {
        "platform_system": "Linux", "sys_platform": "linux", "os_name": "posix",
        "platform_machine": machine, "python_version": f"{py.major}.{py.minor}",
        "python_full_version": str(py), "implementation_name": "cpython",
        "platform_python_implementation": "CPython", "extra": "",
    }


def torch_pins(facts: Facts, t: TorchFacts) -> tuple[Requirement, ...]:
    """torch's Requires-Dist entries that apply to this machine (markers evaluated for Linux)."""
    # NOTE: imported here: packaging.requirements costs ~25 ms, and healthcheck never needs it.
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement, Requirement

    dist = find_distribution(t, "torch")
    if dist is None:
        return ()
    env = _marker_env(facts, t)
    out: list[Requirement] = []
    for line in dist.requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None:
            try:
                if not req.marker.evaluate(env):
                    continue
            except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
                continue
        out.append(req)
    return tuple(out)


def cuda_pins(facts: Facts, t: TorchFacts) -> tuple[Requirement, ...]:
    """The pins on NVIDIA CUDA wheels (``nvidia-*``, ``cuda-toolkit``, ``cuda-bindings``)."""
    return tuple(r for r in torch_pins(facts, t) if canonicalize_name(r.name).startswith(("nvidia-", "cuda-")))


def requirement_text(req: Requirement, extras: Iterable[str] | None = None) -> str:
    """'nvidia-cudnn-cu12==9.1.0.70' (marker dropped), optionally with only the given extras."""
    chosen = sorted(req.extras if extras is None else extras)
    extra = f"[{','.join(chosen)}]" if chosen else ""
    return f"{req.name}{extra}{req.specifier}"


def pinned_version(req: Requirement) -> Version | None:
    """The exact version of an ``==`` pin (None for ranges)."""
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "==="):
        return parse_version(specs[0].version.rstrip(".*"))
    return None


def pin_for_family(facts: Facts, t: TorchFacts, family: str) -> tuple[str, Version | None] | None:
    """The pip requirement torch pins for the wheel that ships *family*, and its exact version."""
    base = WHEEL_OF_FAMILY.get("libcudnn" if family.startswith("libcudnn") else family)
    extra = TOOLKIT_EXTRA_OF_FAMILY.get(family)
    for req in cuda_pins(facts, t):
        name = canonicalize_name(req.name)
        if base and (name == base or re.fullmatch(re.escape(base) + r"-cu\d+", name)):
            return requirement_text(req), pinned_version(req)
        if extra and name == "cuda-toolkit" and extra in req.extras:
            return requirement_text(req, [extra]), pinned_version(req)
    return None


def quoted(spec: str) -> str:
    """A requirement spec in single quotes for the shell ('nvidia-cudnn-cu12==9.1.0.70')."""
    return f"'{spec}'" if "'" not in spec else shlex.quote(spec)


def pip(t: TorchFacts, args: str) -> str:
    """A pip command line for the inspected interpreter: '<python> -m pip <args>'."""
    return f"{shlex.quote(t.python_executable)} -m pip {args}"


def pip_from(t: TorchFacts, command: str) -> str:
    """Rewrite a 'pip install ...' line (remedies.WheelChoice.pip_command) for the inspected interpreter."""
    return pip(t, command.removeprefix("pip "))


def variant_label(v: Version | None) -> str | None:
    """torch's variant from a version's local label ('cu124', 'cpu', 'rocm6.2'); None when it has none."""
    if v is None or not v.local:
        return None
    return v.local if _VARIANT_LABEL.fullmatch(v.local) else None


def torch_variant_index(t: TorchFacts) -> str:
    """'--index-url https://download.pytorch.org/whl/cu124' for torch's own variant ('' when unknown)."""
    label = variant_label(torch_version(t))
    if label:
        return f" --index-url https://download.pytorch.org/whl/{label}"
    if isinstance(t.cuda_version, Version):
        return f" --index-url https://download.pytorch.org/whl/{variant_name(t.cuda_version)}"
    return ""


def reinstall_torch(t: TorchFacts) -> str:
    """Force-reinstall the same torch build (same version, same CUDA index)."""
    v = torch_version(t)
    spec = f"'torch=={v.public}'" if v is not None else "torch"
    return pip(t, f"install --force-reinstall --no-cache-dir {spec}{torch_variant_index(t)}")
