"""docs/examples: the Dockerfile and the Kubernetes manifests parse and use the healthcheck as documented.

No Docker engine or cluster runs here, so the files are checked with parsers: dockerfile-parse and
PyYAML when installed (optional, test-only), and always with the small structural checks below.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from cudadoctor.checks import CHECKS
from cudadoctor.policy import check_selectors, parse_policy

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
DOCKERFILE = EXAMPLES / "Dockerfile"
K8S = EXAMPLES / "k8s"

#: Every Dockerfile instruction (https://docs.docker.com/reference/dockerfile/).
INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}
#: HEALTHCHECK options and their value syntax (durations like 30s, 1m30s; retries an integer).
HEALTHCHECK_OPTIONS = {
    "--interval": r"(\d+(ms|s|m|h))+", "--timeout": r"(\d+(ms|s|m|h))+", "--start-period": r"(\d+(ms|s|m|h))+",
    "--start-interval": r"(\d+(ms|s|m|h))+", "--retries": r"\d+",
}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, backslash continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "a continuation line runs off the end of the file"
    return out


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", duration))


def test_dockerfile_structure_and_healthcheck() -> None:
    found = instructions(DOCKERFILE.read_text())
    assert all(name in INSTRUCTIONS for name, _ in found), found
    assert found[0][0] == "FROM"
    image = found[0][1]
    # An official PyTorch CUDA image: pytorch/pytorch:<torch>-cuda<X.Y>-cudnn<N>-runtime|devel
    assert re.fullmatch(r"pytorch/pytorch:\d+\.\d+\.\d+-cuda\d+\.\d+-cudnn\d+-(runtime|devel)", image), image
    checks = [args for name, args in found if name == "HEALTHCHECK"]
    assert len(checks) == 1
    words = shlex.split(checks[0])
    cmd = words.index("CMD")
    options = dict(w.split("=", 1) for w in words[:cmd])
    for option, value in options.items():
        assert option in HEALTHCHECK_OPTIONS and re.fullmatch(HEALTHCHECK_OPTIONS[option], value), option
    assert words[cmd + 1:] == ["cudadoctor", "healthcheck"]
    assert options["--interval"] == "30s" and options["--timeout"] == "15s"
    # cudadoctor's own deadline (10 s default) must fire before Docker's, so Docker never has to kill it.
    assert seconds(options["--timeout"]) > 10


def test_dockerfile_with_dockerfile_parse() -> None:
    dockerfile_parse = pytest.importorskip("dockerfile_parse")
    parser = dockerfile_parse.DockerfileParser(path=str(DOCKERFILE))
    assert parser.baseimage.startswith("pytorch/pytorch:")
    structure = [i for i in parser.structure if i["instruction"] != "COMMENT"]
    assert {i["instruction"] for i in structure} <= INSTRUCTIONS
    (healthcheck,) = [i for i in structure if i["instruction"] == "HEALTHCHECK"]
    assert healthcheck["value"] == "--interval=30s --timeout=15s --start-period=60s --retries=3 CMD cudadoctor healthcheck"
    assert parser.envs["CUDADOCTOR_CACHE_DIR"] == "/var/cache/cudadoctor"


def embedded_policy(text: str) -> str:
    """The `policy.toml: |` block of the ConfigMap (YAML literal block, de-indented)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "policy.toml: |") + 1
    block = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block)


def test_configmap_policy_is_a_valid_policy() -> None:
    text = embedded_policy((K8S / "policy-configmap.yaml").read_text())
    policy = parse_policy(tomllib.loads(text), source="policy-configmap.yaml")
    check_selectors(policy, [c.name for c in CHECKS], [c.code for c in CHECKS])
    assert policy.min_gpus == 8 and policy.require_torch_cuda


def test_deployment_uses_healthcheck_probes_and_a_gate_init_container() -> None:
    text = (K8S / "deployment.yaml").read_text()
    assert 'command: ["cudadoctor", "healthcheck", "--policy", "/etc/cudadoctor/policy.toml"]' in text
    assert 'command: ["cudadoctor", "healthcheck"]' in text
    assert '["cudadoctor", "gate", "--require-gpus", "8"' in text
    assert "\t" not in text


def test_manifests_with_pyyaml() -> None:
    yaml = pytest.importorskip("yaml")
    (configmap,) = list(yaml.safe_load_all((K8S / "policy-configmap.yaml").read_text()))
    assert configmap["kind"] == "ConfigMap"
    policy = parse_policy(tomllib.loads(configmap["data"]["policy.toml"]), source="configmap")
    assert policy.min_gpus == 8
    (deployment,) = list(yaml.safe_load_all((K8S / "deployment.yaml").read_text()))
    assert deployment["kind"] == "Deployment" and deployment["apiVersion"] == "apps/v1"
    spec = deployment["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    assert init["command"][:2] == ["cudadoctor", "gate"]
    (main,) = spec["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        p = main[probe]
        assert p["exec"]["command"][:2] == ["cudadoctor", "healthcheck"]
        # cudadoctor's own deadline (CUDADOCTOR_TIMEOUT) must fire before the kubelet's.
        timeout = {e["name"]: e["value"] for e in main["env"]}["CUDADOCTOR_TIMEOUT"]
        assert float(timeout) < p["timeoutSeconds"]
    startup = main["startupProbe"]["exec"]["command"]
    assert startup[:2] == ["cudadoctor", "healthcheck"]
    assert float(startup[startup.index("--timeout") + 1]) < main["startupProbe"]["timeoutSeconds"]
    mounts = {m["name"] for m in main["volumeMounts"]}
    assert {v["name"] for v in spec["volumes"]} >= mounts
    assert spec["volumes"][0]["configMap"]["name"] == configmap["metadata"]["name"]


def test_docs_list_exactly_the_fast_checks() -> None:
    """docs/healthcheck.md names the checks the healthcheck runs; flipping `fast` must update it."""
    docs = (Path(__file__).parents[2] / "docs" / "healthcheck.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z]{3}\d{3})` \| `([a-z0-9-]+)` \| (\w+) \|$", docs, flags=re.M))
    expected = {(c.code, c.name, c.severity.value) for c in CHECKS if c.fast}
    assert listed == expected
