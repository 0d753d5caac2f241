"""Tests for the container probe: parsers and detection on recorded samples, fake /sys trees, this machine."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import pytest

from cudadoctor.facts import UNLIMITED, ContainerFacts, Unavailable
from cudadoctor.factsfile import facts_from_dict, facts_to_dict
from cudadoctor.probes import container as ctr
from cudadoctor.probes.base import ProbeContext
from tests.conftest import env_facts

RAW = Path(__file__).parents[1] / "fixtures" / "raw" / "container"
THIS = "this_machine_docker_v1_hybrid"


def sample(name: str) -> str:
    return (RAW / name).read_text()


def mounts(name: str) -> tuple[ctr.Mount, ...]:
    return ctr.parse_mountinfo(sample(f"{name}.mountinfo"))


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write *files* (relative path -> text) under *root*; a path ending in "/" makes a directory."""
    for rel, text in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --------------------------------------------------------------------------------------------
# /proc/self/cgroup


def test_parse_cgroup_this_machine() -> None:
    entries = ctr.parse_cgroup(sample(f"{THIS}.cgroup"))
    assert len(entries) == 10
    assert entries[-1] == ctr.CgroupEntry(hierarchy=0, controllers=(), path="/")
    assert ctr.cgroup_path(entries, "memory") == "/process_api/0c4a881e2bce5872c6afc77fdf3a1c7f"
    assert ctr.cgroup_path(entries, "cpu") == "/"
    assert ctr.cgroup_path(entries, None) == "/"


def test_parse_cgroup_v1_combined_controllers() -> None:
    entries = ctr.parse_cgroup(sample("docker_v1.cgroup"))
    cpu = next(e for e in entries if "cpu" in e.controllers)
    assert cpu.controllers == ("cpu", "cpuacct")
    assert ctr.cgroup_path(entries, "cpu").startswith("/docker/")
    assert ctr.cgroup_path(entries, None) == "/system.slice/containerd.service"


def test_parse_cgroup_skips_garbage() -> None:
    assert ctr.parse_cgroup("garbage\nx:y:z\n0::/a\n") == (ctr.CgroupEntry(hierarchy=0, controllers=(), path="/a"),)
    assert ctr.cgroup_path((), "memory") == "/"


# --------------------------------------------------------------------------------------------
# /proc/self/mountinfo


def test_parse_mountinfo_this_machine() -> None:
    ms = mounts(THIS)
    root = next(m for m in ms if m.mount_point == "/")
    assert (root.fstype, root.source, root.root) == ("ext4", "/dev/vda", "/")
    assert root.options == ("rw", "relatime")
    assert "discard" in root.super_options
    cg = next(m for m in ms if m.mount_point == "/sys/fs/cgroup/memory")
    assert (cg.fstype, cg.super_options) == ("cgroup", ("rw", "memory"))


def test_parse_mountinfo_optional_fields_and_escapes() -> None:
    ms = mounts("docker_v2")
    root = next(m for m in ms if m.mount_point == "/")
    assert root.fstype == "overlay"  # "master:557" optional field skipped
    assert any(o.startswith("lowerdir=/var/lib/docker/overlay2/") for o in root.super_options)
    share = next(m for m in ms if m.fstype == "nfs4")
    assert share.mount_point == "/mnt/Team Share"  # \040 decoded
    assert share.source == "fileserver:/export/team"


def test_unescape_mountinfo() -> None:
    assert ctr.unescape_mountinfo(r"/a\040b\011c\134d\012") == "/a b\tc\\d\n"


def test_parse_mountinfo_skips_garbage() -> None:
    assert ctr.parse_mountinfo("not a mountinfo line\n1 2 3\n") == ()


@pytest.mark.parametrize(
    ("name", "path", "mount_point", "fstype"),
    [
        (THIS, "/work/main", "/", "ext4"),
        (THIS, "/dev/shm/x", "/dev/shm", "tmpfs"),
        (THIS, "/sys/fs/cgroup/memory/process_api", "/sys/fs/cgroup/memory", "cgroup"),
        ("docker_v2", "/workspace", "/workspace", "ext4"),
        ("docker_v2", "/workspace/runs/1", "/workspace", "ext4"),
        ("docker_v2", "/workspacefoo", "/", "overlay"),  # a prefix of the name is not a parent
        ("docker_v2", "/mnt/Team Share/data", "/mnt/Team Share", "nfs4"),
        ("docker_v2", "/opt/app/", "/", "overlay"),
        ("k8s_containerd_v2", "/data/imagenet", "/data", "nfs4"),
        ("baremetal_systemd", "/home/alice", "/home", "xfs"),
    ],
)
def test_mount_for(name: str, path: str, mount_point: str, fstype: str) -> None:
    m = ctr.mount_for(path, mounts(name))
    assert m is not None
    assert (m.mount_point, m.fstype) == (mount_point, fstype)


def test_mount_for_stacked_takes_the_last() -> None:
    # this machine mounts /dev/shm twice (ids 25 and 30); the later one is visible
    m = ctr.mount_for("/dev/shm", mounts(THIS))
    assert m is not None and m.mount_id == 30


def test_mount_for_no_mounts() -> None:
    assert ctr.mount_for("/x", ()) is None


# --------------------------------------------------------------------------------------------
# limits


@pytest.mark.parametrize(
    ("text", "version", "expected"),
    [
        ("max\n", 2, UNLIMITED),
        ("17179869184\n", 2, 17179869184),
        ("9223372036854771712\n", 1, UNLIMITED),  # 4 KiB-page PAGE_COUNTER_MAX
        ("9223372036854710272\n", 1, UNLIMITED),  # 64 KiB pages (aarch64)
        ("-1", 1, UNLIMITED),
        ("8589934592\n", 1, 8589934592),
    ],
)
def test_parse_memory_limit(text: str, version: int, expected: object) -> None:
    assert ctr.parse_memory_limit(text, version) == expected


@pytest.mark.parametrize("text", ["", "lots", "max"])
def test_parse_memory_limit_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        ctr.parse_memory_limit(text, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("max 100000\n", UNLIMITED), ("200000 100000\n", 2.0), ("150000 100000", 1.5), ("50000", 0.5)],
)
def test_parse_cpu_max(text: str, expected: object) -> None:
    assert ctr.parse_cpu_max(text) == expected


@pytest.mark.parametrize("text", ["", "1 2 3", "x 100000", "100 0"])
def test_parse_cpu_max_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        ctr.parse_cpu_max(text)


def test_parse_cfs_quota() -> None:
    assert ctr.parse_cfs_quota("-1\n", "100000\n") == UNLIMITED
    assert ctr.parse_cfs_quota("400000\n", "100000\n") == 4.0
    assert ctr.parse_cfs_quota("25000", "50000") == 0.5


def test_tightest() -> None:
    assert ctr.tightest([UNLIMITED, 10, 5]) == 5
    assert ctr.tightest([UNLIMITED, UNLIMITED]) == UNLIMITED
    assert ctr.tightest([]) is None


# --------------------------------------------------------------------------------------------
# runtime detection


def signals(
    name: str | None = None,
    *,
    cgroup: str | None = None,
    **kw: object,
) -> ctr.Signals:
    text = cgroup if cgroup is not None else (sample(f"{name}.cgroup") if name else "")
    return ctr.Signals(
        cgroups={"/proc/self/cgroup": text},
        mounts=mounts(name) if name and (RAW / f"{name}.mountinfo").exists() else (),
        **kw,  # type: ignore[arg-type]
    )


def test_detect_this_machine() -> None:
    d = ctr.detect_runtime(signals(THIS, dockerenv=True))
    assert (d.in_container, d.runtime, d.kubernetes) == (True, "docker", False)
    assert d.evidence == ("/.dockerenv exists",)


def test_detect_docker_v2_without_dockerenv() -> None:
    # cgroup namespace hides the path ("0::/"); the overlay root and injected files still show Docker
    d = ctr.detect_runtime(signals("docker_v2"))
    assert (d.in_container, d.runtime, d.kubernetes) == (True, "docker", False)
    assert any("mount / (overlay)" in e and "/var/lib/docker" in e for e in d.evidence)
    assert any("/etc/hosts" in e for e in d.evidence)


def test_detect_docker_v1_cgroup() -> None:
    d = ctr.detect_runtime(signals("docker_v1"))
    assert d.runtime == "docker"
    assert any(e.startswith("/proc/self/cgroup shows Docker: /docker/") for e in d.evidence)


def test_detect_kubernetes_containerd() -> None:
    d = ctr.detect_runtime(
        signals(
            "k8s_containerd_v2",
            env={"KUBERNETES_SERVICE_HOST": "10.96.0.1"},
            k8s_service_account="/var/run/secrets/kubernetes.io",
        )
    )
    assert (d.in_container, d.runtime, d.kubernetes) == (True, "containerd", True)
    text = "\n".join(d.evidence)
    for needle in ("cri-containerd", "kubepods", "containerd storage", "kubelet", "KUBERNETES_SERVICE_HOST"):
        assert needle in text


def test_detect_kubernetes_engine_unknown() -> None:
    d = ctr.detect_runtime(signals(cgroup="0::/\n", env={"KUBERNETES_SERVICE_HOST": "10.96.0.1"}))
    assert (d.in_container, d.runtime, d.kubernetes) == (True, "kubernetes", True)


def test_detect_crio_is_not_podman() -> None:
    root = ctr.parse_mountinfo(
        "1 0 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/containers/storage/overlay/l/AB,"
        "upperdir=/var/lib/containers/storage/overlay/1/diff,workdir=/var/lib/containers/storage/overlay/1/work\n"
    )
    d = ctr.detect_runtime(
        ctr.Signals(
            cgroups={"/proc/self/cgroup": "0::/kubepods.slice/kubepods-pod1.slice/crio-0123456789ab.scope\n"},
            mounts=root,
        )
    )
    assert (d.runtime, d.kubernetes) == ("kubernetes", True)
    assert any("CRI-O" in e for e in d.evidence)


def test_detect_podman_rootless() -> None:
    d = ctr.detect_runtime(signals("podman_rootless", containerenv=sample("podman_rootless.containerenv")))
    assert (d.in_container, d.runtime, d.kubernetes) == (True, "podman", False)
    assert d.evidence[0] == "/run/.containerenv exists (engine=podman-4.9.3)"
    assert any("libpod" in e for e in d.evidence)


def test_detect_bare_metal_with_docker_installed() -> None:
    # the host's own mountinfo lists /var/lib/docker/overlay2/*/merged: that is not evidence
    d = ctr.detect_runtime(signals("baremetal_systemd"))
    assert (d.in_container, d.runtime, d.kubernetes, d.evidence) == (False, "none", False, ())


def test_detect_lxc() -> None:
    d = ctr.detect_runtime(signals("lxc_v1", pid1_environ=sample("lxc.pid1_environ")))
    assert (d.in_container, d.runtime) == (True, "lxc")
    assert "container=lxc in /proc/1/environ" in d.evidence


def test_detect_lxc_from_pid1_environ_only() -> None:
    d = ctr.detect_runtime(signals(cgroup="0::/\n", pid1_environ=sample("lxc.pid1_environ")))
    assert d.runtime == "lxc"


@pytest.mark.parametrize(
    ("env", "runtime"),
    [({"container": "podman"}, "podman"), ({"container": "systemd-nspawn"}, "unknown-container"), ({}, "none")],
)
def test_detect_container_env_var(env: dict[str, str], runtime: str) -> None:
    assert ctr.detect_runtime(signals(cgroup="0::/\n", env=env)).runtime == runtime


def test_detect_apptainer() -> None:
    d = ctr.detect_runtime(signals(cgroup="0::/user.slice\n", apptainer=True))
    assert (d.in_container, d.runtime) == (True, "unknown-container")


# --------------------------------------------------------------------------------------------
# writable layer


def root_mount(line: str) -> ctr.Mount:
    (m,) = ctr.parse_mountinfo(line)
    return m


@pytest.mark.parametrize(
    ("line", "runtime", "expected"),
    [
        ("1 0 0:1 / / rw - overlay overlay rw,lowerdir=/a", "docker", True),
        ("1 0 0:1 / / rw - fuse.fuse-overlayfs fuse-overlayfs rw", "podman", True),
        ("1 0 0:1 / / ro,relatime - overlay overlay rw,lowerdir=/a", "docker", False),  # --read-only
        ("1 0 253:3 / / rw - xfs /dev/mapper/docker-253:0-1234-abcdef rw", "docker", True),  # devicemapper
        ("1 0 0:40 /var/lib/docker/btrfs/subvolumes/abc / rw - btrfs /dev/sda2 rw", "docker", True),
        ("1 0 254:0 / / rw,relatime - ext4 /dev/vda rw,discard", "docker", False),  # this machine's VM disk
        ("1 0 8:1 /var/lib/lxc/c1/rootfs / rw - ext4 /dev/sda1 rw", "lxc", False),  # persistent system container
        ("1 0 0:1 / /workspace rw - overlay overlay rw", "docker", False),  # not the root
        ("1 0 0:1 / / rw - overlay overlay rw,lowerdir=/a", "none", False),  # live CD, not a container
    ],
)
def test_on_writable_layer(line: str, runtime: str, expected: bool) -> None:
    assert ctr.on_writable_layer(root_mount(line), in_container=runtime != "none", runtime=runtime) is expected


# --------------------------------------------------------------------------------------------
# whole probe on fake trees


def docker_v2_tree(root: Path, **extra: str) -> Path:
    return tree(
        root,
        {
            ".dockerenv": "",
            "proc/self/cgroup": sample("docker_v2.cgroup"),
            "proc/self/mountinfo": sample("docker_v2.mountinfo"),
            "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
            "sys/fs/cgroup/memory.max": "34359738368\n",
            "sys/fs/cgroup/cpu.max": "800000 100000\n",
            "dev/shm/": "",
            "dev/nvidia0": "",
            "dev/nvidiactl": "",
            "dev/nvidia-uvm": "",
            "dev/nvidia-caps/": "",
            "dev/null": "",
            **extra,
        },
    )


def test_collect_docker_v2(tmp_path: Path) -> None:
    facts = ctr.collect_container(root=docker_v2_tree(tmp_path), env={}, cwd="/workspace/runs")
    assert (facts.in_container, facts.runtime, facts.kubernetes) == (True, "docker", False)
    assert facts.evidence[0] == "/.dockerenv exists"
    assert facts.cgroup_version == 2
    assert facts.memory_limit_bytes == 34359738368
    assert facts.cpu_limit_cores == 8.0
    assert isinstance(facts.shm_size_bytes, int) and facts.shm_size_bytes > 0
    assert facts.device_nodes == ("/dev/nvidia-caps", "/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl")
    assert (facts.workdir_on_writable_layer, facts.workdir_filesystem) == (False, "ext4")


def test_collect_docker_v2_workdir_on_overlay(tmp_path: Path) -> None:
    facts = ctr.collect_container(root=docker_v2_tree(tmp_path), env={}, cwd="/opt/app")
    assert (facts.workdir_on_writable_layer, facts.workdir_filesystem) == (True, "overlay")


def test_collect_docker_v2_unlimited(tmp_path: Path) -> None:
    root = docker_v2_tree(tmp_path, **{"sys/fs/cgroup/memory.max": "max\n", "sys/fs/cgroup/cpu.max": "max 100000\n"})
    facts = ctr.collect_container(root=root, env={}, cwd="/")
    assert (facts.memory_limit_bytes, facts.cpu_limit_cores) == (UNLIMITED, UNLIMITED)


def test_collect_v2_without_namespace_takes_tightest_level(tmp_path: Path) -> None:
    # Kubernetes without a cgroup namespace: the pod slice and the container scope both carry limits
    path = sample("k8s_containerd_v2.cgroup").split("::", 1)[1].strip().lstrip("/")
    pod = path.rsplit("/", 1)[0]
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": sample("k8s_containerd_v2.cgroup"),
            "proc/self/mountinfo": sample("k8s_containerd_v2.mountinfo"),
            "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
            "var/run/secrets/kubernetes.io/": "",
            f"sys/fs/cgroup/{pod}/memory.max": "68719476736\n",
            f"sys/fs/cgroup/{pod}/cpu.max": "max 100000\n",
            f"sys/fs/cgroup/{path}/memory.max": "max\n",
            f"sys/fs/cgroup/{path}/cpu.max": "400000 100000\n",
        },
    )
    facts = ctr.collect_container(root=root, env={}, cwd="/data/x")
    assert (facts.runtime, facts.kubernetes) == ("containerd", True)
    assert "/var/run/secrets/kubernetes.io exists" in facts.evidence
    assert facts.memory_limit_bytes == 68719476736
    assert facts.cpu_limit_cores == 4.0
    assert (facts.workdir_on_writable_layer, facts.workdir_filesystem) == (False, "nfs4")
    assert isinstance(facts.shm_size_bytes, Unavailable)  # no dev/shm in this tree
    assert facts.device_nodes == ()


def v1_tree(root: Path, cgroup_text: str, files: dict[str, str]) -> Path:
    return tree(
        root,
        {
            ".dockerenv": "",
            "proc/self/cgroup": cgroup_text,
            "proc/self/mountinfo": sample(f"{THIS}.mountinfo"),
            "sys/fs/cgroup/unified/cgroup.controllers": "",  # hybrid: an empty v2 beside v1
            **files,
        },
    )


def test_collect_v1_namespace_root_fallback(tmp_path: Path) -> None:
    # classic Docker on v1: /proc/self/cgroup says /docker/<id>, but the container's own cgroup is
    # mounted at /sys/fs/cgroup/<controller> itself, so the path does not exist below it
    root = v1_tree(
        tmp_path,
        sample("docker_v1.cgroup"),
        {
            "sys/fs/cgroup/memory/memory.limit_in_bytes": "8589934592\n",
            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "200000\n",
            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        },
    )
    facts = ctr.collect_container(root=root, env={}, cwd="/work/main")
    assert facts.cgroup_version == 1
    assert facts.memory_limit_bytes == 8589934592
    assert facts.cpu_limit_cores == 2.0


def test_collect_v1_this_machine_layout(tmp_path: Path) -> None:
    # this machine: memory path /process_api/<id> exists under the memory mount
    mem = "sys/fs/cgroup/memory"
    root = v1_tree(
        tmp_path,
        sample(f"{THIS}.cgroup"),
        {
            f"{mem}/memory.limit_in_bytes": "9223372036854771712\n",
            f"{mem}/process_api/memory.limit_in_bytes": "9223372036854771712\n",
            f"{mem}/process_api/0c4a881e2bce5872c6afc77fdf3a1c7f/memory.limit_in_bytes": "4294967296\n",
            "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
            "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
        },
    )
    facts = ctr.collect_container(root=root, env={}, cwd="/work/main")
    assert (facts.runtime, facts.cgroup_version) == ("docker", 1)
    assert facts.memory_limit_bytes == 4294967296
    assert facts.cpu_limit_cores == UNLIMITED
    assert (facts.workdir_on_writable_layer, facts.workdir_filesystem) == (False, "ext4")


def test_collect_controller_not_visible(tmp_path: Path) -> None:
    # inside a container with no memory.max / cpu.max anywhere: the limit is hidden, not absent
    root = docker_v2_tree(tmp_path)
    (root / "sys/fs/cgroup/memory.max").unlink()
    (root / "sys/fs/cgroup/cpu.max").unlink()
    facts = ctr.collect_container(root=root, env={}, cwd="/")
    assert isinstance(facts.memory_limit_bytes, Unavailable)
    assert "memory.max" in facts.memory_limit_bytes.reason
    assert isinstance(facts.cpu_limit_cores, Unavailable)


def test_collect_bare_metal(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": sample("baremetal_systemd.cgroup"),
            "proc/self/mountinfo": sample("baremetal_systemd.mountinfo"),
            "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
            "sys/fs/cgroup/user.slice/": "",
        },
    )
    facts = ctr.collect_container(root=root, env={}, cwd="/home/alice/src")
    assert (facts.in_container, facts.runtime, facts.evidence) == (False, "none", ())
    # outside a container the whole hierarchy is visible: no limit file means no limit
    assert (facts.memory_limit_bytes, facts.cpu_limit_cores) == (UNLIMITED, UNLIMITED)
    assert (facts.workdir_on_writable_layer, facts.workdir_filesystem) == (False, "xfs")


def test_collect_lxc(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": sample("lxc_v1.cgroup"),
            "proc/self/mountinfo": sample("lxc_v1.mountinfo"),
            "proc/1/environ": sample("lxc.pid1_environ"),
            "sys/fs/cgroup/memory/memory.limit_in_bytes": "34359738368\n",
        },
    )
    facts = ctr.collect_container(root=root, env={}, cwd="/root")
    assert (facts.in_container, facts.runtime, facts.cgroup_version) == (True, "lxc", 1)
    assert facts.memory_limit_bytes == 34359738368
    assert isinstance(facts.cpu_limit_cores, Unavailable)  # no cpu controller in this tree
    assert (facts.workdir_on_writable_layer, facts.workdir_filesystem) == (False, "ext4")


def test_collect_podman(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "run/.containerenv": sample("podman_rootless.containerenv"),
            "proc/self/cgroup": sample("podman_rootless.cgroup"),
            "proc/self/mountinfo": sample("podman_rootless.mountinfo"),
            "sys/fs/cgroup/cgroup.controllers": "memory pids\n",
            "sys/fs/cgroup/memory.max": "max\n",
        },
    )
    facts = ctr.collect_container(root=root, env={"container": "podman"}, cwd="/home/alice/src/train")
    assert (facts.runtime, facts.cgroup_version, facts.memory_limit_bytes) == ("podman", 2, UNLIMITED)
    assert "container=podman in environment" in facts.evidence
    assert (facts.workdir_on_writable_layer, facts.workdir_filesystem) == (False, "xfs")


def test_collect_empty_root_degrades(tmp_path: Path) -> None:
    facts = ctr.collect_container(root=tmp_path, env={}, cwd="/")
    assert (facts.in_container, facts.runtime) == (False, "none")
    for name in ("cgroup_version", "memory_limit_bytes", "cpu_limit_cores", "shm_size_bytes",
                 "workdir_on_writable_layer", "workdir_filesystem"):
        value = getattr(facts, name)
        assert isinstance(value, Unavailable), name
        assert value.reason
    assert facts.device_nodes == ()


def test_permission_error_becomes_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = docker_v2_tree(tmp_path)
    real_read_text = Path.read_text

    def deny(self: Path, *args: object, **kwargs: object) -> str:
        if self.name in ("memory.max", "mountinfo"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", deny)
    facts = ctr.collect_container(root=root, env={}, cwd="/workspace")
    assert isinstance(facts.memory_limit_bytes, Unavailable)
    assert "Permission denied" in facts.memory_limit_bytes.reason
    assert isinstance(facts.workdir_filesystem, Unavailable)
    assert "mountinfo" in facts.workdir_filesystem.reason
    assert facts.cpu_limit_cores == 8.0
    assert facts.runtime == "docker"


def test_garbage_limit_becomes_unavailable(tmp_path: Path) -> None:
    root = docker_v2_tree(tmp_path, **{"sys/fs/cgroup/memory.max": "banana\n", "sys/fs/cgroup/cpu.max": "1 2 3\n"})
    facts = ctr.collect_container(root=root, env={}, cwd="/")
    assert isinstance(facts.memory_limit_bytes, Unavailable) and "banana" in facts.memory_limit_bytes.reason
    assert isinstance(facts.cpu_limit_cores, Unavailable)


# --------------------------------------------------------------------------------------------
# this machine: a Docker container with cgroup v1 (hybrid), no GPU


@pytest.mark.skipif(not Path("/.dockerenv").exists(), reason="not running in the Docker dev/CI container")
def test_probe_container_on_this_machine() -> None:
    facts = ctr.probe_container(ProbeContext(python=sys.executable))
    assert isinstance(facts, ContainerFacts)
    assert (facts.in_container, facts.runtime) == (True, "docker")
    assert "/.dockerenv exists" in facts.evidence
    if not Path("/sys/fs/cgroup/cgroup.controllers").exists():
        assert facts.cgroup_version == 1
    if not any(n.startswith("nvidia") for n in os.listdir("/dev")):
        assert facts.device_nodes == ()
    assert isinstance(facts.shm_size_bytes, int) and facts.shm_size_bytes > 0
    assert isinstance(facts.workdir_filesystem, str)
    assert isinstance(facts.workdir_on_writable_layer, bool)


def test_probe_container_is_fast() -> None:
    ctx = ProbeContext(python=sys.executable)
    best = min(_timed(ctx) for _ in range(3))
    # the brief asks for < 50 ms; the bound is loose so a busy 2-core CI runner does not flake
    assert best < 0.25, f"probe_container took {best * 1000:.1f} ms"


def _timed(ctx: ProbeContext) -> float:
    start = time.perf_counter()
    ctr.probe_container(ctx)
    return time.perf_counter() - start


def test_real_container_facts_round_trip() -> None:
    real = ctr.probe_container(ProbeContext(python=sys.executable))
    facts = dataclasses.replace(env_facts("healthy_h100_cu128"), container=real)
    assert facts_from_dict(facts_to_dict(facts)).container == real


def test_cgroup_outside_namespace_reads_only_the_mount_root(tmp_path: Path) -> None:
    # a process in a cgroup outside our cgroup namespace shows "/../.."; only the root is ours
    root = docker_v2_tree(tmp_path, **{"proc/self/cgroup": "0::/../../other\n"})
    facts = ctr.collect_container(root=root, env={}, cwd="/")
    assert facts.memory_limit_bytes == 34359738368


def test_registered_and_wrapped() -> None:
    from cudadoctor.probes import PROBES
    from cudadoctor.probes.base import run_probe

    assert PROBES["container"] is ctr.probe_container
    facts, seconds = run_probe("container", ctr.probe_container, ProbeContext(python=sys.executable))
    assert isinstance(facts, ContainerFacts)
    assert seconds >= 0
