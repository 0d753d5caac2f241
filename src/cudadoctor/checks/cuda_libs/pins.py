"""Check that the nvidia-* wheels installed are the versions torch pins."""

from __future__ import annotations

from collections.abc import Iterator

from cudadoctor.checks.base import Check, SkipCheck, area
from cudadoctor.facts import Facts, TorchFacts
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.remedies import parse_version
from cudadoctor.wheels import cuda_pins, find_distribution, pip, quoted, requirement_text


class NvidiaWheelsMismatch(Check):
    """Installed nvidia-*-cuXX wheels do not satisfy the versions torch pins.

    ## What it checks
    torch's `Requires-Dist` pins on NVIDIA wheels (`nvidia-cudnn-cu12==9.1.0.70;
    platform_system == "Linux" ...`, `cuda-toolkit[cudart,...]==13.0.2`), with markers
    evaluated for this Linux machine and the inspected Python, against the installed
    distributions: missing or different versions.

    ## Why it matters
    pip only checks pins at install time. A later `pip install` of another package (TensorRT,
    JAX, cupy, an older requirements lock) silently replaces a wheel torch relies on, giving
    cuDNN/cuBLAS version errors, undefined symbols, or slower kernels.

    ## Example
    torch 2.5.1 pins `nvidia-cudnn-cu12==9.1.0.70`; `pip install tensorflow` replaced it with
    9.3.0.75.

    ## Fix
    Reinstall the exact pinned versions (`pip install 'nvidia-cudnn-cu12==9.1.0.70' ...`), and
    keep the conflicting package in its own environment.

    ## References
    - https://packaging.python.org/en/latest/specifications/core-metadata/#requires-dist-multiple-use
    - https://pypi.org/project/torch/
    """

    code = "LIB006"
    name = "nvidia-wheels-mismatch"
    severity = Severity.WARNING
    requires = frozenset({"torch"})
    tables = ()

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Compare each pinned NVIDIA wheel with what is installed."""
        t = area(facts, TorchFacts)
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        dist = find_distribution(t, "torch")
        if dist is None:
            raise SkipCheck("torch's package metadata was not found (no Requires-Dist to compare)")
        problems: list[str] = []
        wanted: list[str] = []
        for req in cuda_pins(facts, t):
            have = find_distribution(t, req.name)
            if have is None:
                problems.append(f"{req.name} missing (torch pins {req.specifier})")
            else:
                v = parse_version(have.version)
                if v is not None and req.specifier.contains(v, prereleases=True):
                    continue
                problems.append(f"{req.name} {have.version} installed, torch pins {req.specifier}")
            wanted.append(quoted(requirement_text(req)))
        if not problems:
            return
        yield self.finding(
            message=f"torch {dist.version} in {t.python_executable} pins NVIDIA wheels that are not installed "
                    f"as pinned: {'; '.join(problems)}.",
            evidence={"torch.distributions[torch].requires": [r for r in dist.requires if "nvidia" in r or "cuda" in r],
                      "mismatches": problems},
            fix=pip(t, f"install {' '.join(wanted)}"),
        )
