"""Facts <-> JSON: the ``--save-facts`` / ``--facts`` format, also used for test fixtures.

The codec is driven by the dataclasses' type hints, so a new field needs no code here. Decoding
validates every value against its declared type and names the JSON path of the first bad value.
A typed fact that older files lack and that must be derived from what they do hold is derived
once, here, by a migration step (see :data:`_MIGRATIONS`); checks never do it.

A *snapshot* (``cudadoctor snapshot``) is this same document with a ``report`` section added: the
JSON report of the check that judged those facts, without its copy of the facts. Readers that
do not know the section ignore it (unknown keys are ignored), so a snapshot replays with
``--facts`` anywhere. :func:`load_document` reads any of the three documents that carry facts:
a facts file, a snapshot, or a ``check --format json`` report (which embeds ``facts``).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union

from packaging.version import Version

from cudadoctor import causes
from cudadoctor.errors import FactsFileError, one_line
from cudadoctor.facts import (
    AREA_OF_TYPE,
    AREAS,
    FACTS_SCHEMA_VERSION,
    OPTIONAL_AREAS,
    DriverFacts,
    Facts,
    ToolkitFacts,
    TorchFacts,
    Unavailable,
)

#: Marks a saved facts document, so an unrelated JSON file fails with a clear message.
FACTS_KIND = "cudadoctor-facts"
#: The key of a snapshot's report section (the check's JSON report, less its ``facts``).
REPORT_KEY = "report"


def encode(value: Any) -> Any:
    """Turn a facts value (dataclass, Version, tuple, ...) into plain JSON data."""
    if isinstance(value, Unavailable):
        return {"unavailable": True, "probe": value.probe, "reason": value.reason, "detail": value.detail}
    if isinstance(value, Version):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def encode_facts(facts: Facts) -> dict[str, Any]:
    """*facts* as plain JSON data, without the optional areas no command gathered.

    An optional area (the benchmark, the ranks) that was not run decodes to the same "not run"
    Unavailable when it is absent, so leaving it out loses nothing and keeps a plain ``check``'s
    facts as they were before these areas existed.
    """
    data: dict[str, Any] = encode(facts)
    for name in OPTIONAL_AREAS:
        if isinstance(getattr(facts, name), Unavailable) and getattr(facts, name) == _default(name):
            del data[name]
    return data


def _default(name: str) -> Any:
    """The value field *name* of Facts has when no one set it."""
    f = next(f for f in dataclasses.fields(Facts) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def facts_to_dict(facts: Facts, *, report: dict[str, Any] | None = None) -> dict[str, Any]:
    """Encode *facts* as the saved-facts JSON object; with *report*, a snapshot (the section added).

    The section leaves out the report's copies of facts the document already holds (``facts``,
    and ``bench``: the benchmark is the facts' ``bench`` area).
    """
    data = {"kind": FACTS_KIND, **encode_facts(facts)}
    if report is not None:
        data[REPORT_KEY] = {k: v for k, v in report.items() if k not in ("facts", "bench")}
    return data


def facts_from_dict(data: Any, *, origin: str = "facts") -> Facts:
    """Decode and validate a saved-facts JSON object; raise FactsFileError naming the bad path."""
    if not isinstance(data, dict):
        raise FactsFileError(f"{origin}: expected a JSON object, got {type(data).__name__}")
    if data.get("kind", FACTS_KIND) != FACTS_KIND:
        raise FactsFileError(f"{origin}: not a cudadoctor facts file (kind={data.get('kind')!r})")
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise FactsFileError(f"{origin}: schema_version is missing or not an integer")
    if version > FACTS_SCHEMA_VERSION:
        raise FactsFileError(
            f"{origin}: schema_version {version} was written by a newer cudadoctor "
            f"(this one reads up to {FACTS_SCHEMA_VERSION}); upgrade cudadoctor"
        )
    body = {k: v for k, v in data.items() if k != "kind"}
    try:
        return _decode(body, Facts, "")
    except _DecodeError as e:
        raise FactsFileError(one_line(f"{origin}: {e.path or '<root>'}: {e.message}")) from None


def encode_area(value: Any) -> Any:
    """Encode one fact area (e.g. a TorchFacts or an Unavailable) as plain JSON data, secrets masked.

    Areas are encoded to be written to disk (the healthcheck cache), where credentials must not
    land any more than in a saved facts file.
    """
    from cudadoctor.redact import redact_value

    return encode(redact_value(value))


def decode_area(name: str, data: Any, *, origin: str = "facts") -> Any:
    """Decode and validate one fact area *name* (see facts.AREAS); raise FactsFileError naming the bad path."""
    if name not in AREAS:
        raise FactsFileError(f"{origin}: {name!r} is not a fact area")
    hint = Union[_area_class(name), Unavailable]  # NOTE: not Facts' annotations (see _area_class)
    try:
        return _decode(data, hint, name)
    except _DecodeError as e:
        raise FactsFileError(one_line(f"{origin}: {e.path or name}: {e.message}")) from None


def _area_class(name: str) -> type:
    """The facts class of area *name* (one of AREAS), from facts.AREA_OF_TYPE.

    NOTE: not through Facts' annotations, whose resolution imports the optional areas' modules
    (the benchmark's, the ranks'), which a cached healthcheck decoding one area never needs.
    """
    return next(cls for cls, area in dict.items(AREA_OF_TYPE) if area == name)


def save_facts(facts: Facts, path: Path, *, identity: bool = False, report: dict[str, Any] | None = None) -> None:
    """Write *facts* to *path* as indented JSON (atomically: temp file, then rename), secrets masked.

    A saved facts file is made to be shared (attached to an issue, replayed elsewhere), so it gets
    the redaction every report gets: credentials are replaced by [REDACTED]; with *identity*
    (``--redact``) user names, host names and home paths too. *report* (a snapshot's report
    section, already rendered with the same redaction) is added as the ``report`` key.
    """
    from cudadoctor.redact import redact_facts  # NOTE: local: only writing facts needs redaction

    from cudadoctor.textfile import write_atomically

    facts = redact_facts(facts, identity=identity)
    # NOTE: write_atomically, not a fixed "NAME.tmp" renamed over the path: two runs could share
    # the temp name, and a rename over /dev/stdout or /dev/full replaces the device node itself.
    write_atomically(path, json.dumps(facts_to_dict(facts, report=report), indent=2, sort_keys=False) + "\n")


def read_json(path: Path, what: str = "facts file") -> Any:
    """The JSON document at *path*; raise FactsFileError (one line naming the file) on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise FactsFileError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise FactsFileError(f"{path}: not a text file (expected JSON facts)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise FactsFileError(f"{path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        # NOTE: json raises a plain ValueError for an integer over 4300 digits, RecursionError for deep nesting.
        raise FactsFileError(f"{path}: not valid JSON: {type(e).__name__}: {str(e)[:200]}") from None


def load_facts(path: Path) -> Facts:
    """Read a facts file written by ``--save-facts``; raise FactsFileError on any problem."""
    return facts_from_dict(read_json(path), origin=str(path))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """The facts a document carries, and the report it carries with them (if any)."""

    facts: Facts
    kind: str  #: "facts" (--save-facts), "snapshot" (cudadoctor snapshot) or "report" (check --format json)
    report: dict[str, Any] | None  #: the report's JSON (without its facts); None for a plain facts file


def is_report(data: Any) -> bool:
    """Whether *data* is a ``check``/``gate --format json`` report (it embeds the facts under ``facts``)."""
    return isinstance(data, dict) and "kind" not in data and isinstance(data.get("facts"), dict) and "verdict" in data


def document_from_dict(data: Any, *, origin: str = "facts") -> Document:
    """Decode a facts file, a snapshot or a JSON report; raise FactsFileError naming the bad path."""
    if is_report(data):
        facts = facts_from_dict(data["facts"], origin=f"{origin}: facts")
        return Document(facts=facts, kind="report", report={k: v for k, v in data.items() if k != "facts"})
    facts = facts_from_dict(data, origin=origin)
    report = data.get(REPORT_KEY)
    if isinstance(report, dict):
        return Document(facts=facts, kind="snapshot", report=report)
    return Document(facts=facts, kind="facts", report=None)


def load_document(path: Path) -> Document:
    """Read a facts file, a snapshot or a ``check --format json`` report; raise FactsFileError on any problem."""
    return document_from_dict(read_json(path, "file"), origin=str(path))


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b[0].c`` inside encoded facts data (used by test cases to vary one fact)."""
    parts = _split_path(path)
    target: Any = data
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(int(index))
            rest = rest.lstrip("[")
    return parts


class _DecodeError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@cache
def _hints(cls: type) -> dict[str, Any]:
    from cudadoctor.facts import optional_area_types

    # NOTE: facts.py imports the optional areas' classes lazily; their names resolve here.
    return typing.get_type_hints(cls, localns=optional_area_types() if cls is Facts else None)


def _decode(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return _decode_union(value, args, path)
    if origin is Literal:
        if value not in args:
            raise _DecodeError(path, f"expected one of {list(args)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _DecodeError(path, f"expected a list, got {type(value).__name__}")
        item_type = args[0]
        return tuple(_decode(v, item_type, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise _DecodeError(path, f"expected an object, got {type(value).__name__}")
        return {str(k): _decode(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if tp is Unavailable:
        return _decode_unavailable(value, path)
    if tp is type(None):
        # NOTE: only raw values reported by a program (a torch setting it has no value for) are
        # typed with None; an unknown fact is Unavailable.
        if value is not None:
            raise _DecodeError(path, f"expected null, got {value!r}")
        return None
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(value, tp, path)
    if tp is Version:
        if not isinstance(value, str):
            raise _DecodeError(path, f"expected a version string, got {value!r}")
        try:
            return Version(value)
        except ValueError:  # NOTE: ValueError too: Version raises it for a part over 4300 digits
            raise _DecodeError(path, f"{value!r} is not a version") from None
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise _DecodeError(path, f"expected one of {[m.value for m in tp]}, got {value!r}") from None
    if tp is bool:
        if not isinstance(value, bool):
            raise _DecodeError(path, f"expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _DecodeError(path, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _DecodeError(path, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _DecodeError(path, f"expected a string, got {value!r}")
        return value
    raise _DecodeError(path, f"unsupported type {tp!r}")  # pragma: no cover - programming error


def _decode_union(value: Any, args: tuple[Any, ...], path: str) -> Any:
    if isinstance(value, dict) and value.get("unavailable") is True and Unavailable in args:
        return _decode_unavailable(value, path)
    errors: list[_DecodeError] = []
    for arg in args:
        if arg is Unavailable:
            continue
        try:
            return _decode(value, arg, path)
        except _DecodeError as e:
            errors.append(e)
    deeper = [e for e in errors if e.path != path]
    if deeper:
        # NOTE: the value had the right shape and failed further in; that inner path is the useful one.
        raise max(deeper, key=lambda e: len(e.path))
    message = "; ".join(dict.fromkeys(e.message for e in errors))
    raise _DecodeError(path, message or f"unexpected value {value!r}")


def _decode_unavailable(value: Any, path: str) -> Unavailable:
    if not (isinstance(value, dict) and isinstance(value.get("reason"), str)):
        raise _DecodeError(path, "expected an 'unavailable' object with a reason")
    return Unavailable(
        probe=str(value.get("probe", "")), reason=value["reason"], detail=str(value.get("detail", ""))
    )


def _decode_dataclass(value: Any, cls: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise _DecodeError(path, f"expected an object, got {type(value).__name__}")
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        sub = f"{path}.{f.name}" if path else f.name
        if f.name not in value:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            raise _DecodeError(sub, "missing")
        kwargs[f.name] = _decode(value[f.name], hints[f.name], sub)
    # NOTE: unknown keys are ignored on purpose: a newer cudadoctor may add fields (that is
    # not a schema change), and an older reader must still replay the file.
    decoded = cls(**kwargs)
    migrate = _MIGRATIONS.get(cls)
    return migrate(value, decoded) if migrate is not None else decoded


# --------------------------------------------------------------------------------------------
# migrations: typed facts that files from an older cudadoctor lack, derived from what they hold


def _migrate_torch(raw: dict[str, Any], t: TorchFacts) -> TorchFacts:
    """Error causes, read from the error texts older files kept as prose (causes.classify, as the probe does)."""
    changes: dict[str, Any] = {}
    if "import_error_causes" not in raw:
        changes["import_error_causes"] = causes.classify(t.import_error)
    if "cuda_unavailable_causes" not in raw:
        changes["cuda_unavailable_causes"] = causes.classify(t.cuda_unavailable_reason)
    if "cudnn_unavailable_causes" not in raw and isinstance(t.cudnn_version, Unavailable):
        changes["cudnn_unavailable_causes"] = causes.classify_reason(t.cudnn_version.reason, t.cudnn_version.detail)
    return dataclasses.replace(t, **changes) if changes else t


def _migrate_toolkit(raw: dict[str, Any], tk: ToolkitFacts) -> ToolkitFacts:
    """Whether CUDA_HOME exists and whether the headers were searched, which older files only implied."""
    changes: dict[str, Any] = {}
    if "cuda_home_exists" not in raw:
        if isinstance(tk.cuda_home, Unavailable):
            changes["cuda_home_exists"] = tk.cuda_home
        else:
            # NOTE: the toolkit probe said "CUDA home X does not exist" exactly when the directory
            # was missing (probes/toolkit.py read_cuda_home_version).
            version = tk.cuda_home_version
            changes["cuda_home_exists"] = not (isinstance(version, Unavailable) and "does not exist" in version.reason)
    if "cuda_headers_searched" not in raw:
        # NOTE: the header search and the field recording it arrived together.
        changes["cuda_headers_searched"] = "cuda_runtime_header" in raw
    return dataclasses.replace(tk, **changes) if changes else tk


def _migrate_driver(raw: dict[str, Any], drv: DriverFacts) -> DriverFacts:
    """Whether NVML crashed, and the GPU its failed query named, from the NVML error text older files kept."""
    changes: dict[str, Any] = {}
    if "nvml_crashed" not in raw:
        changes["nvml_crashed"] = drv.nvml_status == "other" and causes.killed_by_signal(drv.nvml_error)
    if "nvml_failed_gpus" not in raw:
        changes["nvml_failed_gpus"] = causes.gpu_indices_named(drv.nvml_error)
    return dataclasses.replace(drv, **changes) if changes else drv


#: Fact class -> its migration step (encoded JSON object, decoded value) -> value.
_MIGRATIONS: dict[type, Callable[[dict[str, Any], Any], Any]] = {TorchFacts: _migrate_torch, ToolkitFacts: _migrate_toolkit, DriverFacts: _migrate_driver}
