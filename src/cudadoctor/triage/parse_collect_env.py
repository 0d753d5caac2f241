"""Parse ``python -m torch.utils.collect_env`` reports (torch 1.x to today, whole or truncated)."""

# NOTE: the format is torch/utils/collect_env.py's ``env_info_fmt``
# (https://github.com/pytorch/pytorch/blob/main/torch/utils/collect_env.py). Two of its labels
# claim more than they measure, so they are mapped to what was really measured:
#   - "CUDA runtime version" is ``nvcc --version`` (get_running_cuda_version) -> toolkit.nvcc_version;
#   - "cuDNN version" is ``ldconfig -p | grep libcudnn`` (get_cudnn_version) -> cuda_libs copies
#     found in the loader cache, never torch.backends.cudnn.version().
# "GPU models and configuration" is ``nvidia-smi -L`` with the UUIDs removed, and
# "Nvidia driver version" is the "Driver Version:" of ``nvidia-smi``.

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cudadoctor.triage.parse_common import is_unknown

#: Every key collect_env has printed (old and new), in no particular order.
KEYS: tuple[str, ...] = (
    "PyTorch version", "Is debug build", "CUDA used to build PyTorch", "ROCM used to build PyTorch",
    "XPU used to build PyTorch", "OS", "GCC version", "Clang version", "CMake version", "Libc version",
    "Python version", "Python platform", "Is CUDA available", "CUDA runtime version",
    "CUDA_MODULE_LOADING set to", "GPU models and configuration", "Nvidia driver version", "cuDNN version",
    "Is XPU available", "HIP runtime version", "MIOpen runtime version", "Is XNNPACK available",
    "Caching allocator config", "Intel GPU driver version", "Intel GPU models onboard",
    "Intel GPU models detected", "CPU", "Versions of relevant libraries",
)
#: Keys no other text prints: any one of them marks a collect_env report (or a piece of one).
DISTINCTIVE: frozenset[str] = frozenset({
    "PyTorch version", "Is debug build", "CUDA used to build PyTorch", "ROCM used to build PyTorch",
    "XPU used to build PyTorch", "Is CUDA available", "CUDA runtime version", "CUDA_MODULE_LOADING set to",
    "GPU models and configuration", "Nvidia driver version", "cuDNN version", "HIP runtime version",
    "MIOpen runtime version", "Is XNNPACK available", "Caching allocator config", "Versions of relevant libraries",
})
_KEY_LINE = re.compile(
    r"^\s{0,4}(?:[-*]\s{1,3})?(" + "|".join(re.escape(k) for k in sorted(KEYS, key=len, reverse=True)) + r"):(?:\s(.*)|)$"
)
_PKG_LINE = re.compile(r"^\s{0,4}\[(pip3?|conda)\]\s(.*)$")
_GPU_LINE = re.compile(r"^\s{0,8}GPU\s(\d{1,4}):\s(.{1,300}?)(?:\s\(UUID:\s([^)]{1,80})\))?\s*$")
_MIG_LINE = re.compile(r"^\s{1,16}(MIG\s\S{1,40})\s{1,40}Device\s{1,4}(\d{1,3}):(?:\s\(UUID:\s([^)]{1,80})\))?\s*$")
_PATH_LINE = re.compile(r"^\s{0,8}(/\S{1,500}|[A-Za-z]:\\.{1,500})$")


@dataclass
class CollectEnv:
    """The raw fields of a collect_env report, as printed (multi-line blocks split out)."""

    fields: dict[str, str] = field(default_factory=dict)  #: one-line values by key
    gpu_lines: list[tuple[int, str, str]] = field(default_factory=list)  #: (index, name, uuid or "")
    mig_lines: list[tuple[int, int, str, str]] = field(default_factory=list)  #: (gpu index, index, name, uuid)
    cudnn_paths: list[str] = field(default_factory=list)  #: the ldconfig list under "cuDNN version"
    cpu: dict[str, str] = field(default_factory=dict)  #: lscpu (or wmic) key -> value
    cpu_lines: list[str] = field(default_factory=list)  #: CPU block lines that are no key: value (macOS)
    pip_lines: list[str] = field(default_factory=list)  #: "[pip3] x==y" contents
    conda_lines: list[str] = field(default_factory=list)  #: "[conda] x y build channel" contents
    other_gpu_lines: list[str] = field(default_factory=list)  #: GPU lines not from nvidia-smi -L (ROCm, macOS)


def parse_collect_env(lines: list[str]) -> CollectEnv | None:
    """The collect_env report in *lines* (anywhere in a larger paste), or None when there is none.

    Pure and total: never raises; unknown lines are skipped.
    """
    found = [(i, m) for i, line in enumerate(lines) if (m := _KEY_LINE.match(line))]
    has_packages = any(_PKG_LINE.match(line) for line in lines)
    if not any(m.group(1) in DISTINCTIVE for _, m in found) and not has_packages:
        return None
    env = CollectEnv()
    key_rows = {i for i, _ in found}
    for i, m in found:
        key, value = m.group(1), (m.group(2) or "").strip()
        if key == "CPU":
            _cpu_block(lines, i + 1, key_rows, env)
        elif key == "GPU models and configuration":
            _gpu_block(value, lines, i + 1, key_rows, env)
        elif key == "cuDNN version":
            _cudnn_block(value, lines, i + 1, key_rows, env)
        env.fields.setdefault(key, value)
    for line in lines:
        m = _PKG_LINE.match(line)
        if m:
            (env.conda_lines if m.group(1) == "conda" else env.pip_lines).append(m.group(2).strip())
    # A truncated paste may begin inside the GPU list ("GPU 1: ..." without its heading).
    if not env.gpu_lines and "GPU models and configuration" not in env.fields:
        for line in lines:
            g = _GPU_LINE.match(line)
            if g and " (UUID: " not in line:
                env.gpu_lines.append((int(g.group(1)), g.group(2).strip(), ""))
    return env


def _block(lines: list[str], start: int, key_rows: set[int], limit: int = 4096) -> list[str]:
    """Lines from *start* up to a blank line or the next collect_env key."""
    out = []
    for j in range(start, min(len(lines), start + limit)):
        if j in key_rows or not lines[j].strip() or lines[j].lstrip().startswith("```"):
            break
        out.append(lines[j])
    return out


def _gpu_block(value: str, lines: list[str], start: int, key_rows: set[int], env: CollectEnv) -> None:
    block = [value] if value else []
    # NOTE: several GPUs start on the next line (collect_env's maybe_start_on_next_line).
    block += _block(lines, start, key_rows, limit=1100)
    current = -1
    for line in block:
        g = _GPU_LINE.match(line)
        if g:
            current = int(g.group(1))
            env.gpu_lines.append((current, g.group(2).strip(), (g.group(3) or "").strip()))
            continue
        mig = _MIG_LINE.match(line)
        if mig and current >= 0:
            env.mig_lines.append((current, int(mig.group(2)), mig.group(1).strip(), (mig.group(3) or "").strip()))
            continue
    if value and not _GPU_LINE.match(value) and not is_unknown(value):
        env.other_gpu_lines.append(value)  # ROCm / macOS: the device name, no "GPU n:"


def _cudnn_block(value: str, lines: list[str], start: int, key_rows: set[int], env: CollectEnv) -> None:
    if _PATH_LINE.match(value):
        env.cudnn_paths.append(value.strip())
        return
    if not value.lower().startswith("probably one of the following"):
        return
    for line in _block(lines, start, key_rows, limit=200):
        m = _PATH_LINE.match(line)
        if not m:
            break
        env.cudnn_paths.append(m.group(1).strip())


def _cpu_block(lines: list[str], start: int, key_rows: set[int], env: CollectEnv) -> None:
    for line in _block(lines, start, key_rows, limit=200):
        # lscpu prints "Key: value"; Windows' wmic (torch <= 2.3) "Key=value".
        key, sep, value = line.partition(":") if ":" in line else line.partition("=")
        if sep and key.strip() and len(key) <= 60:
            env.cpu.setdefault(key.strip(), value.strip())
        elif line.strip():
            env.cpu_lines.append(line.strip())
