"""Parse pasted ``ldd`` output: which file each CUDA soname resolved to, and which were not found."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from cudadoctor.facts import LibraryCopy, ResolvedLibrary, Unavailable
from cudadoctor.probes.cuda_libs import is_libcuda, match_library, soname_suffix, version_from_filename
from cudadoctor.triage.parse_common import PROBE, missing

# NOTE: glibc ldd prints "\tsoname => /path (0xADDR)" for a resolved dependency and
# "\tsoname => not found" for a missing one (man 1 ldd).
_RESOLVED = re.compile(r"^\s{0,16}(\S{1,200}\.so(?:\.[\d.]{1,30})?)\s=>\s(/\S{1,1000})\s\(0x[0-9a-fA-F]{1,16}\)\s*$")
_NOT_FOUND = re.compile(r"^\s{0,16}(\S{1,200}\.so(?:\.[\d.]{1,30})?)\s=>\snot\sfound\s*$")


@dataclass
class LddResult:
    """The CUDA-relevant lines of one or more pasted ldd outputs."""

    resolved: list[ResolvedLibrary] = field(default_factory=list)
    copies: list[LibraryCopy] = field(default_factory=list)
    missing_sonames: list[str] = field(default_factory=list)
    libcuda_files: list[str] = field(default_factory=list)
    lines: int = 0  #: ldd lines seen (CUDA or not)


def origin_of(path: str) -> str:
    """LibraryCopy.origin guessed from a path alone (the probe also knows the search roots)."""
    p = path.replace("\\", "/")
    if "/site-packages/torch/lib/" in p or "/dist-packages/torch/lib/" in p:
        return "torch-lib"
    if "/site-packages/nvidia/" in p or "/dist-packages/nvidia/" in p:
        return "pip-wheel"
    if re.search(r"/(?:ana|mini|micro)?conda\d?/|/mambaforge/|/miniforge\d?/|/envs/[^/]{1,100}/lib/", p):
        return "conda"
    if p.startswith("/usr/local/cuda"):
        return "usr-local-cuda"
    return "system"


def parse_ldd(lines: list[str]) -> LddResult | None:
    """The ldd output in *lines*, or None when there is none (fewer than one "=>" line)."""
    res = LddResult()
    seen: set[str] = set()
    for line in lines:
        m = _RESOLVED.match(line)
        if m:
            res.lines += 1
            soname, path = m.group(1), m.group(2)
            name = posixpath.basename(soname)
            if is_libcuda(name):
                res.libcuda_files.append(path)
                res.resolved.append(ResolvedLibrary(soname=name, path=path))
                continue
            fam = match_library(name)
            if fam is None or soname in seen:
                continue
            seen.add(soname)
            res.resolved.append(ResolvedLibrary(soname=name, path=path))
            base = posixpath.basename(path)
            suffix = soname_suffix(name)
            res.copies.append(LibraryCopy(
                library=fam[0], path=path, real_path=path,
                soname_major=suffix if suffix.count(".") <= 1 else suffix.split(".", 1)[0],
                origin=origin_of(path),
                version=v if not isinstance(v := version_from_filename(base), Unavailable) else missing(
                    f"ldd shows only the soname {base}"),
                version_source="filename" if not isinstance(v, Unavailable) else "unknown",
            ))
            continue
        n = _NOT_FOUND.match(line)
        if n:
            res.lines += 1
            name = posixpath.basename(n.group(1))
            if name in res.missing_sonames:
                continue
            res.missing_sonames.append(name)
            res.resolved.append(ResolvedLibrary(
                soname=name,
                path=Unavailable(probe=PROBE, reason=f"ldd in the pasted text: {name} => not found"),
            ))
    return res if res.lines else None
