"""GPU models named in prose or fragments ("RTX 3090", "rtx3090", "3090 GPU", "Tesla K40m", "A100-SXM4-80GB").

A mention is turned into the name NVML would print ("GeForce RTX 3090", "Tesla K40m",
"NVIDIA A100-SXM4-80GB") and looked up in rules/gpus.toml by the parse facade; a model with no
row stays a GPU whose compute capability is unknown (checks then skip with that reason).

False alarms matter as much as misses: a bare number ("3090") is a GPU only right next to a word
that says so ("3090 GPU", "两张3090", "on a 3090"), so "3090 images" or "port 3090" never is;
two- and three-character data-center names ("T4", "A10", "K80") need "Tesla"/"NVIDIA" or such a word.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from cudadoctor.triage.extract.record import RANK_PROSE, Found

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables
    from cudadoctor.triage.normalise import Normalised

# NOTE: ASCII look-arounds: in "我的RTX3090显卡" the CJK characters are \w in Python's re.
_B = r"(?<![A-Za-z0-9_./-])"
_E = r"(?![A-Za-z0-9_]|\.\d|/\w)"
_GEFORCE = re.compile(
    r"([Rr][Tt][Xx]|[Gg][Tt][Xx]|[Gg][Tt]|[Mm][Xx])\s?-?(\d{3,4})(?:\s?(Ti|TI|ti|SUPER|Super|super|D)(?![A-Za-z]))?"
    r"(?:\s([Ll]aptop|[Mm]obile|Max-Q))?s?" + _E  # NOTE: "two 3090s", "8 H100s": a plural is still the model
)
_GEFORCE_PLAIN = re.compile(_B + r"(?:NVIDIA\s)?GeForce\s(\d{3,4})" + _E, re.IGNORECASE)
_TITAN = re.compile(_B + r"(?:NVIDIA\s)?(?:GeForce\s)?(?:GTX\s)?TITAN\s(Xp|X|V|RTX)" + _E, re.IGNORECASE)
_RTX_A = re.compile(_B + r"(?:NVIDIA\s)?(?:Quadro\s)?RTX\s?(A\d{3,4})" + _E, re.IGNORECASE)
_RTX_ADA = re.compile(_B + r"(?:NVIDIA\s)?RTX\s(\d{4})\s?Ada" + _E, re.IGNORECASE)
_RTX_PRO = re.compile(_B + r"(?:NVIDIA\s)?RTX\sPRO\s(\d{4})" + _E, re.IGNORECASE)
_QUADRO = re.compile(_B + r"Quadro\s(RTX\s\d{4}|[A-Z]{1,2}\d{2,4})" + _E)
_JETSON = re.compile(_B + r"Jetson\s(AGX\sXavier|Xavier(?:\sNX)?|AGX\sOrin|Orin(?:\sNano|\sNX)?|Nano|TX1|TX2|Thor)" + _E, re.IGNORECASE)
# Data-center parts, with NVML's suffixes ("-SXM4-80GB", " 80GB HBM3", "-PCIE-16GB", " NVL").
_SUFFIX = r"((?:[- ](?:SXM\d?|PCIE|PCIe|NVL|HBM3e?|\d{2,3}GB)){0,3})"
_DC = re.compile(
    r"(K(?:10|20Xm|20X|20c|20m|20|40c|40m|40t|40|80)|M(?:4|6|10|40|60)|P(?:4|40|100|6)|V100S?|T4"
    r"|A(?:100|10G|10|30|40|16|2|800)|H(?:100|200|800|20)|L(?:40S|40|4|20)|GH200|GB[23]00|B[123]00)" + _SUFFIX + r"s?" + _E
)
_VENDOR = re.compile(r"(?:NVIDIA|Tesla)[\s-]?$")
#: Names that are unambiguous on their own (no "Tesla"/"NVIDIA" or GPU word needed).
_DISTINCT = frozenset({"K40m", "K40c", "K20Xm", "K20c", "K20m", "P100", "V100", "V100S", "A100", "A800", "H100", "H200",
                       "H800", "L40S", "GH200", "GB200", "GB300", "B200", "B300", "A10G"})
# A bare GeForce number: RTX 20-50 series, GTX 10/16 series.
_BARE = re.compile(r"([2-5]0[5-9]0|10[5-8]0|16[5-6]0)(?:\s?(Ti|TI|ti|SUPER|Super))?(s?)" + _E)
_AFTER = re.compile(
    r"^\s?(?:GPUs?|graphics|cards?|显卡|卡|グラフィック|ボード|그래픽|видеокарт|Grafikkarte)", re.IGNORECASE
)
_BEFORE = re.compile(
    r"(?:GPUs?|graphics cards?|cards?|显卡|卡|张|块|台|nvidia|geforce|\d\s?[x×]|(?:on|with|using|use|have|has)\s(?:a|an|my|the|two|four|eight|one|\d{1,2})"
    r"|(?:单|双|四|八)卡)\s{0,2}[:：]?\s{0,2}$",
    re.IGNORECASE,
)


def _context(text: str, start: int, end: int) -> bool:
    """Whether a word right before or after text[start:end] says it is a GPU."""
    return _said(text[max(0, start - 28): start], text[end: end + 24])


@lru_cache(maxsize=4096)
def _said(before: str, after: str) -> bool:
    return bool(_AFTER.match(after) or _BEFORE.search(before))


def _bounded(text: str, start: int) -> bool:
    """Whether text[start] begins a token (the ASCII look-behind the fast patterns leave out)."""
    return start == 0 or not (text[start - 1].isascii() and (text[start - 1].isalnum() or text[start - 1] in "_./-"))


def _geforce(family: str, number: str, variant: str | None, laptop: str | None) -> str:
    name = f"GeForce {family.upper()} {number}"
    if variant:
        name += " " + ({"ti": "Ti", "super": "SUPER", "d": "D"}[variant.lower()])
    if laptop:
        name += " Laptop GPU"
    return name


def _mentions(text: str) -> list[tuple[int, str]]:
    """(offset, NVML-style name) of every GPU mention in *text*."""
    out: list[tuple[int, str]] = []
    low = text.lower()
    for m in _GEFORCE.finditer(text):
        if not _bounded(text, m.start()):
            continue
        fam, num = m.group(1).upper(), m.group(2)
        if fam == "RTX" and not re.fullmatch(r"[2-5]0[5-9]0", num):
            continue  # RTX 4000/5000/6000/8000 are workstation parts, named below or unknown
        out.append((m.start(), _geforce(fam, num, m.group(3), m.group(4))))
    for m in (_GEFORCE_PLAIN.finditer(text) if "geforce" in low else ()):
        out.append((m.start(), f"GeForce {m.group(1)}"))
    for m in (_TITAN.finditer(text) if "titan" in low else ()):
        kind = m.group(1)
        out.append((m.start(), {"x": "GeForce GTX TITAN X", "xp": "TITAN Xp", "v": "TITAN V", "rtx": "TITAN RTX"}[kind.lower()]))
    for m in (_RTX_A.finditer(text) if "rtx" in low else ()):
        out.append((m.start(), f"NVIDIA RTX {m.group(1).upper()}"))
    for m in (_RTX_ADA.finditer(text) if "ada" in low else ()):
        out.append((m.start(), f"NVIDIA RTX {m.group(1)} Ada Generation"))
    for m in (_RTX_PRO.finditer(text) if "pro" in low else ()):
        out.append((m.start(), f"NVIDIA RTX PRO {m.group(1)} Blackwell"))
    for m in (_QUADRO.finditer(text) if "quadro" in low else ()):
        out.append((m.start(), f"Quadro {m.group(1)}"))
    for m in (_JETSON.finditer(text) if "jetson" in low else ()):
        kind = m.group(1).lower()
        name = "Tegra X1" if kind in ("nano", "tx1") else "Jetson TX2" if kind == "tx2" else f"Jetson {m.group(1)}"
        out.append((m.start(), name))
    for m in _DC.finditer(text):
        prefix = _VENDOR.search(text[max(0, m.start() - 8): m.start()])
        if not prefix and not _bounded(text, m.start()):
            continue
        model, suffix = m.group(1), m.group(2) or ""
        if not prefix and model not in _DISTINCT and not (suffix or _context(text, m.start(), m.end())):
            continue
        vendor = "Tesla" if model[0] in "KMPVT" else "NVIDIA"
        out.append((m.start(), f"{vendor} {model}{suffix}"))
    for m in _BARE.finditer(text):
        if not _bounded(text, m.start()):
            continue
        if not (m.group(2) or m.group(3) or _context(text, m.start(), m.end())):
            continue
        num = m.group(1)
        fam = "GTX" if num.startswith(("10", "16")) else "RTX"
        out.append((m.start(), _geforce(fam, num, m.group(2), None)))
    return out


def extract(norm: Normalised, tables: RuleTables | None) -> list[Found]:
    """gpus.N.name records, one per distinct model named in *norm* (in order of first mention)."""
    text = norm.text
    mentions = sorted(_mentions(text))
    seen: dict[str, None] = {}
    out: list[Found] = []
    models: dict[str, object] = {}
    for offset, name in mentions:
        if name not in models:
            models[name] = tables.gpus.lookup(name) if tables is not None else None
        model = models[name]
        key = model.model if model is not None else name.lower()  # type: ignore[attr-defined]
        # NOTE: "RTX 3090" is found by two patterns at nearby offsets; keep one per model.
        if key in seen:
            continue
        seen[key] = None
        out.append(Found(f"gpus.{len(out)}.name", name, norm.locate(offset), RANK_PROSE, stated=True,
                         how="named in the text"))
    return out
