"""Slow facts re-used across runs: the torch child, the CUDA library scan and the toolkit versions.

``check``, ``gate`` and ``healthcheck`` all go through :class:`SlowFacts`. For each slow area it
looks up the cache entry (cache.py) whose key matches what is known before probing (the
interpreter and its mtime, the loader-relevant environment, /proc/driver/nvidia/version) and
whose dependencies are unchanged (torch's files and RECORD, the nvidia-* wheels' RECORDs, every
library torch mapped, the directories the scan listed, nvcc, gcc). Torch's answer also depends on
live driver state (is a GPU gone, did cuInit start failing): the entry keeps the driver
fingerprint it was probed with, and the value is used only if this run's driver probe reports
the same. Live facts (host, env, container, the driver through NVML and libcuda) are never cached.

A cold run is no slower than without a cache: the lookup is a few stat calls, and when no entry
is a candidate the real probe starts at once; the torch child only waits for the driver probe
when a candidate exists (then the driver answer decides between the entry and a fresh probe).
The record of what came from the cache and how old it was goes into ``Facts.cached``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cudadoctor.probes.base import Probe, ProbeContext

#: The areas whose answers are cached; everything else is read live on every run.
SLOW_AREAS: tuple[str, ...] = ("cuda_libs", "toolkit", "torch")
#: Environment variable that bypasses the cache like --fresh (probe everything, then store).
FRESH_VARIABLE = "CUDADOCTOR_FRESH"
#: Environment variable naming the cache directory (the healthcheck's --cache-dir reads it too).
DIR_VARIABLE = "CUDADOCTOR_CACHE_DIR"
#: Values of CUDADOCTOR_FRESH that turn it on (click's spelling, so every command agrees).
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})


def fresh_from_environment(environ: Mapping[str, str]) -> bool:
    """Whether CUDADOCTOR_FRESH asks to bypass the cache."""
    return environ.get(FRESH_VARIABLE, "").strip().lower() in TRUE_WORDS


def open_cache(environ: Mapping[str, str], directory: str | None = None, *, disabled: str = "") -> Any:
    """The FactsCache to use: *directory*, else $CUDADOCTOR_CACHE_DIR, else the XDG default with
    a private fallback under the temporary directory. *disabled* (a reason) turns it off."""
    from cudadoctor.cache import FactsCache, default_cache_dir, fallback_dirs

    if disabled:
        cache = FactsCache(None)
        cache.note = disabled
        return cache
    explicit = directory or environ.get(DIR_VARIABLE, "")
    if explicit:
        # An explicit directory is used or not at all.
        return FactsCache.open(Path(explicit))
    return FactsCache.open(default_cache_dir(environ), fallbacks=fallback_dirs())


class DriverWaiter:
    """The driver probe's answer, handed from the thread that probes to those that need it."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Any = None

    def set(self, value: Any) -> None:
        """Record the driver facts (or Unavailable)."""
        self._value = value
        self._done.set()

    def get(self, timeout: float | None = None) -> Any | None:
        """The driver facts, waiting up to *timeout* seconds; None if they did not come."""
        return self._value if self._done.wait(timeout) else None

    def wrap(self, probe: Probe) -> Probe:
        """*probe* (the driver's), recording its answer here as well as returning it."""

        def driver_probe(ctx: ProbeContext) -> Any:
            try:
                value = probe(ctx)
            except BaseException as e:
                from cudadoctor.facts import Unavailable

                self.set(Unavailable(probe="driver", reason=f"the driver probe failed: {type(e).__name__}"))
                raise
            self.set(value)
            return value

        return driver_probe


class SlowFacts:
    """Cached versions of the slow probes for one run, and the record of hits and misses."""

    def __init__(self, cache: Any, *, python: str, environ: Mapping[str, str], cwd: str,
                 fresh: bool = False, driver: DriverWaiter | None = None, timeout: float = 30.0) -> None:
        from cudadoctor.cache import read_proc_driver_version

        self.cache = cache
        self.python = python
        self.environ = dict(environ)
        self.cwd = cwd
        self.fresh = fresh
        self.driver = driver or DriverWaiter()
        self.timeout = timeout  #: how long torch waits for the driver's answer, and sys.path's child
        self.proc_version = read_proc_driver_version()
        self.ages: dict[str, float] = {}  #: area -> age in seconds of the cached value used
        self.misses: dict[str, str] = {}  #: area -> why it was probed
        self._lock = threading.Lock()
        self._sys_path: list[str] | None = None

    def key(self, area: str) -> dict[str, Any]:
        """*area*'s cache key for this run."""
        from cudadoctor.cache import area_key

        return area_key(area, python=self.python, environ=self.environ, cwd=self.cwd, proc_version=self.proc_version)

    def live(self, area: str) -> dict[str, Any] | None:
        """The live state *area*'s answer depends on (torch: the driver's fingerprint), or None
        when the driver did not answer in time (the value is then neither used nor stored)."""
        if area != "torch":
            return {}
        from cudadoctor.cache import driver_fingerprint

        driver = self.driver.get(self.timeout)
        return None if driver is None else driver_fingerprint(driver)

    def run(self, area: str, probe: Probe, ctx: ProbeContext) -> Any:
        """*area*'s facts: the cached value when nothing it depends on changed, else *probe*'s
        answer (stored for the next run when it may be reused)."""
        if not self.cache.enabled or self.fresh:
            why = "--fresh" if self.fresh else (self.cache.note or "cache disabled")
            return self._probe(area, probe, ctx, why, store=self.fresh and self.cache.enabled)
        key = self.key(area)
        entry = self.cache.lookup(area, key)
        if entry.value is not None:
            wanted = entry.live or {}
            now = self.live(area)
            if now is not None and _same(now, wanted):
                with self._lock:
                    self.ages[area] = round(entry.age, 1)
                return entry.value
            return self._probe(area, probe, ctx, "driver state changed", key=key)
        return self._probe(area, probe, ctx, entry.why, key=key)

    def _probe(self, area: str, probe: Probe, ctx: ProbeContext, why: str, *,
               key: dict[str, Any] | None = None, store: bool = True) -> Any:
        from cudadoctor.probes.base import run_probe

        with self._lock:
            self.misses[area] = why
        value, _ = run_probe(area, probe, ctx)
        if store and self.cache.enabled:
            self._store(area, key or self.key(area), value)
        return value

    def _store(self, area: str, key: dict[str, Any], value: Any) -> None:
        from cudadoctor.cache import cacheable, dependency_paths

        if not cacheable(area, value):
            return
        try:
            live = self.live(area)
            if live is None:
                return  # NOTE: the driver never answered: the fingerprint to check later is unknown
            sys_path = self.sys_path() if area in ("torch", "cuda_libs") else []
            deps = dependency_paths(area, value, environ=self.environ, sys_path=sys_path)
            self.cache.store(area, key, value, deps, live=live if area == "torch" else None)
        except Exception as e:  # noqa: BLE001 - a cache that cannot be written is not a finding
            self.cache.note = f"could not cache {area}: {type(e).__name__}: {e}"

    def sys_path(self) -> list[str]:
        """``sys.path`` of the inspected interpreter (one child, shared by the areas that need it)."""
        with self._lock:
            if self._sys_path is None:
                from cudadoctor.probes.cuda_libs import read_sys_path

                self._sys_path = read_sys_path(self.python, self.timeout, self.environ)
            return self._sys_path

    def wrap(self, probes: Mapping[str, Probe]) -> dict[str, Probe]:
        """*probes* with the slow ones cached and the driver's answer shared with torch's."""
        out = dict(probes)
        for area in SLOW_AREAS:
            if area in out:
                out[area] = _bound(self, area, out[area])
        if "driver" in out:
            out["driver"] = self.driver.wrap(out["driver"])
        elif "torch" in out:
            self.driver.set(_no_driver_probe())
        return out

    def cached(self) -> dict[str, float]:
        """Area -> age in seconds of each value that came from the cache (Facts.cached)."""
        with self._lock:
            return dict(sorted(self.ages.items()))

    def summary(self) -> dict[str, Any]:
        """Where the cache is, why each probed area was probed and how old each cached one is, in
        seconds (the healthcheck's "cache" key)."""
        out: dict[str, Any] = {"directory": str(self.cache.directory) if self.cache.directory else None,
                               "misses": dict(sorted(self.misses.items())), "ages": self.cached()}
        if self.cache.note:
            out["note"] = self.cache.note
        return out


def _bound(slow: SlowFacts, area: str, probe: Probe) -> Probe:
    def cached_probe(ctx: ProbeContext) -> Any:
        return slow.run(area, probe, ctx)

    return cached_probe


def _same(now: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    import json

    # NOTE: the stored state went through JSON (tuples became lists): compare it the same way.
    return json.loads(json.dumps(now)) == json.loads(json.dumps(wanted))


def _no_driver_probe() -> Any:
    from cudadoctor.facts import Unavailable

    return Unavailable(probe="driver", reason="the driver probe was not run")


def cwd_or_empty() -> str:
    """The working directory ("" when it was removed): part of torch's key."""
    try:
        return os.getcwd()
    except OSError:
        return ""
