"""The policy healthcheck and gate judge by: what "healthy" means, read strictly from a TOML file.

A policy says which findings are fatal (a severity threshold, plus names that are always or
never fatal) and what the machine must offer (GPU count, driver, compute capability,
temperature, a working torch CUDA). Loading validates every key and value and names the file
and the key on error; judging is pure: :func:`evaluate_policy` checks the requirements against
Facts, and :func:`judge_health` is the healthcheck's whole decision (healthy or not, and why).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from cudadoctor.errors import CudaDoctorError, shown
from cudadoctor.facts import DriverFacts, Facts, TorchFacts, Unavailable

if TYPE_CHECKING:
    from cudadoctor.findings import Finding
    from cudadoctor.report import Report

#: Highest policy schema this cudadoctor reads.
POLICY_SCHEMA = 1
#: Severities fail_on accepts, lowest rank first (the values of checks.base.Severity).
SEVERITY_RANK: Mapping[str, int] = {"info": 1, "warning": 2, "error": 3}
#: Top-level keys and what each must be (for the error message).
KEYS: Mapping[str, str] = {
    "schema": "an integer",
    "fail_on": 'one of "error", "warning", "info"',
    "fatal": "a list of check names or codes",
    "ignore": "a list of check names or codes",
    "min_gpus": "a non-negative integer",
    "min_driver_version": 'a driver version string such as "550.54.15"',
    "min_compute_capability": 'a compute capability such as "8.0"',
    "max_temperature_c": "a number of degrees Celsius",
    "require_torch_cuda": "true or false",
}
#: Tables reserved for other commands that read the same policy file (validated by them).
RESERVED_TABLES = frozenset({"gate"})
DEFAULT_SOURCE = "default policy (cudadoctor/default_policy.toml)"


class PolicyError(CudaDoctorError):
    """A policy file that cannot be read or does not validate; the message names file and key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A validated healthcheck policy (see docs/healthcheck.md for every key)."""

    source: str  #: the file it came from, for messages
    fail_on: str = "error"
    fatal: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    min_gpus: int = 0
    min_driver_version: Version | None = None
    min_compute_capability: Version | None = None
    max_temperature_c: float | None = None
    require_torch_cuda: bool = False
    #: reserved tables ([gate]) as read, for the commands that own them
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: versions as the file spells them ("550.54.05", which Version would print as 550.54.5)
    spelled: dict[str, str] = field(default_factory=dict)

    def text(self, key: str) -> str:
        """A version key as the policy file wrote it."""
        return self.spelled.get(key) or str(getattr(self, key))


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """One reason the machine is (or would be, if fatal) unhealthy."""

    name: str  #: catalog name of the finding, or "policy-<key>" for a policy requirement
    severity: str  #: "error", "warning" or "info"
    message: str
    code: str = ""  #: check code ("" for policy requirements)

    def __post_init__(self) -> None:
        # NOTE: a reason's message quotes facts (torch's import error, a child's stderr): it is
        # printed as is by healthcheck, so secrets are masked here, once, for every output.
        from cudadoctor.redact import redact_text

        object.__setattr__(self, "message", redact_text(self.message))

    @classmethod
    def of_finding(cls, finding: Finding) -> Reason:
        """The reason a check's finding gives."""
        return cls(name=finding.name, code=finding.code, severity=finding.severity.value, message=finding.message)

    @property
    def headline(self) -> str:
        """How the reason reads in the one-line summary."""
        prefix = "policy" if self.name.startswith("policy-") else self.name
        return f"{prefix}: {self.message}"

    def to_json(self) -> dict[str, str]:
        """The reason as the JSON output shows it."""
        data = {"name": self.name, "severity": self.severity, "message": self.message}
        if self.code:
            data["code"] = self.code
        return data


# --------------------------------------------------------------------------------------------
# loading


def default_policy_text() -> str:
    """The policy shipped inside the package."""
    # NOTE: read next to the package, not through importlib.resources (~8 ms of imports on the healthcheck path).
    return (Path(__file__).resolve().parents[1] / "default_policy.toml").read_text(encoding="utf-8")


def load_policy(path: Path | None) -> Policy:
    """Read and validate the policy at *path* (None: the shipped default); raise PolicyError."""
    if path is None:
        return parse_policy(tomllib.loads(default_policy_text()), source=DEFAULT_SOURCE)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"policy {path}: file does not exist") from None
    except IsADirectoryError:
        raise PolicyError(f"policy {path}: is a directory, not a TOML file") from None
    except OSError as e:
        raise PolicyError(f"policy {path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"policy {path}: not a text file (expected TOML)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"policy {path}: not valid TOML: {e}") from None
    except (ValueError, RecursionError) as e:
        # NOTE: tomllib raises a plain ValueError for an integer over 4300 digits, and recurses once per
        # nesting level of arrays and inline tables.
        raise PolicyError(f"policy {path}: not valid TOML: {type(e).__name__}: {str(e)[:200]}") from None
    return parse_policy(data, source=str(path))


def parse_policy(data: Mapping[str, Any], *, source: str) -> Policy:
    """Validate a parsed policy document strictly: unknown keys and wrong types are errors."""
    def bad(key: str, value: Any) -> PolicyError:
        return PolicyError(f"policy {source}: {key} must be {KEYS[key]}, got {shown(value)}")

    sections: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        if key in RESERVED_TABLES:
            if not isinstance(value, dict):
                raise PolicyError(f"policy {source}: [{key}] must be a table")
            sections[key] = dict(value)
        elif key not in KEYS:
            known = ", ".join(sorted(KEYS))
            raise PolicyError(f"policy {source}: unknown key {key!r} (known keys: {known})")
    schema = data.get("schema", POLICY_SCHEMA)
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise bad("schema", schema)
    if schema > POLICY_SCHEMA:
        raise PolicyError(
            f"policy {source}: schema {shown(schema)} is newer than this cudadoctor reads ({POLICY_SCHEMA}); upgrade cudadoctor"
        )
    fail_on = data.get("fail_on", "error")
    if not isinstance(fail_on, str) or fail_on not in SEVERITY_RANK:
        raise bad("fail_on", fail_on)
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("fatal", "ignore"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise bad(key, value)
        lists[key] = tuple(v.strip() for v in value)
    both = {v.lower() for v in lists["fatal"]} & {v.lower() for v in lists["ignore"]}
    if both:
        raise PolicyError(f"policy {source}: {sorted(both)[0]!r} is in both fatal and ignore")
    min_gpus = data.get("min_gpus", 0)
    if isinstance(min_gpus, bool) or not isinstance(min_gpus, int) or min_gpus < 0:
        raise bad("min_gpus", min_gpus)
    max_temp = data.get("max_temperature_c")
    if max_temp is not None and (isinstance(max_temp, bool) or not isinstance(max_temp, (int, float)) or max_temp <= 0):
        raise bad("max_temperature_c", max_temp)
    require = data.get("require_torch_cuda", False)
    if not isinstance(require, bool):
        raise bad("require_torch_cuda", require)
    return Policy(
        source=source,
        fail_on=fail_on,
        fatal=lists["fatal"],
        ignore=lists["ignore"],
        min_gpus=min_gpus,
        min_driver_version=_version(data, "min_driver_version", bad),
        min_compute_capability=_version(data, "min_compute_capability", bad),
        max_temperature_c=float(max_temp) if max_temp is not None else None,
        require_torch_cuda=require,
        sections=sections,
        spelled={k: str(data[k]).strip() for k in ("min_driver_version", "min_compute_capability") if k in data},
    )


def _version(data: Mapping[str, Any], key: str, bad: Any) -> Version | None:
    value = data.get(key)
    if value is None:
        return None
    # NOTE: TOML has no version type: "8.0" and 8.0 both mean compute capability 8.0, and a
    # driver branch may be written as a bare integer (550).
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise bad(key, value)
    try:
        return Version(str(value).strip())
    except (InvalidVersion, ValueError):
        # NOTE: ValueError: str() of an integer longer than 4300 digits
        raise bad(key, value) from None


def check_selectors(policy: Policy, names: Iterable[str], codes: Iterable[str]) -> None:
    """Raise PolicyError when fatal/ignore names a check that does not exist (a typo must not pass)."""
    names = {n.lower() for n in names}
    codes = [c.upper() for c in codes]
    for key in ("fatal", "ignore"):
        for entry in getattr(policy, key):
            if entry.lower() in names or any(c.startswith(entry.upper()) for c in codes):
                continue
            raise PolicyError(
                f"policy {policy.source}: {key}: unknown check {entry!r} "
                "(use a name or code from `cudadoctor explain --list`)"
            )


# --------------------------------------------------------------------------------------------
# judging


def _matches(entry: str, name: str, code: str) -> bool:
    return entry.lower() == name.lower() or code.upper().startswith(entry.upper())


def is_fatal(policy: Policy, *, name: str, code: str, severity: str) -> bool:
    """Whether a finding makes the machine unhealthy under *policy*."""
    if any(_matches(e, name, code) for e in policy.ignore):
        return False
    if any(_matches(e, name, code) for e in policy.fatal):
        return True
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[policy.fail_on]


def driver_text(drv: DriverFacts) -> str | None:
    """The driver version as NVIDIA spells it (535.183.01, not Version's normalised 535.183.1)."""
    version = drv.driver_version
    if not isinstance(version, Version):
        return None
    for text in (drv.proc_version_text, drv.libcuda_path):
        if not isinstance(text, str):
            continue
        for token in re.findall(r"\d+\.\d+(?:\.\d+)?", text):
            try:
                if Version(token) == version:
                    return token
            except InvalidVersion:  # pragma: no cover - the pattern only matches versions
                continue
    return str(version)


def _gpu_label(index: int, name: str) -> str:
    return f"GPU {index} ({name})"


def evaluate_policy(policy: Policy, facts: Facts) -> list[Reason]:
    """The policy's requirements this machine does not meet, each as a fatal Reason."""
    reasons: list[Reason] = []
    drv = facts.driver
    gpus = drv.gpus if isinstance(drv, DriverFacts) else ()

    def add(key: str, message: str) -> None:
        reasons.append(Reason(name=f"policy-{key.replace('_', '-')}", severity="error", message=message))

    if policy.min_gpus and len(gpus) < policy.min_gpus:
        why = f" ({drv.reason})" if isinstance(drv, Unavailable) else ""
        add("min_gpus", f"{len(gpus)} GPU{'' if len(gpus) == 1 else 's'} visible{why}, policy requires {policy.min_gpus}")
    if policy.min_driver_version is not None:
        version = drv.driver_version if isinstance(drv, DriverFacts) else drv
        wanted = policy.text("min_driver_version")
        if isinstance(version, Unavailable):
            add("min_driver_version", f"driver version unknown ({version.reason}), policy requires >= {wanted}")
        elif version < policy.min_driver_version:
            add("min_driver_version", f"driver {driver_text(drv)} is older than the policy's minimum {wanted}")  # type: ignore[arg-type]
    if policy.min_compute_capability is not None:
        low = [
            f"{_gpu_label(g.index, g.name)} has compute capability {g.compute_capability}"
            for g in gpus
            if isinstance(g.compute_capability, Version) and g.compute_capability < policy.min_compute_capability
        ]
        if low:
            add("min_compute_capability", "; ".join(low) + f", policy requires >= {policy.text('min_compute_capability')}")
    if policy.max_temperature_c is not None:
        hot = [
            f"{_gpu_label(g.index, g.name)} is at {g.temperature_c} °C"
            for g in gpus
            if isinstance(g.temperature_c, int) and g.temperature_c > policy.max_temperature_c
        ]
        if hot:
            add("max_temperature_c", "; ".join(hot) + f", policy allows at most {policy.max_temperature_c:g} °C")
    if policy.require_torch_cuda:
        message = _torch_cuda_problem(facts.torch)
        if message:
            add("require_torch_cuda", message + ", policy requires torch with working CUDA")
    return reasons


def _torch_cuda_problem(torch: TorchFacts | Unavailable) -> str:
    """Why torch CUDA is not usable ("" when it is)."""
    if isinstance(torch, Unavailable):
        return f"torch facts unavailable ({torch.reason})"
    if torch.status != "ok":
        return f"torch cannot be imported ({torch.status})"
    if torch.cuda_available is True:
        return ""
    why = torch.cuda_unavailable_reason.strip().splitlines()[0][:160] if torch.cuda_unavailable_reason.strip() else ""
    if isinstance(torch.cuda_available, Unavailable):
        why = why or torch.cuda_available.reason
    return f"torch {torch.version} reports torch.cuda.is_available() False" + (f" ({why})" if why else "")


def fatal_first(reasons: Sequence[Reason]) -> list[Reason]:
    """Reasons in report order: worst severity first, stable otherwise."""
    return sorted(reasons, key=lambda r: -SEVERITY_RANK.get(r.severity, 0))


# --------------------------------------------------------------------------------------------
# the healthcheck's decision


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthVerdict:
    """Healthy or not under a policy, and why."""

    #: what makes the machine unhealthy: the fatal findings (worst first), then the policy's
    #: requirements it does not meet
    reasons: tuple[Reason, ...]
    notes: tuple[Reason, ...]  #: findings the policy does not count as fatal (worst first)

    @property
    def healthy(self) -> bool:
        """No reason to call the machine unhealthy."""
        return not self.reasons


def judge_health(report: Report, policy: Policy, *, check_order: Sequence[str] = ()) -> HealthVerdict:
    """The healthcheck's verdict on *report* (the fast checks' outcomes and their facts) under *policy*.

    Findings go worst severity first, then in *check_order* (codes in registry order); each is a
    fatal reason or a note as :func:`is_fatal` says. The policy's requirements come after.
    """
    order = {code: i for i, code in enumerate(check_order)}
    reasons: list[Reason] = []
    notes: list[Reason] = []
    for f in sorted(report.findings, key=lambda f: (-f.severity.rank, order.get(f.code, 0))):
        fatal = is_fatal(policy, name=f.name, code=f.code, severity=f.severity.value)
        (reasons if fatal else notes).append(Reason.of_finding(f))
    drv = report.facts.driver
    if isinstance(drv, Unavailable) and not reasons:
        # NOTE: with no driver facts every driver check is skipped; silence is not health.
        reasons.append(Reason(name="driver-probe-failed", severity="error", message=drv.reason))
    reasons += evaluate_policy(policy, report.facts)
    return HealthVerdict(reasons=tuple(reasons), notes=tuple(notes))
