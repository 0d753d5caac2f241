"""Tests for the host probe: pure parsers on recorded samples, a fake filesystem root, the real machine."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import pytest
from packaging.version import Version

from cudadoctor.facts import HostFacts, Unavailable
from cudadoctor.factsfile import facts_from_dict, facts_to_dict
from cudadoctor.probes import host
from cudadoctor.probes.base import ProbeContext
from tests.conftest import env_facts

RAW = Path(__file__).parents[1] / "fixtures" / "raw" / "host"


def sample(name: str) -> str:
    return (RAW / name).read_text()


def pci_sample(name: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in sample(name).splitlines():
        if line and not line.startswith("#"):
            addr, vendor, cls = line.split()
            rows.append((addr, vendor + "\n", cls + "\n"))
    return rows


# --------------------------------------------------------------------------------------------
# os-release


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("os-release_ubuntu2204.txt", "Ubuntu 22.04.4 LTS"),
        ("os-release_debian12.txt", "Debian GNU/Linux 12 (bookworm)"),
        ("os-release_rocky9.txt", "Rocky Linux 9.4 (Blue Onyx)"),
        ("os-release_alpine319.txt", "Alpine Linux v3.19"),
    ],
)
def test_os_release_pretty_name(name: str, expected: str) -> None:
    assert host.os_pretty_name(host.parse_os_release(sample(name))) == expected


def test_os_release_quoting_and_comments() -> None:
    fields = host.parse_os_release("# comment\n\nNAME='Foo'\nVERSION=\"1 \\\"beta\\\"\"\nID=foo\ngarbage line\n")
    assert fields == {"NAME": "Foo", "VERSION": '1 "beta"', "ID": "foo"}
    assert host.os_pretty_name(fields) == 'Foo 1 "beta"'
    assert host.os_pretty_name({}) is None


def test_read_os_name_falls_back_to_usr_lib(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text(sample("os-release_rocky9.txt"))
    assert host.read_os_name(root=tmp_path) == "Rocky Linux 9.4 (Blue Onyx)"


def test_read_os_name_missing_is_unavailable(tmp_path: Path) -> None:
    result = host.read_os_name(root=tmp_path)
    assert isinstance(result, Unavailable)
    assert result.probe == "host"
    assert "os-release" in result.reason


# --------------------------------------------------------------------------------------------
# meminfo, cpuinfo, glibc


def test_parse_meminfo_recorded() -> None:
    # this machine: "MemTotal:       24684092 kB"
    assert host.parse_meminfo(sample("meminfo_this_machine.txt")) == 24684092 // 1024


def test_parse_meminfo_without_memtotal() -> None:
    assert host.parse_meminfo("MemFree: 10 kB\n") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cpuinfo_this_machine_amd_epyc.txt", "AMD EPYC"),
        ("cpuinfo_grace_aarch64.txt", "ARM Neoverse-V2"),
        ("cpuinfo_jetson_orin.txt", "ARM Cortex-A78AE"),  # generic "ARMv8 Processor" name ignored
        ("cpuinfo_unknown_arm.txt", "Ampere CPU part 0xac3"),
        ("cpuinfo_ppc64le_power9.txt", "POWER9, altivec supported"),
    ],
)
def test_parse_cpuinfo(name: str, expected: str) -> None:
    assert host.parse_cpuinfo(sample(name)) == expected


def test_parse_cpuinfo_nothing() -> None:
    assert host.parse_cpuinfo("processor : 0\nflags : fpu\n") is None


def test_read_cpu_model_unreadable_is_unavailable(tmp_path: Path) -> None:
    result = host.read_cpu_model(root=tmp_path)
    assert isinstance(result, Unavailable)
    assert "cpuinfo" in result.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [("glibc 2.35", Version("2.35")), ("glibc 2.17", Version("2.17")), ("glibc 2.39.9000", Version("2.39.9000"))],
)
def test_parse_libc_version(text: str, expected: Version) -> None:
    assert host.parse_libc_version(text) == expected
    assert host.parse_libc_version("glibc") is None


def test_glibc_version_matches_confstr() -> None:
    expected = host.parse_libc_version(os.confstr("CS_GNU_LIBC_VERSION") or "")
    assert host.read_glibc_version() == expected


def test_musl_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_confstr(name: str) -> str:
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(host.os, "confstr", no_confstr)
    monkeypatch.setattr(host.platform, "libc_ver", lambda: ("", ""))
    result = host.read_glibc_version()
    assert isinstance(result, Unavailable)
    assert result.reason == "not glibc (musl?)"


# --------------------------------------------------------------------------------------------
# PCI devices


def test_parse_pci_dgx() -> None:
    # NVSwitches (0x0680) share NVIDIA's vendor id but are not GPUs; the BMC VGA is not NVIDIA
    assert host.parse_pci_devices(pci_sample("pci_dgx_h100.txt")) == ("0000:18:00.0", "0000:2a:00.0")


def test_parse_pci_workstation() -> None:
    # the GPU's HDMI audio function (class 0x0403) is not a GPU
    assert host.parse_pci_devices(pci_sample("pci_workstation_geforce.txt")) == ("0000:01:00.0",)


def test_parse_pci_none() -> None:
    assert host.parse_pci_devices([("0000:00:00.0", "0x8086\n", "0x060000\n")]) == ()


def fake_sysfs(root: Path, rows: list[tuple[str, str, str]]) -> None:
    base = root / "sys/bus/pci/devices"
    base.mkdir(parents=True)
    for addr, vendor, cls in rows:
        (base / addr).mkdir()
        (base / addr / "vendor").write_text(vendor)
        (base / addr / "class").write_text(cls)


def test_read_pci_devices_fake_tree(tmp_path: Path) -> None:
    fake_sysfs(tmp_path, pci_sample("pci_dgx_h100.txt"))
    assert host.read_pci_devices(root=tmp_path) == ("0000:18:00.0", "0000:2a:00.0")


def test_read_pci_devices_skips_unreadable_device(tmp_path: Path) -> None:
    fake_sysfs(tmp_path, [("0000:18:00.0", "0x10de\n", "0x030200\n")])
    (tmp_path / "sys/bus/pci/devices/0000:99:00.0").mkdir()  # no vendor/class files
    assert host.read_pci_devices(root=tmp_path) == ("0000:18:00.0",)


def test_read_pci_devices_without_sysfs(tmp_path: Path) -> None:
    result = host.read_pci_devices(root=tmp_path)
    assert isinstance(result, Unavailable)
    assert "/sys/bus/pci/devices" in result.reason


# --------------------------------------------------------------------------------------------
# WSL2


@pytest.mark.parametrize(
    ("release", "proc_version", "dxg", "env", "expected"),
    [
        ("5.15.153.1-microsoft-standard-WSL2", "proc_version_wsl2.txt", False, {}, True),
        ("5.15.0-105-generic", "proc_version_ubuntu.txt", True, {}, True),  # /dev/dxg
        ("6.6.36.3-custom", "proc_version_ubuntu.txt", False, {"WSL_DISTRO_NAME": "Ubuntu"}, True),
        ("4.4.0-19041-Microsoft", "proc_version_wsl1.txt", False, {"WSL_DISTRO_NAME": "Ubuntu"}, False),
        ("5.15.0-105-generic", "proc_version_ubuntu.txt", False, {}, False),
        ("6.18.44-fc-v657", "proc_version_this_machine.txt", False, {}, False),
    ],
)
def test_is_wsl2(release: str, proc_version: str, dxg: bool, env: dict[str, str], expected: bool) -> None:
    assert host.is_wsl2(release=release, proc_version=sample(proc_version), has_dxg=dxg, env=env) is expected


def test_read_wsl2_fake_root(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/version").write_text(sample("proc_version_wsl2.txt"))
    assert host.read_wsl2(root=tmp_path, release="whatever", env={}) is True
    assert host.read_wsl2(root=tmp_path / "nothing", release="5.15.0-105-generic", env={}) is False


# --------------------------------------------------------------------------------------------
# whole probe


def test_collect_host_fake_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(sample("os-release_ubuntu2204.txt"))
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(sample("cpuinfo_grace_aarch64.txt"))
    (tmp_path / "proc/meminfo").write_text("MemTotal:       2063000000 kB\n")
    fake_sysfs(tmp_path, pci_sample("pci_workstation_geforce.txt"))
    facts = host.collect_host(root=tmp_path, env={})
    assert facts.os_name == "Ubuntu 22.04.4 LTS"
    assert facts.cpu_model == "ARM Neoverse-V2"
    assert facts.memory_total_mib == 2063000000 // 1024
    assert facts.nvidia_pci_devices == ("0000:01:00.0",)
    assert facts.wsl2 is False


def test_collect_host_empty_root_degrades(tmp_path: Path) -> None:
    facts = host.collect_host(root=tmp_path, env={})
    for name in ("os_name", "cpu_model", "memory_total_mib", "nvidia_pci_devices"):
        value = getattr(facts, name)
        assert isinstance(value, Unavailable), name
        assert value.reason


def test_probe_host_on_this_machine() -> None:
    facts = host.probe_host(ProbeContext(python=sys.executable))
    assert isinstance(facts, HostFacts)
    uname = os.uname()
    assert (facts.kernel, facts.arch, facts.hostname) == (uname.release, uname.machine, uname.nodename)
    assert facts.python_version == Version("{}.{}.{}".format(*sys.version_info[:3]))
    assert facts.python_executable == sys.executable
    assert facts.cpu_count == len(os.sched_getaffinity(0))
    assert isinstance(facts.memory_total_mib, int) and facts.memory_total_mib > 0
    assert isinstance(facts.nvidia_pci_devices, tuple)
    if Path("/etc/os-release").exists():
        assert isinstance(facts.os_name, str)


def test_probe_host_is_fast() -> None:
    ctx = ProbeContext(python=sys.executable)
    best = min(_timed(host.probe_host, ctx) for _ in range(3))
    # the brief asks for < 50 ms; the bound is loose so a busy 2-core CI runner does not flake
    assert best < 0.25, f"probe_host took {best * 1000:.1f} ms"


def _timed(fn: object, ctx: ProbeContext) -> float:
    start = time.perf_counter()
    fn(ctx)  # type: ignore[operator]
    return time.perf_counter() - start


def test_real_host_facts_round_trip() -> None:
    real = host.probe_host(ProbeContext(python=sys.executable))
    facts = dataclasses.replace(env_facts("healthy_h100_cu128"), host=real)
    assert facts_from_dict(facts_to_dict(facts)).host == real


def test_registered_and_wrapped() -> None:
    from cudadoctor.probes import PROBES
    from cudadoctor.probes.base import run_probe

    assert PROBES["host"] is host.probe_host
    facts, seconds = run_probe("host", host.probe_host, ProbeContext(python=sys.executable))
    assert isinstance(facts, HostFacts)
    assert seconds >= 0
