"""Parse pasted ``pip list`` / ``pip freeze`` / ``pip show`` / ``conda list`` output into Distributions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from cudadoctor.facts import Distribution

#: Distributions kept: the same families the torch probe reports (probes/_torch_child.py).
NAMES = frozenset({"torch", "torchvision", "torchaudio", "triton", "pytorch-triton"})
PREFIXES = ("nvidia-", "cuda-", "pytorch-triton-")
#: conda package names that are the PyPI distribution under another name.
CONDA_ALIASES = {"pytorch": "torch", "pytorch-gpu": "", "pytorch-cpu": ""}

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}"
_FREEZE = re.compile(rf"^\s{{0,4}}({_NAME})(?:\[[^\]]{{0,100}}\])?\s{{0,2}}===?\s{{0,2}}(\S{{1,100}})\s*$")
_FREEZE_AT = re.compile(rf"^\s{{0,4}}({_NAME})\s@\s(\S{{1,1000}})\s*$")
_COLUMNS = re.compile(rf"^({_NAME})\s{{1,80}}(\d\S{{0,100}})(?:\s{{1,80}}(\S.{{0,900}}))?$")
_CONDA = re.compile(rf"^({_NAME})\s{{1,80}}(\d\S{{0,100}})\s{{1,80}}(\S{{1,200}})(?:\s{{1,80}}(\S{{1,200}}))?\s*$")
_PIP_LIST_HEAD = re.compile(r"^Package\s{1,80}Version(?:\s{1,80}.{0,200})?$")
_CONDA_HEAD = re.compile(r"^#\s{0,4}(?:Name\s{1,80}Version\s{1,80}Build|packages in environment at\s)")
_SITE = re.compile(r"python(\d{1,2}\.\d{1,3})")


@dataclass
class Packages:
    """Distributions found, and what else the listing says."""

    kinds: list[str] = field(default_factory=list)  #: "pip-list", "conda-list"
    distributions: dict[str, Distribution] = field(default_factory=dict)  #: by normalised name, first wins
    #: conda build strings of the torch package ("py3.10_cuda12.1_cudnn8.9.2_0")
    torch_builds: list[str] = field(default_factory=list)
    python_version: str = ""  #: from a conda "python 3.10.13 ..." row or a torch wheel's cp311 tag
    torch_location: str = ""  #: from ``pip show torch``'s Location


def relevant(name: str) -> bool:
    """Whether a distribution (normalised name) belongs in TorchFacts.distributions."""
    return name in NAMES or name.startswith(PREFIXES)


def _add(pk: Packages, raw_name: str, version: str) -> None:
    name = canonicalize_name(raw_name)
    if relevant(name) and name not in pk.distributions:
        pk.distributions[name] = Distribution(name=name, version=version, requires=())


def parse_package_line(line: str, pk: Packages, *, conda: bool) -> None:
    """One ``[pip3] x==y`` / ``[conda] x y build channel`` line of collect_env."""
    line = line.strip()
    if conda:
        _conda_row(line, pk)
        return
    m = _FREEZE.match(line)
    if m:
        _add(pk, m.group(1), m.group(2))


def _conda_row(line: str, pk: Packages) -> bool:
    m = _CONDA.match(line)
    if not m:
        return False
    name, version, build = m.group(1).lower(), m.group(2), m.group(3)
    if name == "python":
        pk.python_version = pk.python_version or version
    alias = CONDA_ALIASES.get(name)
    if alias == "":
        return True
    if alias == "torch":
        pk.torch_builds.append(build)
    _add(pk, alias or name, version)
    return True


def parse_packages(lines: list[str]) -> Packages | None:
    """pip list / pip freeze / pip show / conda list output in *lines*, or None when there is none."""
    pk = Packages()
    mode = ""
    pip_rows = conda_rows = 0
    for row, line in enumerate(lines):
        s = line.strip()
        if _PIP_LIST_HEAD.match(s):
            mode = "pip-columns"
            continue
        if _CONDA_HEAD.match(s):
            mode = "conda"
            continue
        if mode == "pip-columns" and re.match(r"^-{3,}(\s{1,80}-{3,}){1,4}$", s):
            continue
        if s.startswith("Name: ") and canonicalize_name(s[6:].strip()) in NAMES:
            _pip_show(lines, row, pk)
            pip_rows += 1
            continue
        m = _FREEZE.match(s)
        if m and not line.lstrip().startswith("["):
            before = len(pk.distributions)
            _add(pk, m.group(1), m.group(2))
            pip_rows += len(pk.distributions) > before
            continue
        m = _FREEZE_AT.match(s)
        if m and relevant(canonicalize_name(m.group(1))):
            # "torch @ file:///..." names no version; the wheel file name often does.
            v = re.search(r"-(\d[^-/]{0,60})-(?:cp|py)\d", m.group(2))
            _add(pk, m.group(1), v.group(1).replace("%2B", "+") if v else "")
            tag = re.search(r"-cp(3)(\d{1,2})-", m.group(2))
            if tag and canonicalize_name(m.group(1)) == "torch" and not pk.python_version:
                pk.python_version = f"{tag.group(1)}.{tag.group(2)}"  # the wheel's CPython tag
            pip_rows += 1
            continue
        if mode == "conda":
            if _conda_row(s, pk):
                conda_rows += 1
                continue
        if mode == "pip-columns":
            c = _COLUMNS.match(s)
            if c:
                before = len(pk.distributions)
                _add(pk, c.group(1), c.group(2))
                pip_rows += len(pk.distributions) > before
                continue
            if s and not s.startswith("#"):
                mode = ""
    if pip_rows:
        pk.kinds.append("pip-list")
    if conda_rows:
        pk.kinds.append("conda-list")
    return pk if pk.kinds else None


def _pip_show(lines: list[str], start: int, pk: Packages) -> None:
    fields: dict[str, str] = {}
    for line in lines[start: start + 40]:
        key, sep, value = line.partition(":")
        if not sep or not line.strip():
            break
        fields.setdefault(key.strip(), value.strip())
    name = canonicalize_name(fields.get("Name", ""))
    if relevant(name) and name not in pk.distributions:
        # NOTE: pip show's "Requires:" lists bare names without the pinned versions, so it is no
        # substitute for Requires-Dist (which the checks compare against); requires stays empty.
        pk.distributions[name] = Distribution(name=name, version=fields.get("Version", ""), requires=())
    if name == "torch" and fields.get("Location"):
        pk.torch_location = fields["Location"].rstrip("/\\") + "/torch"


def python_from_path(path: str) -> str:
    """The "3.10" of a ".../lib/python3.10/site-packages/..." path ("" when none)."""
    m = _SITE.search(path)
    return m.group(1) if m else ""
