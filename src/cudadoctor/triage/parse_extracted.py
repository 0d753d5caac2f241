"""Fold facts found in free text (cudadoctor.triage.extract) into the Facts the section parsers built.

The section parsers (collect_env, nvidia-smi, pip/conda lists, ldd) read tool output and win: an
extracted value only fills what they left unknown. Every filled value, from either source, gets a
Provenance (the pasted line it came from, stated or inferred).

Text-only facts with no place in Facts keep their provenance under their own paths:
"install.cudatoolkit" (a conda command asked for it) and "conda.cudatoolkit" (a conda list shows it).
"dist.torchvision" / "dist.torchaudio" become TorchFacts.distributions (without Requires-Dist).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from packaging.version import Version

from cudadoctor.facts import PYTHON_UNKNOWN, Distribution, DriverFacts, EnvFacts, Facts, NvmlStatus, ToolkitFacts, TorchFacts, Unavailable
from cudadoctor.remedies import parse_version
from cudadoctor.triage.parse_common import major_minor, missing
from cudadoctor.triage.parse_nvidia_smi import make_gpu
from cudadoctor.triage.provenance import Provenance

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables
    from cudadoctor.triage.extract.record import Found
    from cudadoctor.triage.normalise import Normalised

#: Text-only fact paths kept in provenance and values although Facts has no field for them.
TEXT_ONLY = ("install.cudatoolkit", "conda.cudatoolkit")


@dataclass
class Merged:
    """Facts after folding in the extracted values, and where each value came from."""

    facts: Facts
    provenance: dict[str, Provenance] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  #: fact path -> the value as text
    placeholders: list[str] = field(default_factory=list)


class _Fold:
    """One merge (see :func:`merge`)."""

    def __init__(self, facts: Facts, kept: dict[str, Found], norm: Normalised, tables: RuleTables | None,
                 gpus_known: bool) -> None:
        self.facts, self.kept, self.norm, self.tables = facts, kept, norm, tables
        self.gpus_known = gpus_known
        self.out = Merged(facts)

    def used(self, path: str, f: Found) -> None:
        self.out.provenance[path] = Provenance(line=f.line, text=self.norm.pasted(f.line), stated=f.stated, how=f.how)
        self.out.values[path] = f.value

    def version(self, path: str) -> Version | None:
        f = self.kept.get(path)
        v = parse_version(f.value) if f is not None else None
        if v is not None and f is not None:
            self.used(path, f)
        return v

    # ------------------------------------------------------------------------------------ torch

    def torch(self) -> TorchFacts | Unavailable:
        t = self.facts.torch
        if isinstance(t, TorchFacts):
            if t.status != "ok":
                return t  # collect_env could not import torch: text elsewhere is not that torch
            changes: dict[str, object] = {}
            if isinstance(t.version, Unavailable) and (v := self.version("torch.version")):
                changes["version"] = v
            if isinstance(t.cuda_version, Unavailable) and (c := self.version("torch.cuda_version")):
                changes["cuda_version"] = major_minor(c)
            if isinstance(t.build, Unavailable) and (b := self.kept.get("torch.build")):
                self.used("torch.build", b)
                changes["build"] = b.value
            if isinstance(t.nccl_version, Unavailable) and (nccl := self.version("torch.nccl_version")):
                changes["nccl_version"] = nccl
            if t.python_version == PYTHON_UNKNOWN and (py := self.version("torch.python_version")):
                changes["python_version"] = py
            if extra := self.companions(t.distributions):
                changes["distributions"] = tuple(sorted((*t.distributions, *extra), key=lambda d: d.name))
            return replace(t, **changes) if changes else t  # type: ignore[arg-type]
        version = self.version("torch.version")
        cuda = self.version("torch.cuda_version")
        b = self.kept.get("torch.build")
        if version is None and cuda is None and b is None:
            return t
        nccl = self.version("torch.nccl_version")
        if b is not None:
            self.used("torch.build", b)
        py = self.version("torch.python_version")
        self.out.placeholders += ["torch.python_executable"] + ([] if py else ["torch.python_version"])
        return TorchFacts(
            python_executable="python", python_version=py or PYTHON_UNKNOWN, status="ok", import_error="",
            location=missing(), version=version or missing(), build=b.value if b else missing(),
            cuda_version=major_minor(cuda) if cuda else missing(), hip_version=missing(), cudnn_version=missing(),
            nccl_version=nccl or missing(), debug=missing(), git_version=missing(), cuda_available=missing(),
            cuda_unavailable_reason="", device_count=missing(), devices=(), arch_list=missing(),
            build_config=missing(), loaded_libraries=missing(), distributions=tuple(self.companions(())),
        )

    def companions(self, have: tuple[Distribution, ...]) -> list[Distribution]:
        """torchvision / torchaudio the text names and the listings did not (no Requires-Dist: pip never showed it)."""
        names = {d.name for d in have}
        out = []
        for name in ("torchvision", "torchaudio"):
            f = self.kept.get(f"dist.{name}")
            if f is not None and name not in names and parse_version(f.value) is not None:
                self.used(f"dist.{name}", f)
                out.append(Distribution(name=name, version=f.value, requires=()))
        return out

    # ------------------------------------------------------------------------------------ driver

    def prose_gpus(self) -> list[Found]:
        n = 0
        out = []
        while (f := self.kept.get(f"gpus.{n}.name")) is not None:
            out.append(f)
            n += 1
        return out

    def gpus(self) -> tuple:
        found = self.prose_gpus()
        for i, f in enumerate(found):
            self.used(f"gpus.{i}.name", f)
        return tuple(make_gpu(i, f.value, self.tables) for i, f in enumerate(found))

    def driver(self) -> DriverFacts | Unavailable:
        d = self.facts.driver
        if isinstance(d, DriverFacts):
            changes: dict[str, object] = {}
            if isinstance(d.driver_version, Unavailable) and (v := self.version("driver.version")):
                changes["driver_version"] = v
            if isinstance(d.cuda_driver_version, Unavailable) and (c := self.version("driver.cuda_version")):
                changes["cuda_driver_version"] = major_minor(c)
            if not d.gpus and not self.gpus_known and d.nvml_status == "ok" and self.prose_gpus():
                changes["gpus"] = self.gpus()
            return replace(d, **changes) if changes else d  # type: ignore[arg-type]
        version = self.version("driver.version")
        cuda = self.version("driver.cuda_version")
        gpus = self.gpus()
        if version is None and cuda is None and not gpus:
            return d
        # NOTE: NVML was never asked: "ok" is the stand-in, and the GPU list is only what prose named.
        self.out.placeholders += ["driver.nvml_status", "driver.gpus"]
        return DriverFacts(
            nvml_status=NvmlStatus.OK, nvml_error="", driver_version=version or missing(),
            cuda_driver_version=major_minor(cuda) if cuda else missing(), kernel_module_version=missing(),
            proc_version_text=missing(), libcuda_path=missing(), libcuda_version=missing(),
            libcuda_cuda_version=missing(), cu_init_result=missing(), cu_init_error="", cu_device_count=missing(),
            gpus=gpus, gpus_listed=False,
        )

    # ------------------------------------------------------------------------------------ toolkit / env

    def toolkit(self) -> ToolkitFacts | Unavailable:
        k = self.facts.toolkit
        if isinstance(k, ToolkitFacts):
            if isinstance(k.nvcc_version, Unavailable) and (v := self.version("toolkit.nvcc_version")):
                return replace(k, nvcc_version=major_minor(v))
            return k
        v = self.version("toolkit.nvcc_version")
        if v is None:
            return k
        self.out.placeholders.append("toolkit.cuda_home_source")
        return ToolkitFacts(
            cuda_home=missing(), cuda_home_source="none", cuda_home_version=missing(), nvcc_path=missing(),
            nvcc_version=major_minor(v), gcc_path=missing(), gcc_version=missing(), cuda_home_exists=missing(),
        )

    def env(self) -> EnvFacts | Unavailable:
        variables: dict[str, str] = {}
        for path, f in self.kept.items():
            if path.startswith("env."):
                variables[path[4:]] = f.value
                self.used(path, f)
        if not variables:
            return self.facts.env
        self.out.placeholders.append("env.working_directory")
        base = self.facts.env.variables if isinstance(self.facts.env, EnvFacts) else {}
        return EnvFacts(variables={**variables, **base}, working_directory="")


def merge(facts: Facts, kept: dict[str, Found], norm: Normalised, tables: RuleTables | None, *,
          gpus_known: bool) -> Merged:
    """Fill what *facts* leaves unknown from *kept* (extract's best values), with provenance.

    *gpus_known*: a section parser saw a GPU list (or nvidia-smi's "No devices were found"), so
    GPUs named in prose are not added to it.
    """
    fold = _Fold(facts, kept, norm, tables, gpus_known)
    new = replace(facts, torch=fold.torch(), driver=fold.driver(), toolkit=fold.toolkit(), env=fold.env())
    for path in TEXT_ONLY:
        if (f := kept.get(path)) is not None:
            fold.used(path, f)
    fold.out.facts = new
    _locate_parsed(fold.out, facts, norm)
    return fold.out


# ---------------------------------------------------------------------------------------- provenance of parsed facts


def _locate_parsed(out: Merged, parsed: Facts, norm: Normalised) -> None:
    """Provenance for the values the section parsers gave (the first line that shows each)."""
    wanted: list[tuple[str, object, tuple[str, ...]]] = []
    t, d, k = parsed.torch, parsed.driver, parsed.toolkit
    if isinstance(t, TorchFacts):
        wanted += [("torch.version", t.version, ("PyTorch version", "torch")),
                   ("torch.cuda_version", t.cuda_version, ("CUDA used to build PyTorch", "cuda", "torch")),
                   ("torch.build", t.build, ("CUDA used to build PyTorch",)),
                   ("torch.cuda_available", t.cuda_available, ("Is CUDA available",))]
    if isinstance(d, DriverFacts):
        wanted += [("driver.version", d.driver_version, ("Driver Version", "driver version", "")),
                   ("driver.cuda_version", d.cuda_driver_version, ("CUDA Version",))]
        wanted += [(f"gpus.{i}.name", g.name, ("",)) for i, g in enumerate(d.gpus)]
    if isinstance(k, ToolkitFacts):
        wanted.append(("toolkit.nvcc_version", k.nvcc_version, ("CUDA runtime version", "release", "")))
    for path, value, hints in wanted:
        if path in out.provenance or isinstance(value, Unavailable):
            continue
        line = _find(norm, "" if path == "torch.build" else _needle(value), hints)
        if line is not None:
            out.provenance[path] = Provenance(line=line, text=norm.pasted(line))
            out.values[path] = str(value)


def _needle(value: object) -> str:
    """What a line showing *value* contains: X.Y of a version (packaging drops "535.104.05"'s zero)."""
    if isinstance(value, Version):
        return ".".join(str(p) for p in (value.release + (0,))[:2])
    return str(value)


def _find(norm: Normalised, needle: str, hints: tuple[str, ...], limit: int = 200_000) -> int | None:
    """The pasted line number of the first cleaned line holding *needle* and one of *hints*."""
    for hint in hints:
        for i, line in enumerate(norm.lines[:limit]):
            if needle in line and hint in line and (needle or hint):
                return norm.origin[i]
    return None


__all__ = ["TEXT_ONLY", "Merged", "merge"]
