"""Checks of the torch install itself: present, importable, a CUDA build, an official wheel for this Python."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from packaging.version import Version

from cudadoctor.causes import ErrorKind, first, of_kind
from cudadoctor.checks.base import Check, SkipCheck, area, maybe, need
from cudadoctor.checks.cuda_libs.common import STATUS_FAILED, owning_import_cause
from cudadoctor.checks.torch_build.common import (
    CPU_WHEEL,
    gpus_to_judge,
    host_driver,
    nvidia_gpu_present,
    suggest_wheel,
    wheel_fix,
)
from cudadoctor.facts import PYTHON_UNKNOWN, DriverFacts, EnvFacts, Facts, HostFacts, TorchFacts, known
from cudadoctor.findings import Finding, Severity
from cudadoctor.tables import RuleTables
from cudadoctor.wheels import pin_for_family, pip, pip_from, quoted, reinstall_torch, torch_variant_index, torch_version
from cudadoctor.checks.context import FixContext
from cudadoctor.facts import nv_version
from cudadoctor.remedies import Remedy, newest_wheel_line, parse_version, reinstall_torch_command


def error_tail(text: str, lines: int = 4) -> str:
    """The last non-empty lines of an error text (the part that names the problem)."""
    kept = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


class TorchNotInstalled(Check):
    """The inspected interpreter has no torch.

    ## What it checks
    Whether `import torch` finds a torch package in the interpreter cudadoctor inspects
    (`--python`, default the one running cudadoctor).

    ## Why it matters
    Nothing else about the PyTorch setup can be checked, and a training script fails with
    "ModuleNotFoundError: No module named 'torch'" — often because torch was installed into
    another environment (a different venv, conda env, or `--user` site).

    ## Example
    `/usr/bin/python3` inspected while torch lives in `~/venv`.

    ## Fix
    Inspect the right interpreter (`cudadoctor check --python ~/venv/bin/python`), or install
    the torch wheel that fits this machine's driver and GPU.

    ## References
    - https://pytorch.org/get-started/locally/
    """

    code = "TRC001"
    name = "torch-not-installed"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ("torch", "cuda_driver")
    fast = True
    explains = ("torch-missing",)
    rank = 25

    def fix(self, ctx: FixContext) -> Remedy:
        """Install the newest CUDA build of torch for this driver and GPU."""
        return torch_install_remedy(ctx, uninstall_first=False)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when the torch probe found no torch package."""
        t = area(facts, TorchFacts)
        if t.status != "not-installed":
            return
        gpus = gpus_to_judge(facts)
        if not nvidia_gpu_present(facts) and not gpus:
            fix = pip_from(t, CPU_WHEEL) + "   (no NVIDIA GPU on this machine: the CPU wheel)"
        else:
            w, note = suggest_wheel(tables, facts, [g.cc for g in gpus], python=t.python_version)
            if host_driver(facts) is None:
                note += " (install the NVIDIA driver first: no driver version was found)"
            fix = wheel_fix(t, w, note, pip(t, "install torch   (see https://pytorch.org/get-started/locally/)"))
        yield self.finding(
            message=f"torch is not installed in {t.python_executable} (Python {t.python_version}). "
                    "If torch lives in another environment, inspect that one with "
                    "`cudadoctor check --python /path/to/python`.",
            evidence={"torch.status": t.status, "torch.python_executable": t.python_executable,
                      "torch.python_version": t.python_version},
            fix=fix,
        )


class TorchImportFailed(Check):
    """`import torch` fails for a reason no more specific check explains.

    ## What it checks
    The outcome of `import torch` in a child process of the inspected interpreter: an
    exception, a crash (signal), or a hang past the timeout. Failures that a cuda_libs check
    explains with a precise fix (missing libcudart or libcudnn, an undefined symbol from a
    shadowed CUDA library) are left to that check.

    ## Why it matters
    Nothing runs. The message carries the last lines of the error so the cause is visible
    without re-running anything.

    ## Example
    "ImportError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.28' not found" for a
    torch 2.7+ wheel (manylinux_2_28) on CentOS 7; "Illegal instruction" on a CPU without
    AVX; "No module named 'torch._C'" when run from inside a PyTorch source checkout.

    ## Fix
    Depends on the error: reinstall torch (`pip install --force-reinstall --no-cache-dir`),
    use a fresh virtual environment, or a wheel/OS pair that fits.

    ## References
    - https://pytorch.org/get-started/locally/
    - https://github.com/pytorch/pytorch/blob/main/RELEASE.md
    """

    code = "TRC002"
    name = "torch-import-failed"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ()
    fast = True
    explains = ("lib:cuda-other", "symbol:torch-own", "torch-c-missing")
    rank = 26
    follows_from = ("cudart-missing", "cudnn-missing", "cuda-lib-shadowed", "no-nvidia-driver")

    def fix(self, ctx: FixContext) -> Remedy:
        """Reinstall torch with its CUDA dependencies; drop a system CUDA from LD_LIBRARY_PATH."""
        if ctx.first_signature == "torch-c-missing":
            return Remedy(
                "Run Python from another directory: a `torch/` folder in the working directory (a PyTorch source "
                "checkout) shadows the installed package. If it still fails, "
                f"{reinstall_torch_command(ctx.torch_version)}.",
                "torch._C, torch's compiled core, did not import.",
            )
        soname = ctx.group("soname") or ctx.group("library")
        return Remedy(
            f"Reinstall torch with its CUDA dependencies: {reinstall_torch_command(ctx.torch_version)} (no "
            "--no-deps); if LD_LIBRARY_PATH points at a system CUDA, unset it and retry.",
            f"The library is {soname}." if soname else "",
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on a failed, crashed or hung import not explained by LIB001/LIB002/LIB004."""
        t = area(facts, TorchFacts)
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        if t.status not in STATUS_FAILED:
            return
        if owning_import_cause(t) is not None:
            return
        tail = error_tail(t.import_error) or "(no error text)"
        what = {"import-failed": "raised an exception", "import-crashed": "crashed the interpreter",
                "import-timeout": "did not finish in time"}[t.status]
        cause, fix = self._diagnose(facts, t)
        yield self.finding(
            message=f"`import torch` in {t.python_executable} {what}{cause}:\n{tail}",
            evidence={"torch.status": t.status, "torch.import_error": tail,
                      "torch.python_executable": t.python_executable},
            fix=fix,
        )

    def _diagnose(self, facts: Facts, t: TorchFacts) -> tuple[str, str]:
        causes = t.import_error_causes
        fresh = (f"{shlex.quote(t.python_executable)} -m venv /tmp/torch-venv && "
                 f"/tmp/torch-venv/bin/pip install torch   (test in a fresh environment)")
        if t.status == "import-timeout":
            return (" (a hung CUDA init, a slow network filesystem for site-packages, or a stuck lock)",
                    f"{shlex.quote(t.python_executable)} -X importtime -c 'import torch' 2>&1 | sort -t'|' -k2 -n "
                    "| tail   (shows which module hangs); for a hang in CUDA init, retry with "
                    "CUDA_VISIBLE_DEVICES='' to confirm")
        too_old = first(causes, ErrorKind.GLIBC_TOO_OLD, ErrorKind.GLIBCXX_TOO_OLD)
        if too_old is not None:
            cxx = too_old.kind is ErrorKind.GLIBCXX_TOO_OLD
            host = maybe(facts, HostFacts)
            glibc = host.glibc_version if host is not None else None
            have = f"; this system has glibc {glibc}" if glibc is not None and known(glibc) else ""
            lib = "libstdc++ (GLIBCXX)" if cxx else "glibc"
            return (f" (the wheel needs {lib} {too_old.required}{have})",
                    "use an OS with a newer glibc (torch >= 2.7 wheels are manylinux_2_28: glibc >= 2.28), "
                    "a container such as nvcr.io/nvidia/pytorch, or an older torch built for this glibc"
                    if not cxx else
                    "conda install -c conda-forge 'libstdcxx-ng>=12' (conda env), or put a newer libstdc++ first; "
                    "also check LD_LIBRARY_PATH does not force an old libstdc++.so.6")
        if first(causes, ErrorKind.TORCH_C_MISSING):
            return (" (torch._C missing: running from inside a PyTorch source tree, or a half-removed install)",
                    f"cd to another directory and retry; otherwise {reinstall_torch(t)}")
        if first(causes, ErrorKind.NUMPY_ABI_MISMATCH):
            return (" (an extension built for NumPy 1.x meets NumPy 2)", pip(t, "install 'numpy<2'")
                    + "   (or upgrade torch to a release built against NumPy 2)")
        # NOTE: a "cannot open" line names the library better than torch's preload message.
        unloadable = of_kind(causes, ErrorKind.LIBRARY_CANNOT_OPEN) + of_kind(causes, ErrorKind.LIBRARY_NOT_IN_PATH)
        if unloadable:
            missing = unloadable[0]
            pin = pin_for_family(facts, t, missing.library)
            if pin is not None:
                return f" ({missing.soname} is missing)", pip(t, f"install {quoted(pin[0])}") + \
                    "   (the wheel torch pins for it)"
            return f" ({missing.soname} is missing)", reinstall_torch(t)
        if first(causes, ErrorKind.UNDEFINED_SYMBOL):
            return (" (an undefined symbol: torch's own libraries come from different installs, e.g. pip over conda)",
                    fresh)
        if t.status == "import-crashed":
            if first(causes, ErrorKind.ILLEGAL_INSTRUCTION):
                return (" (illegal instruction: the CPU lacks an instruction set the build needs, e.g. AVX2)",
                        "check `grep -o -w 'avx2\\|avx512f' /proc/cpuinfo | sort -u`; use an official x86_64 wheel "
                        "or build torch for this CPU")
            return ("", f"{shlex.quote(t.python_executable)} -X faulthandler -c 'import torch'   (shows where it "
                        f"crashes); then {reinstall_torch(t)}")
        return "", f"{reinstall_torch(t)}   (if it still fails: {fresh})"


class TorchCpuOnlyBuild(Check):
    """torch has no CUDA support (`torch.version.cuda` is None).

    ## What it checks
    Whether the installed torch is a CPU-only (or ROCm) build. It is an error when an NVIDIA GPU
    is present (NVML lists one, or one sits on the PCI bus), a warning otherwise.

    ## Why it matters
    `torch.cuda.is_available()` returns False and "Torch not compiled with CUDA enabled" is
    raised at the first `.cuda()`, although the GPU and driver are fine. Typical causes:
    `pip install torch` resolving a CPU wheel from a mirror or the `whl/cpu` index (version
    `+cpu`), or a conda environment with the `cpuonly` package.

    ## Example
    torch 2.5.1+cpu on a machine with an RTX 4090 and driver 550.

    ## Fix
    `pip uninstall -y torch`, then install the CUDA wheel that fits the driver and GPU, from
    the matching `https://download.pytorch.org/whl/cuXYZ` index.

    ## References
    - https://pytorch.org/get-started/locally/
    - https://docs.pytorch.org/docs/stable/notes/cuda.html
    """

    code = "TRC003"
    name = "torch-cpu-only-build"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ("torch", "cuda_driver")
    fast = True
    explains = ("torch-cpu", "torch-cpu-stated", "torch-cpu-prose")
    rank = 30

    def fix(self, ctx: FixContext) -> Remedy:
        """Replace the CPU build with the newest CUDA build for this driver and GPU."""
        return torch_install_remedy(ctx, uninstall_first=True)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire for a non-CUDA build; severity follows whether an NVIDIA GPU is present."""
        t = area(facts, TorchFacts)
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        build = need(t.build, "torch build")
        if build == "cuda":
            return
        gpu = nvidia_gpu_present(facts)
        # NOTE: facts from pasted text may show no GPU list at all: absence is then unknown, not "no GPU".
        drv = facts.driver
        unknown = not gpu and (not isinstance(drv, DriverFacts) or not drv.gpus_listed) and not (
            isinstance(facts.host, HostFacts) and isinstance(facts.host.nvidia_pci_devices, tuple))
        if build == "rocm" and not gpu:
            return  # a ROCm build on a machine without NVIDIA GPUs is what the user wants
        v = torch_version(t)
        named = f"torch {v}" if v is not None else "torch"
        gpus = gpus_to_judge(facts)
        w, note = suggest_wheel(tables, facts, [g.cc for g in gpus], python=t.python_version)
        uninstall = pip(t, "uninstall -y torch torchvision torchaudio")
        fallback = pip(t, "install torch   (pick the CUDA index at https://pytorch.org/get-started/locally/)")
        fix = f"{uninstall} && {wheel_fix(t, w, note, fallback)}"
        if not gpu and not unknown:
            fix = f"nothing to do on this machine (no NVIDIA GPU); to use this environment on a GPU machine: {fix}"
        origin = ""
        if v is not None and v.local == "cpu":
            origin = " Its version ends in +cpu: it came from the CPU index (https://download.pytorch.org/whl/cpu)."
        elif v is not None and v.local is None:
            origin = (" It has no +cpu suffix: it may come from a PyPI mirror or platform without CUDA wheels, "
                      "a distribution package, or a source build.")
        if _in_conda(facts, t):
            origin += " It lives in a conda environment: a `cpuonly` package pins CPU builds (`conda remove cpuonly`)."
        kind = "a ROCm (AMD) build" if build == "rocm" else "a CPU-only build"
        if gpu:
            where = ", ".join(g.label for g in gpus) or "an NVIDIA GPU on the PCI bus"
            message = (f"{named} in {t.python_executable} is {kind} (torch.version.cuda is None) although "
                       f"this machine has {where}: torch.cuda.is_available() is False.{origin}")
            sev = None
        elif unknown:
            message = (f"{named} is {kind} (torch.version.cuda is None), so torch.cuda.is_available() is False; the "
                       f"facts do not show whether this machine has an NVIDIA GPU (`nvidia-smi -L` would).{origin}")
            sev = Severity.WARNING
        else:
            message = (f"{named} is {kind} (torch.version.cuda is None); no NVIDIA GPU was found, so this is "
                       f"fine unless this environment is meant for a GPU machine.{origin}")
            sev = Severity.WARNING
        yield self.finding(
            message=message,
            evidence={"torch.version": v or "unknown", "torch.build": build,
                      "driver.gpus": [g.label for g in gpus],
                      "host.nvidia_pci_devices": (
                          facts.host.nvidia_pci_devices if isinstance(facts.host, HostFacts) else "unknown")},
            fix=fix,
            severity=sev,
        )


def _in_conda(facts: Facts, t: TorchFacts) -> bool:
    """Whether torch sits in a conda environment."""
    if not known(t.location):
        return False
    loc = str(t.location)
    prefix = facts.env.variables.get("CONDA_PREFIX", "") if isinstance(facts.env, EnvFacts) else ""
    return bool(prefix and loc.startswith(prefix.rstrip("/") + "/")) or "/conda" in loc or "/miniforge" in loc

class PythonUnsupportedByTorch(Check):
    """This Python version has no official wheel of the installed torch.

    ## What it checks
    The inspected interpreter's Python version against the Python range of the installed torch
    release in rules/torch.toml.

    ## Why it matters
    The torch that is installed is then a source, nightly or experimental build, or pip will
    pick an older torch (or none: "No matching distribution found for torch") at the next
    install; compiled companions and triton may be missing.

    ## Example
    Python 3.13 with torch 2.5.1 (official wheels for 3.9–3.12; 3.13 experimental).

    ## Fix
    Use a Python inside the release's range (e.g. `uv venv --python 3.12`), or a torch release
    that supports this Python.

    ## References
    - https://github.com/pytorch/pytorch/blob/main/RELEASE.md#release-compatibility-matrix
    """

    code = "TRC007"
    name = "python-unsupported-by-torch"
    severity = Severity.WARNING
    requires = frozenset({"torch"})
    tables = ("torch",)
    explains = ("pip-no-torch-wheel",)

    def contradicted(self, ctx: FixContext) -> str:
        """pip's "no matching distribution" is not the Python when the text shows the Python fits or the index lacks it."""

        wanted = parse_version(ctx.group("wanted")) if ctx.group("wanted") else None
        offered = [v.strip() for v in ctx.group("offered").split(",") if v.strip()]
        if wanted is not None and wanted.public in offered:
            return f"the index offers torch {wanted.public}: something else rejected it"
        if ctx.text.pip_index and offered in ([], ["none"]):
            # NOTE: an index that holds no torch for the request (a CUDA tag it does not host) answers the same.
            return f"pip was pointed at {ctx.text.pip_index}, which has no matching torch"
        rel = ctx.tables.torch.release(wanted) if wanted is not None else None
        py = ctx.python
        if rel is not None and py is not None:
            short = Version(f"{py.major}.{py.minor}")
            if rel.python_min <= short <= rel.python_max:
                return f"Python {py} is inside torch {rel.torch}'s range {rel.python_min}-{rel.python_max}"
        return ""

    def fix(self, ctx: FixContext) -> Remedy:
        """Use a Python the requested torch release has wheels for (from rules/torch.toml)."""

        wanted = parse_version(ctx.group("wanted")) if ctx.group("wanted") else None
        rel = ctx.tables.torch.release(wanted) if wanted is not None else None
        offered = ctx.group("offered").strip()
        detail = (
            "pip saw no torch wheel at all for this interpreter (a Python outside every release's range, or a "
            "32-bit Python)." if offered == "none" else ""
        )
        if rel is not None:
            return Remedy(
                f"torch {rel.torch} has wheels for Python {rel.python_min}–{rel.python_max} only: create an "
                f"environment with one (`uv venv --python {rel.python_max}`, or `conda create -n torch "
                f"python={rel.python_max}`) and install torch=={wanted.public} there"
                + (" from its CUDA index (`--index-url https://download.pytorch.org/whl/"
                   f"{wanted.local}`)" if wanted.local else "")
                + "; or pin a torch release that supports this Python.",
                detail,
            )
        return Remedy(
            "Check `python --version` (and that it is a 64-bit Python) against the torch release's Python range "
            "(https://github.com/pytorch/pytorch/blob/main/RELEASE.md#release-compatibility-matrix); use a Python in "
            "that range, or a torch release that supports this one.",
            detail,
        )

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when python_version lies outside the release's python_min..python_max."""
        t = area(facts, TorchFacts)
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        tv = torch_version(t)
        if tv is None:
            raise SkipCheck("torch's version is unknown")
        rel = tables.torch.release(tv)
        if rel is None:
            raise SkipCheck(f"rules/torch.toml has no row for torch {tv.major}.{tv.minor}")
        if t.python_version == PYTHON_UNKNOWN:
            raise SkipCheck("the Python version is unknown (the pasted text names none)")
        py = Version(f"{t.python_version.major}.{t.python_version.minor}")
        if rel.python_min <= py <= rel.python_max:
            return
        supporting = [r for r in tables.torch.releases if r.python_min <= py <= r.python_max]
        alt = ""
        if supporting:
            w, note = suggest_wheel(tables, facts, [g.cc for g in gpus_to_judge(facts)], python=py)
            if w is not None:
                alt = f"; or keep Python {py} with: {pip_from(t, w.pip_command)}{note}"
        side = "newer" if py > rel.python_max else "older"
        yield self.finding(
            message=f"Python {t.python_version} ({t.python_executable}) is {side} than torch {rel.torch} "
                    f"supports ({rel.python_min}–{rel.python_max}): the installed torch {tv} is not an official "
                    "wheel for it (source, nightly or experimental build), and reinstalling will not find one.",
            evidence={"torch.python_version": t.python_version, "torch.version": tv,
                      "python_range": f"{rel.python_min}-{rel.python_max}"},
            fix=f"uv venv --python {rel.python_max} && uv pip install 'torch=={tv.public}'{torch_variant_index(t)}   "
                f"(a Python {rel.python_min}–{rel.python_max} environment){alt}",
        )


def torch_install_remedy(ctx: FixContext, *, uninstall_first: bool) -> Remedy:
    """Install the newest CUDA build of torch for the driver and GPUs *ctx* knows (after removing a CPU build)."""
    w = newest_wheel_line(ctx.tables, driver=ctx.driver, ccs=ctx.gpu_ccs, python=ctx.python)
    if w is None:
        return Remedy("Install a CUDA build of torch from https://pytorch.org/get-started/locally/ for this driver.")
    basis = f" for driver {nv_version(ctx.driver)}" if ctx.driver else ""
    basis += f" and compute capability {', '.join(map(str, ctx.gpu_ccs))}" if ctx.gpu_ccs else ""
    pre = "`pip uninstall -y torch torchvision torchaudio`, then " if uninstall_first else ""
    note = "" if ctx.driver else " (the text shows no driver version: check `nvidia-smi` supports its CUDA)"
    return Remedy(f"Install {w[0]}, the newest CUDA build{basis}: {pre}`{w[1]}`{note}.")
