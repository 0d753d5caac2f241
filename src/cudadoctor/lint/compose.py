"""Parse a compose file (with PyYAML, keeping line numbers) into the ComposeModel the lint judges."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cudadoctor.errors import UsageError
from cudadoctor.lint.model import ComposeModel, ComposeService, Where

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size_bytes(value: Any) -> int | None:
    """A compose byte size ("16g", "512m", 1073741824) in bytes; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()]) if m else None


#: Most YAML nodes one service may expand to (aliases can make a small file expand exponentially).
MAX_NODES = 100_000


def _plain(node: Any, budget: list[int] | None = None) -> Any:
    """A yaml node as plain Python data (mappings, lists, scalars as strings/ints)."""
    import yaml

    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise UsageError(f"a compose service expands to more than {MAX_NODES} YAML nodes (alias expansion?)")
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = _plain(k, budget)
            # NOTE: YAML allows a list or mapping as a key ("? [a, b]: c"); a dict cannot hold one.
            out[key if isinstance(key, (str, int, bool)) else str(key)] = _plain(v, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v, budget) for v in node.value]
    if node.tag.endswith(":int"):
        try:
            return int(node.value)
        except ValueError:
            return node.value
    if node.tag.endswith(":bool"):
        return node.value.lower() in ("true", "yes", "on")
    return node.value


def _child(node: Any, key: str) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                return v
    return None


def _dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]... where each level is a mapping, else None (compose files may hold anything)."""
    for k in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(k)
    return value


def _gpu_request(svc: dict[str, Any]) -> tuple[str | None, int | None]:
    devices = _dig(svc, "deploy", "resources", "reservations", "devices")
    for dev in devices if isinstance(devices, list) else []:
        if not isinstance(dev, dict):
            continue
        caps = dev.get("capabilities")
        if (isinstance(caps, list) and "gpu" in caps) or dev.get("driver") == "nvidia":
            count = dev.get("count")
            ids = dev.get("device_ids")
            n = count if isinstance(count, int) and not isinstance(count, bool) else (len(ids) if isinstance(ids, list) else None)
            return "deploy.resources.reservations.devices", n
    if svc.get("gpus") is not None:
        g = svc["gpus"]
        return "gpus", g if isinstance(g, int) and not isinstance(g, bool) else None
    if str(svc.get("runtime", "")) == "nvidia":
        return "runtime: nvidia", None
    return None, None


def _targets(volumes: Any) -> tuple[str, ...]:
    out: list[str] = []
    for v in volumes if isinstance(volumes, list) else []:
        if isinstance(v, dict) and v.get("target"):
            out.append(str(v["target"]))
        elif isinstance(v, str):
            parts = v.split(":")
            # "src:dst[:mode]" or an anonymous "dst"
            out.append(parts[1] if len(parts) >= 2 else parts[0])
    return tuple(out)


def _environment(env: Any) -> dict[str, str]:
    if isinstance(env, dict):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    if isinstance(env, list):
        return dict((str(e).split("=", 1) + [""])[:2] for e in env)  # type: ignore[misc]
    return {}


def parse_compose(path: Path, text: str) -> ComposeModel:
    """Every service with how it asks for GPUs, /dev/shm, volumes, working_dir and a healthcheck."""
    import yaml

    label = str(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not valid YAML: {' '.join(str(e).split())[:200]}") from None
    services_node = _child(root, "services")
    if services_node is None or not isinstance(services_node, yaml.MappingNode):
        raise UsageError(f"{path}: not a compose file (no `services:` mapping)")
    out: list[ComposeService] = []
    for key, node in services_node.value:
        try:
            svc = _plain(node)
        except UsageError as e:
            raise UsageError(f"{path}: service {key.value!r}: {e}") from None
        if not isinstance(svc, dict):
            continue
        where = Where(label, key.start_mark.line + 1)
        gpu, count = _gpu_request(svc)
        shm_node = _child(node, "shm_size")
        wd_node = _child(node, "working_dir")
        out.append(ComposeService(
            name=str(key.value), where=where, image=str(svc["image"]) if svc.get("image") else None,
            builds_dockerfile="build" in svc, gpu_request=gpu, gpu_count=count,
            shm_size_bytes=size_bytes(svc["shm_size"]) if "shm_size" in svc else None,
            shm_where=Where(label, shm_node.start_mark.line + 1) if shm_node is not None else None,
            ipc_host=str(svc.get("ipc", "")) == "host", volume_targets=_targets(svc.get("volumes")),
            working_dir=(str(svc["working_dir"]), Where(label, wd_node.start_mark.line + 1)) if wd_node is not None else None,
            healthcheck=isinstance(svc.get("healthcheck"), dict) and svc["healthcheck"].get("disable") is not True,
            environment=_environment(svc.get("environment")),
        ))
    return ComposeModel(path=label, services=tuple(out))
