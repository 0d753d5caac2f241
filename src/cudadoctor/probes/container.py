"""The container probe: which container runtime we run under, its cgroup limits, /dev/shm and GPU device nodes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from cudadoctor.facts import UNLIMITED, ContainerFacts, Unavailable
from cudadoctor.probes.base import ProbeContext

PROBE = "container"

Limit = int | Literal["unlimited"]
Cores = float | Literal["unlimited"]

#: cgroup v1 reports "no memory limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB
#: pages, a little less with 64 KiB pages); anything this large is no limit at all.
V1_UNLIMITED_THRESHOLD = 2**62

#: Filesystems that make up a container's copy-on-write root.
OVERLAY_FILESYSTEMS = frozenset({"overlay", "aufs", "fuse-overlayfs", "fuse.fuse-overlayfs"})

#: A root mount backed by container-engine storage (other storage drivers than overlay:
#: devicemapper, btrfs, zfs, vfs; Kata's shared rootfs).
ENGINE_STORAGE = re.compile(
    r"/var/lib/docker/|/docker/(?:overlay2|btrfs|zfs|vfs)/|/var/lib/containers/|/containers/storage/"
    r"|/var/lib/containerd/|io\.containerd\.|^/dev/mapper/docker-|kataShared"
)

# Evidence patterns for /proc/<pid>/cgroup paths: (regex, runtime or "", what it shows, Kubernetes?).
# NOTE: cgroup path shapes per engine: Docker "/docker/<id>" (cgroupfs driver) or
# "/system.slice/docker-<id>.scope" (systemd driver); Podman "libpod-<id>.scope"; containerd's
# CRI plugin "cri-containerd-<id>.scope" / "/kubepods/<qos>/pod<uid>/<id>"; LXC "/lxc/<name>" or
# "/lxc.payload.<name>" (LXC >= 4). With a private cgroup namespace (the default on cgroup v2)
# the path is just "/", so the other signals below matter more.
# https://docs.docker.com/engine/containers/runmetrics/#find-the-cgroup-for-a-given-container
CGROUP_PATTERNS: tuple[tuple[re.Pattern[str], str, str, bool], ...] = (
    (re.compile(r"libpod"), "podman", "Podman (libpod)", False),
    (re.compile(r"docker[-/][0-9a-f]{12,}|/docker/"), "docker", "Docker", False),
    (re.compile(r"cri-containerd"), "containerd", "containerd (cri-containerd)", True),
    (re.compile(r"crio-|/crio/"), "", "CRI-O", True),
    (re.compile(r"kubepods"), "", "a Kubernetes pod (kubepods)", True),
    (re.compile(r"/lxc/|lxc\.payload"), "lxc", "LXC", False),
)

#: Mounts an engine sets up in every container: its root and the files it injects. Only these
#: count as evidence; a host running Docker also lists /var/lib/docker/overlay2/*/merged mounts.
ENGINE_MOUNT_POINTS = frozenset(
    {"/", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev/termination-log", "/run/.containerenv"}
)

# Evidence patterns for those mounts' sources, roots and options (same shape as above).
MOUNT_PATTERNS: tuple[tuple[re.Pattern[str], str, str, bool], ...] = (
    (re.compile(r"/var/lib/docker/|/docker/overlay2/"), "docker", "Docker storage (/var/lib/docker)", False),
    (re.compile(r"/var/lib/containerd/|io\.containerd\."), "containerd", "containerd storage", False),
    (re.compile(r"/containers/storage/"), "podman", "containers/storage (Podman or CRI-O)", False),
    (re.compile(r"/var/lib/kubelet/pods/"), "", "kubelet pod volumes (/var/lib/kubelet/pods)", True),
)

#: Values of the `container` environment variable (set by Podman, LXC, systemd-nspawn) we map.
# NOTE: https://systemd.io/CONTAINER_INTERFACE/ documents `container=` as the cross-engine signal.
CONTAINER_ENV_RUNTIMES: Mapping[str, str] = {
    "podman": "podman",
    "docker": "docker",
    "lxc": "lxc",
    "lxc-libvirt": "lxc",
}

#: Environment variables runtime detection reads (nothing else is copied out of the environment).
DETECTION_VARIABLES = ("container", "KUBERNETES_SERVICE_HOST", "APPTAINER_CONTAINER", "SINGULARITY_CONTAINER")

#: Order in which a runtime wins when several are evidenced (an engine beats the orchestrator).
RUNTIME_PRIORITY: tuple[str, ...] = ("podman", "docker", "containerd", "lxc")


# --------------------------------------------------------------------------------------------
# pure parsers


@dataclass(frozen=True, slots=True)
class CgroupEntry:
    """One line of /proc/<pid>/cgroup: ``hierarchy-ID:controller-list:path``."""

    hierarchy: int  #: 0 for the cgroup v2 unified hierarchy
    controllers: tuple[str, ...]  #: e.g. ("cpu", "cpuacct"); empty for v2
    path: str


def parse_cgroup(text: str) -> tuple[CgroupEntry, ...]:
    """Parse /proc/<pid>/cgroup (see cgroups(7)); malformed lines are skipped."""
    entries = []
    for line in text.splitlines():
        hier, sep1, rest = line.partition(":")
        ctrls, sep2, path = rest.partition(":")
        if not (sep1 and sep2) or not hier.strip().isdigit():
            continue
        entries.append(
            CgroupEntry(
                hierarchy=int(hier),
                controllers=tuple(c for c in ctrls.split(",") if c),
                path=path.strip() or "/",
            )
        )
    return tuple(entries)


def cgroup_path(entries: Sequence[CgroupEntry], controller: str | None) -> str:
    """The cgroup path for a v1 *controller*, or for the v2 hierarchy when *controller* is None."""
    for e in entries:
        if controller is None and e.hierarchy == 0 and not e.controllers:
            return e.path
        if controller is not None and controller in e.controllers:
            return e.path
    return "/"


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of /proc/<pid>/mountinfo (see proc_pid_mountinfo(5)), with escapes decoded."""

    mount_id: int
    parent_id: int
    root: str  #: the directory of the source filesystem that forms this mount's root
    mount_point: str
    options: tuple[str, ...]  #: per-mount options, e.g. ("rw", "relatime")
    fstype: str
    source: str
    super_options: tuple[str, ...]


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def unescape_mountinfo(field: str) -> str:
    """Decode the kernel's octal escapes (``\\040`` space, ``\\011`` tab, ``\\012`` newline, ``\\134`` backslash)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> tuple[Mount, ...]:
    """Parse /proc/<pid>/mountinfo; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            mounts.append(
                Mount(
                    mount_id=int(fields[0]),
                    parent_id=int(fields[1]),
                    root=unescape_mountinfo(fields[3]),
                    mount_point=unescape_mountinfo(fields[4]),
                    options=tuple(fields[5].split(",")),
                    fstype=fields[sep + 1],
                    source=unescape_mountinfo(fields[sep + 2]),
                    super_options=tuple(fields[sep + 3].split(",")) if len(fields) > sep + 3 else (),
                )
            )
        except (ValueError, IndexError):
            continue
    return tuple(mounts)


def mount_for(path: str, mounts: Sequence[Mount]) -> Mount | None:
    """The mount that holds *path*: the longest mount-point prefix (the last one when stacked)."""
    target = os.path.normpath(path)
    best: Mount | None = None
    for m in mounts:
        mp = os.path.normpath(m.mount_point)
        if target == mp or mp == "/" or target.startswith(mp + "/"):
            if best is None or len(mp) >= len(os.path.normpath(best.mount_point)):
                best = m
    return best


def parse_memory_limit(text: str, version: int) -> Limit:
    """A cgroup memory limit file's value in bytes, or ``"unlimited"``.

    v2 ``memory.max`` says "max" for none; v1 ``memory.limit_in_bytes`` says a huge page-counter
    maximum. Raises ValueError for anything else.
    """
    value = text.strip()
    if version == 2 and value == "max":
        return UNLIMITED
    number = int(value)
    if number < 0 or (version == 1 and number >= V1_UNLIMITED_THRESHOLD):
        return UNLIMITED
    return number


def parse_cpu_max(text: str) -> Cores:
    """cgroup v2 ``cpu.max`` ("$QUOTA $PERIOD", quota "max" for none) as cores. Raises ValueError."""
    parts = text.split()
    if not parts or len(parts) > 2:
        raise ValueError(f"unexpected cpu.max content {text!r}")
    if parts[0] == "max":
        return UNLIMITED
    period = int(parts[1]) if len(parts) == 2 else 100_000  # NOTE: the kernel's default period
    return _cores(int(parts[0]), period)


def parse_cfs_quota(quota_text: str, period_text: str) -> Cores:
    """cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` as cores (quota -1 means none). Raises ValueError."""
    quota = int(quota_text.strip())
    if quota < 0:
        return UNLIMITED
    return _cores(quota, int(period_text.strip()))


def _cores(quota: int, period: int) -> float:
    if period <= 0:
        raise ValueError(f"CPU period {period} is not positive")
    try:
        return round(quota / period, 4)
    except OverflowError:  # NOTE: the kernel writes 64-bit values; a ratio beyond a float is garbage
        raise ValueError(f"CPU quota/period {quota}/{period} is out of range") from None


def tightest(values: Iterable[Limit | Cores]) -> Limit | Cores | None:
    """The smallest limit among the levels of a cgroup path ("unlimited" only if all are); None if none."""
    seen = list(values)
    numbers = [v for v in seen if v != UNLIMITED]
    if numbers:
        return min(numbers)  # type: ignore[type-var]
    return UNLIMITED if seen else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """Everything runtime detection looks at, gathered by :func:`read_signals`."""

    dockerenv: bool = False  #: /.dockerenv exists
    containerenv: str | None = None  #: /run/.containerenv content ("" if unreadable), None if absent
    cgroups: Mapping[str, str] = field(default_factory=dict)  #: source file -> its text
    mounts: tuple[Mount, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  #: the few variables detection reads
    pid1_environ: str | None = None  #: /proc/1/environ (NUL-separated) when readable
    k8s_service_account: str | None = None  #: path of the mounted Kubernetes secrets, if any
    apptainer: bool = False  #: /.singularity.d exists


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """The outcome of runtime detection."""

    in_container: bool
    runtime: str
    kubernetes: bool
    evidence: tuple[str, ...]


def detect_runtime(signals: Signals) -> Detection:
    """Decide whether, and under which runtime, we run in a container; say why in *evidence*."""
    runtimes: list[str] = []  # in the order evidence was found
    evidence: list[str] = []
    kubernetes = False
    other = False  # container evidence that names no engine

    def found(runtime: str, why: str) -> None:
        if why not in evidence:
            evidence.append(why)
        if runtime:
            runtimes.append(runtime)

    if signals.dockerenv:
        found("docker", "/.dockerenv exists")
    if signals.containerenv is not None:
        engine = re.search(r'engine="([^"]*)"', signals.containerenv)
        found("podman", "/run/.containerenv exists" + (f" (engine={engine.group(1)})" if engine else ""))
    for source, text in signals.cgroups.items():
        for entry in parse_cgroup(text):
            for pattern, runtime, label, k8s in CGROUP_PATTERNS:
                if pattern.search(entry.path):
                    found(runtime, f"{source} shows {label}: {_clip(entry.path)}")
                    kubernetes |= k8s
                    other = True
    for mount in signals.mounts:
        if mount.mount_point not in ENGINE_MOUNT_POINTS:
            continue
        text = " ".join((mount.source, mount.root, ",".join(mount.super_options)))
        for pattern, runtime, label, k8s in MOUNT_PATTERNS:
            if pattern.search(text):
                found(runtime, f"mount {mount.mount_point} ({mount.fstype}) is backed by {label}")
                kubernetes |= k8s
                other = True
    if signals.env.get("KUBERNETES_SERVICE_HOST"):
        found("", "KUBERNETES_SERVICE_HOST is set")
        kubernetes = other = True
    if signals.k8s_service_account:
        found("", f"{signals.k8s_service_account} exists")
        kubernetes = other = True
    container_vars = (("environment", signals.env.get("container")), ("/proc/1/environ", _pid1_container(signals)))
    for source, value in container_vars:
        if value:
            found(CONTAINER_ENV_RUNTIMES.get(value, ""), f"container={value} in {source}")
            other = True
    if signals.apptainer or signals.env.get("APPTAINER_CONTAINER") or signals.env.get("SINGULARITY_CONTAINER"):
        found("", "Apptainer/Singularity container (/.singularity.d or APPTAINER_CONTAINER)")
        other = True

    # NOTE: CRI-O keeps images in containers/storage like Podman does; without Podman's own
    # markers (/run/.containerenv, libpod cgroups) that storage under Kubernetes means CRI-O.
    if kubernetes and signals.containerenv is None and not any("libpod" in e for e in evidence):
        runtimes = [r for r in runtimes if r != "podman"]
    runtime = next((r for r in RUNTIME_PRIORITY if r in runtimes), "")
    if not runtime:
        runtime = "kubernetes" if kubernetes else ("unknown-container" if other else "none")
    return Detection(
        in_container=runtime != "none",
        runtime=runtime,
        kubernetes=kubernetes,
        evidence=tuple(evidence),
    )


def _pid1_container(signals: Signals) -> str | None:
    for item in (signals.pid1_environ or "").split("\0"):
        if item.startswith("container="):
            return item.partition("=")[2]
    return None


def _clip(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def on_writable_layer(mount: Mount, *, in_container: bool, runtime: str) -> bool:
    """Whether files under *mount* live on the container's writable layer (and die with it).

    Inside an application container the root mount is the image plus a per-container writable
    layer (overlay, or engine storage for other storage drivers). Volumes, bind mounts and tmpfs
    are separate mounts at their own mount points; a read-only root has no writable layer; LXC
    system containers keep a persistent root filesystem.
    """
    # NOTE: https://docs.docker.com/engine/storage/drivers/#container-and-layers —
    # "When the container is deleted, the writable layer is also deleted."
    if not in_container or runtime == "lxc":
        return False
    if os.path.normpath(mount.mount_point) != "/" or "ro" in mount.options:
        return False
    if mount.fstype in OVERLAY_FILESYSTEMS:
        return True
    return bool(ENGINE_STORAGE.search(" ".join((mount.source, mount.root, ",".join(mount.super_options)))))


# --------------------------------------------------------------------------------------------
# I/O


def _read(path: Path) -> str | Unavailable:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return Unavailable(probe=PROBE, reason=f"cannot read {path}: {e.strerror or e}", detail=repr(e))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. PermissionError on a parent directory: we cannot see it, so it is not there
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def read_signals(*, root: Path, env: Mapping[str, str], mounts: tuple[Mount, ...]) -> Signals:
    """Gather the files and variables :func:`detect_runtime` looks at (unreadable ones are skipped)."""
    cgroups = {}
    for rel in ("proc/self/cgroup", "proc/1/cgroup"):
        text = _read(root / rel)
        if isinstance(text, str):
            cgroups[f"/{rel}"] = text
    containerenv: str | None = None
    if _exists(root / "run/.containerenv"):
        text = _read(root / "run/.containerenv")
        containerenv = text if isinstance(text, str) else ""
    pid1 = _read(root / "proc/1/environ")  # NOTE: readable only by root or the same user
    k8s = next(
        (f"/{rel}" for rel in ("var/run/secrets/kubernetes.io", "run/secrets/kubernetes.io") if _exists(root / rel)),
        None,
    )
    return Signals(
        dockerenv=_exists(root / ".dockerenv"),
        containerenv=containerenv,
        cgroups=cgroups,
        mounts=mounts,
        env={k: env[k] for k in DETECTION_VARIABLES if k in env},
        pid1_environ=pid1 if isinstance(pid1, str) else None,
        k8s_service_account=k8s,
        apptainer=_exists(root / ".singularity.d"),
    )


def read_cgroup_version(*, root: Path, entries: Sequence[CgroupEntry]) -> int | Unavailable:
    """2 when /sys/fs/cgroup is the unified hierarchy; 1 for v1 and hybrid (v1 controllers + an empty v2)."""
    # NOTE: https://docs.kernel.org/admin-guide/cgroup-v2.html — only a pure v2 host mounts
    # cgroup2 at /sys/fs/cgroup (with cgroup.controllers); hybrid systemd hosts mount it at
    # /sys/fs/cgroup/unified with no controllers, so memory and CPU limits live in v1.
    if _exists(root / "sys/fs/cgroup/cgroup.controllers"):
        return 2
    if any(e.hierarchy != 0 and e.controllers for e in entries):
        return 1
    if entries and all(e.hierarchy == 0 for e in entries):
        return 2
    return Unavailable(
        probe=PROBE,
        reason="cannot tell the cgroup version: /sys/fs/cgroup and /proc/self/cgroup show no hierarchy",
    )


def _levels(base: Path, path: str) -> list[Path]:
    """*base*/<path>, then each parent directory up to *base*, that exist."""
    parts = [p for p in PurePosixPath(path).parts if p != "/"]
    if ".." in parts:  # NOTE: a cgroup outside our cgroup namespace reads "/../.."; only base is ours
        parts = []
    dirs = [base.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]
    return [d for d in dirs if _is_dir(d)]


def _controller_dir(root: Path, names: Sequence[str]) -> Path | None:
    for name in names:
        d = root / "sys/fs/cgroup" / name
        if _is_dir(d):
            return d
    return None


def read_memory_limit(
    *, root: Path, version: int, entries: Sequence[CgroupEntry], in_container: bool
) -> Limit | Unavailable:
    """The memory limit of this process's cgroup: the tightest over its path and the parents we can see."""
    if version == 2:
        base, path, name = root / "sys/fs/cgroup", cgroup_path(entries, None), "memory.max"
    else:
        base, path, name = _controller_dir(root, ("memory",)), cgroup_path(entries, "memory"), "memory.limit_in_bytes"

    def parse(d: Path, text: str) -> Limit:
        return parse_memory_limit(text, version)

    limit = _read_levels(base, path, name, parse, in_container=in_container, what="memory limit")
    return limit  # type: ignore[return-value]


def read_cpu_limit(
    *, root: Path, version: int, entries: Sequence[CgroupEntry], in_container: bool
) -> Cores | Unavailable:
    """The CPU quota of this process's cgroup in cores: the tightest over its path and visible parents."""
    if version == 2:
        base, path, name = root / "sys/fs/cgroup", cgroup_path(entries, None), "cpu.max"
    else:
        base = _controller_dir(root, ("cpu", "cpu,cpuacct", "cpuacct,cpu"))
        path, name = cgroup_path(entries, "cpu"), "cpu.cfs_quota_us"

    def parse(d: Path, text: str) -> Cores:
        if version == 2:
            return parse_cpu_max(text)
        period = _read(d / "cpu.cfs_period_us")
        if isinstance(period, Unavailable):
            raise _Unreadable(period)
        return parse_cfs_quota(text, period)

    cores = _read_levels(base, path, name, parse, in_container=in_container, what="CPU quota")
    return cores  # type: ignore[return-value]


class _Unreadable(Exception):
    """Carries an Unavailable out of a level parser."""

    def __init__(self, unavailable: Unavailable) -> None:
        super().__init__(unavailable.reason)
        self.unavailable = unavailable


def _read_levels(
    base: Path | None,
    path: str,
    name: str,
    parse: Callable[[Path, str], Limit | Cores],
    *,
    in_container: bool,
    what: str,
) -> Limit | Cores | Unavailable:
    """Read limit file *name* at each level of *path* under *base*; the tightest wins."""
    if base is None or not _is_dir(base):
        where = base if base is not None else "/sys/fs/cgroup"
        return Unavailable(probe=PROBE, reason=f"no cgroup controller for the {what} is mounted at {where}")
    values: list[Limit | Cores] = []
    for d in _levels(base, path):
        f = d / name
        if not _exists(f):
            continue
        text = _read(f)
        if isinstance(text, Unavailable):
            return text
        try:
            values.append(parse(d, text))
        except _Unreadable as e:
            return e.unavailable
        except ValueError:
            return Unavailable(probe=PROBE, reason=f"{f} holds {text.strip()!r}, not a {what}")
    return _settle(tightest(values), in_container, f"{name} under {base}")


def _settle(value: Limit | Cores | None, in_container: bool, what: str) -> Limit | Cores | Unavailable:
    if value is not None:
        return value
    if not in_container:
        # Outside a container the whole hierarchy is visible: no limit file anywhere means no limit.
        return UNLIMITED
    return Unavailable(
        probe=PROBE,
        reason=f"no {what}: the controller is not delegated to this container, so its limit (if any) is not visible",
    )


def read_shm_size(*, root: Path) -> int | Unavailable:
    """Size of /dev/shm in bytes (what DataLoader workers share tensors through)."""
    path = root / "dev/shm"
    try:
        st = os.statvfs(path)
    except OSError as e:
        return Unavailable(
            probe=PROBE, reason=f"cannot stat {path}: {e.strerror or e} (no /dev/shm mounted?)", detail=repr(e)
        )
    return st.f_blocks * st.f_frsize


def read_device_nodes(*, root: Path) -> tuple[str, ...]:
    """The /dev/nvidia* entries (nvidiactl, nvidia-uvm, nvidia0..N, nvidia-caps, ...), sorted."""
    try:
        names = os.listdir(root / "dev")
    except OSError:
        return ()
    return tuple(sorted(f"/dev/{n}" for n in names if n.startswith("nvidia")))


def read_workdir(
    *, mounts: tuple[Mount, ...] | Unavailable, cwd: str | None, detection: Detection
) -> tuple[bool | Unavailable, str | Unavailable]:
    """(on the writable layer?, filesystem type) for the working directory."""
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError as e:
            gone = Unavailable(probe=PROBE, reason=f"the working directory is not accessible: {e.strerror or e}")
            return gone, gone
    if isinstance(mounts, Unavailable):
        return mounts, mounts
    mount = mount_for(cwd, mounts)
    if mount is None:
        none = Unavailable(probe=PROBE, reason=f"no mount in /proc/self/mountinfo holds {cwd}")
        return none, none
    return on_writable_layer(mount, in_container=detection.in_container, runtime=detection.runtime), mount.fstype


def collect_container(
    *, root: Path = Path("/"), env: Mapping[str, str] | None = None, cwd: str | None = None
) -> ContainerFacts:
    """Gather ContainerFacts with every file read under *root* (tests pass a fake tree)."""
    env = os.environ if env is None else env
    mountinfo = _read(root / "proc/self/mountinfo")
    mounts = parse_mountinfo(mountinfo) if isinstance(mountinfo, str) else mountinfo
    detection = detect_runtime(read_signals(root=root, env=env, mounts=mounts if isinstance(mounts, tuple) else ()))
    cgroup_text = _read(root / "proc/self/cgroup")
    entries = parse_cgroup(cgroup_text) if isinstance(cgroup_text, str) else ()
    version = read_cgroup_version(root=root, entries=entries)
    if isinstance(version, Unavailable):
        memory: Limit | Unavailable = version
        cpu: Cores | Unavailable = version
    else:
        memory = read_memory_limit(root=root, version=version, entries=entries, in_container=detection.in_container)
        cpu = read_cpu_limit(root=root, version=version, entries=entries, in_container=detection.in_container)
    writable, fstype = read_workdir(mounts=mounts, cwd=cwd, detection=detection)
    return ContainerFacts(
        in_container=detection.in_container,
        runtime=detection.runtime,
        kubernetes=detection.kubernetes,
        evidence=detection.evidence,
        cgroup_version=version,
        memory_limit_bytes=memory,
        cpu_limit_cores=cpu,
        shm_size_bytes=read_shm_size(root=root),
        device_nodes=read_device_nodes(root=root),
        workdir_on_writable_layer=writable,
        workdir_filesystem=fstype,
    )


def probe_container(ctx: ProbeContext) -> ContainerFacts:
    """Detect the container runtime and read its limits, /dev/shm, GPU device nodes and workdir filesystem."""
    return collect_container()
