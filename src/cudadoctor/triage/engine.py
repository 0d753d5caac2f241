"""Triage: pasted text -> signature hypotheses + checks on the parsed facts (+ live facts) -> one Report."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from cudadoctor._version import __version__
from cudadoctor.checks import CHECKS, lookup
from cudadoctor.findings import Finding, Outcome, Severity, Status
from cudadoctor.errors import UsageError
from cudadoctor.facts import AREAS, DriverFacts, Facts, TorchFacts, Unavailable
from cudadoctor.report import Report
from cudadoctor.triage import signatures as sig
from cudadoctor.triage.signatures import Hit, TextContext
from cudadoctor.triage.summary import TriageSummary

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables

#: Statuses of a hypothesis after the live probe (Report.triage.hypotheses[i]["status"]).
CONFIRMED, REFUTED, UNVERIFIED, NOT_PROBED = "confirmed", "refuted", "unverified", "not-probed"

#: The reason every area of the fallback facts carries when the parsers are not installed.
_PROBE_REASON = "not in the pasted text"

#: Names whose live check can only confirm a state, not an event that happened earlier.
_EVENTS = frozenset({"nccl-error", "cuda-out-of-memory", "gpu-fallen-off-bus"})

#: Driver-related names that cannot be judged on a machine with no driver at all.
_NEEDS_DRIVER = frozenset({
    "driver-too-old-for-torch", "driver-too-old-for-cudart", "driver-library-mismatch", "gpu-access-lost",
    "cuda-unknown-error", "fabric-manager-missing", "forward-compat-unsupported-gpu", "gpu-ecc-errors",
    "no-gpu-visible", "mig-instance-not-selected", "cuda-visible-devices-invalid", "gpu-arch-not-in-torch-build",
    "gpu-memory-busy",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class Hypothesis:
    """One finding name the text points to, with every line that supports it."""

    name: str
    code: str
    rank: int
    hits: tuple[Hit, ...]
    consequence_of: tuple[str, ...] = ()  #: root names in the same text that explain this one
    status: str = NOT_PROBED
    status_reason: str = ""

    @property
    def first(self) -> Hit:
        """The hit that best states the problem (root signature first, then earliest)."""
        return self.hits[0]

    def group(self, key: str) -> str:
        """The first value of named group *key* among the hits ("" when none captured it)."""
        return next((h.groups[key] for h in self.hits if h.groups.get(key)), "")


@dataclass(slots=True)
class FixContext:
    """What is known about the machine the text came from, for specific fixes."""

    tables: RuleTables
    text: TextContext
    torch_version: Version | None = None
    torch_cuda: Version | None = None
    driver: Version | None = None
    gpu_ccs: list[Version] = field(default_factory=list)
    gpu_names: list[str] = field(default_factory=list)
    python: Version | None = None


# --------------------------------------------------------------------------------------------
# entry point


def triage(
    text: str,
    tables: RuleTables,
    *,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    live: Facts | None = None,
    notes: Sequence[str] = (),
) -> Report:
    """Diagnose *text*: signature hits, checks on the facts parsed from it, and (with *live*) the live verdict.

    Pure given its inputs: the caller reads the text and runs the probes.
    """
    from cudadoctor import engine

    select, ignore = list(select), list(ignore)
    check_select, trg_select = _split_selectors(select)
    check_ignore, trg_ignore = _split_selectors(ignore)
    selected = _selected_codes(check_select, trg_select) if select else None
    ignored = _selected_codes(check_ignore, trg_ignore)

    hits = sig.scan(text)
    parsed = parse(text, tables)
    parsed_facts, sections = parsed.facts, parsed.sections
    fc = fix_context(tables, sig.text_context(text), parsed_facts, live, text, parsed.placeholders)
    hyps = [h for h in hypotheses(hits) if (selected is None or h.code in selected) and h.code not in ignored]

    parsed_report = engine.evaluate(parsed_facts, tables, select=check_select if select else (),
                                    ignore=check_ignore, source="parsed") if _checks_selected(select, check_select) else None
    live_report = None
    if live is not None and _checks_selected(select, check_select):
        live_report = engine.evaluate(live, tables, select=check_select if select else (), ignore=check_ignore)
    if live is not None:
        hyps = [verify(h, live_report, live) for h in hyps]

    outcomes: list[Outcome] = [_outcome(h, fc) for h in hyps]
    if parsed_report is not None:
        kept = parsed_report.outcomes if live is None else tuple(
            o for o in parsed_report.outcomes if o.status in (Status.FOUND, Status.ERROR)
        )
        outcomes += kept
    if live_report is not None:
        outcomes += live_report.outcomes

    summary = TriageSummary(
        sections=tuple(sections),
        signatures_matched=len(hits),
        hypotheses=tuple(_hyp_dict(h) for h in hyps),
        parsed_findings=tuple(f.name for f in (parsed_report.findings if parsed_report else ())),
        probed=live is not None,
        notes=(*notes, *parsed.notes),
        verdict=_verdict_line(hyps, parsed_report, live_report),
    )
    return Report(
        facts=live if live is not None else parsed_facts,
        tables=tables,
        outcomes=tuple(outcomes),
        facts_source="probe" if live is not None else "triage",
        triage=summary,
    )


def _checks_selected(select: list[str], check_select: list[str]) -> bool:
    """Whether any check runs: with --select naming only triage-only names, none do."""
    return not select or bool(check_select)


# --------------------------------------------------------------------------------------------
# selectors: the catalog's checks plus the triage-only names


def _split_selectors(raw: Iterable[str]) -> tuple[list[str], set[str]]:
    """Split --select/--ignore tokens into check selectors and triage-only codes; unknown ones are errors."""
    checks: list[str] = []
    trg: set[str] = set()
    for chunk in raw:
        for tok in filter(None, (t.strip() for t in chunk.split(","))):
            mine = {code for name, (code, *_rest) in sig.TRIAGE_ONLY.items()
                    if tok.lower() == name or code.upper().startswith(tok.upper())}
            theirs = any(c.name == tok.lower() or c.code.upper().startswith(tok.upper()) for c in CHECKS)
            if not mine and not theirs:
                raise UsageError(
                    f"unknown check {tok!r} in --select/--ignore",
                    hint="`cudadoctor explain --list` shows every name and code; triage also knows "
                         + ", ".join(sig.TRIAGE_ONLY),
                )
            trg |= mine
            if theirs:
                checks.append(tok)
    return checks, trg


def _selected_codes(check_sels: list[str], trg_codes: set[str]) -> set[str]:
    from cudadoctor.engine import resolve_selectors

    return (resolve_selectors(check_sels) if check_sels else set()) | trg_codes


# --------------------------------------------------------------------------------------------
# parsing (the parsers' module) with a fallback while it is absent


@dataclass(frozen=True, slots=True)
class Parsed:
    """What the parsers made of the text (cudadoctor.triage.parse.ParsedText, or nothing without it)."""

    facts: Facts
    sections: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()  #: fact paths holding stand-ins, not values from the text
    notes: tuple[str, ...] = ()


def parse(text: str, tables: RuleTables | None = None) -> Parsed:
    """Facts and recognised section kinds from cudadoctor.triage.parse; all-Unavailable without it."""
    try:
        from cudadoctor.triage.parse import parse_text
    except ModuleNotFoundError as e:
        if e.name != "cudadoctor.triage.parse":
            raise
        return Parsed(empty_facts())
    parsed = parse_text(text, tables=tables)
    return Parsed(
        parsed.facts, tuple(parsed.sections), tuple(getattr(parsed, "placeholders", ())),
        tuple(getattr(parsed, "notes", ())),
    )


def empty_facts(reason: str = _PROBE_REASON) -> Facts:
    """Facts with every area Unavailable (probe "triage")."""
    from datetime import datetime, timezone

    return Facts(
        cudadoctor_version=__version__,
        collected_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **{a: Unavailable(probe="triage", reason=reason) for a in AREAS},  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------------------------
# hypotheses


def identity(name: str) -> tuple[str, Severity, str, str]:
    """(code, default severity, title, url) of a name: from its check class, else the triage-only table."""
    cls = lookup(name)
    if cls is not None:
        return cls.code, cls.severity, cls.title(), cls.url()
    code, severity, title, url = sig.TRIAGE_ONLY[name]
    return code, Severity(severity), title, url


def hypotheses(hits: Sequence[Hit]) -> list[Hypothesis]:
    """Group hits by name, root causes first; mark the ones another hit in the text explains."""
    by_name: dict[str, list[Hit]] = {}
    for h in sorted(hits, key=lambda h: (h.rank, h.line_no)):
        by_name.setdefault(h.name, []).append(h)
    names = list(by_name)
    out = []
    for name, group in by_name.items():
        roots = tuple(n for n in names if n != name and n in sig.CONSEQUENCE_OF.get(name, frozenset()))
        out.append(Hypothesis(
            name=name, code=identity(name)[0], rank=min(h.rank for h in group),
            hits=tuple(sorted(group, key=lambda h: (h.signature.rank, h.line_no))), consequence_of=roots,
        ))
    # NOTE: a consequence goes after its roots whatever its own rank.
    return sorted(out, key=lambda h: (bool(h.consequence_of), h.rank, h.first.line_no))


def verify(h: Hypothesis, live_report: Report | None, live: Facts) -> Hypothesis:
    """Confirm or refute a text hypothesis against the live probe's outcome for the same name."""
    live_names = {f.name for f in live_report.findings} if live_report else set()
    outcome = next((o for o in live_report.outcomes if o.name == h.name), None) if live_report else None
    if h.name in live_names:
        return replace(h, status=CONFIRMED, status_reason="the live probe finds the same problem on this machine now")
    if h.name in _NEEDS_DRIVER and "no-nvidia-driver" in live_names:
        return replace(h, status=UNVERIFIED, status_reason=(
            "this machine has no NVIDIA driver now (no-nvidia-driver), so it cannot show this; the text came "
            "from another machine, or the driver was removed since"
        ))
    if h.name in _EVENTS or outcome is None:
        return replace(h, status=UNVERIFIED, status_reason=(
            "an event in the text, not a state a probe can see afterwards" if h.name in _EVENTS
            else "no live check covers it (not selected)"
        ))
    if outcome.status is Status.PASSED:
        return replace(h, status=REFUTED, status_reason=(
            "this machine does not show it now; the text came from elsewhere or it was fixed since"
        ))
    if outcome.status is Status.SKIPPED:
        return replace(h, status=UNVERIFIED, status_reason=f"the live check could not run: {outcome.reason}")
    return replace(h, status=UNVERIFIED, status_reason=f"the live check failed: {outcome.reason}")


def _hyp_dict(h: Hypothesis) -> dict[str, Any]:
    return {
        "name": h.name, "code": h.code, "rank": h.rank, "status": h.status, "status_reason": h.status_reason,
        "consequence_of": list(h.consequence_of), "confidence": _confidence(h),
        "lines": [{"line": x.line_no, "text": x.line, "signature": x.signature.key} for x in h.hits[:5]],
    }


def _confidence(h: Hypothesis) -> str:
    order = {"high": 3, "medium": 2, "low": 1}
    return max((x.signature.confidence for x in h.hits), key=lambda c: order[c])


def _verdict_line(hyps: Sequence[Hypothesis], parsed: Report | None, live: Report | None) -> str:
    if hyps:
        return "most likely cause: " + hyps[0].name
    found = [f.name for r in (parsed, live) if r is not None for f in r.findings]
    if found:
        return "no known failure signature in the text; the checks found: " + ", ".join(dict.fromkeys(found))
    return "no known CUDA/PyTorch failure signature in the text"


# --------------------------------------------------------------------------------------------
# findings for text hypotheses


def _outcome(h: Hypothesis, fc: FixContext) -> Outcome:
    code, default, title, url = identity(h.name)
    severity = _severity(h, default)
    detail, fix = build_fix(h, fc)
    first = h.first
    lines = "; ".join(dict.fromkeys(f"line {x.line_no}: {x.line}" for x in h.hits[:3]))
    message = f"The text shows {first.signature.meaning}"
    message += f" ({first.note})" if first.note else ""
    message += f": `{first.line}` (line {first.line_no})."
    if detail:
        message += " " + detail
    if h.consequence_of:
        message = f"Probably a consequence of {', '.join(h.consequence_of)} (reported above). " + message
    if h.status == CONFIRMED:
        message += " The live probe confirms it on this machine."
    elif h.status == REFUTED:
        message += f" Refuted by the live probe: {h.status_reason}."
    elif h.status == UNVERIFIED:
        message += f" Not verified live: {h.status_reason}."
    evidence: dict[str, str] = {"text.lines": lines}
    for x in h.hits:
        for k, v in x.groups.items():
            evidence.setdefault(f"text.{k}", v)
    evidence.update(_derived_evidence(h, fc))
    finding = Finding(
        code=code, name=h.name, severity=severity, title=title, message=message, evidence=evidence,
        fix=fix, url=url, source="text",
    )
    return Outcome(code=code, name=h.name, status=Status.FOUND, findings=(finding,),
                   extra={"triage_status": h.status})


def _severity(h: Hypothesis, default: Severity) -> Severity:
    sev = default
    override = next((x.signature.severity for x in h.hits if x.signature.severity), "")
    if override and all(x.signature.severity for x in h.hits):
        sev = Severity(override)
    if _confidence(h) == "low" and sev is Severity.ERROR:
        sev = Severity.WARNING
    if h.consequence_of or h.status == REFUTED:
        sev = Severity.INFO
    return sev


def _derived_evidence(h: Hypothesis, fc: FixContext) -> dict[str, str]:
    out: dict[str, str] = {}
    found = h.group("found_version")
    if found:
        out["text.driver_cuda"] = sig.decode_cuda_int(found)
    if fc.torch_version:
        out["torch.version"] = str(fc.torch_version)
    if fc.driver and h.name.startswith(("driver-", "no-gpu", "fabric", "forward")):
        out["driver.driver_version"] = _nv(fc.driver)
    return out


# --------------------------------------------------------------------------------------------
# the machine the text came from


_TORCH_IN_TEXT = re.compile(r"\btorch(?:==|\s+|-)(?P<v>\d+\.\d+\.\d+(?:\.\w+)?(?:\+(?:cu\d+|cpu|rocm[\d.]+))?)")
_CUDA_BUILD_IN_TEXT = re.compile(r"CUDA used to build PyTorch:\s*(?P<v>\d+\.\d+)")


def fix_context(
    tables: RuleTables, text_ctx: TextContext, parsed: Facts, live: Facts | None, text: str,
    placeholders: Sequence[str] = (),
) -> FixContext:
    """Collect torch/driver/GPU facts: the parsed text first (its machine), then the live probe."""
    fc = FixContext(tables=tables, text=text_ctx)
    for facts in (parsed, live):
        if facts is None:
            continue
        stand_in = set(placeholders) if facts is parsed else set()
        t = facts.torch
        if isinstance(t, TorchFacts):
            if fc.torch_version is None and isinstance(t.version, Version):
                fc.torch_version = t.version
            if fc.torch_cuda is None and isinstance(t.cuda_version, Version):
                fc.torch_cuda = t.cuda_version
            if fc.python is None and isinstance(t.python_version, Version) and "torch.python_version" not in stand_in:
                fc.python = t.python_version
            if not fc.gpu_ccs:
                fc.gpu_ccs = sorted({d.capability for d in t.devices})
        d = facts.driver
        if isinstance(d, DriverFacts):
            if fc.driver is None and isinstance(d.driver_version, Version):
                fc.driver = d.driver_version
            if not fc.gpu_ccs:
                fc.gpu_ccs = sorted({g.compute_capability for g in d.gpus if isinstance(g.compute_capability, Version)})
            if not fc.gpu_names:
                fc.gpu_names = [g.name for g in d.gpus]
    if fc.torch_version is None:
        m = _TORCH_IN_TEXT.search(text)
        if m:
            fc.torch_version = _version(m.group("v"))
    if fc.torch_cuda is None and fc.torch_version is not None and fc.torch_version.local:
        m = re.fullmatch(r"cu(\d+)(\d)", fc.torch_version.local)
        if m:
            fc.torch_cuda = Version(f"{m.group(1)}.{m.group(2)}")
    if fc.torch_cuda is None:
        m = _CUDA_BUILD_IN_TEXT.search(text)
        if m:
            fc.torch_cuda = _version(m.group("v"))
    if fc.driver is None and text_ctx.smi_driver:
        fc.driver = _version(text_ctx.smi_driver)
    return fc


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except ValueError:  # NOTE: InvalidVersion is a ValueError; a part over 4300 digits raises the plain one
        return None


def _nv(v: Version) -> str:
    from cudadoctor.checks.driver import nv_version

    return nv_version(v)


def _mm(v: Version) -> str:
    return ".".join(str(p) for p in v.release[:2])


# --------------------------------------------------------------------------------------------
# fixes, one builder per name (values from the text + the rule tables)


def build_fix(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    """(extra message detail, exact fix) for a text hypothesis."""
    builder = _FIXES.get(h.name)
    if builder is None:
        return "", f"See `cudadoctor explain {identity(h.name)[0]}` and run `cudadoctor check` on the affected machine."
    return builder(h, fc)


def _install_driver(branch: int) -> str:
    from cudadoctor.checks.driver import install_driver_command

    return install_driver_command(branch)


def _wheel_line(fc: FixContext, *, driver: Version | None, ccs: Sequence[Version] = ()) -> tuple[str, str] | None:
    """(label, pip command) of the newest wheel for *driver* and *ccs* (full support, else minor compat)."""
    from cudadoctor.remedies import best_wheels

    for full in (True, False):
        wheels = best_wheels(fc.tables, driver=driver, gpu_ccs=ccs, python=fc.python, full_driver_support=full)
        if wheels:
            note = "" if full or driver is None else " (under minor-version compatibility)"
            return f"{wheels[0]}{note}", wheels[0].pip_command
        if driver is None:
            break
    return None


def _driver_for_cuda(fc: FixContext, cuda: Version) -> Version | None:
    rel = fc.tables.cuda_driver.min_driver_for(cuda)
    return rel.min_driver if rel else None


def _fix_driver_too_old(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    found = h.group("found_version")
    driver_cuda = _version(sig.decode_cuda_int(found)) if found else None
    details = []
    if found and driver_cuda:
        details.append(f"found version {found} means the driver supports CUDA up to {_mm(driver_cuda)}.")
    if fc.driver is None and driver_cuda is None and fc.text.smi_driver:
        fc.driver = _version(fc.text.smi_driver)
    parts = []
    if fc.torch_cuda is not None:
        need = _driver_for_cuda(fc, fc.torch_cuda)
        floor = fc.tables.cuda_driver.minor_compat_floor(fc.torch_cuda.major)
        tv = f"torch {fc.torch_version}" if fc.torch_version else "torch"
        if need is not None:
            details.append(
                f"{tv} is built for CUDA {_mm(fc.torch_cuda)}, which needs driver >= {_nv(need)}"
                + (f" (>= {_nv(floor.min_driver)} under minor-version compatibility)" if floor and floor.min_driver < need else "")
                + "."
            )
            parts.append(f"(a) upgrade the driver to >= {_nv(need)} (branch {need.major} or newer): {_install_driver(need.major)}")
    else:
        newest = fc.tables.cuda_driver.newest
        need = _driver_for_cuda(fc, newest)
        parts.append(
            "(a) upgrade the driver to the branch torch's CUDA build needs (the text does not show torch's CUDA version; "
            "`python -c \"import torch; print(torch.version.cuda)\"` prints it"
            + (f"; the newest, CUDA {_mm(newest)}, needs >= {_nv(need)}: {_install_driver(need.major)}" if need else "")
            + ")"
        )
    # NOTE: with only "found version" known, the lowest driver of that CUDA stands in for the driver:
    # any wheel that runs on it runs on the real one.
    proxy = fc.driver or (_driver_for_cuda(fc, driver_cuda) if driver_cuda else None)
    if proxy is not None:
        w = _wheel_line(fc, driver=proxy, ccs=fc.gpu_ccs)
        label = f"driver {_nv(fc.driver)}" if fc.driver else f"a CUDA {_mm(driver_cuda)} driver" if driver_cuda else "this driver"
        if w:
            parts.append(f"(b) keep the driver and install {w[0]}, the newest torch build that runs on {label}: `{w[1]}`")
        else:
            parts.append(f"(b) no torch wheel in the rule tables runs on {label}, so upgrading the driver is the only option")
    return " ".join(details), "Either " + "; or ".join(parts) + "."


def _fix_driver_too_old_cudart(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    if h.name == "driver-too-old-for-torch" or h.group("found_version"):
        return _fix_driver_too_old(h, fc)
    required = _version(h.group("required_cuda")) if h.group("required_cuda") else None
    if required is None:
        return "The driver is older than the CUDA runtime the program loads.", (
            "Upgrade the host driver to one that supports the program's CUDA version (`nvidia-smi` shows the driver's "
            "highest CUDA in its header; the CUDA release notes list the minimum driver per CUDA version), or run a "
            "build/container made for a CUDA the driver supports."
        )
    need = _driver_for_cuda(fc, required)
    detail = f"The container requires CUDA >= {_mm(required)}" + (f", which needs driver >= {_nv(need)}." if need else ".")
    parts = []
    if need:
        parts.append(f"upgrade the host driver to >= {_nv(need)}: {_install_driver(need.major)}")
    top = fc.tables.cuda_driver.max_cuda_for_driver(fc.driver) if fc.driver is not None else None
    if top is not None:
        parts.append(f"use an image built for CUDA <= {_mm(top)} (what driver {_nv(fc.driver)} supports)")
    else:
        parts.append("use an image built for the CUDA version the host driver supports (the `nvidia-smi` header)")
    return detail, "Either " + "; or ".join(parts) + "."


def _fix_no_driver(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    branch = None
    if fc.torch_cuda is not None:
        need = _driver_for_cuda(fc, fc.torch_cuda)
        branch = need.major if need else None
    if branch is None:
        need = _driver_for_cuda(fc, fc.tables.cuda_driver.newest)
        branch = need.major if need else 580
    why = f" (torch's CUDA {_mm(fc.torch_cuda)} needs branch {branch}+)" if fc.torch_cuda else ""
    return "", (
        f"Install the NVIDIA driver{why}: {_install_driver(branch)}. Inside a container, install it on the host "
        "instead and start the container with `--gpus all` (NVIDIA Container Toolkit); `nvidia-smi` must work there."
    )


def _fix_module_not_loaded(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "", (
        "Load the kernel module: `sudo modprobe nvidia` and read `sudo dmesg | grep -i -e nvrm -e nvidia` if it fails "
        "(common causes: Secure Boot blocks the unsigned module — enroll the MOK key or disable Secure Boot; a kernel "
        "update without a rebuilt module — `sudo apt install --reinstall nvidia-dkms-<branch>` or "
        "`sudo dkms autoinstall`, then reboot)."
    )


def _fix_lib_mismatch(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    client, kernel = h.group("client_version"), h.group("kernel_version")
    detail = (f"The driver libraries are {client} but the loaded kernel module is {kernel}: the driver was upgraded "
              "without reloading the module." if client and kernel else
              "The driver was upgraded (often by unattended-upgrades) without reloading the kernel module.")
    return detail, (
        "Reboot the machine; or, with no process using the GPU (`sudo lsof /dev/nvidia*`; stop nvidia-persistenced, "
        "dcgm and the display manager), reload the modules: "
        "`sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia nvidia_uvm`."
    )


def _fix_access_lost(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "Typical in a container after the host ran `systemctl daemon-reload` (cgroup device rules were reset).", (
        "Now: restart the container (`docker restart <container>`, or delete the pod). Permanently (on the host): "
        "use CDI (`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, then `docker run --device "
        "nvidia.com/gpu=all`), or `sudo nvidia-ctk system create-dev-char-symlinks --create-all`, or switch Docker "
        "to cgroupfs (`\"exec-opts\": [\"native.cgroupdriver=cgroupfs\"]` in /etc/docker/daemon.json). "
        "See https://github.com/NVIDIA/nvidia-container-toolkit/issues/48"
    )


def _fix_unknown_error(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "", (
        "Check that /dev/nvidia-uvm exists (`sudo modprobe nvidia_uvm` or `sudo nvidia-modprobe -c 0 -u` if not); "
        "after a suspend/resume reload it with no CUDA process running: `sudo rmmod nvidia_uvm && sudo modprobe "
        "nvidia_uvm`; reboot if that does not help. Also make sure CUDA_VISIBLE_DEVICES is not changed after the "
        "program started."
    )


def _fix_fabric(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    if fc.driver is not None:
        pkg = f"`sudo apt install nvidia-fabricmanager-{fc.driver.major}={_nv(fc.driver)}-1`"
    else:
        pkg = "`sudo apt install nvidia-fabricmanager-<branch>=<driver version>-1`"
    return "This is an NVSwitch (HGX/DGX) system whose fabric is not up.", (
        f"Install Fabric Manager (its version must equal the driver version exactly): {pkg}, then "
        "`sudo systemctl enable --now nvidia-fabricmanager` and check `systemctl status nvidia-fabricmanager`."
    )


def _fix_forward_compat(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "Forward compatibility (cuda-compat) only works on data-center GPUs.", (
        "Stop loading the cuda-compat libcuda: remove its directory (e.g. /usr/local/cuda/compat) from "
        "LD_LIBRARY_PATH or /etc/ld.so.conf.d, or `sudo apt remove cuda-compat-*`; then either upgrade the host "
        "driver to one that supports the program's CUDA, or use a build for the CUDA the driver supports."
    )


def _fix_ecc(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    pci, xid = h.group("pci"), h.group("xid")
    where = f" -i {pci}" if pci else ""
    detail = f"Xid {xid} on {pci}." if xid else ""
    return detail, (
        "Take the GPU out of service: drain the node, then inspect `nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER"
        f"{where}`; reset the GPU (`sudo nvidia-smi -r{where}`) or reboot to apply pending retirements/remaps, "
        "and run `dcgmi diag -r 3`. If errors return or row remapping failed, the GPU needs replacement (RMA)."
    )


def _fix_off_bus(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    pci = h.group("pci")
    return (f"GPU at {pci}." if pci else ""), (
        "The GPU is unreachable until a full power cycle: drain the node and cold-reboot it. If it recurs, check "
        "power delivery, cooling and seating (`nvidia-smi -q -d TEMPERATURE,POWER`), update the firmware/driver, "
        "and RMA the GPU."
    )


def _fix_cudart_missing(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    soname = h.group("soname") or "libcudart"
    major = _soname_major(soname)
    reinstall = _reinstall_torch(fc)
    wheel = f"`pip install nvidia-cuda-runtime-cu{major}`" if major and int(major) <= 12 else \
        f"`pip install 'cuda-toolkit[cudart]=={major}.*'`" if major else "the CUDA runtime wheel"
    return f"{soname} is the CUDA {major or '?'} runtime.", (
        f"For pip torch: {reinstall} (without --no-deps, so the runtime wheel comes with it), or {wheel}. "
        f"For other programs: install the CUDA {major or ''} runtime (e.g. `sudo apt install cuda-cudart-{major or 'X'}-<minor>`) "
        f"and add its lib64 directory to the loader path (`echo /usr/local/cuda-{major or 'X'}.<minor>/lib64 | sudo tee "
        "/etc/ld.so.conf.d/cuda.conf && sudo ldconfig`)."
    )


def _soname_major(soname: str) -> str:
    m = re.search(r"\.so\.(\d+)", soname)
    return m.group(1) if m else ""


def _reinstall_torch(fc: FixContext) -> str:
    if fc.torch_version is not None:
        local = fc.torch_version.local or ""
        index = f" --index-url https://download.pytorch.org/whl/{local}" if re.fullmatch(r"cu\d+|cpu", local) else ""
        return f"`pip install --force-reinstall torch=={fc.torch_version.public}{index}`"
    return "`pip install --force-reinstall torch` (same version and index as before)"


def _fix_cudnn_missing(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    soname = h.group("soname") or h.group("candidates").split(",")[0].strip()
    major = _soname_major(soname)
    cu = fc.torch_cuda.major if fc.torch_cuda else None
    other = ""
    if major and cu is None:
        # NOTE: torch's CUDA is not in the text: name the wheel for each CUDA major this cuDNN ships for.
        entry = fc.tables.cudnn.get(int(major))
        majors = [m for m in (entry.cuda_majors if entry else ()) if m >= 11]
        if majors:
            cu = 12 if 12 in majors else majors[-1]
            rest = [f"-cu{m}" for m in majors if m != cu]
            other = f" (use {' / '.join(rest)} for a CUDA {' / '.join(r[3:] for r in rest)} torch)" if rest else ""
    wheel = (f"`pip install 'nvidia-cudnn-cu{cu}=={major}.*'`{other}" if major and cu
             else "the nvidia-cudnn-cuXX wheel torch pins")
    return (f"{soname} is cuDNN {major}." if major else ""), (
        f"{_reinstall_torch(fc)} (without --no-deps, so nvidia-cudnn comes with it), or {wheel}; if an "
        "LD_LIBRARY_PATH entry holds another cuDNN, remove it (`echo $LD_LIBRARY_PATH`)."
    )


def _fix_shadowed(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    symbol, vlib, lib = h.group("symbol"), h.group("version_library"), h.group("library")
    provider = sig.library_family(vlib) if vlib else next(
        (fam for p, fam in sig.SYMBOL_PROVIDERS if symbol.startswith(p)), sig.library_family(lib) if lib else "the library")
    m = re.search(r"_(\d+)_(\d+)$", symbol)
    need = f" >= {m.group(1)}.{m.group(2)}" if m else ""
    detail = (f"{lib.rsplit('/', 1)[-1] or 'a library'} needs {symbol} from {provider}{need}, but an older/other "
              f"copy of {provider} was loaded first." if symbol else "")
    from cudadoctor.checks.cuda_libs import WHEEL_OF_FAMILY

    wheel = WHEEL_OF_FAMILY.get(provider)
    cu = fc.torch_cuda.major if fc.torch_cuda else 12
    pin = f", or `pip install --force-reinstall '{wheel}-cu{cu}{'>=' + need.strip(' >=') if need else ''}'`" if wheel else ""
    return detail, (
        f"Remove the directory holding the other {provider} from LD_LIBRARY_PATH (typically /usr/local/cuda*/lib64; "
        "`echo $LD_LIBRARY_PATH`, then `export LD_LIBRARY_PATH=<the other entries>` or `unset LD_LIBRARY_PATH`) "
        f"so torch loads its own copy{pin}."
    )


def _fix_cudnn_version(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    compiled, runtime = h.group("compiled"), h.group("runtime")
    if compiled.isdigit():
        compiled, runtime = sig.decode_cudnn_int(compiled), sig.decode_cudnn_int(runtime)
    else:
        compiled = ".".join(p.strip() for p in compiled.split(",")) if compiled else ""
        runtime = ".".join(p.strip() for p in runtime.split(",")) if runtime else ""
    major = compiled.split(".")[0] if compiled else ""
    cu = fc.torch_cuda.major if fc.torch_cuda else 12
    detail = f"torch was built with cuDNN {compiled} but cuDNN {runtime} loaded." if compiled else ""
    pin = f"`pip install 'nvidia-cudnn-cu{cu}=={compiled}.*'`" if compiled else "the nvidia-cudnn wheel torch pins"
    return detail, (
        "Remove the cuDNN directory from LD_LIBRARY_PATH (`echo $LD_LIBRARY_PATH`; often /usr/local/cuda/lib64 or a "
        f"conda env's lib) so torch loads its bundled cuDNN {major or ''}; or install the matching one: {pin}."
    )


def _fix_companion(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    details = []
    if h.group("torch_cuda"):
        details.append(f"torch is built for CUDA {h.group('torch_cuda')}, torchvision for CUDA {h.group('torchvision_cuda')}.")
    if h.group("library"):
        details.append(f"{h.group('library')} was built against another torch.")
    if fc.torch_version is not None:
        rel = fc.tables.torch.release(fc.torch_version)
        local = fc.torch_version.local or ""
        index = f" --index-url https://download.pytorch.org/whl/{local}" if re.fullmatch(r"cu\d+|cpu", local) else ""
        pkgs = []
        if rel and rel.torchvision:
            pkgs.append(f"'torchvision=={rel.torchvision}.*'")
        if rel and rel.torchaudio:
            pkgs.append(f"'torchaudio=={rel.torchaudio}.*'")
        if pkgs:
            return " ".join(details), (
                f"Install the companions paired with torch {fc.torch_version} from the same index: "
                f"`pip install --force-reinstall --no-deps {' '.join(pkgs)}{index}`."
            )
    return " ".join(details), (
        "Reinstall torch, torchvision and torchaudio together from one index so they pair: "
        "`pip install --force-reinstall torch torchvision torchaudio --index-url https://download.pytorch.org/whl/<cuXYZ>` "
        "(the variant of your torch, `python -c \"import torch; print(torch.__version__)\"`)."
    )


def _fix_torch_install(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    w = _wheel_line(fc, driver=fc.driver, ccs=fc.gpu_ccs)
    if w is None:
        return "", "Install a CUDA build of torch from https://pytorch.org/get-started/locally/ for this driver."
    basis = f" for driver {_nv(fc.driver)}" if fc.driver else ""
    basis += f" and compute capability {', '.join(map(str, fc.gpu_ccs))}" if fc.gpu_ccs else ""
    pre = "`pip uninstall -y torch torchvision torchaudio`, then " if h.name == "torch-cpu-only-build" else ""
    note = "" if fc.driver else " (the text shows no driver version: check `nvidia-smi` supports its CUDA)"
    return "", f"Install {w[0]}, the newest CUDA build{basis}: {pre}`{w[1]}`{note}."


def _fix_arch(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    cc: Version | None = None
    if h.group("sm"):
        sm = h.group("sm")
        cc = Version(f"{sm[:-1]}.{sm[-1]}")
    elif h.group("cc"):
        cc = _version(h.group("cc"))
    name = h.group("gpu_name").split(" with CUDA")[0].strip().strip(":").strip()
    if cc is None and name:
        model = fc.tables.gpus.lookup(name)
        cc = model.cc if model else None
    if cc is None and fc.gpu_ccs:
        cc = fc.gpu_ccs[-1]
    details = []
    if name or cc:
        details.append(f"GPU {name or '?'} has compute capability {cc or '?'}.")
    if h.group("supported"):
        details.append(f"This torch was built for {h.group('supported')}.")
    if cc is None:
        return " ".join(details), (
            "Install a torch build whose arch list covers your GPU (`nvidia-smi --query-gpu=name,compute_cap "
            "--format=csv` shows its capability; `cudadoctor check` on that machine prints the exact wheel). If the "
            "error comes from a custom extension, rebuild it with `TORCH_CUDA_ARCH_LIST=<capability>`."
        )
    w = _wheel_line(fc, driver=fc.driver, ccs=[cc]) or _wheel_line(fc, driver=None, ccs=[cc])
    if w is None:
        return " ".join(details), (
            f"No torch wheel in the rule tables has kernels for compute capability {cc}: build torch from source with "
            f"`TORCH_CUDA_ARCH_LIST={cc}`."
        )
    return " ".join(details), (
        f"Install {w[0]}, the newest build with kernels for compute capability {cc}: `{w[1]}`"
        + ("" if fc.driver else " (its CUDA needs a matching driver: check `nvidia-smi`)")
        + f". For a custom extension, rebuild it with `TORCH_CUDA_ARCH_LIST={cc}`."
    )


def _fix_nvcc(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    detected, torch_cuda = _version(h.group("detected_cuda") or "x"), _version(h.group("torch_cuda") or "x")
    if detected is None or torch_cuda is None:
        return "", "Point CUDA_HOME at a toolkit with torch's CUDA version."
    detail = f"nvcc / CUDA_HOME is CUDA {_mm(detected)}, torch is built for CUDA {_mm(torch_cuda)}."
    from cudadoctor.remedies import variant_name

    pkg = f"cuda-toolkit-{torch_cuda.major}-{torch_cuda.minor}"
    alt = ""
    for rel in reversed(fc.tables.torch.releases):
        var = fc.tables.torch.variant(rel.torch, variant_name(detected))
        if var is not None and var.name in rel.variants:
            alt = f"; or install torch built for CUDA {_mm(detected)}: `pip install torch=={rel.latest} --index-url {var.index_url}`"
            break
    return detail, (
        f"Build with a CUDA {_mm(torch_cuda)} toolkit: `sudo apt install {pkg}` (NVIDIA's repo), then "
        f"`export CUDA_HOME=/usr/local/cuda-{_mm(torch_cuda)} PATH=/usr/local/cuda-{_mm(torch_cuda)}/bin:$PATH`{alt}."
    )


def _fix_gcc(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    n = h.group("max_gcc")
    if n:
        return f"This nvcc accepts gcc <= {n}.", (
            f"Install gcc {n} and build with it: `sudo apt install gcc-{n} g++-{n}`, then "
            f"`export CC=gcc-{n} CXX=g++-{n} NVCC_CCBIN=g++-{n}` (torch's cpp_extension passes NVCC_CCBIN as -ccbin). "
            "Avoid `-allow-unsupported-compiler`: it builds code nvcc was not tested with."
        )
    n = h.group("max_clang")
    return f"This nvcc accepts clang < {n}.", f"Build with an older clang (< {n}): `export CC=clang-{int(n) - 1} CXX=clang++-{int(n) - 1}`."


def _fix_visible(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    value = h.group("visible_devices") or fc.text.visible_devices
    shown = f" (the text sets CUDA_VISIBLE_DEVICES={value!r})" if value is not None else ""
    device = h.group("device")
    detail = f"The container asked for device {device}." if device else ""
    return detail, (
        f"List the GPUs with `nvidia-smi -L` and set CUDA_VISIBLE_DEVICES to indices or UUIDs that exist{shown}, e.g. "
        "`export CUDA_VISIBLE_DEVICES=0`, or `unset CUDA_VISIBLE_DEVICES`; set it before the program starts, and use "
        "`cuda:0`..`cuda:N-1` for the N devices it leaves visible."
    )


def _fix_mig(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "CUDA enumerates exactly one MIG device per process, selected by its MIG UUID.", (
        "List the MIG devices with `nvidia-smi -L` and give each process one: "
        "`export CUDA_VISIBLE_DEVICES=MIG-<uuid>`; if none exist, create them "
        "(`sudo nvidia-smi mig -lgip` for profiles, then `sudo nvidia-smi mig -cgi <profile> -C`)."
    )


def _fix_no_gpu(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "", (
        "Check `nvidia-smi -L` lists a GPU; in a container start it with `--gpus all` (NVIDIA Container Toolkit); "
        "check CUDA_VISIBLE_DEVICES is unset or names existing GPUs; then run `cudadoctor check` on that machine."
    )


def _fix_shm(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "", (
        "Give /dev/shm more room: recreate the container with `--shm-size=16g` (e.g. `docker run --gpus all "
        "--shm-size=16g ...`; compose: `shm_size: \"16g\"`) or `--ipc=host`; on Kubernetes mount an emptyDir with "
        "`medium: Memory` at /dev/shm. Meanwhile fewer DataLoader workers (`num_workers`) lower the need."
    )


def _fix_mem_limit(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "", (
        "Raise the memory limit of the container/job (`docker run --memory=<size>`, Kubernetes `resources.limits.memory`, "
        "`#SBATCH --mem=`), or lower `num_workers` / `prefetch_factor` and avoid copying the dataset into every worker."
    )


def _fix_container(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    return "", (
        "On the host, install the NVIDIA Container Toolkit and register it with Docker: "
        "`sudo apt install nvidia-container-toolkit && sudo nvidia-ctk runtime configure --runtime=docker && "
        "sudo systemctl restart docker`, then run `docker run --gpus all ...`."
    )


def _fix_libcuda_path(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    if h.first.signature.key == "cuda-stub":
        return "The stub is for linking only; at run time it must not be on the loader path.", (
            "Remove the CUDA stubs directory (…/lib64/stubs or …/targets/*/lib/stubs) from LD_LIBRARY_PATH and "
            "/etc/ld.so.conf.d, then `sudo ldconfig`."
        )
    if fc.text.wsl:
        return "Under WSL2 the driver's libcuda.so.1 is in /usr/lib/wsl/lib.", (
            "`export LD_LIBRARY_PATH=/usr/lib/wsl/lib:$LD_LIBRARY_PATH` (persist it in ~/.bashrc), or "
            "`echo /usr/lib/wsl/lib | sudo tee /etc/ld.so.conf.d/ld.wsl.conf && sudo ldconfig`. Do not install a Linux "
            "NVIDIA driver inside WSL2."
        )
    return "", (
        "Find the driver's copy (`find / -name 'libcuda.so.1' 2>/dev/null`) and add its directory to the loader path: "
        "`echo <dir> | sudo tee /etc/ld.so.conf.d/nvidia.conf && sudo ldconfig`."
    )


def _fix_memory_busy(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    procs = ", ".join(f"PID {x.groups['pid']} ({x.groups.get('used', '?')})" for x in h.hits if x.groups.get("pid"))
    return (f"Other processes hold GPU memory: {procs}." if procs else ""), (
        "Stop or move the other processes (`nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv`, "
        "then end them), or pick a free GPU with CUDA_VISIBLE_DEVICES."
    )


def _fix_oom(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    tried, total = h.group("tried"), h.group("total") or h.group("total2")
    free = h.group("free")
    bits = [f"tried to allocate {tried}" if tried else "", f"GPU total {total}" if total else "", f"{free} free" if free else ""]
    detail = ("The allocation " + ", ".join(b for b in bits if b) + ".") if any(bits) else ""
    return detail, (
        "Lower the batch size or sequence length, use mixed precision (bf16/fp16) and activation checkpointing; set "
        "`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` when much memory is reserved but unallocated "
        "(fragmentation); check `nvidia-smi` for other processes on the same GPU."
    )


def _fix_nccl(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    version = fc.text.nccl_version
    what = h.group("what") or (f"nccl{h.group('kind')}Error" if h.group("kind") else "")
    detail = " ".join(x for x in (f"NCCL {version}." if version else "", f"Error: {what}." if what else "") if x)
    return detail, (
        "Rerun with `NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET` to see the failing call on the first rank that fails; "
        "check every rank uses the same torch/NCCL, that /dev/shm is large enough in containers, and that the "
        "network interface is right (`NCCL_SOCKET_IFNAME=<iface>`; `NCCL_IB_DISABLE=1` to rule out InfiniBand). "
        "A watchdog timeout usually means another rank crashed or hung first."
    )


def _fix_import_failed(h: Hypothesis, fc: FixContext) -> tuple[str, str]:
    soname = h.group("soname") or h.group("library")
    return (f"The library is {soname}." if soname else ""), (
        f"Reinstall torch with its CUDA dependencies: {_reinstall_torch(fc)} (no --no-deps); if LD_LIBRARY_PATH points "
        "at a system CUDA, unset it and retry."
    )


_FIXES = {
    "driver-too-old-for-torch": _fix_driver_too_old_cudart,
    "driver-too-old-for-cudart": _fix_driver_too_old_cudart,
    "no-nvidia-driver": _fix_no_driver,
    "nvidia-kernel-module-not-loaded": _fix_module_not_loaded,
    "driver-library-mismatch": _fix_lib_mismatch,
    "gpu-access-lost": _fix_access_lost,
    "cuda-unknown-error": _fix_unknown_error,
    "fabric-manager-missing": _fix_fabric,
    "forward-compat-unsupported-gpu": _fix_forward_compat,
    "gpu-ecc-errors": _fix_ecc,
    "gpu-fallen-off-bus": _fix_off_bus,
    "cudart-missing": _fix_cudart_missing,
    "cudnn-missing": _fix_cudnn_missing,
    "cuda-lib-shadowed": _fix_shadowed,
    "cudnn-version-mismatch": _fix_cudnn_version,
    "torch-companion-mismatch": _fix_companion,
    "torch-not-installed": _fix_torch_install,
    "torch-cpu-only-build": _fix_torch_install,
    "torch-import-failed": _fix_import_failed,
    "gpu-arch-not-in-torch-build": _fix_arch,
    "nvcc-torch-cuda-mismatch": _fix_nvcc,
    "host-compiler-unsupported": _fix_gcc,
    "cuda-visible-devices-invalid": _fix_visible,
    "mig-instance-not-selected": _fix_mig,
    "no-gpu-visible": _fix_no_gpu,
    "shm-too-small": _fix_shm,
    "container-memory-limit-low": _fix_mem_limit,
    "container-without-gpus": _fix_container,
    "libcuda-not-on-loader-path": _fix_libcuda_path,
    "gpu-memory-busy": _fix_memory_busy,
    "cuda-out-of-memory": _fix_oom,
    "nccl-error": _fix_nccl,
}

__all__ = ["Hypothesis", "triage", "hypotheses", "verify", "parse", "empty_facts", "identity"]
