"""The packages and index options of a `pip install` command line (from a RUN instruction), pure."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

#: pip options that take a value (the value is not a package).
VALUE_OPTIONS = frozenset({
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-c", "--constraint", "-r", "--requirement",
    "-t", "--target", "--prefix", "--root", "--platform", "--python-version", "--implementation", "--abi",
    "--src", "-e", "--editable", "--cache-dir", "--log", "--progress-bar", "--upgrade-strategy", "--trusted-host",
    "--timeout", "--retries", "--proxy", "--cert", "--client-cert", "--only-binary", "--no-binary", "--config-settings",
    "-C", "--global-option", "--report", "--python", "-p",
})
#: Where one shell command ends and the next begins.
_SEPARATORS = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")
_INSTALLER = re.compile(r"(?:^|\s)(?:python[0-9.]*\s+-m\s+pip|pip[0-9.]*|uv\s+pip)\s+install\s+(.*)$")


@dataclass(frozen=True, slots=True)
class PipInstall:
    """One `pip install` invocation: its requirement strings and options."""

    packages: tuple[str, ...]
    index_url: str | None  #: None when not given
    extra_index_urls: tuple[str, ...]
    requirement_files: tuple[str, ...]


def pip_installs(command: str) -> list[PipInstall]:
    """Every `pip install` in a shell command line (a RUN instruction's value)."""
    out: list[PipInstall] = []
    for part in _SEPARATORS.split(command):
        m = _INSTALLER.search(part)
        if not m:
            continue
        try:
            words = shlex.split(m.group(1))
        except ValueError:
            words = m.group(1).split()
        out.append(parse_install_args(words))
    return out


def parse_install_args(words: list[str]) -> PipInstall:
    """Split `pip install` arguments into packages and the options the lint needs."""
    packages: list[str] = []
    index: str | None = None
    extra: list[str] = []
    files: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        opt, eq, val = w.partition("=")
        if w.startswith("-"):
            name = opt if eq else w
            if name in VALUE_OPTIONS:
                if not eq:
                    i += 1
                    val = words[i] if i < len(words) else ""
                if name in ("-i", "--index-url"):
                    index = val
                elif name == "--extra-index-url":
                    extra.append(val)
                elif name in ("-r", "--requirement"):
                    files.append(val)
        else:
            packages.append(w)
        i += 1
    return PipInstall(tuple(packages), index, tuple(extra), tuple(files))


def requirement_name(text: str) -> tuple[str, Requirement] | None:
    """(canonical name, Requirement) of a package argument; None for a path, URL or anything else."""
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    return canonicalize_name(req.name), req
