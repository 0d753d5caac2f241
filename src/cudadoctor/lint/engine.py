"""Run the lint: classify and parse the files, run the lint rules, and run the checks on facts built from the files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.version import Version

from cudadoctor.errors import UsageError
from cudadoctor.findings import Finding, Severity
from cudadoctor.lint import facts_from
from cudadoctor.lint.model import ComposeModel, ComposeService, DockerfileModel, RequirementsModel, Where
from cudadoctor.lint.pins import image_info, index_variant, resolve_torch
from cudadoctor.lint.rules import RULES, LintInput
from cudadoctor.remedies import variant_name
from cudadoctor.report import EXIT_FINDINGS, EXIT_OK
from cudadoctor.tables import RuleTables

#: Largest file the lint reads (a Dockerfile or compose file is a few KiB).
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LintFinding:
    """A finding and the file line it is about."""

    where: Where
    finding: Finding


@dataclass(frozen=True, slots=True)
class LintReport:
    """Every finding of one lint run, sorted by file and line."""

    files: tuple[str, ...]
    driver: Version | None
    driver_source: str  #: "--driver", "this host" or "none"
    findings: tuple[LintFinding, ...]

    def exit_code(self, fail_on: Severity = Severity.ERROR) -> int:
        """0 when no finding is at or above *fail_on*, else 1 (as `check`)."""
        return EXIT_FINDINGS if any(f.finding.severity.rank >= fail_on.rank for f in self.findings) else EXIT_OK


def kind_of(path: Path, text: str) -> str:
    """'dockerfile', 'compose' or 'requirements', from the file name (and a compose file's content)."""
    name = path.name.lower()
    if name.startswith(("dockerfile", "containerfile")) or name.endswith((".dockerfile", ".containerfile")):
        return "dockerfile"
    if name.endswith((".yml", ".yaml")):
        return "compose"
    if name.endswith((".txt", ".in")) or name.startswith("requirements"):
        return "requirements"
    if text.lstrip().upper().startswith(("FROM ", "ARG ", "# SYNTAX")):
        return "dockerfile"
    raise UsageError(f"{path}: not a Dockerfile, compose file (.yml/.yaml) or requirements file (.txt)")


def read_text(path: Path) -> str:
    """A linted file's text, or a one-line usage error."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB; not a Dockerfile, compose or requirements file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None


def parse_files(paths: Iterable[Path]) -> tuple[list[DockerfileModel], list[ComposeModel], list[RequirementsModel]]:
    """Parse every file by kind; requirements files a Dockerfile names (-r) are linted too when they exist."""
    from cudadoctor.lint.compose import parse_compose
    from cudadoctor.lint.dockerfile import parse_dockerfile
    from cudadoctor.lint.requirements import parse_requirements

    dockerfiles: list[DockerfileModel] = []
    composes: list[ComposeModel] = []
    reqs: list[RequirementsModel] = []
    seen: set[Path] = set()
    for path in paths:
        text = read_text(path)
        seen.add(path.resolve())
        kind = kind_of(path, text)
        if kind == "dockerfile":
            model = parse_dockerfile(path, text)
            dockerfiles.append(model)
            for name, _ in model.requirement_files:
                extra = path.parent / name
                if extra.is_file() and extra.resolve() not in seen:
                    seen.add(extra.resolve())
                    reqs.append(parse_requirements(extra, read_text(extra)))
        elif kind == "compose":
            composes.append(parse_compose(path, text))
        else:
            reqs.append(parse_requirements(path, text))
    return dockerfiles, composes, reqs


def lint(paths: Iterable[Path], tables: RuleTables, *, driver: Version | None, driver_source: str = "--driver") -> LintReport:
    """Lint the files against the tables for a target *driver* (None: driver checks skip)."""
    path_list = list(paths)
    if not path_list:
        raise UsageError("lint needs at least one file (a Dockerfile, compose file or requirements file)")
    dockerfiles, composes, reqs = parse_files(path_list)
    data = LintInput(tuple(dockerfiles), tuple(composes), tuple(reqs), tables, driver)
    found: list[LintFinding] = []
    for rule in RULES:
        found += [LintFinding(w, f) for w, f in rule().judge(data)]
    found += list(_torch_checks(data))
    found += list(_container_checks(data))
    unique = {(f.where.path, f.where.line, f.finding.code, f.finding.message): f for f in found}
    ordered = sorted(unique.values(), key=lambda f: (f.where.path, f.where.line, f.finding.code))
    return LintReport(tuple(str(p) for p in path_list), driver, driver_source if driver else "none", tuple(ordered))


def _run(facts: object, tables: RuleTables, names: tuple[str, ...]) -> list[Finding]:
    from cudadoctor import engine

    report = engine.evaluate(facts, tables, select=list(names))  # type: ignore[arg-type]
    return [f for o in report.outcomes for f in o.findings]


def _torch_checks(data: LintInput) -> Iterator[LintFinding]:
    """driver-too-old-for-torch, driver-minor-compat-only and torch-companion-mismatch, on the image's torch."""
    drv = facts_from.driver_facts(data.tables, data.driver)
    reqs = data.torch_requirements()
    companions: dict[str, tuple[str, Where]] = {}
    for r in reqs:
        if r.name in ("torchvision", "torchaudio"):
            pin = _exact(r.text)
            if pin is not None:
                label = pin.local or index_variant(r.index_url, *r.extra_index_urls)
                companions[r.name] = (f"{pin.public}+{label}" if label and not pin.local else str(pin), r.where)
    torches = [r for r in reqs if r.name == "torch"]
    scenarios: list[tuple[Version, str | None, Version | None, Where]] = []
    for r in torches:
        pin = resolve_torch(data.tables, r.text, r.index_url, r.extra_index_urls)
        version = pin.version or (pin.release.latest if pin.release else None)
        if version is not None:
            scenarios.append((version, pin.variant, pin.cuda, r.where))
    if not torches:
        for d in data.dockerfiles:
            if d.base is None:
                continue
            info = image_info(data.tables, d.base.ref, d.env.get("CUDA_VERSION", (None, None))[0])
            if info.torch is not None and info.cuda is not None:
                cuda = Version(f"{info.cuda.major}.{info.cuda.minor}")
                scenarios.append((info.torch, variant_name(cuda), cuda, d.base.where))
    for version, variant, cuda, where in scenarios:
        torch = facts_from.torch_facts(version, variant, cuda, {n: v for n, (v, _) in companions.items()})
        facts = facts_from.image_facts(torch=torch, driver=drv)
        for f in _run(facts, data.tables, facts_from.TORCH_CHECKS):
            at = where
            if f.name == "torch-companion-mismatch":
                named = next((w for n, (_, w) in companions.items() if f"torch.distributions[{n}]" in f.evidence), None)
                at = named or where
            yield LintFinding(at, f)


def _exact(text: str) -> Version | None:
    from packaging.requirements import Requirement

    req = Requirement(text)
    for spec in req.specifier:
        if spec.operator == "==" and not spec.version.endswith(".*"):
            try:
                return Version(spec.version)
            except ValueError:
                return None
    return None


def _container_checks(data: LintInput) -> Iterator[LintFinding]:
    """shm-too-small and data-on-container-layer, on each GPU service's container."""
    for s in data.gpu_services():
        workdir, wd_where = _workdir(data, s)
        shm = None if s.ipc_host else (s.shm_size_bytes if s.shm_size_bytes is not None else facts_from.DOCKER_DEFAULT_SHM)
        on_layer = None if workdir is None else not _on_volume(workdir, s, data)
        container = facts_from.container_facts(shm_bytes=shm, workdir_on_layer=on_layer, label=f"compose service {s.name}")
        torch = facts_from.torch_facts(Version("0"), None, None, {}, device_count=s.gpu_count)
        env = {**{k: v for d in data.dockerfiles for k, (v, _) in d.env.items()}, **s.environment}
        facts = facts_from.image_facts(torch=torch, driver=facts_from.driver_facts(data.tables, None),
                                       container=container, env=env, workdir=workdir or "/")
        for f in _run(facts, data.tables, facts_from.CONTAINER_CHECKS):
            at = (s.shm_where or s.where) if f.name == "shm-too-small" else (wd_where or s.where)
            if f.name == "data-on-container-layer" and workdir:
                # NOTE: the check's fix is written for `docker run`; the file being linted is compose.
                name = workdir.rstrip("/").rsplit("/", 1)[-1] or "data"
                f = replace(f, fix=f"In service {s.name!r}: `volumes: [\"./{name}:{workdir}\"]` (a bind mount) or a "
                                   f"named volume at {workdir}. " + f.fix)
            yield LintFinding(at, f)


def _workdir(data: LintInput, s: ComposeService) -> tuple[str | None, Where | None]:
    if s.working_dir is not None:
        return s.working_dir
    if s.builds_dockerfile:
        for d in data.dockerfiles:
            if d.workdir is not None:
                return d.workdir[0], None
    return None, None


def _on_volume(path: str, s: ComposeService, data: LintInput) -> bool:
    targets = list(s.volume_targets) + [v for d in data.dockerfiles for v in d.volumes]
    norm = path.rstrip("/") or "/"
    return any(norm == t.rstrip("/") or norm.startswith(t.rstrip("/") + "/") for t in targets if t.startswith("/"))

