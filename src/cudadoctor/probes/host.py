"""The host probe: operating system, kernel, C library, Python, CPU, memory and NVIDIA PCI devices."""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.version import Version

from cudadoctor.facts import HostFacts, Unavailable
from cudadoctor.probes.base import ProbeContext

PROBE = "host"

#: PCI vendor id of NVIDIA Corporation.
NVIDIA_VENDOR = "0x10de"
#: PCI base class 0x03 is "display controller" (0x0300 VGA, 0x0302 3D controller). NVIDIA's
#: audio functions (0x0403) and NVSwitches (0x0680) share the vendor id but are not GPUs.
DISPLAY_CLASS_PREFIX = "0x03"

#: (implementer, part) of common aarch64 cores, for /proc/cpuinfo files without "model name".
# NOTE: ids from the Linux kernel's arch/arm64/include/asm/cputype.h
# (https://github.com/torvalds/linux/blob/master/arch/arm64/include/asm/cputype.h).
ARM_CORES: Mapping[tuple[int, int], str] = {
    (0x41, 0xD08): "ARM Cortex-A72",
    (0x41, 0xD0B): "ARM Cortex-A76",
    (0x41, 0xD0C): "ARM Neoverse-N1",
    (0x41, 0xD40): "ARM Neoverse-V1",
    (0x41, 0xD42): "ARM Cortex-A78AE",
    (0x41, 0xD49): "ARM Neoverse-N2",
    (0x41, 0xD4F): "ARM Neoverse-V2",
    (0x4E, 0x003): "NVIDIA Denver",
    (0x4E, 0x004): "NVIDIA Carmel",
}
ARM_IMPLEMENTERS: Mapping[int, str] = {
    0x41: "ARM",
    0x46: "Fujitsu",
    0x48: "HiSilicon",
    0x4E: "NVIDIA",
    0x51: "Qualcomm",
    0x61: "Apple",
    0xC0: "Ampere",
}


# --------------------------------------------------------------------------------------------
# pure parsers


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5) ``KEY=value`` lines; values may be single- or double-quoted."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            # NOTE: os-release allows shell-style backslash escapes inside double quotes
            # (https://www.freedesktop.org/software/systemd/man/latest/os-release.html).
            value = re.sub(r"\\([\\$\"`])", r"\1", value)
        fields[key.strip()] = value
    return fields


def os_pretty_name(fields: Mapping[str, str]) -> str | None:
    """PRETTY_NAME, else "NAME VERSION", else None when the file names nothing."""
    if fields.get("PRETTY_NAME"):
        return fields["PRETTY_NAME"]
    name = " ".join(v for v in (fields.get("NAME", ""), fields.get("VERSION", "")) if v)
    return name or None


def parse_meminfo(text: str) -> int | None:
    """MemTotal from /proc/meminfo, in MiB (the file counts kB, i.e. KiB); None when absent."""
    for line in text.splitlines():
        m = re.match(r"MemTotal:\s+(\d+)", line)
        if m:
            return int(m.group(1)) // 1024
    return None


def parse_cpuinfo(text: str) -> str | None:
    """The CPU model named in /proc/cpuinfo, or None.

    x86 writes "model name"; aarch64 kernels write "CPU implementer" / "CPU part" (decoded with
    :data:`ARM_CORES`), sometimes beside a generic "ARMv8 Processor" model name; ppc64le writes
    "cpu"; 32-bit ARM boards write "Hardware".
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and value.strip():
            fields.setdefault(key.strip().lower(), value.strip())
    model = fields.get("model name") or fields.get("cpu model")
    implementer, part = _hex(fields.get("cpu implementer")), _hex(fields.get("cpu part"))
    # NOTE: some aarch64 kernels (e.g. Jetson L4T) write a generic "ARMv8 Processor rev 1 (v8l)"
    # as the model name; the implementer/part ids say which core it really is.
    if model and not re.match(r"ARMv\d", model):
        return model
    if implementer is not None and part is not None:
        if (implementer, part) in ARM_CORES:
            return ARM_CORES[(implementer, part)]
        vendor = ARM_IMPLEMENTERS.get(implementer, f"implementer 0x{implementer:02x}")
        return f"{vendor} CPU part 0x{part:03x}"
    if model:
        return model
    for key in ("cpu", "hardware", "model"):
        if fields.get(key):
            return fields[key]
    return None


def _hex(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


def parse_libc_version(text: str) -> Version | None:
    """The version in ``os.confstr("CS_GNU_LIBC_VERSION")`` output such as "glibc 2.35"."""
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", text)
    if not m:
        return None
    try:
        return Version(m.group(1))
    except ValueError:  # NOTE: ValueError too: Version raises it for a part over 4300 digits
        return None


def parse_pci_devices(devices: Iterable[tuple[str, str, str]]) -> tuple[str, ...]:
    """PCI addresses of NVIDIA display/3D controllers among ``(address, vendor, class)`` triples.

    *vendor* and *class* are the raw sysfs texts, e.g. ``"0x10de\\n"`` and ``"0x030200\\n"``.
    """
    found = [
        addr
        for addr, vendor, cls in devices
        if vendor.strip().lower() == NVIDIA_VENDOR and cls.strip().lower().startswith(DISPLAY_CLASS_PREFIX)
    ]
    return tuple(sorted(found))


def is_wsl2(*, release: str, proc_version: str, has_dxg: bool, env: Mapping[str, str]) -> bool:
    """Whether these signals mean Windows Subsystem for Linux 2 (WSL1 cannot run CUDA and is excluded)."""
    # NOTE: WSL2 kernels are named like "5.15.153.1-microsoft-standard-WSL2" and expose the GPU
    # through /dev/dxg (https://learn.microsoft.com/windows/wsl/tutorials/gpu-compute,
    # https://docs.nvidia.com/cuda/wsl-user-guide/). WSL1 has no Linux kernel: its release
    # string is like "4.4.0-19041-Microsoft".
    low = release.lower()
    if "microsoft-standard" in low or "wsl2" in low or has_dxg:
        return True
    wsl1 = bool(re.search(r"-microsoft$", low))
    if wsl1:
        return False
    return "microsoft" in proc_version.lower() or bool(env.get("WSL_DISTRO_NAME"))


# --------------------------------------------------------------------------------------------
# I/O


def _read(path: Path) -> str | Unavailable:
    """Read a text file; any OS error becomes Unavailable naming the file."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return Unavailable(probe=PROBE, reason=f"cannot read {path}: {e.strerror or e}", detail=repr(e))


def read_os_name(*, root: Path = Path("/")) -> str | Unavailable:
    """PRETTY_NAME from /etc/os-release, falling back to /usr/lib/os-release."""
    errors = []
    for rel in ("etc/os-release", "usr/lib/os-release"):
        text = _read(root / rel)
        if isinstance(text, Unavailable):
            errors.append(text.reason)
            continue
        name = os_pretty_name(parse_os_release(text))
        if name:
            return name
        errors.append(f"{root / rel} names no PRETTY_NAME or NAME")
    return Unavailable(probe=PROBE, reason="operating system unknown: " + "; ".join(errors))


def read_glibc_version() -> Version | Unavailable:
    """The glibc version this interpreter runs on; Unavailable on musl and other C libraries."""
    text = ""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        pass  # NOTE: musl has no _CS_GNU_LIBC_VERSION; confstr raises ValueError there.
    if not text:
        lib, ver = platform.libc_ver()
        text = f"{lib} {ver}" if lib == "glibc" else ""
    if not text.startswith("glibc"):
        return Unavailable(probe=PROBE, reason="not glibc (musl?)", detail=f"libc_ver={platform.libc_ver()!r}")
    version = parse_libc_version(text)
    if version is None:
        return Unavailable(probe=PROBE, reason=f"cannot parse the glibc version from {text!r}")
    return version


def read_cpu_model(*, root: Path = Path("/")) -> str | Unavailable:
    """The CPU model from /proc/cpuinfo."""
    text = _read(root / "proc/cpuinfo")
    if isinstance(text, Unavailable):
        return text
    model = parse_cpuinfo(text)
    if model is None:
        return Unavailable(probe=PROBE, reason=f"{root / 'proc/cpuinfo'} names no CPU model")
    return model


def read_memory_total_mib(*, root: Path = Path("/")) -> int | Unavailable:
    """Physical memory (MemTotal) in MiB."""
    text = _read(root / "proc/meminfo")
    if isinstance(text, Unavailable):
        return text
    mib = parse_meminfo(text)
    if mib is None:
        return Unavailable(probe=PROBE, reason=f"{root / 'proc/meminfo'} has no MemTotal line")
    return mib


def read_pci_devices(*, root: Path = Path("/")) -> tuple[str, ...] | Unavailable:
    """NVIDIA display/3D controllers listed in /sys/bus/pci/devices, driver loaded or not."""
    base = root / "sys/bus/pci/devices"
    try:
        entries = sorted(os.listdir(base))
    except OSError as e:
        return Unavailable(
            probe=PROBE,
            reason=f"cannot list {base}: {e.strerror or e} (is /sys mounted?)",
            detail=repr(e),
        )
    triples = []
    for addr in entries:
        try:
            vendor = (base / addr / "vendor").read_text()
            if vendor.strip().lower() != NVIDIA_VENDOR:
                continue  # skip reading "class" for the many non-NVIDIA functions
            cls = (base / addr / "class").read_text()
        except OSError:
            continue  # a device that vanished or hides its config says nothing about GPUs
        triples.append((addr, vendor, cls))
    return parse_pci_devices(triples)


def read_wsl2(*, root: Path = Path("/"), release: str, env: Mapping[str, str]) -> bool:
    """Whether this is WSL2, from the kernel release, /proc/version, /dev/dxg and WSL_DISTRO_NAME."""
    proc_version = _read(root / "proc/version")
    return is_wsl2(
        release=release,
        proc_version=proc_version if isinstance(proc_version, str) else "",
        has_dxg=os.path.exists(root / "dev/dxg"),  # os.path.exists never raises
        env=env,
    )


def cpu_count() -> int:
    """Logical CPUs this process may run on (its affinity mask, which cpusets and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def collect_host(*, root: Path = Path("/"), env: Mapping[str, str] | None = None) -> HostFacts:
    """Gather HostFacts with every file read under *root* (tests pass a fake tree)."""
    uname = os.uname()
    env = os.environ if env is None else env
    return HostFacts(
        os_name=read_os_name(root=root),
        kernel=uname.release,
        arch=uname.machine,
        hostname=uname.nodename,
        glibc_version=read_glibc_version(),
        # NOTE: built from version_info, not platform.python_version(): dev builds say "3.14.0+",
        # which is not a PEP 440 version.
        python_version=Version("{}.{}.{}".format(*sys.version_info[:3])),
        python_executable=sys.executable,
        cpu_model=read_cpu_model(root=root),
        cpu_count=cpu_count(),
        memory_total_mib=read_memory_total_mib(root=root),
        wsl2=read_wsl2(root=root, release=uname.release, env=env),
        nvidia_pci_devices=read_pci_devices(root=root),
    )


def probe_host(ctx: ProbeContext) -> HostFacts:
    """Describe the operating system, kernel, C library, Python, CPU, memory and NVIDIA PCI devices."""
    return collect_host()
