"""Facts as a flat map of fact paths to values, the form two environments are compared in.

Every leaf of the facts gets a dotted path in the style the checks' evidence uses
(``torch.version``, ``driver.gpus[0].name``, ``env.variables[LD_LIBRARY_PATH]``). Lists of records
are keyed by what identifies a record rather than by position (GPUs by index, packages by name,
library copies by family and path), so one added package is one difference, not a shifted list.
A few values are derived, because a difference there is what a reader needs: how torch's arch list
covers each GPU, the version of each library torch loaded, the GPU count and models.

Values are compared with home directories folded (``/home/ana/.venv`` and ``/home/bob/.venv`` are
the same layout on two people's machines); benchmark rates compare within :data:`RATE_TOLERANCE`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from cudadoctor.archs import Coverage, coverage
from cudadoctor.facts import AREAS, DriverFacts, Facts, TorchFacts, Unavailable, nv_version
from cudadoctor.facts_bench import BenchFacts
from cudadoctor.factsfile import encode

#: Relative difference below which two benchmark rates count as the same (run-to-run variation).
RATE_TOLERANCE = 0.10

_HOME = re.compile(r"(?:/home/|/Users/|/var/home/)[^/\s:]+")
_INDEX = re.compile(r"\[[^\]]*\]")

#: List paths (keys as ``[]``) whose records are keyed by a field rather than by position.
KEY_FIELD: dict[str, str] = {
    "driver.gpus": "index",
    "driver.gpus[].mig_devices": "index",
    "cuda_libs.resolved": "soname",
    "torch.devices": "index",
    "torch.distributions": "name",
}
#: What a keyed record reads as when only one side has it (one change, not one per field).
RECORD_SUMMARY: dict[str, str] = {
    "driver.gpus": "name",
    "driver.gpus[].mig_devices": "name",
    "cuda_libs.resolved": "path",
    "torch.devices": "name",
    "torch.distributions": "version",
}
#: Dict paths whose entries are written ``path[key]`` (they are names, not fields).
KEYED_DICTS = frozenset({"env.variables"})


@dataclass(frozen=True, slots=True)
class Item:
    """One fact's value: as shown, as compared, and (benchmark rates) as a number."""

    text: str
    key: str  #: the text with home directories folded: what equality compares
    rate: float | None = None
    #: a whole record (a GPU, a package): compared only where one side lacks it (compare.py)
    record: bool = False

    def same_as(self, other: Item) -> bool:
        """Whether the two values count as equal (rates: within RATE_TOLERANCE of each other)."""
        if self.rate is not None and other.rate is not None:
            top = max(abs(self.rate), abs(other.rate))
            return top == 0 or abs(self.rate - other.rate) / top <= RATE_TOLERANCE
        return self.key == other.key


def fold_home(text: str) -> str:
    """*text* with each home directory written ``~`` (/home/ana/x -> ~/x)."""
    return _HOME.sub("~", text)


def generic(path: str) -> str:
    """*path* with every key written ``[]`` (driver.gpus[0].name -> driver.gpus[].name)."""
    return _INDEX.sub("[]", path)


def item(text: str, rate: float | None = None) -> Item:
    """An Item of *text*."""
    return Item(text=text, key=fold_home(text).strip(), rate=rate)


def unknown_text(u: Unavailable | dict[str, Any]) -> str:
    """How an unknown value reads: 'unknown (reason)'."""
    reason = u.reason if isinstance(u, Unavailable) else str(u.get("reason", ""))
    return f"unknown ({reason})"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _is_unavailable(value: Any) -> bool:
    return isinstance(value, dict) and value.get("unavailable") is True and "reason" in value


def _walk(value: Any, path: str, out: dict[str, Item]) -> None:
    if _is_unavailable(value):
        out[path] = item(unknown_text(value))
    elif isinstance(value, dict):
        keyed = generic(path) in KEYED_DICTS
        for k, v in value.items():
            _walk(v, f"{path}[{k}]" if keyed else f"{path}.{k}" if path else str(k), out)
    elif isinstance(value, list):
        field = KEY_FIELD.get(generic(path))
        if value and all(isinstance(v, dict) and not _is_unavailable(v) for v in value):
            summary = RECORD_SUMMARY.get(generic(path))
            for i, v in enumerate(value):
                key = fold_home(_scalar(v.get(field, i))) if field else str(i)
                if summary:
                    text = unknown_text(v[summary]) if _is_unavailable(v.get(summary)) else _scalar(v.get(summary))
                    out[f"{path}[{key}]"] = Item(text=text, key=fold_home(text), record=True)
                _walk(v, f"{path}[{key}]", out)
        else:
            out[path] = item(", ".join(_scalar(v) for v in value) if value else "(none)")
    else:
        out[path] = item(_scalar(value))


def flatten(facts: Facts) -> dict[str, Item]:
    """Every fact of *facts* as path -> Item, derived values included.

    An area that could not be probed is one entry (``torch``: "unknown (reason)"). The ``ranks`` and
    ``drift`` areas are left out: they describe one job and one comparison, not the environment.
    """
    out: dict[str, Item] = {}
    data = encode(facts)
    for name in ("schema_version", "cudadoctor_version", "collected_at"):
        out[name] = item(_scalar(data.get(name)))
    for area in AREAS:
        value = data.get(area)
        if area == "cuda_libs" and isinstance(value, dict) and not _is_unavailable(value):
            value = dict(value)
            _copies(value.pop("copies", []), out)
        if area == "torch" and isinstance(value, dict) and not _is_unavailable(value):
            value = dict(value)
            _loaded(value.pop("loaded_libraries", []), facts, out)
        _walk(value, area, out)
    if isinstance(facts.driver, DriverFacts):
        # NOTE: driver versions read as NVIDIA prints them (535.183.01, not Version's 535.183.1).
        for name in ("driver_version", "kernel_module_version", "libcuda_version"):
            value = getattr(facts.driver, name)
            if isinstance(value, Version):
                out[f"driver.{name}"] = item(nv_version(value))
    for k, v in facts.probe_seconds.items():
        out[f"probe_seconds.{k}"] = item(_scalar(v))
    _derived(facts, out)
    _bench(facts.bench, out)
    return out


def _copies(copies: Any, out: dict[str, Item]) -> None:
    """One entry per library copy on disk: 'libcudart@/path' -> '12.1.105 (pip-wheel)'."""
    if _is_unavailable(copies):
        out["cuda_libs.copies"] = item(unknown_text(copies))
        return
    for c in copies:
        version = unknown_text(c["version"]) if _is_unavailable(c.get("version")) else _scalar(c.get("version"))
        out[f"cuda_libs.copies[{c.get('library')}@{fold_home(str(c.get('path')))}]"] = item(f"{version} ({c.get('origin')})")


def _loaded(loaded: Any, facts: Facts, out: dict[str, Item]) -> None:
    """One entry per library family torch mapped, with the version of that file when known."""
    if _is_unavailable(loaded):
        out["torch.loaded_libraries"] = item(unknown_text(loaded))
        return
    versions: dict[str, str] = {}
    libs = facts.cuda_libs
    if not isinstance(libs, Unavailable):
        for c in libs.copies:
            if isinstance(c.version, Version):
                versions.setdefault(c.path, str(c.version))
                versions.setdefault(c.real_path, str(c.version))
    families = Counter(str(x.get("library")) for x in loaded)
    for x in loaded:
        family, path = str(x.get("library")), str(x.get("path"))
        key = family if families[family] == 1 else f"{family}@{fold_home(path)}"
        version = versions.get(path)
        out[f"torch.loaded_libraries[{key}]"] = item(f"{version} ({path})" if version else path)


def _derived(facts: Facts, out: dict[str, Item]) -> None:
    """The GPU count and models, and how torch's arch list covers each GPU."""
    drv, t = facts.driver, facts.torch
    if not isinstance(drv, DriverFacts):
        return
    models = Counter(g.name for g in drv.gpus)
    out["driver.gpus"] = item(", ".join(f"{n} × {m}" for m, n in models.items()) if models else "no GPUs visible")
    if not isinstance(t, TorchFacts) or isinstance(t.arch_list, Unavailable):
        return
    words = {Coverage.SASS: "native code", Coverage.PTX: "PTX only (JIT at first use)", Coverage.NONE: "not covered"}
    for g in drv.gpus:
        if isinstance(g.compute_capability, Version):
            kind, entry = coverage(g.compute_capability, t.arch_list)
            text = f"{g.name} (cc {g.compute_capability}): {words[kind]}" + (f" ({entry})" if entry else "")
            out[f"arch.coverage[GPU {g.index}]"] = item(text)


def _bench(bench: BenchFacts | Unavailable, out: dict[str, Item]) -> None:
    """The benchmark's outcome per GPU and workload, and each rate (compared with a tolerance)."""
    if isinstance(bench, Unavailable):
        return  # not run: nothing to compare (a run on one side only shows in the findings)
    out["bench.status"] = item(bench.status + (f" ({bench.reason})" if bench.reason else ""))
    for d in bench.devices:
        out[f"bench.devices[{d.index}].status"] = item(f"{d.status}: {d.name}" + (f" ({d.reason})" if d.reason else ""))
        for m in d.measurements:
            base = f"bench.devices[{d.index}].measurements[{m.name}]"
            out[f"{base}.status"] = item(m.status)
            if isinstance(m.value, float):
                out[f"{base}.rate"] = item(f"{m.value:.4g} {m.unit}", rate=m.value)
