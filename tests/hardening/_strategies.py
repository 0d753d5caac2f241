"""Hypothesis strategies for fuzzing cudadoctor's parsers: nasty text, mutated real samples, mutated JSON/TOML."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

T = TypeVar("T")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

#: The longest one parser call may take: catastrophic regex backtracking or a loop that never ends
#: shows up as a failure, not as a slow CI run.
CALL_LIMIT_S = 2.0
#: A call that has not returned after this long is interrupted (it would otherwise hang the suite).
HANG_LIMIT_S = 20.0


#: A longer, random hunt on a developer machine: CUDADOCTOR_FUZZ_SCALE=20 CUDADOCTOR_FUZZ_RANDOM=1.
SCALE = float(os.environ.get("CUDADOCTOR_FUZZ_SCALE", "1") or 1)
RANDOM = os.environ.get("CUDADOCTOR_FUZZ_RANDOM", "") not in ("", "0")


def fuzz_settings(max_examples: int) -> settings:
    """Deterministic (derandomize) settings with no deadline and no example database on disk."""
    return settings(
        max_examples=max(1, int(max_examples * SCALE)),
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                               HealthCheck.filter_too_much],
        print_blob=False,
    )


class Hang(AssertionError):
    """A parser call ran past HANG_LIMIT_S."""


def bounded(fn: Callable[..., T], *args: Any, limit: float = CALL_LIMIT_S, **kwargs: Any) -> T:
    """Call *fn*; fail if it takes longer than *limit* seconds (and interrupt it if it never returns).

    pytest-timeout's own alarm (signal method) is put back afterwards with what is left of it.
    """
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"{getattr(fn, '__qualname__', fn)} did not return within {HANG_LIMIT_S} s")

    old_handler = signal.signal(signal.SIGALRM, alarm)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, HANG_LIMIT_S)
    if old_delay and old_delay < HANG_LIMIT_S:
        # an outer alarm (pytest-timeout) fires first: leave it in charge
        signal.signal(signal.SIGALRM, old_handler)
        signal.setitimer(signal.ITIMER_REAL, old_delay, old_interval)
    start = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
    finally:
        elapsed = time.perf_counter() - start
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - elapsed, 0.001), old_interval)
    assert elapsed < limit, f"{getattr(fn, '__qualname__', fn)} took {elapsed:.2f} s (limit {limit} s)"
    return result


def samples(*globs: str) -> list[str]:
    """The text of every fixture file matching *globs* (relative to tests/fixtures)."""
    found = sorted({p for g in globs for p in FIXTURES.glob(g) if p.is_file()})
    assert found, f"no fixture matches {globs}"
    return [p.read_text(encoding="utf-8", errors="replace") for p in found]


# --------------------------------------------------------------------------------------------
# text

#: Any characters, control characters, NUL, lone CR, RTL marks and the like included.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)
control_text = st.text(st.sampled_from("\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x85\u2028\u2029\ufeff[];:=|/\\\"' -+.0123456789aZ"), max_size=300)
binaryish = st.binary(max_size=1500).map(lambda b: b.decode("utf-8", errors="replace"))
huge_line = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=12), st.integers(1_000, 12_000))
nasty_text = st.one_of(any_text, control_text, binaryish, huge_line)

#: Strings that break naive int()/float()/Version() parsing.
NASTY_TOKENS = (
    "", "0", "-1", "-0", "00", "4294967295", "18446744073709551616", "9" * 40, "1e309", "nan", "inf", "-inf",
    "N/A", "[N/A]", "None", "null", "0x", "0xffffffff", "1.", ".1", "1..2", "1.2.3.4.5.6.7.8", "v1", "١٢٣",
    "12.4.", "\x00", "\u00a0", "%", "--", "=>", "(", ")", ":", "|", "MiB", "\ufffd", "𝟙𝟚", "1_000",
)
nasty_token = st.one_of(st.sampled_from(NASTY_TOKENS), st.text(max_size=20))


def _line_pool(texts: list[str]) -> list[str]:
    pool: list[str] = []
    for t in texts:
        pool.extend(t.splitlines())
    return pool or [""]


@st.composite
def mutated(draw: st.DrawFn, texts: list[str]) -> str:
    """A real sample with random lines inserted, deleted, replaced, duplicated, swapped or re-numbered,
    its sections duplicated, and the whole cut at a random character.
    """
    pool = _line_pool(texts)
    text = draw(st.sampled_from(texts))
    lines = text.splitlines()
    line_source = st.one_of(st.sampled_from(pool), any_text, control_text, huge_line)
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(
            ("insert", "delete", "replace", "duplicate", "swap", "numbers", "token", "cut-line", "indent")
        ))
        n = len(lines)
        i = draw(st.integers(0, max(n - 1, 0)))
        if op == "insert" or n == 0:
            lines.insert(i, draw(line_source))
        elif op == "delete":
            del lines[i]
        elif op == "replace":
            lines[i] = draw(line_source)
        elif op == "duplicate":
            j = draw(st.integers(i, min(n, i + 40)))
            lines[j:j] = lines[i:j] * draw(st.integers(1, 3))
        elif op == "swap":
            j = draw(st.integers(0, n - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "numbers":
            # every number on the line becomes a nasty token (negative, huge, empty, NaN ...)
            tok = draw(nasty_token)
            lines[i] = re.sub(r"\d+(?:\.\d+)*", lambda m: tok, lines[i])
        elif op == "token":
            words = lines[i].split(" ")
            k = draw(st.integers(0, max(len(words) - 1, 0)))
            words[k] = draw(nasty_token)
            lines[i] = " ".join(words)
        elif op == "cut-line":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "indent":
            lines[i] = draw(st.sampled_from(("", " ", "\t", "> ", "|", "    ", "\x1b[1m"))) + lines[i]
    sep = draw(st.sampled_from(("\n", "\n", "\r\n", "\r")))
    out = sep.join(lines)
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return out


def text_for(texts: list[str]) -> st.SearchStrategy[str]:
    """Mutated real samples (mostly) or arbitrary nasty text."""
    return st.one_of(mutated(texts), mutated(texts), nasty_text)


# --------------------------------------------------------------------------------------------
# JSON

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from((-1, 0, 1, 2**63, -(2**63))),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.sampled_from(NASTY_TOKENS),
)
def _json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4))


json_values = st.recursive(json_leaf, _json_containers, max_leaves=12)


def _slots(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _slots(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _slots(v, path + (i,))


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated_json(draw: st.DrawFn, doc: Any, *, keep_root: bool = True) -> Any:
    """*doc* with 1-6 random edits: a value replaced (by any JSON, a nasty token, or a value of another
    type), a key deleted or renamed, a list emptied or its items duplicated."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 6))):
        slots = list(_slots(doc))
        if keep_root:
            slots = [s for s in slots if s] or slots
        path = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(("replace", "replace", "delete", "rename", "empty", "duplicate", "retype")))
        if not path:
            doc = draw(json_values)
            continue
        parent = _get(doc, path[:-1])
        key = path[-1]
        value = parent[key]
        if op == "replace":
            parent[key] = draw(json_values)
        elif op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.one_of(st.text(max_size=12), st.sampled_from(("\n", "a\nb", "", " ", "é"))))] = parent.pop(key)
        elif op == "empty":
            parent[key] = type(value)() if isinstance(value, (dict, list, str)) else None
        elif op == "duplicate" and isinstance(value, list) and value:
            value.extend(value * draw(st.integers(1, 3)))
        elif op == "retype":
            parent[key] = draw(st.sampled_from((str(value)[:50], [value], {"v": value}, None, True, 0, -1, "")))
    return doc


# --------------------------------------------------------------------------------------------
# TOML (a minimal writer: everything inline, so any mutated structure stays writable)


def _toml_str(s: str) -> str:
    out = json.dumps(s, ensure_ascii=False)
    return out.replace("\x7f", "\\u007f")


def _toml_value(v: Any) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        items = [x for x in (_toml_value(i) for i in v) if x is not None]
        return "[" + ", ".join(items) + "]"
    if isinstance(v, dict):
        items = [f"{_toml_str(str(k))} = {x}" for k, i in v.items() if (x := _toml_value(i)) is not None]
        return "{" + ", ".join(items) + "}"
    return None  # TOML has no null


def toml_dumps(doc: dict[str, Any]) -> str:
    """Write *doc* as TOML (top-level keys, every value inline); None values are left out."""
    lines = []
    for k, v in doc.items():
        x = _toml_value(v)
        if x is not None:
            lines.append(f"{_toml_str(str(k))} = {x}")
    return "\n".join(lines) + "\n"
