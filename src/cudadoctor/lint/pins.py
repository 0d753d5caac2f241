"""What a torch requirement and a base image resolve to, from the rule tables (pure).

``torch==2.5.1 --index-url .../whl/cu121`` is torch 2.5.1 built for CUDA 12.1; a plain
``torch==2.5.1`` from PyPI is that release's default variant (rules/torch.toml); ``torch`` or
``torch>=2`` is whatever the newest release the tables know that satisfies it ships by default.
A base image's torch and CUDA come from its tag (pytorch/pytorch, nvidia/cuda), the NGC table
(rules/images.toml) or its ``ENV CUDA_VERSION``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from cudadoctor.tables import RuleTables, TorchRelease

_INDEX_VARIANT = re.compile(r"download\.pytorch\.org/whl/(?:nightly/|test/)?(cu\d+|cpu|rocm[\d.]+)")
_VARIANT = re.compile(r"^cu(\d+)(\d)$")
_PYTORCH_TAG = re.compile(r"^(\d+\.\d+(?:\.\d+)?)-cuda(\d+\.\d+)-cudnn(\d+)-(runtime|devel)$")
_CUDA_TAG = re.compile(r"^(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class TorchPin:
    """What a torch requirement installs, as far as the tables tell."""

    version: Version | None  #: the exact version pinned (None when unpinned or a range)
    release: TorchRelease | None  #: the release line it resolves to (newest that satisfies it)
    variant: str | None  #: "cu121", "cpu", "rocm6.2"; None when unknown
    cuda: Version | None  #: the variant's CUDA
    from_default_index: bool  #: no PyTorch index: the plain PyPI wheel
    exact: bool  #: pinned with == to one version
    #: pinned to one release line (==2.5.* or an exact pin): the CUDA variant cannot move
    line_pinned: bool = False


def variant_cuda(variant: str | None) -> Version | None:
    """CUDA of a variant name ("cu121" -> 12.1)."""
    m = _VARIANT.match(variant or "")
    return Version(f"{int(m.group(1))}.{m.group(2)}") if m else None


def index_variant(*urls: str | None) -> str | None:
    """The variant a download.pytorch.org index URL serves ("cu121"), else None."""
    for url in urls:
        m = _INDEX_VARIANT.search(url or "")
        if m:
            return m.group(1)
    return None


def resolve_torch(tables: RuleTables, text: str, index_url: str | None, extra: tuple[str, ...] = ()) -> TorchPin:
    """Resolve a torch requirement string against the tables."""
    req = Requirement(text)
    exact: Version | None = None
    line: Version | None = None
    for spec in req.specifier:
        try:
            if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
                exact = Version(spec.version)
            elif spec.operator == "==" and spec.version.endswith(".*"):
                line = Version(spec.version[:-2])
        except InvalidVersion:
            pass
    candidates = [r for r in tables.torch.releases if req.specifier.contains(r.latest, prereleases=True)
                  or (exact is not None and r.torch.release[:2] == exact.release[:2])]
    variant = index_variant(index_url, *extra)
    if exact is not None:
        release = tables.torch.release(exact)
    elif line is not None and len(line.release) >= 2:
        release = tables.torch.release(line)
    else:
        # NOTE: an index serves only the releases built for its variant: the newest of those is what pip gets.
        served = [r for r in candidates if variant is None or variant in r.variants or not variant.startswith("cu")]
        release = served[-1] if served else None
    from_default = variant is None
    if exact is not None and exact.local:
        variant = exact.local
    if variant is None and release is not None:
        variant = release.default_variant
    return TorchPin(version=exact, release=release, variant=variant, cuda=variant_cuda(variant),
                    from_default_index=from_default, exact=exact is not None,
                    line_pinned=exact is not None or (line is not None and len(line.release) >= 2 and release is not None))


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What a base image reference tells about the torch and CUDA inside."""

    repository: str
    tag: str | None  #: None when the reference has no tag
    digest: bool  #: pinned by @sha256:...
    torch: Version | None
    cuda: Version | None
    source: str  #: where the torch/CUDA came from, e.g. "the pytorch/pytorch tag"


def split_ref(ref: str) -> tuple[str, str | None, bool]:
    """(repository, tag or None, pinned by digest) of an image reference."""
    digest = "@" in ref
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
        return repo, tag, digest
    return name, None, digest


def image_info(tables: RuleTables, ref: str, env_cuda: str | None = None) -> ImageInfo:
    """The torch and CUDA a base image carries (tag, images table, then ENV CUDA_VERSION)."""
    repo, tag, digest = split_ref(ref)
    short = repo.removeprefix("docker.io/").removeprefix("library/")
    torch: Version | None = None
    cuda: Version | None = None
    source = ""
    if short == "pytorch/pytorch" and tag:
        m = _PYTORCH_TAG.match(tag)
        if m:
            torch, cuda, source = Version(m.group(1)), Version(m.group(2)), "its pytorch/pytorch tag"
    elif short == "nvcr.io/nvidia/pytorch" and tag:
        ngc = tables.images.ngc_release(tag.split("-", 1)[0])
        if ngc is not None:
            torch, cuda, source = ngc.torch, ngc.cuda, "rules/images.toml (NGC release notes)"
    elif short in ("nvidia/cuda", "nvcr.io/nvidia/cuda") and tag:
        m = _CUDA_TAG.match(tag)
        if m:
            cuda, source = Version(m.group(1)), "its nvidia/cuda tag"
    if env_cuda:
        try:
            cuda, source = Version(env_cuda.strip()), "ENV CUDA_VERSION"
        except InvalidVersion:
            pass
    return ImageInfo(repo, tag, digest, torch, cuda, source)
