"""Checks of the environment against a known-good baseline (``--baseline``): the ``drift`` fact area."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from cudadoctor.checks.base import Check, area
from cudadoctor.facts import Facts
from cudadoctor.facts_drift import DriftChange, DriftFacts
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables

#: Changes spelled out in the message and the evidence (the rest are counted).
SHOWN = 8
#: How an absent value reads (cudadoctor.diff.compare.ABSENT).
ABSENT = "(absent)"
#: Where torch's wheels live, by CUDA variant (the same index the torch checks' fixes use).
WHEEL_INDEX = "https://download.pytorch.org/whl/{variant}"


class EnvironmentDrift(Check):
    """The environment moved since the known-good baseline it is checked against.

    ## What it checks
    With `--baseline known-good.json` (a `cudadoctor snapshot`, a `--save-facts` file or a
    `check --format json` report of a machine that worked), every fact that matters to a PyTorch
    job is compared with the baseline's, the way `cudadoctor diff` compares two environments:
    the driver branch and the CUDA it supports, the CUDA libraries torch loads, torch's version
    and CUDA variant, its arch list against each GPU, the GPU models, Python, companion packages
    and nvidia-* pins, the loader-relevant environment (LD_LIBRARY_PATH, CUDA_VISIBLE_DEVICES,
    NVIDIA_*), the container and the toolchain. Live state (temperatures, memory in use, clocks,
    PIDs, timestamps, host names) is not drift. The finding lists what moved, most consequential
    first, and for each change the findings this machine has that the baseline had not and that
    rest on it.

    ## Why it matters
    "It worked last week" and "it works on the other node" are the most common starting points
    of a broken training job, and the cause is a change nobody announced: an image rebuilt with a
    newer torch, a driver upgrade, a `pip install` that pulled a different CUDA variant, an
    `LD_LIBRARY_PATH` added to a profile. Knowing exactly what moved turns a search into a
    revert. Drift is a warning, because a change may be intended; a pre-training gate can make
    it fatal with `fatal = ["environment-drift"]` in its policy.

    ## Example
    The baseline ran `torch 2.3.1+cu121`; since then `pip install torch==2.3.1 --index-url
    https://download.pytorch.org/whl/cu118` replaced it with the `cu118` variant, and extension
    builds now fail (`nvcc-torch-cuda-mismatch`, CUDA 12.1 toolkit against a CUDA 11.8 torch).

    ## Fix
    Restore what moved (the fix lists the commands for torch, packages and environment
    variables), or, if the change is intended, record a new baseline:
    `cudadoctor snapshot -o known-good.json`. `cudadoctor diff known-good.json here` shows the
    same comparison in full.

    ## References
    - https://docs.pytorch.org/docs/stable/notes/cuda.html
    - https://docs.nvidia.com/deploy/cuda-compatibility/
    """

    code = "ENV001"
    name = "environment-drift"
    severity = Severity.WARNING
    requires = frozenset({"drift"})
    since = "0.1.0"
    fast = False  # needs a baseline, which only check/gate --baseline give

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Yield one finding listing every change since the baseline (nothing when none matters)."""
        drift = area(facts, DriftFacts)
        if not drift.changes:
            return
        shown = drift.changes[:SHOWN]
        rest = len(drift.changes) - len(shown)
        n = len(drift.changes)
        when = f", collected {drift.baseline_collected_at}" if drift.baseline_collected_at else ""
        message = (
            f"{n} thing{'' if n == 1 else 's'} moved since the baseline {drift.baseline}{when}: "
            + "; ".join(_change_text(c) for c in shown)
            + (f"; and {rest} more (`cudadoctor diff {drift.baseline} here` lists them)" if rest else "")
            + "."
        )
        evidence: dict[str, object] = {"drift.baseline": drift.baseline}
        evidence.update({c.path: f"{c.baseline} → {c.current}" for c in shown})
        yield self.finding(message=message, evidence=evidence, fix=_fix(drift))


def _change_text(c: DriftChange) -> str:
    text = f"{c.label} {c.baseline} → {c.current}"
    if c.note and c.note != "same branch":
        text += f" ({c.note})"
    if c.causes:
        text += f", which causes {', '.join(c.causes)}"
    return text


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _restore(c: DriftChange) -> str:
    """A command that puts *c* back as the baseline had it ("" when there is no single command)."""
    if c.path == "torch.version":
        v = _version(c.baseline)
        if v is None:
            return ""
        index = f" --index-url {WHEEL_INDEX.format(variant=v.local)}" if v.local else ""
        return f"pip install {shlex.quote(f'torch=={v.base_version}')}{index}"
    if c.path.startswith("torch.distributions[") and c.path.endswith(("]", "].version")):
        name = c.path[len("torch.distributions["):].split("]", 1)[0]
        if name == "torch":
            return ""  # torch.version's command restores the wheel (with its variant's index)
        if c.baseline == ABSENT:
            return f"pip uninstall -y {shlex.quote(name)}"
        return f"pip install {shlex.quote(f'{name}=={c.baseline}')}"
    if c.path.startswith("env.variables[") and c.path.endswith("]"):
        name = c.path[len("env.variables["):-1]
        if c.baseline == ABSENT:
            return f"unset {name}"
        return f"export {name}={shlex.quote(c.baseline)}"
    if c.path == "driver.driver_version":
        v = _version(c.baseline)
        return f"reinstall the baseline's driver branch {v.major} (e.g. the {c.baseline} driver)" if v else ""
    return ""


def _fix(drift: DriftFacts) -> str:
    commands = list(dict.fromkeys(cmd for cmd in (_restore(c) for c in drift.changes) if cmd))
    again = f"cudadoctor snapshot -o {shlex.quote(drift.baseline)}"
    if commands:
        return "To restore the baseline: " + "; ".join(commands) + f". If the change is intended, record a new baseline: {again}"
    return (f"Restore what moved (`cudadoctor diff {shlex.quote(drift.baseline)} here` shows it in full); "
            f"if the change is intended, record a new baseline: {again}")


CHECKS: tuple[type[Check], ...] = (EnvironmentDrift,)
