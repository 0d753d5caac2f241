"""Error text -> typed causes: the one table that says what torch's, CUDA's and the loader's messages mean.

Probes (and the triage text parsers) run :func:`classify` over the error texts they capture and
keep the result as typed facts (``TorchFacts.import_error_causes``, ``cuda_unavailable_causes``,
``cudnn_unavailable_causes``); checks decide on those causes, never on the prose. Each
:class:`Rule` of :data:`RULES` has a stable ``key`` and a one-clause ``meaning`` so the triage
layer can build its signatures from the same table.

The module also names the library families those texts mention (:func:`library_family`,
:func:`is_cuda_family`), and reads the two facts the NVML child's error text carries
(:func:`killed_by_signal`, :func:`gpu_indices_named`).

It imports nothing else from cudadoctor: facts.py imports it for the field types.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from enum import Enum

# --------------------------------------------------------------------------------------------
# CUDA error numbers the causes stand for

#: NOTE: values of the CUDA driver API's CUresult enum
#: (https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__TYPES.html). 35 is the runtime
#: API's cudaErrorInsufficientDriver: the driver API has no such code (cuInit reports an old
#: driver as a missing symbol or 803).
CUDA_SUCCESS = 0
CUDA_ERROR_INSUFFICIENT_DRIVER = 35
CUDA_ERROR_NO_DEVICE = 100
CUDA_ERROR_SYSTEM_NOT_READY = 802
CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804
CUDA_ERROR_UNKNOWN = 999


class ErrorKind(str, Enum):
    """What an error text says went wrong. Values are stable: they are saved in facts files."""

    CUDA_UNKNOWN = "cuda-unknown"  #: CUDA init failed with 999, "unknown error"
    CUDA_COMPAT_NOT_SUPPORTED = "cuda-compat-not-supported"  #: 804: forward compatibility on unsupported HW
    CUDA_SYSTEM_NOT_READY = "cuda-system-not-ready"  #: 802: "system not yet initialized" (NVSwitch fabric)
    CUDA_NO_DEVICE = "cuda-no-device"  #: 100: no CUDA-capable device / "No CUDA GPUs are available"
    DRIVER_TOO_OLD = "driver-too-old"  #: 35, or torch's "driver ... is too old (found version N)"
    NO_DRIVER = "no-driver"  #: torch's "Found no NVIDIA driver on your system"
    LIBRARY_CANNOT_OPEN = "library-cannot-open"  #: the loader cannot open a shared object (soname)
    LIBRARY_NOT_IN_PATH = "library-not-in-path"  #: torch's _preload_cuda_deps found no wheel copy
    UNDEFINED_SYMBOL = "undefined-symbol"  #: a loaded library lacks a symbol another version has
    CUDNN_VERSION_INCOMPATIBLE = "cudnn-version-incompatible"  #: torch built for one cuDNN, another loads
    GLIBC_TOO_OLD = "glibc-too-old"  #: "GLIBC_2.28 not found"
    GLIBCXX_TOO_OLD = "glibcxx-too-old"  #: "GLIBCXX_3.4.30 not found" (libstdc++)
    TORCH_C_MISSING = "torch-c-missing"  #: torch._C cannot be imported (a source tree, a half-removed install)
    NUMPY_ABI_MISMATCH = "numpy-abi-mismatch"  #: an extension built for NumPy 1.x meets NumPy 2
    ILLEGAL_INSTRUCTION = "illegal-instruction"  #: SIGILL: the CPU lacks an instruction the build uses
    #: a kind this cudadoctor does not know, read from a facts file a newer one wrote
    UNRECOGNISED = "unrecognised"

    @classmethod
    def _missing_(cls, value: object) -> ErrorKind:
        # NOTE: a newer cudadoctor may add kinds; an older reader must still replay its facts
        # file (facts files ignore unknown fields for the same reason), so an unknown value reads
        # as UNRECOGNISED, which no check acts on.
        return cls.UNRECOGNISED


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorCause:
    """One cause an error text names: its kind and what it says about it ("" where it says nothing)."""

    kind: ErrorKind
    line: str = ""  #: the line of the text it was read from, stripped (for messages and evidence)
    #: the library family at fault, e.g. "libcudnn"; for an undefined symbol the family that
    #: should provide it ("libnvJitLink"), "" when the text does not tell
    library: str = ""
    soname: str = ""  #: the shared object the text names, e.g. "libcudnn.so.9" or "libcublas.so" (preload)
    symbol: str = ""  #: the undefined symbol, e.g. "__nvJitLinkAddData_12_1"
    symbol_version: str = ""  #: the version tag of that symbol, e.g. "libnvJitLink.so.12"
    version: str = ""  #: a version the text says was found, as written ("8.9.2", "11040")
    required: str = ""  #: a version the text says is needed, as written ("9.1.0", "2.28")
    #: the CUDA error number the text stands for (0 when none: 0 is CUDA_SUCCESS, never an error)
    code: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    """One recognisable error text: what it means and how its groups fill an :class:`ErrorCause`."""

    key: str  #: stable id, e.g. "cuda-999" (triage signatures may refer to it)
    kind: ErrorKind
    #: named groups whose names are ErrorCause fields (soname, symbol, symbol_version, version,
    #: required, library) fill those fields; "x, y, z" in a version field becomes "x.y.z"
    pattern: re.Pattern[str]
    #: lower-case literals one of which every match contains: on ASCII text the regex runs only
    #: when the lower-cased text holds one (a cheap pre-filter; it never changes what matches)
    needles: tuple[str, ...]
    meaning: str  #: one clause: what the text says happened
    code: int = 0  #: the CUDA error number the kind stands for (0: none)
    library: str = ""  #: the library the kind always concerns when the text does not name one
    #: must also match somewhere in the same text (a failure told in two lines, e.g. torch._C + "No module named")
    context: re.Pattern[str] | None = None
    #: key of an earlier rule that reads the same words more fully: a match starting inside one
    #: of its matches is not a cause of its own (a bare "undefined symbol" inside a named one)
    unless_inside: str = ""


# --------------------------------------------------------------------------------------------
# library families

#: CUDA library families whose copies must match what torch was built and pinned with.
CUDA_FAMILIES = frozenset({
    "libcudart", "libcublas", "libcublasLt", "libnvJitLink", "libcusparse", "libcusparseLt",
    "libcufft", "libcurand", "libcusolver", "libnvrtc", "libcupti", "libnccl", "libnvToolsExt",
    "libcufile", "libnvshmem_host",
})

#: symbol prefix -> the library family that defines it (for "undefined symbol" errors without a version).
SYMBOL_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("__nvJitLink", "libnvJitLink"), ("nvJitLink", "libnvJitLink"), ("cublasLt", "libcublasLt"),
    ("cublas", "libcublas"), ("cudnn", "libcudnn"), ("nccl", "libnccl"), ("cusparseLt", "libcusparseLt"),
    ("cusparse", "libcusparse"), ("cufft", "libcufft"), ("curand", "libcurand"),
    ("cusolver", "libcusolver"), ("nvrtc", "libnvrtc"), ("cupti", "libcupti"), ("cuda", "libcudart"),
    ("__cuda", "libcudart"),
)

_SONAME = re.compile(r"(lib[A-Za-z0-9_+]+?)(?:-[0-9a-f]{8})?\.so((?:\.\d+)*)")


def library_family(soname: str) -> str:
    """'libcudart.so.12' -> 'libcudart'; 'libcudart-9335f6a2.so.11.0' -> 'libcudart' (auditwheel name)."""
    m = _SONAME.search(posixpath.basename(soname))
    return m.group(1) if m else soname


def is_cuda_family(family: str) -> bool:
    """Whether *family* is one of the CUDA libraries torch ships or pins (cuDNN included)."""
    return family in CUDA_FAMILIES or family.startswith("libcudnn")


def provider_of(symbol: str) -> str:
    """The library family whose symbols start like *symbol* ("" when no known prefix matches)."""
    return next((family for prefix, family in SYMBOL_PROVIDERS if symbol.startswith(prefix)), "")


# --------------------------------------------------------------------------------------------
# the table

_SO = r"lib[A-Za-z0-9_+\-]+\.so(?:\.\d+)*"

#: "libcudnn.so.9: cannot open shared object file" (the dynamic loader). Triage uses this pattern too.
CANNOT_OPEN = re.compile(rf"(?P<soname>{_SO}): cannot open shared object file")
#: NOTE: torch/__init__.py _preload_cuda_deps raises "ValueError: libcublas.so.*[0-9] not found in
#: the system path [...]" when a pip nvidia wheel it expects is absent. Triage uses this pattern too.
NOT_IN_PATH = re.compile(r"(?P<soname>lib[A-Za-z0-9_+\-]+\.so)\.\*\[0-9\]\S* not found in the system path")

#: Every error text cudadoctor understands, in the order causes at the same place are listed.
RULES: tuple[Rule, ...] = (
    # ---------------------------------------------------------------- CUDA initialisation (torch's reason)
    Rule(
        "cuda-999", ErrorKind.CUDA_UNKNOWN,
        re.compile(r"error 999|unknown error", re.IGNORECASE),
        ("error 999", "unknown error"),
        "CUDA initialisation failed with an unknown error (999)", code=CUDA_ERROR_UNKNOWN,
    ),
    Rule(
        "cuda-804", ErrorKind.CUDA_COMPAT_NOT_SUPPORTED,
        re.compile(r"error 804|forward compatibility was attempted on non supported hw", re.IGNORECASE),
        ("error 804", "forward compatibility was attempted on non supported hw"),
        "a forward-compatibility libcuda runs on a GPU that does not support it (804)",
        code=CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE,
    ),
    Rule(
        "cuda-802", ErrorKind.CUDA_SYSTEM_NOT_READY,
        re.compile(r"error 802|system not yet initiali[sz]ed", re.IGNORECASE),
        ("error 802", "system not yet initiali"),
        "CUDA is not ready: the NVSwitch fabric is not initialised (802)", code=CUDA_ERROR_SYSTEM_NOT_READY,
    ),
    Rule(
        "cuda-100", ErrorKind.CUDA_NO_DEVICE,
        re.compile(r"no cuda gpus|error 100|no cuda-capable device", re.IGNORECASE),
        ("no cuda gpus", "error 100", "no cuda-capable device"),
        "CUDA sees no device (100)", code=CUDA_ERROR_NO_DEVICE,
    ),
    Rule(
        # torch/cuda/__init__.py: "The NVIDIA driver on your system is too old (found version 11040)"
        "torch-driver-too-old", ErrorKind.DRIVER_TOO_OLD,
        re.compile(r"found version (?P<version>\d+)"),
        ("found version",),
        "torch reports the driver as too old for its CUDA build",
    ),
    Rule(
        "cuda-35", ErrorKind.DRIVER_TOO_OLD,
        re.compile(r"CUDA driver version is insufficient for CUDA runtime version|cudaErrorInsufficientDriver"),
        ("insufficient for cuda runtime", "cudaerrorinsufficientdriver"),
        "the driver is older than the CUDA runtime (35)", code=CUDA_ERROR_INSUFFICIENT_DRIVER,
    ),
    Rule(
        "torch-no-driver", ErrorKind.NO_DRIVER,
        re.compile(r"Found no NVIDIA driver on your system"),
        ("found no nvidia driver",),
        "torch found no NVIDIA driver",
    ),
    # ---------------------------------------------------------------- shared libraries (import torch)
    Rule(
        "cannot-open-so", ErrorKind.LIBRARY_CANNOT_OPEN, CANNOT_OPEN,
        ("cannot open shared object file",),
        "a shared library cannot be found by the dynamic loader",
    ),
    Rule(
        "torch-preload", ErrorKind.LIBRARY_NOT_IN_PATH, NOT_IN_PATH,
        ("not found in the system path",),
        "torch cannot find a CUDA library from its pip wheels",
    ),
    Rule(
        # "libcusparse.so.12: undefined symbol: __nvJitLinkAddData_12_1, version libnvJitLink.so.12"
        "undefined-symbol", ErrorKind.UNDEFINED_SYMBOL,
        re.compile(
            rf"(?P<soname>{_SO}): undefined symbol: (?P<symbol>[^\s,]+)"
            r"(?:, version (?P<symbol_version>lib[A-Za-z0-9_+\-.]+))?"
        ),
        ("undefined symbol",),
        "a shared library misses a symbol another copy/version provides",
    ),
    Rule(
        # the same words where the text does not name the library (e.g. torch's own _C.so)
        "undefined-symbol-unnamed", ErrorKind.UNDEFINED_SYMBOL,
        re.compile(r"undefined symbol"),
        ("undefined symbol",),
        "a library misses a symbol (the text does not say which library)",
        unless_inside="undefined-symbol",
    ),
    Rule(
        # torch/backends/cudnn/__init__.py: "cuDNN version incompatibility: PyTorch was compiled
        # against (9, 1, 0) but found runtime version (8, 9, 2)"
        "cudnn-incompat", ErrorKind.CUDNN_VERSION_INCOMPATIBLE,
        re.compile(
            r"compiled\s+against\s+\((?P<required>\d+,\s*\d+,\s*\d+)\)\s+but\s+found\s+runtime\s+version\s+"
            r"\((?P<version>\d+,\s*\d+,\s*\d+)\)"
        ),
        ("compiled",),
        "the cuDNN that loads is not the one torch was built for",
    ),
    # ---------------------------------------------------------------- the platform under torch
    Rule(
        "glibc-not-found", ErrorKind.GLIBC_TOO_OLD,
        re.compile(r"GLIBC_(?P<required>[\d.]+)'? not found"),
        ("glibc_",),
        "the wheel needs a newer glibc than this system has", library="glibc",
    ),
    Rule(
        "glibcxx-not-found", ErrorKind.GLIBCXX_TOO_OLD,
        re.compile(r"GLIBCXX_(?P<required>[\d.]+)'? not found"),
        ("glibcxx_",),
        "the wheel needs a newer libstdc++ than the one that loads", library="libstdc++",
    ),
    Rule(
        "torch-c-missing", ErrorKind.TORCH_C_MISSING,
        re.compile(r"torch\._C"),
        ("torch._c",),
        "torch's compiled core torch._C does not import",
        context=re.compile(r"No module named|circular import"),
    ),
    Rule(
        "numpy-abi", ErrorKind.NUMPY_ABI_MISMATCH,
        re.compile(r"compiled using NumPy 1\.x|_ARRAY_API"),
        ("compiled using numpy 1.x", "_array_api"),
        "an extension built for NumPy 1.x meets NumPy 2",
        context=re.compile(r"NumPy"),
    ),
    Rule(
        "illegal-instruction", ErrorKind.ILLEGAL_INSTRUCTION,
        re.compile(r"SIGILL|Illegal instruction|signal 4"),
        ("sigill", "illegal instruction", "signal 4"),
        "the CPU lacks an instruction set the build needs",
    ),
)

BY_KEY: dict[str, Rule] = {r.key: r for r in RULES}

#: Distinct causes kept per rule: a log repeating one line thousands of times says nothing more.
MAX_CAUSES_PER_RULE = 64

_FIELDS = frozenset({"library", "soname", "symbol", "symbol_version", "version", "required"})
_VERSION_FIELDS = ("version", "required")


def classify(text: str) -> tuple[ErrorCause, ...]:
    """Every cause *text* names, in text order (ties in :data:`RULES` order), without duplicates."""
    if not text:
        return ()
    # NOTE: only ASCII text is pre-filtered: under IGNORECASE a few non-ASCII letters match ASCII
    # ones without lower() turning them into those letters (the long s U+017F matches "s").
    lowered = text.lower() if text.isascii() else None
    found: list[tuple[int, int, ErrorCause]] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    for order, rule in enumerate(RULES):
        if lowered is not None and not any(n in lowered for n in rule.needles):
            continue
        if rule.context is not None and not rule.context.search(text):
            continue
        seen: set[ErrorCause] = set()
        taken = spans.get(rule.unless_inside, []) if rule.unless_inside else []
        mine = spans.setdefault(rule.key, [])
        for m in rule.pattern.finditer(text):
            mine.append(m.span())
            if any(start <= m.start() < end for start, end in taken):
                continue
            cause = _cause(rule, m, text)
            if cause not in seen:
                seen.add(cause)
                found.append((m.start(), order, cause))
                if len(seen) >= MAX_CAUSES_PER_RULE:
                    break
    found.sort(key=lambda f: (f[0], f[1]))
    return tuple(dict.fromkeys(cause for _, _, cause in found))


def classify_reason(reason: str, detail: str) -> tuple[ErrorCause, ...]:
    """The causes in an unknown fact's reason and detail, read as one text (how the checks always read them)."""
    return classify(f"{reason} {detail}")


def _cause(rule: Rule, m: re.Match[str], text: str) -> ErrorCause:
    fields = {k: v for k, v in m.groupdict().items() if v is not None and k in _FIELDS}
    for name in _VERSION_FIELDS:
        if name in fields:
            fields[name] = re.sub(r",\s*", ".", fields[name])
    if "library" not in fields:
        fields["library"] = _library(rule, fields)
    return ErrorCause(kind=rule.kind, line=_line_at(text, m.start()), code=rule.code, **fields)


def _library(rule: Rule, fields: dict[str, str]) -> str:
    """The library family the cause is about: the symbol's provider, else the soname's family."""
    if rule.kind is ErrorKind.UNDEFINED_SYMBOL:
        if fields.get("symbol_version"):
            return library_family(fields["symbol_version"])
        return provider_of(fields.get("symbol", ""))
    if fields.get("soname"):
        return library_family(fields["soname"])
    return rule.library


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start: end if end >= 0 else len(text)].strip()


def first(causes: tuple[ErrorCause, ...], *kinds: ErrorKind) -> ErrorCause | None:
    """The first cause of one of *kinds* (None when there is none)."""
    if not kinds:
        raise TypeError("first() needs at least one ErrorKind")  # NOTE: else it would always answer None
    return next((c for c in causes if c.kind in kinds), None)


def of_kind(causes: tuple[ErrorCause, ...], *kinds: ErrorKind) -> tuple[ErrorCause, ...]:
    """The causes of *kinds*, in their order."""
    return tuple(c for c in causes if c.kind in kinds)


# --------------------------------------------------------------------------------------------
# the NVML child's error text

_GPU_LABEL = re.compile(r"\(GPU (\d+)\)")


def killed_by_signal(text: str) -> bool:
    """Whether a child's error text says a signal killed it ("the NVML child was killed by SIGSEGV ...")."""
    return "killed by" in text


def gpu_indices_named(text: str) -> tuple[int, ...]:
    """The GPU indices an NVML error text names in its "(GPU N)" call labels, in order, each once."""
    out: list[int] = []
    for m in _GPU_LABEL.finditer(text):
        digits = m.group(1)
        if len(digits) > 9:
            continue  # NOTE: no GPU index is that long; int() of a huge run would be slow or fail
        index = int(digits)
        if index not in out:
            out.append(index)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# the integer encodings error texts print versions in


def decode_cuda_int(value: str) -> str:
    """CUDA's integer version as text: 11040 -> '11.4', 12020 -> '12.2' (cudaDriverGetVersion's encoding)."""
    n = int(value)
    return f"{n // 1000}.{(n % 1000) // 10}"


def decode_cudnn_int(value: str) -> str:
    """cuDNN's integer version: 7102 -> '7.1.2'; 8902 -> '8.9.2' (CUDNN_VERSION = M*1000 + m*100 + p)."""
    n = int(value)
    if n >= 10000:  # NOTE: cuDNN 9 encodes M*10000 + m*100 + p (90100 = 9.1.0)
        return f"{n // 10000}.{(n % 10000) // 100}.{n % 100}"
    return f"{n // 1000}.{(n % 1000) // 100}.{n % 100}"
