"""Check that torchvision / torchaudio pair with the installed torch (release line, pin, CUDA variant)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from cudadoctor.tables import canonicalize_name  # NOTE: not packaging.utils (~8 ms of imports on the healthcheck path)
from packaging.version import Version

from cudadoctor.checks.base import Check, SkipCheck, area
from cudadoctor.facts import Facts, TorchFacts, known
from cudadoctor.findings import Finding, Severity
from cudadoctor.remedies import parse_version, variant_name
from cudadoctor.tables import RuleTables, TorchRelease
from cudadoctor.wheels import find_distribution, pip, torch_version, variant_label
from cudadoctor.checks.context import FixContext
from cudadoctor.remedies import Remedy


class TorchCompanionMismatch(Check):
    """torchvision / torchaudio do not pair with the installed torch.

    ## What it checks
    For each installed torchvision and torchaudio: (a) its `Requires-Dist: torch==X` pin
    against the installed torch; (b) its release line against the pairing in rules/torch.toml
    (torch 2.5 <-> torchvision 0.20 <-> torchaudio 2.5); (c) its CUDA variant suffix
    (`+cu121`, `+cpu`) against torch's.

    ## Why it matters
    The companions ship C++/CUDA operators compiled against one exact torch. A mismatch fails
    at import or first use: "RuntimeError: operator torchvision::nms does not exist",
    "undefined symbol" in `torchvision/_C.so`, or "Detected that PyTorch and torchvision were
    compiled with different CUDA major versions".

    ## Example
    torch 2.5.1+cu124 upgraded alone, torchvision 0.19.1+cu121 left behind.

    ## Fix
    Reinstall the companions paired with this torch, from the same index as torch.

    ## References
    - https://github.com/pytorch/vision#installation
    - https://pytorch.org/get-started/previous-versions/
    """

    code = "TRC006"
    name = "torch-companion-mismatch"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ("torch",)
    explains = ("torchvision-op", "torchvision-ops", "torchvision-cuda-major", "symbol:companion")
    rank = 25

    def fix(self, ctx: FixContext) -> Remedy:
        """Install the companions paired with this torch, from its index."""
        details = []
        if ctx.group("torch_cuda"):
            details.append(f"torch is built for CUDA {ctx.group('torch_cuda')}, torchvision for CUDA "
                           f"{ctx.group('torchvision_cuda')}.")
        if ctx.group("library"):
            details.append(f"{ctx.group('library')} was built against another torch.")
        if ctx.torch_version is not None:
            rel = ctx.tables.torch.release(ctx.torch_version)
            local = ctx.torch_version.local or ""
            index = f" --index-url https://download.pytorch.org/whl/{local}" if re.fullmatch(r"cu\d+|cpu", local) else ""
            pkgs = []
            if rel and rel.torchvision:
                pkgs.append(f"'torchvision=={rel.torchvision}.*'")
            if rel and rel.torchaudio:
                pkgs.append(f"'torchaudio=={rel.torchaudio}.*'")
            if pkgs:
                return Remedy(
                    f"Install the companions paired with torch {ctx.torch_version} from the same index: "
                    f"`pip install --force-reinstall --no-deps {' '.join(pkgs)}{index}`.",
                    " ".join(details),
                )
        return Remedy(
            "Reinstall torch, torchvision and torchaudio together from one index so they pair: "
            "`pip install --force-reinstall torch torchvision torchaudio --index-url "
            "https://download.pytorch.org/whl/<cuXYZ>` (the variant of your torch, "
            "`python -c \"import torch; print(torch.__version__)\"`).",
            " ".join(details),
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per companion that does not pair with torch."""
        t = area(facts, TorchFacts)
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        tv = torch_version(t)
        if tv is None:
            raise SkipCheck("torch's version is unknown")
        rel = tables.torch.release(tv)
        torch_local = self._torch_variant(t, tv)
        companions = [d for d in (find_distribution(t, n) for n in ("torchvision", "torchaudio")) if d is not None]
        if not companions:
            raise SkipCheck("neither torchvision nor torchaudio is installed")
        for dist in companions:
            cv = parse_version(dist.version)
            if cv is None:
                continue
            problems: list[str] = []
            for line in dist.requires:
                try:
                    from packaging.requirements import InvalidRequirement, Requirement

                    req = Requirement(line)
                except InvalidRequirement:
                    continue
                if canonicalize_name(req.name) != "torch" or not req.specifier:
                    continue
                if req.marker is not None and "extra" in str(req.marker):
                    continue
                if not req.specifier.contains(tv, prereleases=True):
                    problems.append(f"{dist.name} {dist.version} requires torch{req.specifier}, torch is {tv}")
            paired = None
            if rel is not None:
                paired = rel.torchvision if canonicalize_name(dist.name) == "torchvision" else rel.torchaudio
                if paired is not None and cv.release[:2] != paired.release[:2]:
                    problems.append(f"torch {rel.torch} pairs with {dist.name} {paired}.x, "
                                    f"installed {dist.name} is {dist.version}")
            c_local = variant_label(cv)
            if c_local is None and rel is not None and cv.local is None:
                c_local = rel.default_variant  # a plain PyPI wheel is built for the PyPI default CUDA
            if torch_local and c_local and torch_local != c_local and (cv.local or (tv.local is not None)):
                problems.append(f"{dist.name} is built for {c_local}, torch for {torch_local} "
                                "(\"operator torchvision::nms does not exist\" is the usual symptom)")
            if not problems:
                continue
            yield self.finding(
                message=f"{dist.name} {dist.version} does not pair with torch {tv}: {'; '.join(problems)}.",
                evidence={"torch.version": tv, f"torch.distributions[{dist.name}]": dist.version,
                          "paired_release": paired or "unknown"},
                fix=self._fix(t, tv, rel, dist.name, torch_local),
            )

    @staticmethod
    def _torch_variant(t: TorchFacts, tv: Version) -> str | None:
        """torch's variant label: its local version, else derived from the build."""
        label = variant_label(tv)
        if label is None and known(t.build):
            if t.build == "cpu":
                label = "cpu"
            elif t.build == "cuda" and isinstance(t.cuda_version, Version):
                label = variant_name(t.cuda_version)
        return label

    def _fix(self, t: TorchFacts, tv: Version, rel: TorchRelease | None, name: str, local: str | None) -> str:
        paired = None
        if rel is not None:
            paired = rel.torchvision if canonicalize_name(name) == "torchvision" else rel.torchaudio
        index = f" --index-url https://download.pytorch.org/whl/{local}" if local else ""
        if paired is None:
            return (pip(t, f"install 'torch=={tv.public}' {name}{index}")
                    + f"   (check the {name} release paired with torch {tv.public}: "
                    "https://github.com/pytorch/vision#installation)")
        return pip(t, f"install --force-reinstall 'torch=={tv.public}' '{name}=={paired}.*'{index}")
