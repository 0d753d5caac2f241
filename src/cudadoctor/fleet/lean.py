"""Read the few fields the fleet view needs from a report cudadoctor wrote, without parsing the rest.

A ``check --format json`` report with the benchmark is about 100 KB, most of it facts and
per-sample benchmark data the fleet view never looks at; parsing ten thousand of them whole
takes longer than the five seconds the fleet view has. cudadoctor writes its documents with
``json.dumps(indent=2)``, so the members of an object at depth *d* start on a new line with
exactly 2*d spaces of indentation, and a JSON string never holds a raw newline: a byte search for
``\\n`` + indentation + ``"key": `` finds a member without reading the ones before it. Only the
small members (verdict, findings, the gate's decision) and single values are then parsed with
:mod:`json`.

:func:`lean_document` returns None for anything not in that layout (compact JSON, another
writer, a gate --distributed report): nodes.py then parses the document whole.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: A benchmark device's name and status (its keys sit 8 deep below a top-level "bench" member, in
#: the order BenchFacts.devices' DeviceResult declares them).
_DEVICE = re.compile(
    rb'\n        "name": ("(?:[^"\\\n]|\\.)*"),\n        "capability": [^\n]*\n        "uuid": [^\n]*'
    rb'\n        "pci_bus_id": [^\n]*\n        "status": ("[^"\n]*")'
)
#: A measurement's name, unit, status and value (12 deep, in Measurement's field order).
_MEASUREMENT = re.compile(
    rb'\n            "name": ("[^"\n]*"),\n            "kind": [^\n]*\n            "dtype": [^\n]*'
    rb'\n            "layout": [^\n]*\n            "unit": ("[^"\n]*"),\n            "status": ("[^"\n]*"),'
    rb'\n            "reason": [^\n]*\n            "value": ([^\n]*)'
)
_BENCH_START = b'\n  "bench": {'
#: The benchmark object's last member (BenchFacts' last field): the object closes on the next line at 2.
_BENCH_LAST = b'\n    "inject": '
#: What follows the key of a report's facts member and a snapshot's report member. NOTE: long needles
#: let bytes.find skip ahead by their length: these searches cross 50 KB of benchmark and facts.
_OPENS = {b"facts": b'{\n    "schema_version": ', b"report": b'{\n    "schema_version": '}


def _members(data: bytes, start: int, end: int, indent: int) -> dict[bytes, tuple[int, int]]:
    """The members of the object whose keys sit at *indent* inside data[start:end]: key -> (value start, value end)."""
    prefix = b"\n" + b" " * indent + b'"'
    out: dict[bytes, tuple[int, int]] = {}
    pos = data.find(prefix, start, end)
    while pos >= 0:
        key_start = pos + len(prefix)
        key_end = data.find(b'": ', key_start, end)
        if key_end < 0:
            break
        nxt = data.find(prefix, key_end, end)
        out[data[key_start:key_end]] = (key_end + 3, nxt if nxt >= 0 else end)
        pos = nxt
    return out


def _value(data: bytes, span: tuple[int, int] | None) -> Any:
    """The JSON value in *span* (a member's value, its trailing comma and the closing brackets after the last one stripped)."""
    if span is None:
        return None
    raw = data[span[0]:span[1]].rstrip()
    if raw.endswith(b","):
        raw = raw[:-1]
    try:
        return json.loads(raw)
    except ValueError:
        # NOTE: the last member of an object runs up to its parent's closing bracket(s): drop them.
        depth = 0
        for i, b in enumerate(raw):
            if b in b"[{":
                depth += 1
            elif b in b"]}":
                depth -= 1
                if depth == 0:
                    return json.loads(raw[: i + 1])
        text = raw.split(b"\n", 1)[0].rstrip(b",")
        return json.loads(text)


def _line_value(data: bytes, start: int, end: int, key: bytes) -> Any:
    """A one-line value (a string, a number) of *key* in data[start:end]; None when absent or not one line."""
    pos = data.find(key, start, end)
    if pos < 0:
        return None
    stop = data.find(b"\n", pos + len(key), end)
    raw = data[pos + len(key): stop if stop >= 0 else end].rstrip().rstrip(b",")
    if raw.startswith((b"{", b"[")):
        return None  # an Unavailable object, a list: not a plain value
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _area(data: bytes, start: int, end: int, indent: int, name: bytes) -> tuple[int, int] | None:
    """The span of area *name* of a facts object whose areas sit at *indent* (searched from *start*)."""
    prefix = b"\n" + b" " * indent + b'"'
    pos = data.find(prefix + name + b'": ', start, end)
    if pos < 0:
        return None
    begin = pos + len(prefix) + len(name) + 3
    nxt = data.find(prefix, begin, end)
    return begin, nxt if nxt >= 0 else end


def _facts_fields(data: bytes, span: tuple[int, int], indent: int) -> dict[str, Any]:
    """driver.driver_version, driver.gpus[].name and torch.version from a facts object whose areas sit at *indent*.

    NOTE: only the driver and torch areas are searched for (in the order facts are written), so the
    large areas after them (the benchmark) are never scanned.
    """
    inner = b"\n" + b" " * (indent + 2)
    out: dict[str, Any] = {"driver": {}, "torch": {}}
    drv = _area(data, span[0], span[1], indent, b"driver")
    if drv is not None:
        out["driver"]["driver_version"] = _line_value(data, drv[0], drv[1], inner + b'"driver_version": ')
        gpus = data.find(inner + b'"gpus": [', drv[0], drv[1])
        if gpus >= 0:
            # NOTE: a GPU's own keys sit 4 deeper than "gpus" (list, then object); its MIG devices' deeper still.
            name = b"\n" + b" " * (indent + 6) + rb'"name": ("(?:[^"\\]|\\.)*")'
            out["driver"]["gpus"] = [{"name": json.loads(m.group(1))} for m in re.finditer(name, data[gpus:drv[1]])]
    t = _area(data, drv[1] if drv is not None else span[0], span[1], indent, b"torch")
    if t is not None:
        out["torch"]["version"] = _line_value(data, t[0], t[1], inner + b'"version": ')
    return out


def _scalar(raw: bytes) -> Any:
    """A one-line JSON string or number, decoded without the json module's per-call cost (None for anything else)."""
    raw = raw.rstrip(b",")
    if raw[:1] == b'"':
        return raw[1:-1].decode() if b"\\" not in raw else json.loads(raw)
    try:
        return float(raw)
    except ValueError:
        return None  # an object (Unavailable) opens here, or null / true / false


def _bench(data: bytes, span: tuple[int, int]) -> dict[str, Any]:
    """The benchmark's devices and their measurements' name, unit, status and value (a top-level "bench" member)."""
    devices: list[tuple[int, dict[str, Any]]] = [
        (m.start(), {"name": _scalar(m.group(1)), "status": _scalar(m.group(2)), "measurements": []})
        for m in _DEVICE.finditer(data, span[0], span[1])
    ]
    for m in _MEASUREMENT.finditer(data, span[0], span[1]):
        owner = [d for pos, d in devices if pos < m.start()]
        if owner:
            owner[-1]["measurements"].append({"name": _scalar(m.group(1)), "unit": _scalar(m.group(2)),
                                              "status": _scalar(m.group(3)), "value": _scalar(m.group(4))})
    return {"devices": [d for _, d in devices]}


def _top(data: bytes, last: bytes) -> dict[bytes, tuple[int, int]] | None:
    """The top-level members of a document whose last member is *last* (b"facts" in a report, b"report"
    in a snapshot), found without scanning the benchmark or the facts: only the small members around them."""
    prefix = b'\n  "' + last + b'": ' + _OPENS[last]
    end = data.rfind(prefix) if last == b"report" else data.find(prefix)
    if end < 0:
        return None
    bench = data.find(_BENCH_START, 0, end)
    members = _members(data, 0, bench if bench >= 0 else end, 2)
    if bench >= 0:
        inject = data.find(_BENCH_LAST, bench, end)
        close = data.find(b"\n  }", inject, end + 4) if inject >= 0 else -1
        if close < 0:
            return None
        members[b"bench"] = (bench + len(_BENCH_START) - 1, close + 4)
        members.update(_members(data, close + 5, end, 2))
    if not _is_last(data, end, last):
        return None  # another writer put members after it: parse the document whole
    members[last] = (end + len(b'\n  "') + len(last) + 3, len(data))
    return members


def _is_last(data: bytes, start: int, last: bytes) -> bool:
    """Whether the member at *start* is the document's last one (cudadoctor writes facts / report last).

    NOTE: searched from the end, so only the tail is read: a report's facts end with their
    ``probe_seconds`` (Facts' last field), a snapshot's report section is small.
    """
    if last == b"facts":
        tail = data.rfind(b'\n    "probe_seconds": ', start)
        if tail < 0:
            return False
    else:
        tail = start + 1
        if data.find(b'\n  "', tail) >= 0:
            return False
    close = data.find(b"\n  }", tail)
    return close >= 0 and data[close:].rstrip() == b"\n  }\n}"


def lean_document(data: bytes) -> dict[str, Any] | None:
    """A report (or snapshot) reduced to what the fleet view reads, or None when it is not in cudadoctor's layout."""
    if data.startswith(b'{\n  "kind": "cudadoctor-facts",'):
        top = _top(data, b"report")
        if top is None:
            return None
        report = _value(data, top[b"report"])
        if not isinstance(report, dict):
            return None
        facts = _facts_fields(data, (0, top[b"report"][0]), 2)
        bench = _bench(data, top[b"bench"]) if b"bench" in top else None
        return {"kind": "cudadoctor-facts", "report": report, **facts, **({"bench": bench} if bench else {})}
    if not data.startswith(b'{\n  "'):
        return None
    top = _top(data, b"facts")
    if top is None or b"distributed" in top or b"kind" in top or b"verdict" not in top or b"findings" not in top:
        return None  # not a report, or one node per rank: parsed whole
    out: dict[str, Any] = {
        "verdict": _value(data, top[b"verdict"]),
        "findings": _value(data, top[b"findings"]),
        "facts": _facts_fields(data, top[b"facts"], 4),
    }
    if b"gate" in top:
        out["gate"] = _value(data, top[b"gate"])
    if b"bench" in top:
        out["bench"] = _bench(data, top[b"bench"])
    return out
