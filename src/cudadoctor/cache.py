"""The cache of slow facts (torch, cuda_libs, toolkit), keyed by everything they depend on.

Used by ``check``, ``gate`` and ``healthcheck`` through probes/cached.py. An entry is one JSON
file per fact area and key. The *key* holds what is known before probing (the inspected
interpreter and its mtime, the environment variables the probe reads, the text of
/proc/driver/nvidia/version, cudadoctor's version); the entry also records *dependencies*:
files and directories the probe's answer came from (torch's install directory and its
dist-info RECORD, the nvidia-* wheels' RECORDs, every library torch mapped, every directory the
library scan listed, /etc/ld.so.cache, nvcc, gcc), each with its stat signature, and *live*
state checked once it is known (for torch: the driver state NVML and libcuda reported this
run). An entry is used only when the key is equal, every dependency's signature is unchanged
and the live state matches; anything else (a changed file, a corrupt, partial, foreign or
directory-shaped entry, a symlink, a file owned by someone else) is a miss, and the fresh
answer replaces the file atomically (temp file + os.replace, which replaces a symlink rather
than writing through it).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cudadoctor._version import __version__
from cudadoctor.keyed_entries import key_digest, replace_file

if TYPE_CHECKING:
    from cudadoctor.facts import DriverFacts, Unavailable

# NOTE: the facts module is imported where it is used: `cudadoctor --help` and `explain` re-use
# this module's directory rules (fastpath.py) and must not pay for it.

#: Marks a cache entry, so any other JSON file in the directory is ignored.
CACHE_KIND = "cudadoctor-healthcheck-cache"
#: Bumped whenever the entry layout or the meaning of a key changes (2: stored_at, live, RECORDs).
CACHE_SCHEMA = 2
#: Entries kept per area: a few interpreters or environments may alternate on one machine.
KEEP_PER_AREA = 8
#: Seconds after which a temporary file in the cache directory is a killed writer's leftover.
STALE_TEMP_S = 60.0
#: The dynamic loader's cache; a new library (ldconfig) changes it.
LD_SO_CACHE = "/etc/ld.so.cache"
#: The loaded kernel module's version line; a driver upgrade or reload changes it.
PROC_DRIVER_VERSION = "/proc/driver/nvidia/version"
#: Prefixes of environment variables that are part of a key as a whole family (the NVIDIA
#: container runtime's NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES, NVIDIA_REQUIRE_*, ...).
KEY_PREFIXES: Mapping[str, tuple[str, ...]] = {"torch": ("NVIDIA_",), "cuda_libs": ("NVIDIA_",), "toolkit": ()}
#: Distributions whose dist-info RECORD is a dependency: a reinstall rewrites it even at the same version.
RECORD_DISTRIBUTIONS = ("torch", "nvidia_")

#: Environment variables each slow probe's answer depends on (they are part of the key).
KEY_VARIABLES: Mapping[str, tuple[str, ...]] = {
    # NOTE: torch's device list honours CUDA_VISIBLE_DEVICES / CUDA_DEVICE_ORDER, and the NVIDIA
    # container runtime reads NVIDIA_VISIBLE_DEVICES; the loader reads LD_LIBRARY_PATH/LD_PRELOAD;
    # the interpreter's sys.path depends on PYTHONPATH, PYTHONHOME, user site (HOME).
    "torch": (
        "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONSAFEPATH",
        "HOME", "CONDA_PREFIX", "VIRTUAL_ENV", "CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES",
        "CUDA_DEVICE_ORDER", "NVIDIA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
        "PYTORCH_NVML_BASED_CUDA_CHECK", "CUDA_MODULE_LOADING",
    ),
    "cuda_libs": (
        "LD_LIBRARY_PATH", "LD_PRELOAD", "CUDA_HOME", "CUDA_PATH", "CONDA_PREFIX", "PATH", "PYTHONPATH",
        "PYTHONHOME", "PYTHONNOUSERSITE", "HOME",
    ),
    "toolkit": ("CUDA_HOME", "CUDA_PATH", "CONDA_PREFIX", "PATH"),
}


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """$XDG_CACHE_HOME/cudadoctor, else ~/.cache/cudadoctor (the XDG base directory rule)."""
    # NOTE: https://specifications.freedesktop.org/basedir-spec/latest/ - a relative
    # XDG_CACHE_HOME is invalid and must be ignored.
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "cudadoctor"
    home = environ.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".cache" / "cudadoctor"


# --------------------------------------------------------------------------------------------
# keys and dependencies (pure, apart from stat)


def signature(path: str) -> list[int] | None:
    """Stat signature of *path* (following symlinks): [mtime_ns, ctime_ns, inode, size], or None if absent.

    ctime cannot be set back by tools that preserve mtimes, and a replaced file has a new inode.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size]


def snapshot(paths: Iterable[str]) -> dict[str, list[int] | None]:
    """Signatures of *paths* (absolute paths only; duplicates once)."""
    return {p: signature(p) for p in dict.fromkeys(p for p in paths if p and os.path.isabs(p))}


def driver_fingerprint(driver: DriverFacts | Unavailable) -> dict[str, Any]:
    """The live driver state torch's answer depends on (is_available, device list).

    When the driver recovers, is upgraded, or a GPU disappears, torch is probed again.
    """
    from cudadoctor.facts import Unavailable

    if isinstance(driver, Unavailable):
        return {"unavailable": driver.probe}
    return {
        "nvml_status": driver.nvml_status,
        "driver_version": str(driver.driver_version) if not isinstance(driver.driver_version, Unavailable) else None,
        "kernel_module": str(driver.kernel_module_version)
        if not isinstance(driver.kernel_module_version, Unavailable) else None,
        "libcuda_path": driver.libcuda_path if isinstance(driver.libcuda_path, str) else None,
        "cu_init": driver.cu_init_result if isinstance(driver.cu_init_result, int) else None,
        "cu_devices": driver.cu_device_count if isinstance(driver.cu_device_count, int) else None,
        "gpus": [[g.uuid, [m.uuid for m in g.mig_devices]] for g in driver.gpus],
    }


def read_proc_driver_version(path: str | None = None) -> str | None:
    """The text of /proc/driver/nvidia/version (None when absent or unreadable): part of a key."""
    try:
        with open(path or PROC_DRIVER_VERSION, "rb") as f:
            return f.read(8192).decode("utf-8", "replace")
    except OSError:
        return None


def key_environment(area: str, environ: Mapping[str, str]) -> dict[str, str | None]:
    """The variables *area*'s answer depends on: the named ones (None when unset) and every
    variable of its prefix families that is set."""
    env: dict[str, str | None] = {name: environ.get(name) for name in KEY_VARIABLES[area]}
    for prefix in KEY_PREFIXES.get(area, ()):
        # NOTE: a family may hold credentials (NVIDIA_API_KEY=nvapi-...): the entry keeps a digest
        # of each value, never the value, since entries are files on disk.
        env.update({k: value_digest(v) for k, v in sorted(environ.items()) if k.startswith(prefix)})
    return env


def value_digest(value: str) -> str:
    """A stand-in for an environment value in a stored key: equal values, equal digests; never the value."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def area_key(
    area: str,
    *,
    python: str,
    environ: Mapping[str, str],
    cwd: str = "",
    driver: Mapping[str, Any] | None = None,
    proc_version: str | None = None,
) -> dict[str, Any]:
    """Everything known before probing that *area*'s answer depends on, as JSON data.

    *driver* (the healthcheck's former key part) is kept for callers that know it before
    probing; probes/cached.py checks it as live state instead, so the torch child can start
    before the driver probe has answered.
    """
    from cudadoctor.facts import FACTS_SCHEMA_VERSION

    real = os.path.realpath(python)
    key: dict[str, Any] = {
        "area": area,
        "cudadoctor": __version__,
        "facts_schema": FACTS_SCHEMA_VERSION,
        # NOTE: the library scan's children run in the doctor's own interpreter.
        "doctor_python": [os.path.realpath(sys.executable), sys.version],
        "env": key_environment(area, environ),
    }
    if area in ("torch", "cuda_libs"):
        key["python"] = [real, signature(real)]
        key["proc_driver_version"] = proc_version
    if area == "torch":
        # NOTE: `python -c` puts the working directory first on sys.path: a ./torch there wins.
        key["cwd"] = cwd
        if driver is not None:
            key["driver"] = dict(driver)
    return key


def record_files(site_dirs: Iterable[str]) -> list[str]:
    """The dist-info RECORD files of torch and the nvidia-* wheels in *site_dirs*.

    NOTE: pip rewrites RECORD on every install, so a reinstall of the same version (a repaired
    wheel, a different CUDA variant under the same version number) changes its signature.
    """
    found: list[str] = []
    for site in site_dirs:
        try:
            names = os.listdir(site)
        except OSError:
            continue
        for name in sorted(names):
            if name.endswith(".dist-info") and name.lower().startswith(RECORD_DISTRIBUTIONS):
                if name.lower().startswith("torch") and not name.lower().startswith("torch-"):
                    continue  # torchvision, torchaudio: not what the torch fact reads
                found.append(os.path.join(site, name, "RECORD"))
    return found


def dependency_paths(
    area: str,
    value: Any,
    *,
    environ: Mapping[str, str],
    sys_path: Sequence[str] = (),
) -> list[str]:
    """Files and directories *value* (the area's fresh facts) was read from, to re-stat on each use."""
    from cudadoctor.facts import CudaLibsFacts, ToolkitFacts, TorchFacts, Unavailable

    paths: list[str] = [LD_SO_CACHE]
    site_dirs = [p for p in sys_path if p and os.path.isabs(p)]
    if area in ("torch", "cuda_libs"):
        paths += record_files(site_dirs)
    if area == "torch" and isinstance(value, TorchFacts):
        # A pip install/uninstall changes the site-packages directories; an upgrade replaces torch/.
        paths += site_dirs
        if isinstance(value.location, str):
            paths += [value.location, os.path.dirname(value.location),
                      os.path.join(value.location, "version.py"), os.path.join(value.location, "lib")]
        if not isinstance(value.loaded_libraries, Unavailable):
            paths += [lib.path for lib in value.loaded_libraries]
    elif area == "cuda_libs" and isinstance(value, CudaLibsFacts):
        paths += list(value.searched)
        paths += [p for c in value.copies for p in (c.path, c.real_path)]
        paths += list(value.libcuda_files)
        paths += [r.path for r in value.resolved if isinstance(r.path, str)]
        # Directories whose appearance would add copies: a new /usr/local/cuda-X, CUDA_HOME, pip wheels.
        paths += ["/usr/local", *value.ld_library_path]
        paths += [d for d in environ.get("LD_LIBRARY_PATH", "").split(":") if d]
        paths += [environ[k] for k in ("CUDA_HOME", "CUDA_PATH", "CONDA_PREFIX") if environ.get(k)]
        paths += site_dirs + [os.path.join(s, "nvidia") for s in site_dirs]
    elif area == "toolkit" and isinstance(value, ToolkitFacts):
        for p in (value.cuda_home, value.nvcc_path, value.gcc_path):
            if isinstance(p, str):
                paths.append(p)
        if isinstance(value.cuda_home, str):
            paths += [os.path.join(value.cuda_home, "version.json"), os.path.join(value.cuda_home, "version.txt")]
        paths += ["/usr/local/cuda"]
        # A new nvcc or gcc earlier on PATH changes which one is used.
        paths += [d for d in environ.get("PATH", "").split(os.pathsep) if d]
    return paths


def cacheable(area: str, value: Any) -> bool:
    """Whether a fresh answer may be reused: failures that may be transient never are."""
    from cudadoctor.facts import TorchFacts, Unavailable

    if isinstance(value, Unavailable):
        return False
    if area == "torch" and isinstance(value, TorchFacts):
        # NOTE: a timeout or a crash during `import torch` may be load or a sick GPU: try again next time.
        return value.status in ("ok", "not-installed", "import-failed")
    return True


# --------------------------------------------------------------------------------------------
# the directory


def fallback_dirs() -> list[Path]:
    """Where to cache when the default directory is unusable (read-only root fs, HOME=/): a private
    directory in the temporary directory, named for this user."""
    return [Path(tempfile.gettempdir()) / f"cudadoctor-{os.geteuid()}"]


def _usable(directory: Path, *, private: bool) -> str:
    """Why *directory* cannot hold the cache ("" when it can); creates it 0700 if missing.

    A *private* (shared-parent) directory must also be ours and not writable by others, so that
    nobody else can plant or swap entries.
    """
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(directory)
    except OSError as e:
        return str(e.strerror or e)
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return "not writable"
    if private and (st.st_uid != os.geteuid() or st.st_mode & 0o022):
        return "owned by another user or writable by others"
    return ""


class Entry:
    """What a lookup found: the value (None on a miss) and why not, its age and its live state."""

    __slots__ = ("value", "why", "age", "live")

    def __init__(self, value: Any | None, why: str, *, age: float = 0.0, live: dict[str, Any] | None = None) -> None:
        self.value = value  #: the decoded facts, or None on a miss
        self.why = why  #: why it is a miss ("" on a hit)
        self.age = age  #: seconds since the value was probed
        self.live = live  #: live state the value depends on (None: none)


def _masked(key: Mapping[str, Any]) -> Any:
    from cudadoctor.redact import redact_value

    return redact_value(json.loads(json.dumps(key)))


class FactsCache:
    """A directory of cache entries; every failure to read or write is a miss, never an error."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.note = "" if directory is not None else "cache disabled"  #: why the cache is not used

    @classmethod
    def open(cls, directory: Path | None, *, fallbacks: Sequence[Path] = ()) -> FactsCache:
        """The cache at *directory* (created 0700 if missing), else the first usable *fallbacks*,
        else a disabled one (the healthcheck then probes everything: slower, never unhealthy)."""
        if directory is None:
            return cls(None)
        notes: list[str] = []
        for candidate in (directory, *fallbacks):
            why = _usable(candidate, private=candidate != directory)
            if not why:
                cache = cls(candidate)
                cache.note = "; ".join(notes)
                return cache
            notes.append(f"cache directory {candidate} unusable ({why})")
        cache = cls(None)
        cache.note = "; ".join(notes) + "; running without cache"
        return cache

    @property
    def enabled(self) -> bool:
        """Whether entries are read and written."""
        return self.directory is not None

    def path_for(self, area: str, key: Mapping[str, Any]) -> Path:
        """The entry file for *area* and *key*."""
        assert self.directory is not None
        return self.directory / f"{area}-{key_digest(key)[:24]}.json"

    def load(self, area: str, key: Mapping[str, Any]) -> tuple[Any | None, str]:
        """(facts, "") on a hit; (None, why) on a miss. An entry with live state is a miss here
        (use :meth:`lookup` and compare it)."""
        entry = self.lookup(area, key)
        if entry.value is not None and entry.live is not None:
            return None, "live state not checked"
        return entry.value, entry.why

    def lookup(self, area: str, key: Mapping[str, Any]) -> Entry:
        """The entry for *area* and *key* whose dependencies are unchanged, or a miss saying why.

        The caller still compares :attr:`Entry.live` with the live state before using the value.
        """
        if self.directory is None:
            return Entry(None, self.note)
        path = self.path_for(area, key)
        try:
            # NOTE: O_NOFOLLOW: a symlink planted in place of an entry is refused, not followed.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return Entry(None, "no entry")
        except OSError as e:
            return Entry(None, f"unreadable entry ({e.strerror or e})")
        try:
            st = os.fstat(fd)
            # NOTE: a shared or world-writable cache directory must not let another user plant facts.
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                return Entry(None, "entry not a regular file owned by this user")
            with os.fdopen(fd, "rb") as f:
                fd = -1
                raw = f.read(16 << 20)
        except OSError as e:
            return Entry(None, f"unreadable entry ({e.strerror or e})")
        finally:
            if fd >= 0:
                os.close(fd)
        return self._validate(area, key, raw)

    def _validate(self, area: str, key: Mapping[str, Any], raw: bytes) -> Entry:
        from cudadoctor.errors import FactsFileError
        from cudadoctor.factsfile import decode_area

        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return Entry(None, "corrupt entry (not JSON)")
        if not isinstance(entry, dict) or entry.get("kind") != CACHE_KIND or entry.get("schema") != CACHE_SCHEMA:
            return Entry(None, "foreign entry (not a cudadoctor cache entry of this schema)")
        if entry.get("area") != area or entry.get("key_sha256") != key_digest(key):
            return Entry(None, "key changed")
        deps = entry.get("deps")
        stored_at = entry.get("stored_at")
        live = entry.get("live")
        if not isinstance(deps, dict) or not isinstance(stored_at, (int, float)) or not isinstance(live, (dict, type(None))):
            return Entry(None, "corrupt entry (no dependencies)")
        for path, sig in deps.items():
            if signature(path) != sig:
                return Entry(None, f"{path} changed")
        try:
            value = decode_area(area, entry.get("facts"), origin=str(self.path_for(area, key)))
        except FactsFileError as e:
            return Entry(None, f"corrupt entry ({e})")
        # NOTE: a clock set back makes a negative age; say 0 rather than a future entry.
        return Entry(value, "", age=max(0.0, time.time() - stored_at), live=live)

    def store(self, area: str, key: Mapping[str, Any], value: Any, deps: Iterable[str],
              *, live: Mapping[str, Any] | None = None) -> bool:
        """Write an entry atomically (temp file in the same directory, then os.replace); False on failure.

        *live* is the live state the value depends on, compared by the reader (:meth:`lookup`).
        """
        if self.directory is None:
            return False
        from cudadoctor.factsfile import encode_area

        entry = {
            "kind": CACHE_KIND,
            "schema": CACHE_SCHEMA,
            "area": area,
            # NOTE: keys hold environment values (NVIDIA_* variables, paths), and a secret among
            # them (NVIDIA_API_KEY) must not land in the file: the key is kept masked, for people
            # reading the file, and entries are matched by the digest of the real key.
            "key": _masked(key),
            "key_sha256": key_digest(key),
            "stored_at": time.time(),
            "live": None if live is None else dict(live),
            "deps": snapshot(deps),
            "facts": encode_area(value),
        }
        path = self.path_for(area, key)
        try:
            replace_file(str(path), json.dumps(entry, separators=(",", ":")), str(self.directory), f".{path.name}.")
        except (OSError, TypeError, ValueError) as e:
            self.note = f"could not write {path}: {getattr(e, 'strerror', None) or e}"
            return False
        self._prune(area)
        return True

    def _prune(self, area: str) -> None:
        """Keep the KEEP_PER_AREA newest entries of *area* (old interpreters and environments go),
        and remove temporary files that a killed writer left behind."""
        assert self.directory is not None
        try:
            files = list(self.directory.iterdir())
            # NOTE: Docker kills a healthcheck that overruns HEALTHCHECK --timeout, possibly between
            # mkstemp and os.replace; its temp file would stay forever. One a minute old is no
            # longer being written (a write takes milliseconds).
            stale = time.time() - STALE_TEMP_S
            for p in files:
                if p.name.startswith(f".{area}-") and p.suffix == ".tmp" and p.stat().st_mtime < stale:
                    p.unlink()
            entries = [p for p in files if p.name.startswith(f"{area}-") and p.suffix == ".json"]
            if len(entries) <= KEEP_PER_AREA:
                return
            entries.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
            for old in entries[KEEP_PER_AREA:]:
                old.unlink()
        except OSError:
            pass
