"""`cudadoctor recommend [--driver X] [--gpu NAME] [--torch V --cuda C]`: what to install for this driver and GPUs.

The driver and GPUs default to this host's (NVML, in a child process); ``--driver`` and ``--gpu``
judge another machine. The answer comes from recommend.py (pure) and is printed as text or JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

from typing import TYPE_CHECKING

import typer
from packaging.version import InvalidVersion, Version

from cudadoctor.errors import UsageError
from cudadoctor.facts import nv_version
from cudadoctor.report import EXIT_OK

if TYPE_CHECKING:
    from cudadoctor.recommend import Gpu, ImageChoice, Recommendation
    from cudadoctor.remedies import WheelChoice
    from cudadoctor.tables import RuleTables


def parse_driver(text: str) -> Version:
    """A --driver value as a Version (535.183.01), or a one-line usage error."""
    try:
        v = Version(text.strip())
    except InvalidVersion:
        raise UsageError(f"--driver {text!r}: not a driver version like 535.183.01") from None
    if v.major < 100:
        raise UsageError(f"--driver {text!r}: not a driver version like 535.183.01 (that looks like a CUDA version)")
    return v


def parse_gpu(tables: RuleTables, text: str) -> Gpu:
    """A --gpu value: a model name the GPU table knows ("RTX 5090", "V100"), or a capability ("8.0", "sm_90")."""
    from cudadoctor.recommend import Gpu

    raw = text.strip()
    cc_text = raw.removeprefix("sm_")
    if cc_text.replace(".", "").isdigit():
        if "." not in cc_text and len(cc_text) >= 2:
            cc_text = f"{cc_text[:-1]}.{cc_text[-1]}"
        try:
            return Gpu(name=f"compute capability {cc_text}", cc=Version(cc_text))
        except InvalidVersion:
            pass
    model = tables.gpus.lookup(raw)
    if model is None:
        # NOTE: people type the marketing name ("A100", "RTX 5090"), not NVML's full name.
        words = raw.lower().split()
        model = next((m for m in tables.gpus.models if all(w in m.model.lower() for w in words)), None)
    if model is None:
        raise UsageError(
            f"--gpu {raw!r}: not a GPU model in rules/gpus.toml",
            hint="give the NVML name (e.g. 'NVIDIA A100-SXM4-80GB') or a compute capability such as 8.0",
        )
    return Gpu(name=model.model, cc=model.cc)


def host_driver_and_gpus(timeout: float = 20.0) -> tuple[Version | None, tuple[Gpu, ...]]:
    """This host's driver version and GPUs, from the driver probe (None, () when there is no driver)."""
    from cudadoctor.facts import DriverFacts
    from cudadoctor.probes.base import ProbeContext, run_probe
    from cudadoctor.probes.driver import probe_driver
    from cudadoctor.recommend import Gpu

    drv, _ = run_probe("driver", probe_driver, ProbeContext.within(sys.executable, timeout))
    if not isinstance(drv, DriverFacts) or not isinstance(drv.driver_version, Version):
        return None, ()
    gpus = tuple(Gpu(g.name, g.compute_capability) for g in drv.gpus if isinstance(g.compute_capability, Version))
    return drv.driver_version, gpus


def _wheel(w: WheelChoice, support: str) -> dict[str, Any]:
    return {"torch": str(w.release.latest), "variant": w.variant.name, "cuda": str(w.variant.cuda),
            "support": support, "pip": w.pip_command, "confirmed": w.variant.confirmed and w.release.confirmed}


def _image(i: ImageChoice) -> dict[str, Any]:
    return {"image": i.ref, "torch": str(i.torch), "cuda": str(i.cuda), "support": i.support,
            "min_driver": nv_version(i.min_driver) if i.min_driver else None, "confirmed": i.confirmed,
            "source": i.source}


def to_dict(r: Recommendation) -> dict[str, Any]:
    """The recommendation as JSON data."""
    data: dict[str, Any] = {
        "driver": nv_version(r.driver) if r.driver else None,
        "gpus": [{"name": g.name, "compute_capability": str(g.cc)} for g in r.gpus],
        "full_support": _wheel(r.full, "full") if r.full else None,
        "minor_compat": _wheel(r.compat, "minor-compat") if r.compat else None,
        "images": [_image(i) for i in r.images],
        "notes": list(r.notes),
    }
    if r.request is not None:
        q = r.request
        data["request"] = {
            "torch": str(q.torch), "cuda": str(q.cuda) if q.cuda else None, "exists": q.exists is not None,
            "message": q.message, "build": _wheel(q.exists, "requested") if q.exists else None,
            "nearest": [{**_wheel(w, "nearest"), "runs_here": not (q.nearest_notes[n] if n < len(q.nearest_notes) else ""),
                         "note": q.nearest_notes[n] if n < len(q.nearest_notes) else ""} for n, w in enumerate(q.nearest)],
        }
    return data


def render_text(r: Recommendation) -> str:
    """The recommendation as plain text."""
    gpus = ", ".join(f"{g.name} (sm_{g.cc.major}{g.cc.minor})" for g in r.gpus) or "no GPU given"
    driver = f"driver {nv_version(r.driver)}" if r.driver else "no driver"
    lines = [f"cudadoctor recommend — {driver}; {gpus}", ""]
    if r.request is not None:
        lines.append(r.request.message)
        if r.request.exists is not None:
            lines.append(f"  {r.request.exists.pip_command}")
        for n, w in enumerate(r.request.nearest):
            note = r.request.nearest_notes[n] if n < len(r.request.nearest_notes) else ""
            lines.append(f"  nearest: {w}: {w.pip_command}" + (f"  ({note})" if note else ""))
        lines.append("")
    if r.full is not None:
        lines += [f"Newest torch this driver fully supports: {r.full}", f"  {r.full.pip_command}"]
    if r.compat is not None:
        lead = "Newer, under" if r.full is not None else "Runs only under"
        lines += [f"{lead} CUDA minor-version compatibility (no PTX JIT of newer code): {r.compat}",
                  f"  {r.compat.pip_command}"]
    if r.images:
        lines += ["", "Official images that fit:"]
        for i in r.images:
            need = f", needs driver >= {nv_version(i.min_driver)}" if i.min_driver else ""
            support = {"full": "", "minor-compat": " [minor-version compatibility]", "unknown": ""}[i.support]
            unconfirmed = " (unconfirmed row: see rules/images.toml)" if not i.confirmed else ""
            lines.append(f"  {i.ref}  CUDA {i.cuda}{need}{support}{unconfirmed}")
    if r.notes:
        lines += ["", *[f"note: {n}" for n in r.notes]]
    return "\n".join(lines) + "\n"


def run(*, driver: str | None = None, gpus: tuple[str, ...] = (), torch: str | None = None, cuda: str | None = None,
        as_json: bool = False, rules_dir: Path | None = None) -> int:
    """Print the recommendation; exit 0 (bad input raises UsageError: exit 2)."""
    from cudadoctor.recommend import recommend
    from cudadoctor.tables import load_tables

    tables = load_tables(rules_dir)
    want_torch = _version_option("--torch", torch)
    want_cuda = _version_option("--cuda", cuda)
    if want_cuda is not None and want_torch is None:
        raise UsageError("--cuda needs --torch (the release whose CUDA builds to look up)")
    if driver is not None:
        drv: Version | None = parse_driver(driver)
        chosen = tuple(parse_gpu(tables, g) for g in gpus)
    else:
        drv, found = host_driver_and_gpus()
        chosen = tuple(parse_gpu(tables, g) for g in gpus) or found
    rec = recommend(tables, driver=drv, gpus=chosen, torch=want_torch, cuda=want_cuda)
    sys.stdout.write(json.dumps(to_dict(rec), indent=2) + "\n" if as_json else render_text(rec))
    return EXIT_OK


def _version_option(flag: str, text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text.strip().removeprefix("cu") if flag == "--torch" else _cuda_text(text))
    except InvalidVersion:
        raise UsageError(f"{flag} {text!r}: not a version") from None


def _cuda_text(text: str) -> str:
    """'cu118' / '118' / '11.8' -> '11.8'."""
    t = text.strip().lower().removeprefix("cu")
    return f"{t[:-1]}.{t[-1]}" if t.isdigit() and len(t) >= 2 else t


def register(app: typer.Typer) -> None:
    """Add `cudadoctor recommend` to the CLI."""

    @app.command(name="recommend")
    def recommend_cmd(
        driver: Annotated[Optional[str], typer.Option("--driver", envvar="CUDADOCTOR_DRIVER", help="Target driver version (default: this host's).")] = None,
        gpu: Annotated[Optional[list[str]], typer.Option("--gpu", envvar="CUDADOCTOR_GPU", help="Target GPU model or compute capability (repeatable; default: this host's).")] = None,
        torch: Annotated[Optional[str], typer.Option("--torch", envvar="CUDADOCTOR_TORCH", help="Ask about this torch release (e.g. 2.8).")] = None,
        cuda: Annotated[Optional[str], typer.Option("--cuda", envvar="CUDADOCTOR_CUDA", help="With --torch: ask about this CUDA (11.8 or cu118).")] = None,
        output_format: Annotated[str, typer.Option("--format", "-f", envvar="CUDADOCTOR_FORMAT", help="terminal or json.")] = "terminal",
        rules_dir: Annotated[Optional[Path], typer.Option("--rules-dir", envvar="CUDADOCTOR_RULES_DIR", help="Use the rule tables in this directory.")] = None,
    ) -> None:
        """Recommend the newest torch, CUDA variant and official image that run on a driver and GPUs."""
        if output_format not in ("terminal", "json"):
            raise UsageError(f"--format {output_format!r}: expected terminal or json")
        raise typer.Exit(run(driver=driver, gpus=tuple(gpu or ()), torch=torch, cuda=cuda,
                             as_json=output_format == "json", rules_dir=rules_dir))
