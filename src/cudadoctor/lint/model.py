"""What a Dockerfile, compose file or requirements file says, with the line each fact came from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Where:
    """A place in a linted file (1-based line)."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class PipRequirement:
    """One package requirement given to pip (a RUN pip install argument or a requirements line)."""

    text: str  #: as written, e.g. "torch==2.5.1+cu121"
    name: str  #: canonical name, e.g. "torch"
    where: Where
    index_url: str | None = None  #: --index-url / -i in effect ("" = default PyPI)
    extra_index_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BaseImage:
    """A FROM instruction."""

    ref: str  #: e.g. pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime
    where: Where
    stage: str = ""  #: the "AS name" alias, "" when none


@dataclass(frozen=True, slots=True)
class DockerfileModel:
    """The parts of a Dockerfile the lint judges (the final stage's view)."""

    path: str
    base: BaseImage | None  #: the final stage's FROM
    from_lines: tuple[BaseImage, ...]  #: every FROM
    env: dict[str, tuple[str, Where]]  #: ENV of the final stage
    workdir: tuple[str, Where] | None
    volumes: tuple[str, ...]  #: VOLUME targets
    healthcheck: Where | None  #: HEALTHCHECK (None when absent or NONE)
    requirements: tuple[PipRequirement, ...]  #: packages named in RUN pip install
    requirement_files: tuple[tuple[str, Where], ...]  #: -r files named in RUN pip install


@dataclass(frozen=True, slots=True)
class ComposeService:
    """One compose service."""

    name: str
    where: Where
    image: str | None
    builds_dockerfile: bool  #: has a `build:` section
    gpu_request: str | None  #: how GPUs are requested ("deploy.resources.reservations.devices", "gpus", "runtime: nvidia") or None
    gpu_count: int | None  #: GPUs requested when a number is given
    shm_size_bytes: int | None
    shm_where: Where | None
    ipc_host: bool
    volume_targets: tuple[str, ...]  #: container-side paths of volumes and bind mounts
    working_dir: tuple[str, Where] | None
    healthcheck: bool
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ComposeModel:
    """A compose file's services."""

    path: str
    services: tuple[ComposeService, ...]


@dataclass(frozen=True, slots=True)
class RequirementsModel:
    """A requirements file: its requirements and the index options it sets."""

    path: str
    requirements: tuple[PipRequirement, ...]
