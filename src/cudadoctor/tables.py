"""Load and validate the versioned compatibility tables in rules/*.toml into typed RuleTables.

The numbers live in TOML (each with its source URL); this module only parses, validates and
answers look-ups. It never contains an ``if`` about a particular GPU or release.
One concern over ~900 lines: a typed loader and validator per table file, kept side by side so
every table is read and checked the same way.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from packaging.version import InvalidVersion, Version

from cudadoctor.errors import RuleTableError, one_line, shown

if TYPE_CHECKING:
    from packaging.requirements import Requirement

_NAME_SEPARATORS = re.compile(r"[-_.]+")


def canonicalize_name(name: str) -> str:
    """A distribution name normalised as PEP 503 says (runs of -, _ and . become one -, lower case).

    NOTE: written here rather than imported from packaging.utils, whose import (packaging.tags,
    sysconfig) costs the healthcheck ~8 ms on every run.
    """
    return _NAME_SEPARATORS.sub("-", name).lower()


#: Highest table schema this cudadoctor understands.
TABLES_SCHEMA = 1

#: file stem -> attribute on RuleTables
TABLE_FILES = ("cuda_driver", "torch", "gpus", "compute_capability", "host_compiler", "cudnn", "images")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TableMeta:
    """Identity of one loaded table file: for the report's 'which rules were used'."""

    name: str
    schema: int
    updated: str
    path: str
    sources: tuple[str, ...]


# ---------------------------------------------------------------------------- cuda_driver


@dataclass(frozen=True, slots=True)
class CudaRelease:
    """A CUDA toolkit release and the minimum Linux x86_64 driver for full support."""

    version: Version  #: 12.4 (GA) or 12.4.1 (an update)
    min_driver: Version
    source: str
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class MinorCompat:
    """The minor-version-compatibility driver floor for a CUDA major (11+)."""

    cuda_major: int
    min_driver: Version
    source: str
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class CudaDriverTable:
    """CUDA toolkit -> driver requirements."""

    releases: tuple[CudaRelease, ...]  #: sorted by version
    minor_compat: tuple[MinorCompat, ...]
    forward_compat_gpu_classes: tuple[str, ...]  #: GPU classes cuda-compat supports
    forward_compat_source: str

    def min_driver_for(self, cuda: Version) -> CudaRelease | None:
        """The GA release entry for *cuda*'s major.minor (what a cuXY build needs), if known."""
        same = [r for r in self.releases if r.version.release[:2] == cuda.release[:2]]
        return same[0] if same else None

    def minor_compat_floor(self, major: int) -> MinorCompat | None:
        """The lowest driver that runs any CUDA *major*.x build under minor-version compatibility."""
        return next((m for m in self.minor_compat if m.cuda_major == major), None)

    def max_cuda_for_driver(self, driver: Version) -> Version | None:
        """Newest CUDA major.minor whose GA release this driver fully supports."""
        ok = [r.version for r in self.releases if r.min_driver <= driver]
        return Version(".".join(map(str, max(ok).release[:2]))) if ok else None

    @property
    def newest(self) -> Version:
        """The newest CUDA release the table knows."""
        return self.releases[-1].version

    def get(self, cuda: Version) -> CudaRelease | None:
        """The entry for exactly *cuda* (12.4 is the GA, 12.4.1 its first update)."""
        return next((r for r in self.releases if r.version == cuda), None)

    def updates_of(self, cuda: Version) -> tuple[CudaRelease, ...]:
        """The GA and every update of *cuda*'s major.minor, oldest first."""
        return tuple(r for r in self.releases if r.version.release[:2] == cuda.release[:2])


# ---------------------------------------------------------------------------- torch


@dataclass(frozen=True, slots=True)
class TorchVariant:
    """One official wheel variant of a torch release (e.g. 2.5 + cu124)."""

    torch: Version  #: release line, e.g. 2.5
    name: str  #: index name, e.g. "cu124"
    cuda: Version  #: e.g. 12.4
    cudnn: Version | None  #: bundled/pinned cuDNN, None when not known
    nccl: Version | None
    sass: tuple[Version, ...]  #: compute capabilities compiled as SASS
    ptx: tuple[Version, ...]  #: compute capabilities embedded as PTX
    source: str
    confirmed: bool = True
    note: str = ""
    #: Requires-Dist pins of the CUDA library wheels (nvidia-*, cuda-toolkit) this build's wheel
    #: declares, without environment markers, e.g. "nvidia-cudnn-cu12==9.1.0.70"; () = not recorded
    pins: tuple[str, ...] = ()

    @property
    def index_url(self) -> str:
        """The pip index that serves this variant."""
        return f"https://download.pytorch.org/whl/{self.name}"


@dataclass(frozen=True, slots=True)
class TorchRelease:
    """A torch release line (major.minor) and what was published for it."""

    torch: Version  #: e.g. 2.5
    latest: Version  #: newest patch, e.g. 2.5.1
    released: str  #: "YYYY-MM"
    python_min: Version
    python_max: Version
    default_variant: str  #: the CUDA variant of the plain PyPI wheel (Linux x86_64)
    variants: tuple[str, ...]
    torchvision: Version | None  #: paired release line, e.g. 0.20
    torchaudio: Version | None
    source: str
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class TorchTable:
    """torch releases -> variants, Python range, companions, bundled libraries, arch lists."""

    releases: tuple[TorchRelease, ...]  #: sorted by version
    variants: tuple[TorchVariant, ...]

    def release(self, version: Version) -> TorchRelease | None:
        """The release line containing *version* (2.5.1+cu124 -> 2.5)."""
        key = version.release[:2]
        return next((r for r in self.releases if r.torch.release[:2] == key), None)

    def variant(self, version: Version, name: str) -> TorchVariant | None:
        """The variant *name* (e.g. "cu124") of *version*'s release line."""
        key = version.release[:2]
        return next((v for v in self.variants if v.torch.release[:2] == key and v.name == name), None)

    def variants_of(self, version: Version) -> tuple[TorchVariant, ...]:
        """Every known variant of *version*'s release line."""
        key = version.release[:2]
        return tuple(v for v in self.variants if v.torch.release[:2] == key)

    @property
    def newest(self) -> TorchRelease:
        """The newest release line the table knows."""
        return self.releases[-1]

    def default_variant(self, version: Version) -> TorchVariant | None:
        """The variant the plain PyPI wheel of *version*'s release line is built for."""
        rel = self.release(version)
        return self.variant(rel.torch, rel.default_variant) if rel else None

    def pins(self, version: Version, variant: str | None = None) -> tuple[str, ...]:
        """The nvidia-* / cuda-toolkit pins the wheel of *version*'s line declares (default: PyPI wheel).

        Each item parses as a ``packaging.requirements.Requirement`` ("nvidia-cudnn-cu12==9.1.0.70").
        Empty when the tables do not record that variant's pins.
        """
        var = self.default_variant(version) if variant is None else self.variant(version, variant)
        return var.pins if var is not None else ()

    def pin(self, version: Version, package: str, variant: str | None = None) -> Requirement | None:
        """The pin of *package* (any spelling: "nvidia_cudnn_cu12") in :meth:`pins`, if declared."""
        from packaging.requirements import Requirement

        key = canonicalize_name(package)
        for text in self.pins(version, variant):
            req = Requirement(text)
            if canonicalize_name(req.name) == key:
                return req
        return None


# ---------------------------------------------------------------------------- gpus


@dataclass(frozen=True, slots=True)
class GpuModel:
    """A GPU model: capability, memory and dense peak throughput (TFLOP/s; None = unknown)."""

    model: str
    match: tuple[str, ...]  #: substrings of the NVML name that identify it (case-insensitive)
    cc: Version
    arch: str
    memory_gib: float | None
    bandwidth_gbs: float | None
    fp32: float | None
    tf32: float | None
    fp16: float | None
    bf16: float | None
    datacenter: bool
    forward_compat: bool  #: cuda-compat supported on this class of GPU
    nvswitch: bool  #: sold in NVSwitch (HGX/DGX) systems that need Fabric Manager
    source: str
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class GpuTable:
    """GPU models, looked up by NVML name."""

    models: tuple[GpuModel, ...]

    def lookup(self, name: str) -> GpuModel | None:
        """The model whose longest match string occurs in *name* (case-insensitive)."""
        lowered = name.lower()
        best: tuple[int, GpuModel] | None = None
        for m in self.models:
            for s in m.match:
                if s.lower() in lowered and (best is None or len(s) > best[0]):
                    best = (len(s), m)
        return best[1] if best else None

    def by_model(self, model: str) -> GpuModel | None:
        """The entry whose ``model`` is exactly *model* (e.g. "H100 SXM")."""
        return next((m for m in self.models if m.model == model), None)


# ---------------------------------------------------------------------------- compute_capability


@dataclass(frozen=True, slots=True)
class ComputeCapabilityInfo:
    """A compute capability's architecture and its CUDA/NCCL support window."""

    cc: Version
    arch: str
    first_cuda: Version | None
    last_cuda: Version | None  #: None = still supported by the newest toolkit
    nccl_min: Version | None  #: first NCCL release that supports it, when known
    source: str
    confirmed: bool = True
    products: str = ""  #: example products, for messages
    note: str = ""
    #: newest driver branch that still supports this capability (None = current branches do)
    last_driver_branch: int | None = None
    #: first NCCL whose multi-GPU path (P2P/shared-memory transports between GPUs of one host) works
    #: on this capability, where that came later than ``nccl_min`` (consumer Blackwell 12.0); None =
    #: the same as ``nccl_min``. Use :meth:`nccl_min_for`.
    nccl_min_multi_gpu: Version | None = None
    #: whether ``nccl_min``/``nccl_min_multi_gpu`` were read in NVIDIA's own release notes; the row's
    #: ``confirmed`` covers its CUDA window, so the NCCL floor carries its own flag
    nccl_confirmed: bool = True

    def nccl_min_for(self, gpus: int) -> Version | None:
        """The first NCCL that works on this capability for a job on *gpus* GPUs of one kind.

        A multi-GPU job (``gpus > 1``) needs ``nccl_min_multi_gpu`` where the table sets one; a
        single-GPU job needs only ``nccl_min``. None when the table knows no NCCL floor.
        """
        if gpus > 1 and self.nccl_min_multi_gpu is not None:
            return self.nccl_min_multi_gpu
        return self.nccl_min


@dataclass(frozen=True, slots=True)
class ComputeCapabilityTable:
    """Compute capability -> architecture and support window."""

    entries: tuple[ComputeCapabilityInfo, ...]

    def get(self, cc: Version) -> ComputeCapabilityInfo | None:
        """The entry for exactly *cc* (e.g. 8.6)."""
        return next((e for e in self.entries if e.cc == cc), None)

    def supported_by(self, cuda: Version) -> tuple[ComputeCapabilityInfo, ...]:
        """Capabilities the CUDA toolkit *cuda* compiles for (first_cuda <= cuda <= last_cuda)."""
        key = cuda.release[:2]
        return tuple(
            e for e in self.entries
            if (e.first_cuda is None or e.first_cuda.release[:2] <= key)
            and (e.last_cuda is None or key <= e.last_cuda.release[:2])
        )


# ---------------------------------------------------------------------------- host_compiler


@dataclass(frozen=True, slots=True)
class HostCompilerRule:
    """The gcc range nvcc of one CUDA release accepts."""

    cuda: Version
    max_gcc: int
    min_gcc: int
    source: str
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class HostCompilerTable:
    """CUDA release -> newest host gcc major."""

    rules: tuple[HostCompilerRule, ...]

    def for_cuda(self, cuda: Version) -> HostCompilerRule | None:
        """The rule of the newest listed release <= *cuda* within the same major."""
        key = cuda.release[:2]
        ok = [r for r in self.rules if r.cuda.release[:2] <= key and r.cuda.major == cuda.major]
        return ok[-1] if ok else None


# ---------------------------------------------------------------------------- cudnn


@dataclass(frozen=True, slots=True)
class CudnnMajor:
    """A cuDNN major: which CUDA majors it ships for and its library files."""

    major: int
    cuda_majors: tuple[int, ...]
    libraries: tuple[str, ...]
    source: str
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class CudnnTable:
    """cuDNN majors."""

    majors: tuple[CudnnMajor, ...]

    def get(self, major: int) -> CudnnMajor | None:
        """The entry for cuDNN *major*."""
        return next((m for m in self.majors if m.major == major), None)

    def major_of_library(self, filename: str) -> CudnnMajor | None:
        """The cuDNN major whose library list names *filename* (e.g. "libcudnn_ops.so.9")."""
        return next((m for m in self.majors if filename in m.libraries), None)


# ---------------------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class PytorchImage:
    """A pytorch/pytorch Docker Hub image line: ``<torch>-cuda<cuda>-cudnn<cudnn>-<flavor>``."""

    torch: Version  #: full release, e.g. 2.8.0
    cuda: Version  #: e.g. 12.8
    cudnn: str  #: cuDNN major in the tag, e.g. "9"
    flavors: tuple[str, ...]  #: "runtime" and/or "devel"
    source: str
    confirmed: bool = True
    note: str = ""

    def tag(self, flavor: str) -> str:
        """The full image reference, e.g. pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime."""
        return f"pytorch/pytorch:{self.torch}-cuda{self.cuda}-cudnn{self.cudnn}-{flavor}"


@dataclass(frozen=True, slots=True)
class NgcImage:
    """An NGC PyTorch container release (nvcr.io/nvidia/pytorch:YY.MM-py3)."""

    release: str  #: "25.01"
    torch: Version  #: the PyTorch it carries, e.g. 2.6.0a0
    cuda: Version  #: e.g. 12.8.0
    min_driver: Version  #: the driver branch its release notes require, e.g. 570
    min_cc: Version  #: lowest compute capability it supports
    source: str
    confirmed: bool = True
    note: str = ""

    @property
    def tag(self) -> str:
        """The full image reference."""
        return f"nvcr.io/nvidia/pytorch:{self.release}-py3"


@dataclass(frozen=True, slots=True)
class ImagesTable:
    """Official container images with PyTorch (rules/images.toml)."""

    pytorch: tuple[PytorchImage, ...]  #: sorted by (torch, cuda)
    ngc: tuple[NgcImage, ...]  #: sorted by release

    def pytorch_image(self, torch: Version, cuda: Version) -> PytorchImage | None:
        """The pytorch/pytorch image of exactly this torch release and CUDA major.minor."""
        return next((i for i in self.pytorch if i.torch == torch and i.cuda.release[:2] == cuda.release[:2]), None)

    def ngc_release(self, release: str) -> NgcImage | None:
        """The NGC PyTorch container of release "YY.MM"."""
        return next((i for i in self.ngc if i.release == release), None)


# ---------------------------------------------------------------------------- all tables


@dataclass(frozen=True, slots=True)
class RuleTables:
    """Every compatibility table, validated."""

    cuda_driver: CudaDriverTable
    torch: TorchTable
    gpus: GpuTable
    compute_capability: ComputeCapabilityTable
    host_compiler: HostCompilerTable
    cudnn: CudnnTable
    images: ImagesTable = field(default_factory=lambda: ImagesTable(pytorch=(), ngc=()))
    meta: dict[str, TableMeta] = field(default_factory=dict)
    directory: str = ""


def default_rules_dir() -> Path:
    """The rules shipped inside the wheel; falls back to the source tree's rules/."""
    # NOTE: next to the package rather than through importlib.resources, whose import costs the
    # healthcheck ~8 ms; cudadoctor is always installed as files (its children are run from them).
    shipped = Path(__file__).resolve().parent / "_rules"
    if shipped.is_dir():
        return shipped
    # NOTE: editable installs and running from a checkout have no _rules/ copy.
    return Path(__file__).resolve().parents[2] / "rules"


_CACHE: dict[str, RuleTables] = {}


def load_tables(directory: Path | None = None) -> RuleTables:
    """Load and validate every table in *directory* (default: the shipped rules)."""
    base = directory or default_rules_dir()
    key = str(base.resolve())
    if key not in _CACHE:
        _CACHE[key] = _load(base)
    return _CACHE[key]


def _load(base: Path) -> RuleTables:
    if not base.is_dir():
        raise RuleTableError(f"{base}: rules directory does not exist")
    docs: dict[str, dict[str, Any]] = {}
    meta: dict[str, TableMeta] = {}
    labels: dict[str, str] = {}
    default = directory_is_default(base)
    from cudadoctor import table_cache

    # NOTE: the key is taken before reading, so a file edited while it is parsed is never stored
    # under its new signature with its old content.
    cached, cache_key = table_cache.load([base / f"{name}.toml" for name in TABLE_FILES])
    parsed: dict[str, Any] = {}
    for name in TABLE_FILES:
        path = base / f"{name}.toml"
        # NOTE: errors name the file the user can open: the short rules/ path for the shipped
        # tables, the real path for a --rules-dir copy.
        label = labels[name] = f"rules/{name}.toml" if default else str(path)
        try:
            data = cached[str(path)] if cached is not None else tomllib.loads(path.read_text(encoding="utf-8"))
            parsed[str(path)] = data
        except FileNotFoundError:
            raise RuleTableError(f"{label}: missing") from None
        except (OSError, UnicodeDecodeError) as e:
            raise RuleTableError(f"{label}: cannot read: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise RuleTableError(f"{label}: not valid TOML: {e}") from None
        except (ValueError, RecursionError) as e:
            # NOTE: tomllib raises a plain ValueError for an integer over 4300 digits, and recurses once
            # per nesting level of arrays and inline tables.
            raise RuleTableError(f"{label}: not valid TOML: {type(e).__name__}: {str(e)[:200]}") from None
        r = _Reader(label, data)
        r.known_keys("", data, _TOP_KEYS[name])
        schema = r.int_("", data, "schema")
        if schema > TABLES_SCHEMA:
            raise RuleTableError(f"{label}: schema {shown(schema)} is newer than this cudadoctor reads ({TABLES_SCHEMA})")
        updated = r.str_("", data, "updated")
        docs[name] = data
        meta[name] = TableMeta(name, schema, updated, str(path), _collect_sources(data))
    ok = cached is not None

    def reader(name: str) -> _Reader:
        return _Reader(labels[name], docs[name], validated=ok)

    result = RuleTables(
        cuda_driver=_cuda_driver(reader("cuda_driver")),
        torch=_torch(reader("torch")),
        gpus=_gpus(reader("gpus")),
        compute_capability=_compute(reader("compute_capability")),
        host_compiler=_host_compiler(reader("host_compiler")),
        cudnn=_cudnn(reader("cudnn")),
        images=_images(reader("images")),
        meta=meta,
        directory=str(base),
    )
    if cached is None:
        # NOTE: stored only now, after every check passed: a cached document is a valid one.
        table_cache.store(cache_key, parsed)
    return result


def directory_is_default(base: Path) -> bool:
    """Whether *base* is the shipped rules directory (for shorter error labels)."""
    try:
        return base.resolve() == default_rules_dir().resolve()
    except OSError:
        return False


def _collect_sources(data: Any) -> tuple[str, ...]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("source", "sources"):
                    # NOTE: not validated yet (the readers do that, naming the entry): skip what is no URL text
                    found.extend([v] if isinstance(v, str) else [s for s in v if isinstance(s, str)]
                                 if isinstance(v, list) else [])
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    return tuple(dict.fromkeys(s for u in found for s in u.split() if s.startswith("http")))


class _Reader:
    """Typed field access that raises RuleTableError naming file, entry and field."""

    def __init__(self, label: str, data: dict[str, Any], *, validated: bool = False) -> None:
        self.label = label
        self.data = data
        #: the document passed every check before (it came from table_cache, stored only after a
        #: complete load): the costly requirement parsing of the pins is skipped
        self.validated = validated

    def fail(self, where: str, key: str, message: str) -> RuleTableError:
        loc = f"{where}.{key}" if where else key
        return RuleTableError(one_line(f"{self.label}: {loc}: {message}"))

    def entries(self, key: str) -> Iterator[tuple[str, dict[str, Any]]]:
        items = self.data.get(key, [])
        if not isinstance(items, list) or not items:
            raise self.fail("", key, "expected a non-empty array of tables")
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.fail("", f"{key}[{i}]", "expected a table")
            yield f"{key}[{i}]", item

    def raw(self, where: str, item: dict[str, Any], key: str, default: Any = ...) -> Any:
        if key not in item:
            if default is ...:
                raise self.fail(where, key, "missing")
            return default
        return item[key]

    def str_(self, where: str, item: dict[str, Any], key: str, default: Any = ...) -> str:
        v = self.raw(where, item, key, default)
        if not isinstance(v, str):
            raise self.fail(where, key, f"{shown(v)} is not a string")
        return v

    def int_(self, where: str, item: dict[str, Any], key: str, default: Any = ...) -> int:
        v = self.raw(where, item, key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(where, key, f"{shown(v)} is not an integer")
        return v

    def bool_(self, where: str, item: dict[str, Any], key: str, default: Any = ...) -> bool:
        v = self.raw(where, item, key, default)
        if not isinstance(v, bool):
            raise self.fail(where, key, f"{shown(v)} is not true/false")
        return v

    def num(self, where: str, item: dict[str, Any], key: str) -> float | None:
        v = item.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise self.fail(where, key, f"{shown(v)} is not a non-negative number")
        return float(v)

    def version(self, where: str, item: dict[str, Any], key: str, default: Any = ...) -> Version:
        v = self.raw(where, item, key, default)
        if v is None:
            return v  # type: ignore[no-any-return]
        try:
            return Version(v) if isinstance(v, str) else _bad_version()
        except ValueError:  # NOTE: ValueError too: Version raises it for a part over 4300 digits
            raise self.fail(where, key, f"{shown(v)} is not a version") from None

    def opt_version(self, where: str, item: dict[str, Any], key: str) -> Version | None:
        v = item.get(key)
        if v in (None, ""):
            return None
        return self.version(where, item, key)

    def versions(self, where: str, item: dict[str, Any], key: str) -> tuple[Version, ...]:
        v = self.raw(where, item, key, [])
        if not isinstance(v, list):
            raise self.fail(where, key, f"{shown(v)} is not an array")
        return tuple(self.version(where, {key: x}, key) for x in v)

    def strs(self, where: str, item: dict[str, Any], key: str, default: Any = ...) -> tuple[str, ...]:
        v = self.raw(where, item, key, default)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(where, key, f"{shown(v)} is not an array of strings")
        return tuple(v)

    def source(self, where: str, item: dict[str, Any]) -> str:
        s = item.get("source", self.data.get("source"))
        if isinstance(s, list):
            s = " ".join(x for x in s if isinstance(x, str))
        if not isinstance(s, str) or "http" not in s:
            raise self.fail(where, "source", "every entry needs a source URL (on the entry or the file)")
        return s

    def known_keys(self, where: str, item: dict[str, Any], allowed: Iterable[str]) -> None:
        """Reject keys the schema does not know (a typo would otherwise be silently ignored)."""
        ok = set(allowed)
        for key in item:
            if key not in ok:
                raise self.fail(where, key, f"unknown key (expected one of: {', '.join(sorted(ok))})")

    def sorted_unique(self, where: str, keys: list[Any], what: str) -> None:
        for a, b in zip(keys, keys[1:]):
            if a == b:
                raise self.fail(where, what, f"duplicate entry {a}")
            if b < a:
                raise self.fail(where, what, f"entries not sorted ({b} after {a})")






def _bad_version() -> Version:
    raise InvalidVersion


#: Keys allowed at the top level of each file (besides comments).
_TOP_KEYS: dict[str, tuple[str, ...]] = {
    "cuda_driver": ("schema", "updated", "source", "cuda", "minor_compat", "forward_compat"),
    "torch": ("schema", "updated", "source", "release", "variant"),
    "gpus": ("schema", "updated", "source", "gpu"),
    "compute_capability": ("schema", "updated", "source", "cc"),
    "host_compiler": ("schema", "updated", "source", "cuda"),
    "cudnn": ("schema", "updated", "source", "major"),
    "images": ("schema", "updated", "source", "pytorch", "ngc"),
}

_COMMON = ("source", "confirmed", "note")
_VARIANT_NAME = re.compile(r"^cu(\d+)(\d)$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _build(r: _Reader, key: str, keys: tuple[str, ...], make: Callable[[str, dict[str, Any]], T]) -> list[T]:
    out: list[T] = []
    for where, item in r.entries(key):
        r.known_keys(where, item, keys + _COMMON)
        out.append(make(where, item))
    return out


def _cuda_driver(r: _Reader) -> CudaDriverTable:
    releases = _build(r, "cuda", ("version", "min_driver"), lambda w, i: CudaRelease(
        version=r.version(w, i, "version"), min_driver=r.version(w, i, "min_driver"),
        source=r.source(w, i), confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
    ))
    r.sorted_unique("cuda", [x.version for x in releases], "version")
    compat = _build(r, "minor_compat", ("cuda_major", "min_driver"), lambda w, i: MinorCompat(
        cuda_major=r.int_(w, i, "cuda_major"), min_driver=r.version(w, i, "min_driver"),
        source=r.source(w, i), confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
    ))
    r.sorted_unique("minor_compat", [x.cuda_major for x in compat], "cuda_major")
    fwd = r.data.get("forward_compat", {})
    if not isinstance(fwd, dict):
        raise r.fail("", "forward_compat", "expected a table")
    r.known_keys("forward_compat", fwd, ("gpu_classes", "package", "source", "note"))
    return CudaDriverTable(
        releases=tuple(releases), minor_compat=tuple(compat),
        forward_compat_gpu_classes=r.strs("forward_compat", fwd, "gpu_classes", []),
        forward_compat_source=r.source("forward_compat", fwd) if fwd else "",
    )


def _variant_cuda(r: _Reader, where: str, key: str, name: str) -> Version:
    """The CUDA version a variant name stands for ("cu124" -> 12.4); an error for anything else."""
    m = _VARIANT_NAME.match(name)
    if not m:
        raise r.fail(where, key, f"{name!r} is not a CUDA variant name like 'cu124'")
    return Version(f"{int(m.group(1))}.{m.group(2)}")


def _torch_release(r: _Reader, w: str, i: dict[str, Any]) -> TorchRelease:
    rel = TorchRelease(
        torch=r.version(w, i, "torch"), latest=r.version(w, i, "latest"), released=r.str_(w, i, "released"),
        python_min=r.version(w, i, "python_min"), python_max=r.version(w, i, "python_max"),
        default_variant=r.str_(w, i, "default_variant"), variants=r.strs(w, i, "variants"),
        torchvision=r.opt_version(w, i, "torchvision"), torchaudio=r.opt_version(w, i, "torchaudio"),
        source=r.source(w, i), confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
    )
    if rel.latest.release[:2] != rel.torch.release[:2]:
        raise r.fail(w, "latest", f"'{rel.latest}' is not a release of the {rel.torch} line")
    if not _MONTH.match(rel.released):
        raise r.fail(w, "released", f"{rel.released!r} is not a YYYY-MM month")
    if rel.python_max < rel.python_min:
        raise r.fail(w, "python_max", f"'{rel.python_max}' is below python_min '{rel.python_min}'")
    if not rel.variants:
        raise r.fail(w, "variants", "expected at least one variant")
    cudas = [_variant_cuda(r, w, "variants", v) for v in rel.variants]
    r.sorted_unique(w, cudas, "variants")
    if rel.default_variant not in rel.variants:
        raise r.fail(w, "default_variant", f"{rel.default_variant!r} is not in variants {list(rel.variants)}")
    return rel


def _torch_variant(r: _Reader, w: str, i: dict[str, Any]) -> TorchVariant:
    var = TorchVariant(
        torch=r.version(w, i, "torch"), name=r.str_(w, i, "variant"), cuda=r.version(w, i, "cuda"),
        cudnn=r.opt_version(w, i, "cudnn"), nccl=r.opt_version(w, i, "nccl"),
        sass=r.versions(w, i, "sass"), ptx=r.versions(w, i, "ptx"),
        source=r.source(w, i), confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
        pins=_pins(r, w, i),
    )
    if _variant_cuda(r, w, "variant", var.name).release[:2] != var.cuda.release[:2]:
        raise r.fail(w, "cuda", f"'{var.cuda}' does not match variant {var.name!r}")
    if not var.sass and not var.ptx:
        raise r.fail(w, "sass", "a variant needs at least one SASS or PTX capability")
    r.sorted_unique(w, list(var.sass), "sass")
    r.sorted_unique(w, list(var.ptx), "ptx")
    return var


def _pins(r: _Reader, where: str, item: dict[str, Any]) -> tuple[str, ...]:
    """A variant's ``pins``: each a requirement with a version specifier, no marker, one per package."""
    pins = r.strs(where, item, "pins", [])
    if r.validated:
        return pins  # NOTE: packaging.requirements costs the healthcheck ~10 ms to import
    seen: set[str] = set()
    for text in pins:
        try:
            from packaging.requirements import InvalidRequirement, Requirement

            req = Requirement(text)
        except InvalidRequirement:
            raise r.fail(where, "pins", f"{text!r} is not a requirement like 'nvidia-cudnn-cu12==9.1.0.70'") from None
        if not req.specifier:
            raise r.fail(where, "pins", f"{text!r} has no version specifier")
        if req.marker is not None:
            raise r.fail(where, "pins", f"{text!r} has an environment marker (pins are recorded without one)")
        name = canonicalize_name(req.name)
        if name in seen:
            raise r.fail(where, "pins", f"duplicate pin for {req.name!r}")
        seen.add(name)
    return pins


def _torch(r: _Reader) -> TorchTable:
    release_keys = ("torch", "latest", "released", "python_min", "python_max", "default_variant", "variants",
                    "torchvision", "torchaudio")
    releases = _build(r, "release", release_keys, lambda w, i: _torch_release(r, w, i))
    r.sorted_unique("release", [x.torch for x in releases], "torch")
    variant_keys = ("torch", "variant", "cuda", "cudnn", "nccl", "sass", "ptx", "pins")
    variants = _build(r, "variant", variant_keys, lambda w, i: _torch_variant(r, w, i))
    r.sorted_unique("variant", [(x.torch, x.cuda) for x in variants], "torch/cuda")
    listed = {(rel.torch, name) for rel in releases for name in rel.variants}
    for n, var in enumerate(variants):
        if (var.torch, var.name) not in listed:
            raise r.fail(
                f"variant[{n}]", "variant", f"{var.name!r} is not listed in the variants of release {var.torch}"
            )
    rows = {(var.torch, var.name) for var in variants}
    for n, rel in enumerate(releases):
        missing = [name for name in rel.variants if (rel.torch, name) not in rows]
        if missing:
            raise r.fail(f"release[{n}]", "variants", f"no [[variant]] row for {', '.join(missing)} of {rel.torch}")
    return TorchTable(releases=tuple(releases), variants=tuple(variants))


def _gpus(r: _Reader) -> GpuTable:
    keys = ("model", "match", "cc", "arch", "memory_gib", "bandwidth_gbs", "fp32", "tf32", "fp16", "bf16",
            "datacenter", "forward_compat", "nvswitch")
    models = _build(r, "gpu", keys, lambda w, i: GpuModel(
        model=r.str_(w, i, "model"), match=r.strs(w, i, "match"), cc=r.version(w, i, "cc"),
        arch=r.str_(w, i, "arch"), memory_gib=r.num(w, i, "memory_gib"),
        bandwidth_gbs=r.num(w, i, "bandwidth_gbs"), fp32=r.num(w, i, "fp32"), tf32=r.num(w, i, "tf32"),
        fp16=r.num(w, i, "fp16"), bf16=r.num(w, i, "bf16"), datacenter=r.bool_(w, i, "datacenter", False),
        forward_compat=r.bool_(w, i, "forward_compat", False), nvswitch=r.bool_(w, i, "nvswitch", False),
        source=r.source(w, i), confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
    ))
    seen_model: set[str] = set()
    seen_match: dict[str, str] = {}
    for n, m in enumerate(models):
        where = f"gpu[{n}]"
        if not m.match or any(not s.strip() for s in m.match):
            raise r.fail(where, "match", "expected a non-empty array of non-empty strings")
        if m.model in seen_model:
            raise r.fail(where, "model", f"duplicate entry {m.model!r}")
        seen_model.add(m.model)
        for s in m.match:
            other = seen_match.setdefault(s.lower(), m.model)
            if other != m.model:
                raise r.fail(where, "match", f"{s!r} is also a match string of {other!r}")
    for a, b in zip(models, models[1:]):
        if b.cc < a.cc:
            raise r.fail("gpu", "cc", f"entries not sorted by cc ({b.model} {b.cc} after {a.model} {a.cc})")
    return GpuTable(models=tuple(models))


def _compute(r: _Reader) -> ComputeCapabilityTable:
    keys = ("cc", "arch", "first_cuda", "last_cuda", "nccl_min", "nccl_min_multi_gpu", "nccl_confirmed", "products",
            "last_driver_branch")
    entries = _build(r, "cc", keys, lambda w, i: ComputeCapabilityInfo(
        cc=r.version(w, i, "cc"), arch=r.str_(w, i, "arch"), first_cuda=r.opt_version(w, i, "first_cuda"),
        last_cuda=r.opt_version(w, i, "last_cuda"), nccl_min=r.opt_version(w, i, "nccl_min"),
        source=r.source(w, i), confirmed=r.bool_(w, i, "confirmed", True),
        products=r.str_(w, i, "products", ""), note=r.str_(w, i, "note", ""),
        last_driver_branch=r.int_(w, i, "last_driver_branch") if "last_driver_branch" in i else None,
        nccl_min_multi_gpu=r.opt_version(w, i, "nccl_min_multi_gpu"),
        nccl_confirmed=r.bool_(w, i, "nccl_confirmed", True),
    ))
    r.sorted_unique("cc", [x.cc for x in entries], "cc")
    for n, e in enumerate(entries):
        if e.first_cuda is not None and e.last_cuda is not None and e.last_cuda < e.first_cuda:
            raise r.fail(f"cc[{n}]", "last_cuda", f"'{e.last_cuda}' is before first_cuda '{e.first_cuda}'")
        if e.nccl_min_multi_gpu is not None:
            # NOTE: the multi-GPU floor refines nccl_min; alone, or below it, it is a typo.
            if e.nccl_min is None:
                raise r.fail(f"cc[{n}]", "nccl_min_multi_gpu", "needs nccl_min (the single-GPU floor) too")
            if e.nccl_min_multi_gpu <= e.nccl_min:
                raise r.fail(f"cc[{n}]", "nccl_min_multi_gpu",
                             f"'{e.nccl_min_multi_gpu}' is not above nccl_min '{e.nccl_min}' (leave it out instead)")
    return ComputeCapabilityTable(entries=tuple(entries))


def _host_compiler(r: _Reader) -> HostCompilerTable:
    rules = _build(r, "cuda", ("cuda", "max_gcc", "min_gcc"), lambda w, i: HostCompilerRule(
        cuda=r.version(w, i, "cuda"), max_gcc=r.int_(w, i, "max_gcc"), min_gcc=r.int_(w, i, "min_gcc", 0),
        source=r.source(w, i), confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
    ))
    r.sorted_unique("cuda", [x.cuda for x in rules], "cuda")
    for n, x in enumerate(rules):
        if x.max_gcc < x.min_gcc:
            raise r.fail(f"cuda[{n}]", "max_gcc", f"{x.max_gcc} is below min_gcc {x.min_gcc}")
    return HostCompilerTable(rules=tuple(rules))


def _int_list(r: _Reader, where: str, item: dict[str, Any], key: str) -> tuple[int, ...]:
    v = r.raw(where, item, key)
    if not isinstance(v, list) or not v or any(isinstance(x, bool) or not isinstance(x, int) for x in v):
        raise r.fail(where, key, f"{shown(v)} is not a non-empty array of integers")
    return tuple(v)


def _cudnn(r: _Reader) -> CudnnTable:
    majors = _build(r, "major", ("major", "cuda_majors", "libraries"), lambda w, i: CudnnMajor(
        major=r.int_(w, i, "major"), cuda_majors=_int_list(r, w, i, "cuda_majors"),
        libraries=r.strs(w, i, "libraries"), source=r.source(w, i),
        confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
    ))
    r.sorted_unique("major", [x.major for x in majors], "major")
    return CudnnTable(majors=tuple(majors))


_YYMM = re.compile(r"^\d{2}\.(0[1-9]|1[0-2])$")


def _images(r: _Reader) -> ImagesTable:
    pytorch = _build(r, "pytorch", ("torch", "cuda", "cudnn", "flavors"), lambda w, i: PytorchImage(
        torch=r.version(w, i, "torch"), cuda=r.version(w, i, "cuda"), cudnn=r.str_(w, i, "cudnn"),
        flavors=r.strs(w, i, "flavors"), source=r.source(w, i),
        confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
    ))
    for n, img in enumerate(pytorch):
        bad = [f for f in img.flavors if f not in ("runtime", "devel")]
        if bad or not img.flavors:
            raise r.fail(f"pytorch[{n}]", "flavors", f"expected 'runtime' and/or 'devel', got {list(img.flavors)}")
    r.sorted_unique("pytorch", [(x.torch, x.cuda) for x in pytorch], "torch/cuda")
    ngc = _build(r, "ngc", ("release", "torch", "cuda", "min_driver", "min_cc"), lambda w, i: NgcImage(
        release=r.str_(w, i, "release"), torch=r.version(w, i, "torch"), cuda=r.version(w, i, "cuda"),
        min_driver=r.version(w, i, "min_driver"), min_cc=r.version(w, i, "min_cc"), source=r.source(w, i),
        confirmed=r.bool_(w, i, "confirmed", True), note=r.str_(w, i, "note", ""),
    ))
    for n, img in enumerate(ngc):
        if not _YYMM.match(img.release):
            raise r.fail(f"ngc[{n}]", "release", f"{img.release!r} is not a YY.MM release")
    r.sorted_unique("ngc", [x.release for x in ngc], "release")
    return ImagesTable(pytorch=tuple(pytorch), ngc=tuple(ngc))
