"""What the container checks share: the container facts, its environment, and how to name it."""

from __future__ import annotations

from cudadoctor.checks.base import SkipCheck, area, maybe
from cudadoctor.facts import ContainerFacts, EnvFacts, Facts


def env_variables(facts: Facts) -> dict[str, str]:
    """The allow-listed environment variables, or {} when the env probe failed."""
    env = maybe(facts, EnvFacts)
    return env.variables if env is not None else {}


def container_of(facts: Facts) -> ContainerFacts:
    """The container facts (the checks require them, so they are known)."""
    return area(facts, ContainerFacts)


def require_container(c: ContainerFacts) -> None:
    """Skip the check outside a container."""
    if not c.in_container:
        raise SkipCheck("not running in a container")


def runtime_label(c: ContainerFacts) -> str:
    """'a Kubernetes pod', 'a docker container', or 'a container'."""
    if c.kubernetes:
        return "a Kubernetes pod"
    return f"a {c.runtime} container" if c.runtime not in ("unknown-container", "none") else "a container"
