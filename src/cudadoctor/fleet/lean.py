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

_BENCH_TOKEN = {  # (indent of a device's keys, of a measurement's keys) below a top-level "bench" member
    "device": 8, "measurement": 12,
}
_BENCH = re.compile(rb'\n( {8}| {12})"(name|status|unit|value)": ([^\n]*)')


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
    devices: list[dict[str, Any]] = []
    for m in _BENCH.finditer(data, span[0], span[1]):
        depth, key = len(m.group(1)), m.group(2).decode()
        value = _scalar(m.group(3))
        if depth == _BENCH_TOKEN["device"]:
            if key == "name":
                devices.append({"name": value, "status": "", "measurements": []})
            elif key == "status" and devices:
                devices[-1]["status"] = value
        elif devices:
            ms = devices[-1]["measurements"]
            if key == "name":
                ms.append({"name": value})
            elif ms:
                ms[-1][key] = value
    return {"devices": devices}


def lean_document(data: bytes) -> dict[str, Any] | None:
    """A report (or snapshot) reduced to what the fleet view reads, or None when it is not in cudadoctor's layout."""
    if not data.startswith(b'{\n  "'):
        return None
    top = _members(data, 0, len(data), 2)
    if b"distributed" in top or b"healthy" in top:
        return None  # small, or one node per rank: parsed whole
    if top.get(b"kind") is not None:
        if _value(data, top[b"kind"]) != "cudadoctor-facts" or b"report" not in top:
            return None
        report = _value(data, top[b"report"])
        if not isinstance(report, dict):
            return None
        facts = _facts_fields(data, (0, len(data)), 2)
        bench = _bench(data, top[b"bench"]) if b"bench" in top else None
        return {"kind": "cudadoctor-facts", "report": report, **facts, **({"bench": bench} if bench else {})}
    if b"verdict" not in top or b"findings" not in top or b"facts" not in top:
        return None
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
