"""The lint's own rules: conditions only a file shows (an unpinned base, a missing GPU reservation, ...).

Each rule is one class with the same shape as a check (code, name, severity, a docstring with the
sections What it checks / Why it matters / Example / Fix / References) and yields (where, Finding)
pairs. Conditions the checks already judge are not here: engine.py runs those check classes on
facts built from the files (facts_from.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from packaging.version import Version

from cudadoctor.checks.base import Check
from cudadoctor.facts import nv_version
from cudadoctor.findings import Finding, Severity
from cudadoctor.lint.model import ComposeModel, ComposeService, DockerfileModel, PipRequirement, RequirementsModel, Where
from cudadoctor.lint.pins import TorchPin, image_info, resolve_torch
from cudadoctor.remedies import best_wheels
from cudadoctor.tables import RuleTables

#: Where the lint rules are documented.
LINT_DOCS_URL = "https://github.com/cudadoctor/cudadoctor/blob/main/docs/containers.md#{anchor}"

#: Image names that mean "this service trains on GPUs".
_GPU_IMAGE = re.compile(r"cuda|pytorch|nvidia|torch", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LintInput:
    """Everything the rules judge: the parsed files, the tables and the target driver."""

    dockerfiles: tuple[DockerfileModel, ...]
    composes: tuple[ComposeModel, ...]
    requirements: tuple[RequirementsModel, ...]
    tables: RuleTables
    driver: Version | None

    def torch_requirements(self) -> list[PipRequirement]:
        """Every torch / torchvision / torchaudio requirement, Dockerfile RUN lines first."""
        out = [r for d in self.dockerfiles for r in d.requirements]
        return out + [r for f in self.requirements for r in f.requirements]

    def base_cuda(self) -> Version | None:
        """The CUDA of the (first) Dockerfile's base image, when its tag or ENV tells."""
        for d in self.dockerfiles:
            if d.base is not None:
                info = image_info(self.tables, d.base.ref, d.env.get("CUDA_VERSION", (None, None))[0])
                if info.cuda is not None:
                    return info.cuda
        return None

    def gpu_services(self) -> list[ComposeService]:
        """Compose services that run a GPU workload: they ask for GPUs, build the linted image, or use a CUDA image."""
        out = []
        for c in self.composes:
            for s in c.services:
                if s.gpu_request or (s.builds_dockerfile and self.dockerfiles) or (s.image and _GPU_IMAGE.search(s.image)):
                    out.append(s)
        return out


class LintRule(Check):
    """Base of the lint rules: a Check's identity and docs, judged on files instead of facts."""


    @classmethod
    def url(cls) -> str:
        """Link to the rule's section of docs/containers.md."""
        return LINT_DOCS_URL.format(anchor=cls.code.lower())

    def judge(self, data: LintInput) -> Iterator[tuple[Where, Finding]]:
        """Yield (where, finding) pairs; nothing when the files are fine."""
        raise NotImplementedError


class DockerfileUnpinnedBase(LintRule):
    """A Dockerfile's FROM names no tag, or `latest`.

    ## What it checks
    Every `FROM` of the Dockerfile (stages included) has a tag other than `latest`, or a digest.

    ## Why it matters
    `FROM pytorch/pytorch` or `:latest` builds a different torch, CUDA and cuDNN whenever the
    upstream tag moves: a rebuild silently needs a newer driver than the cluster has.

    ## Example
    `FROM pytorch/pytorch:latest` built in 2024 (CUDA 12.1) and again in 2026 (CUDA 13.0).

    ## Fix
    Pin the tag, e.g. `FROM pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime`, or a digest.
    `cudadoctor recommend --driver <driver>` lists tags that run on a driver.

    ## References
    - https://docs.docker.com/build/building/best-practices/#pin-base-image-versions
    - https://hub.docker.com/r/pytorch/pytorch/tags
    """

    code = "LNT001"
    name = "dockerfile-unpinned-base"
    severity = Severity.WARNING

    def judge(self, data: LintInput) -> Iterator[tuple[Where, Finding]]:
        """One finding per FROM without a pinned tag."""
        for d in data.dockerfiles:
            stages = {b.stage for b in d.from_lines if b.stage}
            for b in d.from_lines:
                info = image_info(data.tables, b.ref)
                if b.ref in stages or b.ref == "scratch" or "$" in b.ref or info.digest:
                    continue
                if info.tag is None or info.tag == "latest":
                    yield b.where, self.finding(
                        message=(f"`FROM {b.ref}` is not pinned: it builds whatever {info.repository} is "
                                 f"{'tagged latest' if info.tag else 'tagged latest by default'} on the day of the build, "
                                 "so torch, CUDA and the driver it needs change under you."),
                        evidence={"from": b.ref, "line": b.where.line},
                        fix=(f"Pin a tag, e.g. `FROM pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime` (see `cudadoctor "
                             "recommend --driver <your driver>` for tags that run there), or pin a digest (@sha256:...)."),
                    )


class BaseImageCudaMismatch(LintRule):
    """The base image's CUDA major differs from the CUDA the pip-installed torch is built for.

    ## What it checks
    The base image's CUDA (from a `pytorch/pytorch` or `nvidia/cuda` tag, the NGC release in
    rules/images.toml, or `ENV CUDA_VERSION`) against the CUDA variant of the torch the
    Dockerfile or requirements install (`+cu121`, the `--index-url`, or the PyPI default of that
    release in rules/torch.toml).

    ## Why it matters
    A pip torch bundles its own CUDA runtime, so the image's CUDA does not help it: building CUDA
    extensions fails (nvcc of one major, torch of another), and the image's LD_LIBRARY_PATH can
    make torch load the image's libraries instead of its own (`cuda-lib-shadowed`).

    ## Example
    `FROM nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04` then `pip install torch==2.5.1`: the PyPI
    wheel is built for CUDA 12.4.

    ## Fix
    Use a base image of the same CUDA major as torch, or install the torch variant of the image's
    CUDA from `https://download.pytorch.org/whl/cuXY`.

    ## References
    - https://pytorch.org/get-started/locally/
    - https://docs.nvidia.com/cuda/cuda-c-best-practices-guide/index.html#cuda-compatibility-developer-s-guide
    """

    code = "LNT002"
    name = "base-image-cuda-mismatch"
    severity = Severity.WARNING

    def judge(self, data: LintInput) -> Iterator[tuple[Where, Finding]]:
        """One finding per torch requirement whose CUDA major differs from the base image's."""
        for d in data.dockerfiles:
            if d.base is None:
                continue
            env_cuda = d.env.get("CUDA_VERSION", (None, None))[0]
            info = image_info(data.tables, d.base.ref, env_cuda)
            if info.cuda is None:
                continue
            for req in data.torch_requirements():
                if req.name != "torch":
                    continue
                pin = resolve_torch(data.tables, req.text, req.index_url, req.extra_index_urls)
                if pin.cuda is None or pin.cuda.major == info.cuda.major:
                    continue
                yield req.where, self.finding(
                    message=(
                        f"The base image {d.base.ref} carries CUDA {info.cuda} ({info.source}), but `{req.text}` installs "
                        f"torch built for CUDA {pin.cuda} ({pin.variant}{', the PyPI default' if pin.from_default_index else ''}). "
                        "torch uses its own bundled CUDA libraries: CUDA extensions will not build against the image's "
                        f"nvcc {info.cuda.major}.x, and the image's LD_LIBRARY_PATH can make torch load the image's copies."
                    ),
                    evidence={"base_image": d.base.ref, "base_image.cuda": info.cuda, "torch.requirement": req.text,
                              "torch.variant": pin.variant or "unknown"},
                    fix=self._fix(data.tables, pin, info.cuda),
                )

    @staticmethod
    def _fix(tables: RuleTables, pin: TorchPin, cuda: Version) -> str:
        same = []
        if pin.release is not None:
            same = [v for v in tables.torch.variants_of(pin.release.torch)
                    if v.name in pin.release.variants and v.cuda.major == cuda.major]
        if same and pin.release is not None:
            best = min(same, key=lambda v: abs((v.cuda.minor - cuda.minor)))
            return (f"Install the CUDA {best.cuda} build of torch {pin.release.latest} for this image: "
                    f"`pip install torch=={pin.release.latest} --index-url {best.index_url}`, or use a base image with "
                    f"CUDA {pin.cuda} (e.g. nvidia/cuda:{pin.cuda}.0-cudnn-runtime-ubuntu22.04).")
        return (f"Use a base image with CUDA {pin.cuda} (e.g. nvidia/cuda:{pin.cuda}.0-cudnn-runtime-ubuntu22.04 or "
                f"a pytorch/pytorch tag with -cuda{pin.cuda}-); torch {pin.release.latest if pin.release else ''} has no "
                f"CUDA {cuda.major}.x build.")


class TorchUnpinned(LintRule):
    """torch is installed without an exact version pin.

    ## What it checks
    Every torch requirement in a `RUN pip install` line or a requirements file is pinned to one
    version or one release line (`==2.5.1`, `==2.5.*`). It reports what the requirement resolves to today (from rules/torch.toml) and, with
    a target driver (`--driver`, default this host's), whether that driver runs it.

    ## Why it matters
    `pip install torch` installs the newest release, built for whatever CUDA its plain PyPI wheel
    uses that year (CUDA 13.0 from torch 2.11 on, driver >= 580): an image that built fine last
    month stops running on the cluster's driver.

    ## Example
    `RUN pip install torch torchvision` on a cluster with driver 535.

    ## Fix
    Pin the release and the CUDA index: `pip install torch==X.Y.Z --index-url
    https://download.pytorch.org/whl/cuXY` (`cudadoctor recommend --driver <driver>` prints it).

    ## References
    - https://pytorch.org/get-started/previous-versions/
    - https://pip.pypa.io/en/stable/topics/repeatable-installs/
    """

    code = "LNT003"
    name = "torch-unpinned"
    severity = Severity.WARNING

    def judge(self, data: LintInput) -> Iterator[tuple[Where, Finding]]:
        """One finding per torch requirement without an exact pin."""
        for req in data.torch_requirements():
            if req.name != "torch":
                continue
            pin = resolve_torch(data.tables, req.text, req.index_url, req.extra_index_urls)
            if pin.line_pinned:
                continue  # ==2.5.* fixes the release line and with it the CUDA variant
            today = (f"today that is torch {pin.release.latest} built for {pin.variant} "
                     f"({'the plain PyPI wheel' if pin.from_default_index else 'from the ' + str(pin.variant) + ' index'})"
                     if pin.release else "no release the rule tables know satisfies it")
            runs = ""
            if data.driver is not None and pin.cuda is not None:
                rel = data.tables.cuda_driver.min_driver_for(pin.cuda)
                if rel is not None:
                    ok = data.driver >= rel.min_driver
                    runs = (f"; CUDA {pin.cuda} needs driver >= {nv_version(rel.min_driver)} for full support, "
                            f"the target driver is {nv_version(data.driver)}" + ("" if ok else " (too old: see the driver findings)"))
            yield req.where, self.finding(
                message=(f"`{req.text}` has no exact version: the image gets whatever torch is newest when it is built; "
                         f"{today}{runs}."),
                evidence={"requirement": req.text, "index_url": req.index_url or "(PyPI)",
                          "resolves_to": f"{pin.release.latest}+{pin.variant}" if pin.release else "unknown"},
                fix=self._fix(data),
            )

    @staticmethod
    def _fix(data: LintInput) -> str:
        choices = best_wheels(data.tables, driver=data.driver, full_driver_support=True)
        base = data.base_cuda()
        # NOTE: prefer a build of the base image's CUDA major, or base-image-cuda-mismatch would follow the fix.
        same = [c for c in choices if base is not None and c.variant.cuda.major == base.major]
        if same or choices:
            c = (same or choices)[0]
            target = f" for driver {nv_version(data.driver)}" if data.driver else ""
            return f"Pin it{target}: `{c.pip_command}` (`cudadoctor recommend` lists alternatives)."
        return "Pin it: `pip install torch==X.Y.Z --index-url https://download.pytorch.org/whl/cuXY` (see `cudadoctor recommend`)."


class ComposeNoGpuReservation(LintRule):
    """A compose service that runs a GPU workload does not ask for GPUs.

    ## What it checks
    Each compose service that builds the linted Dockerfile or uses a CUDA/PyTorch image has a GPU
    request: `deploy.resources.reservations.devices` with `capabilities: [gpu]`, `gpus:`, or
    `runtime: nvidia`.

    ## Why it matters
    Without one the container starts with no GPU (`container-without-gpus` at run time):
    `torch.cuda.is_available()` is False and training silently falls back to CPU or fails.

    ## Example
    A `trainer` service with `build: .` and no `deploy:` section.

    ## Fix
    Add a device reservation (Compose's GPU support).

    ## References
    - https://docs.docker.com/compose/how-tos/gpu-support/
    """

    code = "LNT004"
    name = "compose-no-gpu-reservation"
    severity = Severity.WARNING

    def judge(self, data: LintInput) -> Iterator[tuple[Where, Finding]]:
        """One finding per GPU-workload service without a GPU request."""
        for s in data.gpu_services():
            if s.gpu_request:
                continue
            why = f"uses the image {s.image}" if s.image else "builds the linted Dockerfile"
            yield s.where, self.finding(
                message=(f"Service {s.name!r} {why} but requests no GPU: it starts without NVIDIA devices and "
                         "torch.cuda.is_available() is False inside."),
                evidence={"service": s.name, "image": s.image or "(build)"},
                fix=(f"Add to service {s.name!r}:\n    deploy:\n      resources:\n        reservations:\n          devices:\n"
                     "            - driver: nvidia\n              count: all\n              capabilities: [gpu]"),
            )


class NoHealthcheck(LintRule):
    """The image or service has no HEALTHCHECK.

    ## What it checks
    The Dockerfile has a `HEALTHCHECK` (not `NONE`), or every compose service that builds it
    defines `healthcheck:`; for compose files alone, each GPU service defines one.

    ## Why it matters
    A GPU container can lose its devices while it runs (a driver reload, "Unknown Error" after a
    systemd reload on the host). Without a health check nothing notices until a job fails.

    ## Example
    A training image without HEALTHCHECK, run under compose with `restart: unless-stopped`.

    ## Fix
    `HEALTHCHECK --interval=60s --timeout=10s --retries=3 CMD cudadoctor healthcheck` (exit 0
    healthy, 1 unhealthy, never hangs).

    ## References
    - https://docs.docker.com/reference/dockerfile/#healthcheck
    - https://docs.docker.com/reference/compose-file/services/#healthcheck
    """

    code = "LNT005"
    name = "no-healthcheck"
    severity = Severity.INFO

    FIX = ("Add `HEALTHCHECK --interval=60s --timeout=10s --retries=3 CMD cudadoctor healthcheck` to the Dockerfile "
           "(or `healthcheck: {test: [\"CMD\", \"cudadoctor\", \"healthcheck\"], interval: 60s, timeout: 10s}` to the service).")

    def judge(self, data: LintInput) -> Iterator[tuple[Where, Finding]]:
        """One finding per Dockerfile (or compose-only GPU service) without a health check."""
        builders = [s for c in data.composes for s in c.services if s.builds_dockerfile]
        for d in data.dockerfiles:
            if d.healthcheck is not None or d.base is None:
                continue
            if builders and all(s.healthcheck for s in builders):
                continue
            where = d.from_lines[-1].where
            yield where, self.finding(
                message=f"{d.path} has no HEALTHCHECK: a container that loses its GPUs keeps running unnoticed.",
                evidence={"dockerfile": d.path}, fix=self.FIX,
            )
        if data.dockerfiles:
            return
        for s in data.gpu_services():
            if not s.healthcheck:
                yield s.where, self.finding(
                    message=f"Service {s.name!r} has no healthcheck: a container that loses its GPUs keeps running unnoticed.",
                    evidence={"service": s.name}, fix=self.FIX,
                )


#: The lint rules, in report order.
RULES: tuple[type[LintRule], ...] = (
    DockerfileUnpinnedBase, BaseImageCudaMismatch, TorchUnpinned, ComposeNoGpuReservation, NoHealthcheck,
)

