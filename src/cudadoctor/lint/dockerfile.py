"""Parse a Dockerfile (with dockerfile-parse) into the DockerfileModel the lint judges."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

from cudadoctor.errors import UsageError
from cudadoctor.lint.model import BaseImage, DockerfileModel, PipRequirement, Where
from cudadoctor.lint.pipargs import pip_installs, requirement_name

#: Packages whose pins the lint judges.
JUDGED = frozenset({"torch", "torchvision", "torchaudio"})


def parse_env(value: str) -> list[tuple[str, str]]:
    """An ENV instruction's pairs: ``A=1 B="two words"`` or the legacy ``A value with spaces``."""
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    if words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    return [tuple(w.split("=", 1)) for w in words if "=" in w]  # type: ignore[misc]


def parse_dockerfile(path: Path, text: str) -> DockerfileModel:
    """The final stage's base image, ENV, WORKDIR, VOLUMEs, HEALTHCHECK and pip installs, with lines."""
    from dockerfile_parse import DockerfileParser

    try:
        parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
        structure = parser.structure
    except Exception as e:  # noqa: BLE001 - a third-party parser's failure on user input is bad input
        raise UsageError(f"{path}: cannot parse as a Dockerfile: {type(e).__name__}: {e}") from None
    label = str(path)
    froms: list[BaseImage] = []
    env: dict[str, tuple[str, Where]] = {}
    workdir: tuple[str, Where] | None = None
    volumes: list[str] = []
    health: Where | None = None
    reqs: list[PipRequirement] = []
    files: list[tuple[str, Where]] = []
    for item in structure:
        inst = item["instruction"].upper()
        value = item["value"]
        where = Where(label, item["startline"] + 1)
        if inst == "FROM":
            words = value.split()
            words = [w for w in words if not w.startswith("--platform")]
            ref = words[0] if words else ""
            stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            froms.append(BaseImage(ref, where, stage))
            # a new stage starts over: only the final stage's instructions shape the image
            env, workdir, volumes, health, reqs, files = {}, None, [], None, [], []
        elif inst == "ENV":
            for k, v in parse_env(value):
                env[k] = (v, where)
        elif inst == "WORKDIR":
            path_value = value.strip()
            if not path_value.startswith("/") and workdir is not None:
                path_value = workdir[0].rstrip("/") + "/" + path_value
            workdir = (path_value, where)
        elif inst == "VOLUME":
            volumes += [v.strip("[]\",' ") for v in value.replace(",", " ").split() if v.strip("[]\",' ")]
        elif inst == "HEALTHCHECK":
            health = None if value.strip().upper() == "NONE" else where
        elif inst == "RUN":
            for inst_pip in pip_installs(value):
                for pkg in inst_pip.packages:
                    parsed = requirement_name(pkg)
                    if parsed and parsed[0] in JUDGED:
                        reqs.append(PipRequirement(pkg, parsed[0], where, inst_pip.index_url,
                                                   inst_pip.extra_index_urls))
                files += [(f, where) for f in inst_pip.requirement_files]
    # NOTE: a FROM naming an earlier stage inherits that stage; judge the image it started from.
    stages = {b.stage: b for b in froms if b.stage}
    base = froms[-1] if froms else None
    seen = set()
    while base is not None and base.ref in stages and base.ref not in seen:
        seen.add(base.ref)
        base = stages[base.ref]
    return DockerfileModel(
        path=label, base=base, from_lines=tuple(froms), env=env, workdir=workdir, volumes=tuple(volumes),
        healthcheck=health, requirements=tuple(reqs), requirement_files=tuple(files),
    )
