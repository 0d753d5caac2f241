"""One node's summary, read from whatever report a fleet engine collected from it.

Accepted, each as one JSON file per node (or one file for many, ``gate --distributed``):

* ``check --format json`` / ``gate --format json`` / ``gate --output`` reports (Slurm:
  ``srun --ntasks-per-node=1 bash -c 'cudadoctor check --format json -o "$DIR/$SLURMD_NODENAME.json"'``;
  a Kubernetes Job or DaemonSet writing ``$NODE_NAME.json``);
* snapshots (``cudadoctor snapshot``): their report section;
* ``healthcheck --format json`` objects;
* rank 0's ``gate --distributed`` report: one node per host of its ``distributed.ranks``;
* plain ``--save-facts`` files, judged here with the engine (slower: the only kind that is).

The summary keeps only what the fleet view needs (verdict, finding names, driver and torch
versions, GPU models, benchmark rates), read straight from the JSON so that ten thousand reports
summarise in seconds. A file that is none of these raises :class:`BadReport` with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Verdicts as the fleet view counts them, worst last.
VERDICTS = ("ready", "degraded", "not-ready")
_RATE = re.compile(r"(?P<workload>[\w.-]+) (?P<value>\d+(?:\.\d+)?) (?P<unit>TFLOP/s|GB/s)")


class BadReport(Exception):
    """A file that is not a node report; the message says why."""


@dataclass(frozen=True, slots=True)
class Node:
    """What the fleet view knows about one node."""

    name: str
    source: str  #: the file it came from
    kind: str  #: "check", "gate", "snapshot", "healthcheck", "rank" or "facts"
    verdict: str  #: one of VERDICTS
    findings: tuple[tuple[str, str], ...]  #: (name, severity), each name once
    driver: str  #: "" unknown
    torch: str  #: "" unknown
    gpus: tuple[str, ...]  #: GPU model names
    #: benchmark rates: (gpu model, workload, unit) -> the slowest GPU of that model on this node
    bench: tuple[tuple[str, str, str, float], ...] = ()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _driver(facts: Mapping[str, Any]) -> str:
    drv = facts.get("driver")
    if not isinstance(drv, Mapping) or drv.get("unavailable"):
        return ""
    version = _text(drv.get("driver_version"))
    parts = version.split(".")
    # NOTE: facts store packaging's spelling (535.183.1); NVIDIA prints 535.183.01.
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{int(parts[1]):02d}.{int(parts[2]):02d}"
    return version


def _torch(facts: Mapping[str, Any]) -> str:
    t = facts.get("torch")
    return _text(t.get("version")) if isinstance(t, Mapping) else ""


def _gpus(facts: Mapping[str, Any]) -> tuple[str, ...]:
    drv = facts.get("driver")
    if not isinstance(drv, Mapping) or not isinstance(drv.get("gpus"), list):
        return ()
    return tuple(_text(g.get("name")) for g in drv["gpus"] if isinstance(g, Mapping))


def _bench(bench: Any) -> tuple[tuple[str, str, str, float], ...]:
    """Per (model, workload, unit): the slowest GPU's median rate."""
    if not isinstance(bench, Mapping) or not isinstance(bench.get("devices"), list):
        return ()
    worst: dict[tuple[str, str, str], float] = {}
    for d in bench["devices"]:
        if not isinstance(d, Mapping) or d.get("status") != "ok":
            continue
        for m in d.get("measurements") or ():
            value = m.get("value") if isinstance(m, Mapping) else None
            if m.get("status") != "ok" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            key = (_text(d.get("name")), _text(m.get("name")), _text(m.get("unit")))
            worst[key] = min(worst.get(key, float(value)), float(value))
    return tuple((*k, v) for k, v in sorted(worst.items()))


def _findings(items: Any) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for f in items or ():
        if isinstance(f, Mapping) and isinstance(f.get("name"), str):
            out.setdefault(f["name"], _text(f.get("severity")) or "error")
    return tuple(out.items())


def from_report(data: Mapping[str, Any], name: str, source: str, kind: str) -> Node:
    """A node from a check/gate JSON report (or a snapshot's report section, *data* then holding the facts too)."""
    facts = data.get("facts") if isinstance(data.get("facts"), Mapping) else {}
    verdict = _text(data.get("verdict"))
    if verdict not in VERDICTS:
        raise BadReport(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    gate = data.get("gate")
    if isinstance(gate, Mapping) and gate.get("verdict") == "stop":
        verdict = "not-ready"  # the gate stopped: whatever the findings' severities, the node is not ready
        kind = "gate"
    elif isinstance(gate, Mapping):
        kind = "gate"
    bench = data.get("bench") if isinstance(data.get("bench"), Mapping) else facts.get("bench")
    return Node(name=name, source=source, kind=kind, verdict=verdict, findings=_findings(data.get("findings")),
                driver=_driver(facts), torch=_torch(facts), gpus=_gpus(facts), bench=_bench(bench))


def from_healthcheck(data: Mapping[str, Any], name: str, source: str) -> Node:
    """A node from a ``healthcheck --format json`` object."""
    reasons = [*(data.get("reasons") or ()), *(data.get("notes") or ())]
    findings = _findings(reasons)
    verdict = "ready" if data.get("healthy") is True else "not-ready"
    if verdict == "ready" and findings:
        verdict = "degraded"
    return Node(name=name, source=source, kind="healthcheck", verdict=verdict, findings=findings,
                driver=_text(data.get("driver")), torch=_text(data.get("torch")), gpus=())


def from_ranks(distributed: Mapping[str, Any], source: str) -> list[Node]:
    """One node per host of a ``gate --distributed`` report's ranks (its verdict: stop if any rank stopped)."""
    by_host: dict[str, list[Mapping[str, Any]]] = {}
    for r in distributed.get("ranks") or ():
        if isinstance(r, Mapping):
            by_host.setdefault(_text(r.get("host")) or "?", []).append(r)
    missing = distributed.get("missing") if isinstance(distributed.get("missing"), Mapping) else {}
    nodes = []
    for host, ranks in sorted(by_host.items()):
        findings = _findings([x for r in ranks for x in r.get("reasons") or ()])
        verdict = "not-ready" if any(r.get("verdict") != "go" for r in ranks) else "ready"
        versions = [r.get("versions") if isinstance(r.get("versions"), Mapping) else {} for r in ranks]
        rates: dict[tuple[str, str, str], float] = {}
        for r in ranks:
            for line in r.get("bench") or ():
                for m in _RATE.finditer(str(line)):
                    key = (_text(r.get("gpu")), m.group("workload"), m.group("unit"))
                    rates[key] = min(rates.get(key, float(m.group("value"))), float(m.group("value")))
        nodes.append(Node(
            name=host, source=source, kind="rank", verdict=verdict, findings=findings,
            driver=next((_text(v.get("driver")) for v in versions if v.get("driver")), ""),
            torch=next((_text(v.get("torch")) for v in versions if v.get("torch")), ""),
            gpus=tuple(_text(r.get("gpu")) for r in ranks), bench=tuple((*k, v) for k, v in sorted(rates.items())),
        ))
    for rank, why in sorted(missing.items()):
        nodes.append(Node(name=f"rank {rank} (no answer)", source=source, kind="rank", verdict="not-ready",
                          findings=(("gate-rank-missing", "error"),), driver="", torch="", gpus=()))
    return nodes


def from_facts(data: Mapping[str, Any], name: str, source: str) -> Node:
    """A node from a plain facts file: judged here, with the checks ``check`` runs."""
    from cudadoctor.diff.compare import judge
    from cudadoctor.errors import FactsFileError
    from cudadoctor.factsfile import facts_from_dict
    from cudadoctor.render.json_report import report_dict
    from cudadoctor.tables import load_tables

    try:
        facts = facts_from_dict(data, origin=source)
    except FactsFileError as e:
        raise BadReport(str(e).removeprefix(f"{source}: ")) from None
    return from_report(report_dict(judge(facts, load_tables())), name, source, "facts")


def read_nodes(path: Path, name: str) -> list[Node]:
    """The node(s) the file at *path* describes, named *name* (a distributed report names its hosts)."""
    from cudadoctor.fleet.lean import lean_document

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BadReport(f"cannot read: {e.strerror or e}") from None
    try:
        # NOTE: the lean reader skips what the fleet view never reads; anything it does not
        # recognise (or cannot parse) is parsed whole, which also gives the precise error.
        data = lean_document(raw)
    except (ValueError, RecursionError):
        data = None
    if data is None:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as e:  # NOTE: UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise BadReport(f"not valid JSON: {str(e)[:120]}") from None
    return nodes_from(data, name, str(path))


def nodes_from(data: Any, name: str, source: str) -> list[Node]:
    """The node(s) a parsed document describes; BadReport when it is not a node report."""
    if not isinstance(data, Mapping):
        raise BadReport(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind == "cudadoctor-facts":
        report = data.get("report")
        if isinstance(report, Mapping):
            return [from_report({**report, "facts": data}, name, source, "snapshot")]
        return [from_facts(data, name, source)]
    if kind is not None:
        raise BadReport(f"a {kind} document, not a node report")
    if isinstance(data.get("distributed"), Mapping) and data["distributed"].get("ranks"):
        return from_ranks(data["distributed"], source)
    if "verdict" in data and "findings" in data:
        return [from_report(data, name, source, "check")]
    if isinstance(data.get("healthy"), bool):
        return [from_healthcheck(data, name, source)]
    raise BadReport("not a cudadoctor report (no verdict and findings, no healthy, no facts)")


#: Below this many files one process reads them all (a worker pool costs more than it saves).
PARALLEL_FROM = 2000


def _read_chunk(chunk: list[tuple[Path, str]]) -> list[tuple[str, list[Node] | str]]:
    """(file, its nodes or why it is not a report) for each file of *chunk* (runs in a worker process)."""
    out: list[tuple[str, list[Node] | str]] = []
    for path, name in chunk:
        try:
            out.append((str(path), read_nodes(path, name)))
        except BadReport as e:
            out.append((str(path), str(e)))
    return out


def read_all(files: list[Path], names: dict[Path, str], *, workers: int | None = None) -> list[tuple[str, list[Node] | str]]:
    """Every file's nodes (or why it is not a report), in file order; many files are read by a pool of processes.

    *workers*: processes to use (default: the CPUs this process may run on, from PARALLEL_FROM files).
    """
    import os

    pairs = [(f, names[f]) for f in files]
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = workers if len(files) >= PARALLEL_FROM else 1
    if workers <= 1:
        return _read_chunk(pairs)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(pairs) // (workers * 4))  # NOTE: 4 chunks per worker evens out slow files
    chunks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
    # NOTE: fork where there is one: the workers start in milliseconds with cudadoctor imported.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        return [item for part in pool.map(_read_chunk, chunks) for item in part]


def report_files(inputs: list[Path]) -> Iterator[Path]:
    """Every report file named by *inputs*: files as given, directories' ``*.json`` (recursively), sorted."""
    for p in inputs:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*.json") if x.is_file())
        else:
            yield p


def node_names(files: list[Path]) -> dict[Path, str]:
    """A name per file: its stem (Slurm's $SLURMD_NODENAME.json), or its path where stems repeat."""
    stems: dict[str, int] = {}
    for f in files:
        stems[f.stem] = stems.get(f.stem, 0) + 1
    return {f: f.stem if stems[f.stem] == 1 else str(f.with_suffix("")) for f in files}
