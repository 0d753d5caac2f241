"""Checks of the rule tables themselves: whether this machine is newer than anything they know."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from packaging.version import Version

from cudadoctor.checks.base import Check, SkipCheck
from cudadoctor.findings import Finding, Severity
from cudadoctor.facts import CudaLibsFacts, DriverFacts, Facts, ToolkitFacts, TorchFacts, Unavailable
from cudadoctor.tables import RuleTables


def _major_minor(version: Version) -> tuple[int, int]:
    """(major, minor): what releases and CUDA versions are compared by (2.14.0.dev1 -> (2, 14))."""
    r = (*version.release, 0)
    return r[0], r[1]


def _major_minor_text(version: Version) -> str:
    """'2.14' for 2.14.0.dev1."""
    return "{}.{}".format(*_major_minor(version))


def _driver_text(version: Version) -> str:
    """NVIDIA's spelling of a driver version: Version drops the zero padding (535.183.01 -> 535.183.1)."""
    r = version.release
    if len(r) >= 3:
        return f"{r[0]}.{r[1]:02d}.{r[2]:02d}"
    return f"{r[0]}.{r[1]:02d}" if len(r) == 2 else str(version)


@dataclass(frozen=True, slots=True)
class _Beyond:
    """One installed component the tables do not cover."""

    what: str  #: e.g. "torch 2.16.0.dev20261120+cu130"
    newest: str  #: what the tables know, e.g. "torch 2.14"
    uncertain: str  #: the conclusions that rest on guesses because of it
    table: str  #: rules/<table>.toml that needs the newer data
    evidence: tuple[tuple[str, str], ...]


class RulesOutdated(Check):
    """This machine has torch, CUDA or a driver newer than the rule tables know.

    ## What it checks
    Whether the installed torch release line is newer than the newest one in
    `rules/torch.toml`; whether torch's CUDA, an installed libcudart, or the highest CUDA the
    driver supports is newer than the newest CUDA release in `rules/cuda_driver.toml`; whether
    the driver's branch is newer than the branch of that newest release; whether the toolkit's
    nvcc is newer than `rules/host_compiler.toml` knows; and whether a GPU's compute capability
    is newer than any in `rules/compute_capability.toml`.

    ## Why it matters
    Every other verdict is a comparison with these tables. Past their end, cudadoctor has to
    assume: that a new torch pairs with the torchvision it does not know, that a new CUDA needs
    no newer driver, that a new GPU architecture is covered. Those conclusions may be wrong
    without anything looking wrong. This finding says which ones are uncertain and how old the
    tables are.

    ## Example
    A nightly `torch 2.16.0.dev20261120+cu130` checked with tables whose newest torch is 2.14.

    ## Fix
    Upgrade cudadoctor (`pip install -U cudadoctor`) for newer tables, or point `--rules-dir`
    (`CUDADOCTOR_RULES_DIR`) at a directory with newer `rules/*.toml`.

    ## References
    - https://github.com/pytorch/pytorch/blob/main/RELEASE.md
    - https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/
    - https://docs.nvidia.com/datacenter/tesla/drivers/cuda-toolkit-driver-and-architecture-matrix.html
    """

    code = "RUL001"
    name = "rules-outdated"
    severity = Severity.WARNING
    tables = ("torch", "cuda_driver", "compute_capability", "host_compiler")
    fast = False  # about the tables, not runtime health

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding listing every installed component the tables do not cover."""
        t, drv, tk = facts.torch, facts.driver, facts.toolkit
        torch_ok = isinstance(t, TorchFacts) and t.status == "ok"
        comparable = [
            torch_ok and isinstance(t, TorchFacts) and isinstance(t.version, Version),
            isinstance(tk, ToolkitFacts)
            and (isinstance(tk.nvcc_version, Version) or isinstance(tk.cuda_home_version, Version)),
            isinstance(drv, DriverFacts)
            and (isinstance(drv.driver_version, Version) or isinstance(drv.cuda_driver_version, Version)
                 or bool(drv.gpus)),
        ]
        if not any(comparable):
            raise SkipCheck(
                "no torch, CUDA toolkit or driver version could be read: nothing to compare with the tables"
            )
        newest_torch = tables.torch.newest.torch
        newest_cuda = tables.cuda_driver.newest
        newest_release = tables.cuda_driver.releases[-1]
        beyond: list[_Beyond] = []

        if isinstance(t, TorchFacts) and torch_ok:
            if isinstance(t.version, Version) and _major_minor(t.version) > _major_minor(newest_torch):
                beyond.append(_Beyond(
                    what=f"torch {t.version}",
                    newest=f"torch {_major_minor_text(newest_torch)}",
                    uncertain=(
                        "its torchvision/torchaudio pairing, supported Python versions, wheel variants "
                        "and compiled GPU architectures, and which wheel to suggest"
                    ),
                    table="torch",
                    evidence=(("torch.version", str(t.version)), ("tables.torch.newest", str(newest_torch))),
                ))
            if isinstance(t.cuda_version, Version) and _major_minor(t.cuda_version) > _major_minor(newest_cuda):
                beyond.append(_Beyond(
                    what=f"torch's CUDA {_major_minor_text(t.cuda_version)}",
                    newest=f"CUDA {_major_minor_text(newest_cuda)}",
                    uncertain=f"the minimum driver for CUDA {_major_minor_text(t.cuda_version)} (driver-too-old-for-torch)",
                    table="cuda_driver",
                    evidence=(
                        ("torch.cuda_version", str(t.cuda_version)),
                        ("tables.cuda_driver.newest", str(newest_cuda)),
                    ),
                ))

        compilers = tables.host_compiler.rules
        if isinstance(tk, ToolkitFacts) and compilers:
            nvcc = tk.nvcc_version if isinstance(tk.nvcc_version, Version) else tk.cuda_home_version
            newest_nvcc = compilers[-1].cuda
            if isinstance(nvcc, Version) and _major_minor(nvcc) > _major_minor(newest_nvcc):
                beyond.append(_Beyond(
                    what=f"the CUDA {_major_minor_text(nvcc)} toolkit",
                    newest=f"CUDA {_major_minor_text(newest_nvcc)}",
                    uncertain=(
                        "which gcc its nvcc accepts (host-compiler-unsupported uses the newest listed "
                        "release of the same major, or skips)"
                    ),
                    table="host_compiler",
                    evidence=(("toolkit.nvcc_version", str(nvcc)), ("tables.host_compiler.newest", str(newest_nvcc))),
                ))

        libs = facts.cuda_libs
        if isinstance(libs, CudaLibsFacts):
            runtimes = [
                c.version for c in libs.copies
                if c.library == "libcudart" and isinstance(c.version, Version) and _major_minor(c.version) > _major_minor(newest_cuda)
            ]
            if runtimes:
                top_rt = max(runtimes)
                beyond.append(_Beyond(
                    what=f"libcudart {top_rt}",
                    newest=f"CUDA {_major_minor_text(newest_cuda)}",
                    uncertain=f"the driver libcudart {_major_minor_text(top_rt)} needs (driver-too-old-for-cudart)",
                    table="cuda_driver",
                    evidence=(("cuda_libs.libcudart", str(top_rt)), ("tables.cuda_driver.newest", str(newest_cuda))),
                ))

        if isinstance(drv, DriverFacts):
            dv, dcuda = drv.driver_version, drv.cuda_driver_version
            newer_branch = isinstance(dv, Version) and dv.major > newest_release.min_driver.major
            newer_cuda = isinstance(dcuda, Version) and _major_minor(dcuda) > _major_minor(newest_cuda)
            if newer_branch or newer_cuda:
                supports = f" (supports CUDA {_major_minor_text(dcuda)})" if isinstance(dcuda, Version) else ""
                name = f"driver {_driver_text(dv)}" if isinstance(dv, Version) else "the driver"
                beyond.append(_Beyond(
                    what=f"{name}{supports}",
                    newest=f"driver branch {newest_release.min_driver.major} (CUDA {_major_minor_text(newest_cuda)})",
                    uncertain=(
                        f"the highest CUDA this driver runs is assumed to be only {_major_minor_text(newest_cuda)} "
                        "(wheel suggestions may be too conservative)"
                    ),
                    table="cuda_driver",
                    evidence=(
                        ("driver.driver_version", _driver_text(dv) if isinstance(dv, Version) else "unknown"),
                        ("driver.cuda_driver_version", str(dcuda) if isinstance(dcuda, Version) else "unknown"),
                        ("tables.cuda_driver.newest_min_driver", _driver_text(newest_release.min_driver)),
                    ),
                ))
            known_ccs = [e.cc for e in tables.compute_capability.entries]
            if known_ccs:
                top = max(known_ccs)
                seen: set[Version] = set()
                for g in drv.gpus:
                    cc = g.compute_capability
                    if isinstance(cc, Unavailable) or cc <= top or cc in seen:
                        continue
                    seen.add(cc)
                    beyond.append(_Beyond(
                        what=f"GPU {g.name} (compute capability {cc})",
                        newest=f"compute capability {top}",
                        uncertain="its architecture, first CUDA release and NCCL support (gpu-arch-not-in-torch-build)",
                        table="compute_capability",
                        evidence=((f"driver.gpus[{g.index}].compute_capability", str(cc)),
                                  ("tables.compute_capability.newest", str(top))),
                    ))

        if not beyond:
            return
        tables_used = sorted({b.table for b in beyond})
        dates = ", ".join(
            f"rules/{name}.toml updated {tables.meta[name].updated}" if name in tables.meta else f"rules/{name}.toml"
            for name in tables_used
        )
        items = "; ".join(f"{b.what} is newer than the newest the tables know ({b.newest})" for b in beyond)
        doubts = "; ".join(f"for {b.what}: {b.uncertain}" for b in beyond)
        evidence: dict[str, object] = {k: v for b in beyond for k, v in b.evidence}
        for name in tables_used:
            if name in tables.meta:
                evidence[f"tables.meta.{name}.updated"] = tables.meta[name].updated
        where = f" (loaded from {tables.directory})" if tables.directory else ""
        yield self.finding(
            message=(
                f"The rule tables are older than this machine: {items}. These conclusions are uncertain: "
                f"{doubts}. Tables used: {dates}{where}."
            ),
            evidence=evidence,
            fix=(
                "Get newer rule tables: `pip install -U cudadoctor`, or run with `--rules-dir DIR` "
                "(or `CUDADOCTOR_RULES_DIR=DIR`) pointing at a directory of newer rules/*.toml "
                f"({', '.join(f'{n}.toml' for n in tables_used)})."
            ),
        )


CHECKS: tuple[type[Check], ...] = (RulesOutdated,)
