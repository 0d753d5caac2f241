"""Checks of the installed PyTorch build: presence, import, CUDA variant, GPU archs, companions, NCCL."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import Version

from cudadoctor.archs import Coverage, cc_covered_by, coverage, parse_arch
from cudadoctor.checks.base import Check, SkipCheck, need
from cudadoctor.findings import Finding, Severity
from cudadoctor.checks.driver import nv_version
from cudadoctor.checks.cuda_libs import (
    classify_import_error,
    error_tail,
    find_distribution,
    library_family,
    missing_library,
    parse_version,
    pin_for_family,
    pip,
    pip_from,
    quoted,
    reinstall_torch,
    torch_variant_index,
    torch_version,
)
from cudadoctor.facts import ContainerFacts, DriverFacts, EnvFacts, Facts, HostFacts, TorchFacts, known
from cudadoctor.remedies import (
    WheelChoice,
    best_wheels,
    driver_needed_for,
    first_wheel_supporting,
    last_wheel_supporting,
    variant_name,
)
from cudadoctor.tables import RuleTables, TorchRelease

#: The CPU wheel, for machines without an NVIDIA GPU.
CPU_WHEEL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"

_FAILED = ("import-failed", "import-crashed", "import-timeout")


# ============================================================================================
# helpers


@dataclass(frozen=True, slots=True)
class _Gpu:
    """A GPU to judge: a label for messages and its compute capability."""

    label: str  #: "GPU 0 (NVIDIA H100 80GB HBM3)"
    cc: Version


def _gpus(facts: Facts) -> list[_Gpu]:
    """GPUs as torch sees them when CUDA initialised, else as NVML lists them."""
    t = facts.torch
    if isinstance(t, TorchFacts) and t.devices:
        return [_Gpu(f"GPU {d.index} ({d.name})", d.capability) for d in t.devices]
    if isinstance(facts.driver, DriverFacts):
        return [
            _Gpu(f"GPU {g.index} ({g.name})", g.compute_capability)  # type: ignore[arg-type]
            for g in facts.driver.gpus
            if known(g.compute_capability)
        ]
    return []


def _nvidia_gpu_present(facts: Facts) -> bool:
    """Whether the machine has an NVIDIA GPU (driver loaded or not)."""
    if isinstance(facts.driver, DriverFacts) and facts.driver.gpus:
        return True
    if isinstance(facts.host, HostFacts) and isinstance(facts.host.nvidia_pci_devices, tuple):
        return bool(facts.host.nvidia_pci_devices)
    return False


def _driver(facts: Facts) -> Version | None:
    d = facts.driver
    if isinstance(d, DriverFacts) and known(d.driver_version):
        return d.driver_version  # type: ignore[return-value]
    return None


def _has(labels: list[str]) -> str:
    return "has" if len(labels) == 1 else "have"


def _group(gpus: list[_Gpu]) -> dict[Version, list[str]]:
    out: dict[Version, list[str]] = {}
    for g in gpus:
        out.setdefault(g.cc, []).append(g.label)
    return out


def suggest_wheel(
    tables: RuleTables,
    facts: Facts,
    ccs: list[Version],
    *,
    python: Version | None,
    sass_only: bool = False,
) -> tuple[WheelChoice | None, str]:
    """The best wheel for these GPUs, driver and Python, and a note on any compromise made."""
    driver = _driver(facts)

    def pick(drv: Version | None, full: bool, py: Version | None) -> WheelChoice | None:
        for w in best_wheels(tables, driver=drv, gpu_ccs=ccs, python=py, full_driver_support=full):
            if not sass_only or all(cc_covered_by(cc, w.variant.sass, ()) is Coverage.SASS for cc in ccs):
                return w
        return None

    attempts: list[tuple[Version | None, str]] = [(python, "")]
    if python is not None:
        attempts.append((None, f" (no wheel in the tables supports Python {python.major}.{python.minor}: "
                               "use it from a supported Python)"))
    for py, py_note in attempts:
        w = pick(driver, True, py)
        if w is not None:
            return w, py_note
        if driver is None:
            continue
        w = pick(driver, False, py)
        if w is not None:
            return w, f" (runs on driver {nv_version(driver)} under CUDA minor-version compatibility){py_note}"
        w = pick(None, True, py)
        if w is not None:
            need_drv = driver_needed_for(tables, w.variant.cuda)
            return w, (f" (needs a newer driver than {nv_version(driver)}"
                       + (f": >= {nv_version(need_drv)}" if need_drv else "")
                       + f"){py_note}")
    return None, ""


def _wheel_fix(t: TorchFacts, w: WheelChoice | None, note: str, fallback: str) -> str:
    if w is None:
        return fallback
    return pip_from(t, w.pip_command) + note


# ============================================================================================
# checks


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

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when the torch probe found no torch package."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status != "not-installed":
            return
        gpus = _gpus(facts)
        if not _nvidia_gpu_present(facts) and not gpus:
            fix = pip_from(t, CPU_WHEEL) + "   (no NVIDIA GPU on this machine: the CPU wheel)"
        else:
            w, note = suggest_wheel(tables, facts, [g.cc for g in gpus], python=t.python_version)
            if _driver(facts) is None:
                note += " (install the NVIDIA driver first: no driver version was found)"
            fix = _wheel_fix(t, w, note, pip(t, "install torch   (see https://pytorch.org/get-started/locally/)"))
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

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire on a failed, crashed or hung import not explained by LIB001/LIB002/LIB004."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        if t.status not in _FAILED:
            return
        if classify_import_error(t.import_error) is not None:
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
        err = t.import_error
        fresh = (f"{shlex.quote(t.python_executable)} -m venv /tmp/torch-venv && "
                 f"/tmp/torch-venv/bin/pip install torch   (test in a fresh environment)")
        if t.status == "import-timeout":
            return (" (a hung CUDA init, a slow network filesystem for site-packages, or a stuck lock)",
                    f"{shlex.quote(t.python_executable)} -X importtime -c 'import torch' 2>&1 | sort -t'|' -k2 -n "
                    "| tail   (shows which module hangs); for a hang in CUDA init, retry with "
                    "CUDA_VISIBLE_DEVICES='' to confirm")
        m = re.search(r"GLIBC(XX)?_([\d.]+)'? not found", err)
        if m:
            glibc = facts.host.glibc_version if isinstance(facts.host, HostFacts) else None
            have = f"; this system has glibc {glibc}" if glibc is not None and known(glibc) else ""
            lib = "libstdc++ (GLIBCXX)" if m.group(1) else "glibc"
            return (f" (the wheel needs {lib} {m.group(2)}{have})",
                    "use an OS with a newer glibc (torch >= 2.7 wheels are manylinux_2_28: glibc >= 2.28), "
                    "a container such as nvcr.io/nvidia/pytorch, or an older torch built for this glibc"
                    if not m.group(1) else
                    "conda install -c conda-forge 'libstdcxx-ng>=12' (conda env), or put a newer libstdc++ first; "
                    "also check LD_LIBRARY_PATH does not force an old libstdc++.so.6")
        if "torch._C" in err and ("No module named" in err or "circular import" in err):
            return (" (torch._C missing: running from inside a PyTorch source tree, or a half-removed install)",
                    f"cd to another directory and retry; otherwise {reinstall_torch(t)}")
        if "NumPy" in err and ("compiled using NumPy 1.x" in err or "_ARRAY_API" in err):
            return (" (an extension built for NumPy 1.x meets NumPy 2)", pip(t, "install 'numpy<2'")
                    + "   (or upgrade torch to a release built against NumPy 2)")
        missing = missing_library(err)
        if missing:
            pin = pin_for_family(facts, t, library_family(missing))
            if pin is not None:
                return f" ({missing} is missing)", pip(t, f"install {quoted(pin[0])}") + \
                    "   (the wheel torch pins for it)"
            return f" ({missing} is missing)", reinstall_torch(t)
        if "undefined symbol" in err:
            return (" (an undefined symbol: torch's own libraries come from different installs, e.g. pip over conda)",
                    fresh)
        if t.status == "import-crashed":
            sig = "SIGILL" in err or "Illegal instruction" in err or "signal 4" in err
            if sig:
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

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire for a non-CUDA build; severity follows whether an NVIDIA GPU is present."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        build = need(t.build, "torch build")
        if build == "cuda":
            return
        gpu = _nvidia_gpu_present(facts)
        if build == "rocm" and not gpu:
            return  # a ROCm build on a machine without NVIDIA GPUs is what the user wants
        v = torch_version(t)
        gpus = _gpus(facts)
        w, note = suggest_wheel(tables, facts, [g.cc for g in gpus], python=t.python_version)
        uninstall = pip(t, "uninstall -y torch torchvision torchaudio")
        fallback = pip(t, "install torch   (pick the CUDA index at https://pytorch.org/get-started/locally/)")
        fix = f"{uninstall} && {_wheel_fix(t, w, note, fallback)}"
        if not gpu:
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
            message = (f"torch {v} in {t.python_executable} is {kind} (torch.version.cuda is None) although "
                       f"this machine has {where}: torch.cuda.is_available() is False.{origin}")
            sev = None
        else:
            message = (f"torch {v} is {kind} (torch.version.cuda is None); no NVIDIA GPU was found, so this is "
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


def _arch_source(facts: Facts, tables: RuleTables, t: TorchFacts) -> tuple[str, object, str]:
    """('list', arch_list, note) from torch, or ('table', variant, note) from rules/torch.toml."""
    if known(t.arch_list) and t.arch_list:
        return "list", t.arch_list, "torch.cuda.get_arch_list()"
    v = torch_version(t)
    cuda = need(t.cuda_version, "torch CUDA version")
    if v is None:
        raise SkipCheck("torch's arch list and version are both unknown")
    if v.local and _variant_label(v) is None:
        # NOTE: a source/custom build (2.8.0a0+git...) has its own TORCH_CUDA_ARCH_LIST.
        raise SkipCheck(f"torch's arch list is unknown and {v} is a custom build the tables do not describe")
    var = tables.torch.variant(v, variant_name(cuda))
    if var is None:
        why = (t.arch_list.reason  # type: ignore[union-attr]
               if not known(t.arch_list) else "empty (CUDA did not initialise)")
        raise SkipCheck(f"torch's arch list is unknown ({why}) and rules/torch.toml has no row for "
                        f"torch {v.base_version} {variant_name(cuda)}")
    state = "confirmed" if var.confirmed else "unconfirmed"
    return "table", var, (f"rules/torch.toml for torch {var.torch} {var.name} ({state} row), because torch's "
                          "own arch list is unavailable")


def _cover(kind: str, src: object, cc: Version) -> tuple[Coverage, str]:
    if kind == "list":
        return coverage(cc, src)  # type: ignore[arg-type]
    var = src
    cov = cc_covered_by(cc, var.sass, var.ptx)  # type: ignore[attr-defined]
    if cov is Coverage.SASS:
        return cov, ""
    if cov is Coverage.PTX:
        p = max(x for x in var.ptx if x <= cc)  # type: ignore[attr-defined]
        return cov, f"compute_{p.major}{p.minor}"
    return cov, ""


def _older_than_build(kind: str, src: object, cc: Version) -> bool:
    """Whether *cc* is older than every SASS target of the build (a GPU the build dropped)."""
    if kind == "list":
        targets = [a.cc for a in (parse_arch(x) for x in src) if a and a.kind == "sm"]  # type: ignore[attr-defined]
    else:
        targets = list(src.sass)  # type: ignore[attr-defined]
    return bool(targets) and cc < min(targets)


def _arch_text(kind: str, src: object) -> str:
    if kind == "list":
        return " ".join(src)  # type: ignore[arg-type]
    sass = " ".join(f"sm_{v.major}{v.minor}" for v in src.sass)  # type: ignore[attr-defined]
    ptx = " ".join(f"compute_{v.major}{v.minor}" for v in src.ptx)  # type: ignore[attr-defined]
    return f"{sass} {ptx}".strip()


def _ptx_unusable(facts: Facts, t: TorchFacts) -> str:
    """Why the driver cannot JIT torch's PTX ('' when it can or it is unknown)."""
    d = facts.driver
    if not isinstance(d, DriverFacts) or not known(d.cuda_driver_version) or not known(t.cuda_version):
        return ""
    drv_cuda: Version = d.cuda_driver_version  # type: ignore[assignment]
    cuda: Version = t.cuda_version  # type: ignore[assignment]
    if drv_cuda.release[:2] < cuda.release[:2]:
        # NOTE: PTX produced by CUDA X.Y can only be JIT-compiled by a driver supporting X.Y;
        # minor-version compatibility explicitly excludes PTX JIT
        # (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html).
        return (f"the driver supports CUDA {drv_cuda} only, older than the CUDA {cuda} that produced the PTX, "
                "so the JIT fails with \"the provided PTX was compiled with an unsupported toolchain\"")
    return ""


class GpuArchNotInTorchBuild(Check):
    """A GPU's compute capability has neither SASS nor usable PTX in torch's build.

    ## What it checks
    For every visible GPU, whether torch's arch list (`torch.cuda.get_arch_list()`, or the
    tables' list for this release and CUDA variant when CUDA did not initialise) holds SASS for
    its compute capability (same major, equal or lower minor) or PTX it can JIT (lower or
    equal capability, and a driver new enough for that PTX).

    ## Why it matters
    Every kernel launch fails: "CUDA error: no kernel image is available for execution on the
    device", after the warning "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not
    compatible with the current PyTorch installation".

    ## Example
    RTX 5090 (12.0) with torch 2.5.1+cu124 (sm_50..sm_90); GTX 1080 (6.1) with torch
    2.8.0+cu128, which dropped sm_50/sm_60.

    ## Fix
    Install a release and CUDA variant whose arch list covers the GPU (cu128+ for Blackwell,
    cu126 for Maxwell/Pascal on torch 2.8+).

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/#binary-compatibility
    - https://github.com/pytorch/pytorch/issues/157517
    - https://github.com/pytorch/pytorch/blob/main/RELEASE.md
    """

    code = "TRC004"
    name = "gpu-arch-not-in-torch-build"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ("torch", "cuda_driver")
    fast = True

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per uncovered compute capability."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        _need_cuda(t)
        gpus = _gpus(facts)
        if not gpus:
            raise SkipCheck("no GPU compute capability known (torch saw no device, NVML listed none)")
        kind, src, note = _arch_source(facts, tables, t)
        ptx_bad = _ptx_unusable(facts, t)
        for cc, labels in _group(gpus).items():
            cov, entry = _cover(kind, src, cc)
            if cov is Coverage.SASS or (cov is Coverage.PTX and not ptx_bad):
                continue
            w, wnote = suggest_wheel(tables, facts, [cc], python=t.python_version, sass_only=True)
            if w is None:
                w, wnote = suggest_wheel(tables, facts, [cc], python=t.python_version)
            ptx_txt = f" Only PTX {entry} covers it, but {ptx_bad}." if cov is Coverage.PTX else ""
            if _older_than_build(kind, src, cc):
                # NOTE: an old GPU that this build dropped: the useful fact is the newest build with it.
                last = last_wheel_supporting(tables, cc)
                if last is not None:
                    ptx_txt += f" The newest official build with SASS for it is {last}."
            else:
                first = first_wheel_supporting(tables, cc)
                if first is not None:
                    ptx_txt += f" The first official build with SASS for it is {first}."
            yield self.finding(
                message=f"{', '.join(labels)} {_has(labels)} compute capability {cc} (sm_{cc.major}{cc.minor}), "
                        "which torch "
                        f"{torch_version(t)} cannot run: its arch list ({_arch_text(kind, src)}, from {note}) has no "
                        f"SASS for it.{ptx_txt} Kernels fail with \"no kernel image is available for execution on "
                        f"the device\" (\"sm_{cc.major}{cc.minor} is not compatible with the current PyTorch "
                        "installation\").",
                evidence={"gpu.compute_capability": cc, "torch.version": torch_version(t),
                          "torch.arch_list": _arch_text(kind, src), "arch_list_source": note},
                fix=_wheel_fix(t, w, wnote, f"no torch wheel in the rules tables covers sm_{cc.major}{cc.minor}; "
                                            "build torch from source with TORCH_CUDA_ARCH_LIST="
                                            f"{cc.major}.{cc.minor}"),
            )


class GpuArchPtxJitOnly(Check):
    """A GPU is covered only by PTX, JIT-compiled at first use.

    ## What it checks
    For every visible GPU, whether torch's arch list covers it only through PTX (a
    `compute_XY` entry of lower capability) and not with SASS.

    ## Why it matters
    The driver JIT-compiles every kernel on first use: minutes of start-up, repeated whenever
    the JIT cache (~/.nv/ComputeCache, 256 MiB by default) is cold or too small, and sometimes
    slower kernels. It also needs a driver at least as new as the CUDA that produced the PTX.

    ## Example
    An RTX 5090 (12.0) with a build listing up to sm_90 plus compute_90.

    ## Fix
    Install a wheel with SASS for the GPU; meanwhile enlarge the JIT cache
    (`export CUDA_CACHE_MAXSIZE=4294967296`).

    ## References
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/#just-in-time-compilation
    - https://docs.nvidia.com/cuda/cuda-c-programming-guide/#env-vars
    """

    code = "TRC005"
    name = "gpu-arch-ptx-jit-only"
    severity = Severity.WARNING
    requires = frozenset({"torch"})
    tables = ("torch", "cuda_driver")

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per compute capability served by PTX alone."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        _need_cuda(t)
        gpus = _gpus(facts)
        if not gpus:
            raise SkipCheck("no GPU compute capability known (torch saw no device, NVML listed none)")
        kind, src, note = _arch_source(facts, tables, t)
        if _ptx_unusable(facts, t):
            return  # the PTX cannot be JIT-compiled at all: TRC004 reports it
        for cc, labels in _group(gpus).items():
            cov, entry = _cover(kind, src, cc)
            if cov is not Coverage.PTX:
                continue
            w, wnote = suggest_wheel(tables, facts, [cc], python=t.python_version, sass_only=True)
            cache = "export CUDA_CACHE_MAXSIZE=4294967296   (keeps the JIT results between runs)"
            yield self.finding(
                message=f"{', '.join(labels)} (compute capability {cc}) {_has(labels)} no SASS in torch "
                        f"{torch_version(t)} "
                        f"(arch list {_arch_text(kind, src)}, from {note}); it runs only by JIT-compiling PTX "
                        f"{entry}: minutes of delay at first use of every kernel, and possibly slower kernels.",
                evidence={"gpu.compute_capability": cc, "torch.arch_list": _arch_text(kind, src),
                          "ptx_entry": entry, "arch_list_source": note},
                fix=(_wheel_fix(t, w, wnote, "") + f"; meanwhile {cache}") if w else cache,
            )


def _need_cuda(t: TorchFacts) -> None:
    build = need(t.build, "torch build")
    if build != "cuda":
        raise SkipCheck(f"torch is a {build} build (see TRC003)")


class TorchCompanionMismatch(Check):
    """torchvision / torchaudio do not pair with the installed torch.

    ## What it checks
    For each installed torchvision and torchaudio: (a) its `Requires-Dist: torch==X` pin
    against the installed torch; (b) its release line against the pairing in rules/torch.toml
    (torch 2.5 <-> torchvision 0.20 <-> torchaudio 2.5); (c) its CUDA variant suffix
    (`+cu121`, `+cpu`) against torch's.

    ## Why it matters
    The companions ship C++/CUDA operators compiled against one exact torch. A mismatch fails
    at import or first use: "RuntimeError: operator torchvision::nms does not exist",
    "undefined symbol" in `torchvision/_C.so`, or "Detected that PyTorch and torchvision were
    compiled with different CUDA major versions".

    ## Example
    torch 2.5.1+cu124 upgraded alone, torchvision 0.19.1+cu121 left behind.

    ## Fix
    Reinstall the companions paired with this torch, from the same index as torch.

    ## References
    - https://github.com/pytorch/vision#installation
    - https://pytorch.org/get-started/previous-versions/
    """

    code = "TRC006"
    name = "torch-companion-mismatch"
    severity = Severity.ERROR
    requires = frozenset({"torch"})
    tables = ("torch",)

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per companion that does not pair with torch."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        tv = torch_version(t)
        if tv is None:
            raise SkipCheck("torch's version is unknown")
        rel = tables.torch.release(tv)
        torch_local = self._torch_variant(t, tv)
        companions = [d for d in (find_distribution(t, n) for n in ("torchvision", "torchaudio")) if d is not None]
        if not companions:
            raise SkipCheck("neither torchvision nor torchaudio is installed")
        for dist in companions:
            cv = parse_version(dist.version)
            if cv is None:
                continue
            problems: list[str] = []
            for line in dist.requires:
                try:
                    from packaging.requirements import InvalidRequirement, Requirement

                    req = Requirement(line)
                except InvalidRequirement:
                    continue
                if canonicalize_name(req.name) != "torch" or not req.specifier:
                    continue
                if req.marker is not None and "extra" in str(req.marker):
                    continue
                if not req.specifier.contains(tv, prereleases=True):
                    problems.append(f"{dist.name} {dist.version} requires torch{req.specifier}, torch is {tv}")
            paired = None
            if rel is not None:
                paired = rel.torchvision if canonicalize_name(dist.name) == "torchvision" else rel.torchaudio
                if paired is not None and cv.release[:2] != paired.release[:2]:
                    problems.append(f"torch {rel.torch} pairs with {dist.name} {paired}.x, "
                                    f"installed {dist.name} is {dist.version}")
            c_local = _variant_label(cv)
            if c_local is None and rel is not None and cv.local is None:
                c_local = rel.default_variant  # a plain PyPI wheel is built for the PyPI default CUDA
            if torch_local and c_local and torch_local != c_local and (cv.local or (tv.local is not None)):
                problems.append(f"{dist.name} is built for {c_local}, torch for {torch_local} "
                                "(\"operator torchvision::nms does not exist\" is the usual symptom)")
            if not problems:
                continue
            yield self.finding(
                message=f"{dist.name} {dist.version} does not pair with torch {tv}: {'; '.join(problems)}.",
                evidence={"torch.version": tv, f"torch.distributions[{dist.name}]": dist.version,
                          "paired_release": paired or "unknown"},
                fix=self._fix(t, tv, rel, dist.name, torch_local),
            )

    @staticmethod
    def _torch_variant(t: TorchFacts, tv: Version) -> str | None:
        """torch's variant label: its local version, else derived from the build."""
        label = _variant_label(tv)
        if label is None and known(t.build):
            if t.build == "cpu":
                label = "cpu"
            elif t.build == "cuda" and known(t.cuda_version):
                label = variant_name(t.cuda_version)  # type: ignore[arg-type]
        return label

    def _fix(self, t: TorchFacts, tv: Version, rel: TorchRelease | None, name: str, local: str | None) -> str:
        paired = None
        if rel is not None:
            paired = rel.torchvision if canonicalize_name(name) == "torchvision" else rel.torchaudio
        index = f" --index-url https://download.pytorch.org/whl/{local}" if local else ""
        if paired is None:
            return (pip(t, f"install 'torch=={tv.public}' {name}{index}")
                    + f"   (check the {name} release paired with torch {tv.public}: "
                    "https://github.com/pytorch/vision#installation)")
        return pip(t, f"install --force-reinstall 'torch=={tv.public}' '{name}=={paired}.*'{index}")


def _variant_label(v: Version | None) -> str | None:
    if v is None or not v.local:
        return None
    return v.local if re.fullmatch(r"cu\d+|cpu|rocm[\d.]+", v.local) else None


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

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when python_version lies outside the release's python_min..python_max."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status == "not-installed":
            raise SkipCheck("torch is not installed (TRC001)")
        tv = torch_version(t)
        if tv is None:
            raise SkipCheck("torch's version is unknown")
        rel = tables.torch.release(tv)
        if rel is None:
            raise SkipCheck(f"rules/torch.toml has no row for torch {tv.major}.{tv.minor}")
        py = Version(f"{t.python_version.major}.{t.python_version.minor}")
        if rel.python_min <= py <= rel.python_max:
            return
        supporting = [r for r in tables.torch.releases if r.python_min <= py <= r.python_max]
        alt = ""
        if supporting:
            w, note = suggest_wheel(tables, facts, [g.cc for g in _gpus(facts)], python=py)
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


class NcclTooOldForGpu(Check):
    """The NCCL torch uses predates support for a visible GPU architecture.

    ## What it checks
    `torch.cuda.nccl.version()` against the first NCCL release that supports each visible
    GPU's compute capability (rules/compute_capability.toml `nccl_min`).

    ## Why it matters
    An NCCL without kernels for the architecture fails at the first collective of a multi-GPU
    job ("Cuda failure: named symbol not found", "NCCL error: unhandled cuda error"), although
    single-GPU runs work.

    ## Example
    A B200 (10.0) node with torch 2.6 (NCCL 2.21.5), which predates Blackwell support.

    ## Fix
    Install a torch whose pinned NCCL supports the GPU, or upgrade the NCCL wheel
    (`pip install -U nvidia-nccl-cu12`; NCCL 2.x keeps its ABI).

    ## References
    - https://docs.nvidia.com/deeplearning/nccl/release-notes/index.html
    - https://github.com/NVIDIA/nccl/releases/tag/v2.25.1-1 ("Add Blackwell/SM100 support")
    """

    code = "TRC008"
    name = "nccl-too-old-for-gpu"
    severity = Severity.WARNING
    requires = frozenset({"torch"})
    tables = ("compute_capability", "torch")

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """One finding per compute capability whose NCCL minimum is not met."""
        t: TorchFacts = facts.torch  # type: ignore[assignment]
        if t.status != "ok":
            raise SkipCheck(f"torch did not import ({t.status})")
        nccl: Version = need(t.nccl_version, "torch's NCCL version")
        gpus = _gpus(facts)
        if not gpus:
            raise SkipCheck("no GPU compute capability known")
        groups = _group(gpus)
        mins = {cc: info.nccl_min for cc in groups if (info := tables.compute_capability.get(cc)) and info.nccl_min}
        if not mins:
            raise SkipCheck("rules/compute_capability.toml has no NCCL minimum for "
                            + ", ".join(f"cc {cc}" for cc in groups))
        for cc, nmin in mins.items():
            if nccl >= nmin:
                continue
            fix = self._fix(facts, tables, t, cc, nmin)
            yield self.finding(
                message=f"torch {torch_version(t)} uses NCCL {nccl}, but {', '.join(groups[cc])} (compute capability "
                        f"{cc}) {'needs' if len(groups[cc]) == 1 else 'need'} NCCL >= {nmin}: multi-GPU collectives on it fail "
                        "(\"named symbol not found\", \"unhandled cuda error\").",
                evidence={"torch.nccl_version": nccl, "gpu.compute_capability": cc, "nccl_min": nmin},
                fix=fix,
            )

    def _fix(self, facts: Facts, tables: RuleTables, t: TorchFacts, cc: Version, nmin: Version) -> str:
        parts: list[str] = []
        for w in best_wheels(tables, driver=_driver(facts), gpu_ccs=[cc], python=t.python_version):
            if w.variant.nccl is not None and w.variant.nccl >= nmin:
                parts.append(pip_from(t, w.pip_command))
                break
        pin = pin_for_family(facts, t, "libnccl")
        if pin is not None:
            name = re.split(r"[\[=<>!~ ]", pin[0])[0]
            parts.append(pip(t, f"install -U '{name}>={nmin}'") + "   (NCCL 2.x keeps its ABI; pip will warn "
                                                                  "about torch's pin)")
        return "; or: ".join(parts) or f"install a torch build with NCCL >= {nmin}"


#: Variables a launcher sets for each rank.
DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR")
#: Variables that show a launcher is in charge (torchrun, Slurm, MPI implementations).
LAUNCHER_VARS = ("TORCHELASTIC_RUN_ID", "SLURM_PROCID", "SLURM_JOB_ID", "OMPI_COMM_WORLD_RANK", "PMI_RANK",
                 "PMIX_RANK", "MV2_COMM_WORLD_RANK")


class DistributedEnvStray(Check):
    """RANK / WORLD_SIZE / NODE_RANK / MASTER_ADDR / LOCAL_RANK are set outside a launcher.

    ## What it checks
    Whether the distributed variables torch's `env://` rendezvous reads are set while no
    launcher is in charge: no torchrun (`TORCHELASTIC_RUN_ID`), no Slurm
    (`SLURM_PROCID`/`SLURM_JOB_ID`), no MPI (`OMPI_COMM_WORLD_RANK`, `PMI_RANK`, `PMIX_RANK`),
    and not a Kubernetes PyTorchJob (which sets MASTER_ADDR, WORLD_SIZE and RANK itself).

    ## Why it matters
    Left over from an earlier job or exported in a shell profile, they make
    `init_process_group()` wait for peers that never come (a hang until the 30-minute timeout),
    and make libraries (Lightning, Accelerate, DeepSpeed) believe they run distributed.

    ## Example
    `export WORLD_SIZE=8 RANK=0` in ~/.bashrc, then `python train.py` on a workstation.

    ## Fix
    `unset` the variables, and start distributed jobs with `torchrun`.

    ## References
    - https://docs.pytorch.org/docs/stable/distributed.html#environment-variable-initialization
    - https://docs.pytorch.org/docs/stable/elastic/run.html
    """

    code = "TRC009"
    name = "distributed-env-stray"
    severity = Severity.WARNING
    requires = frozenset({"env"})
    tables = ()

    def evaluate(self, facts: Facts, tables: RuleTables) -> Iterator[Finding]:
        """Fire when rank variables exist without launcher variables."""
        env: dict[str, str] = facts.env.variables  # type: ignore[union-attr]
        stray = [n for n in DIST_VARS if n in env]
        if not stray:
            return
        if any(n in env for n in LAUNCHER_VARS):
            return
        k8s = "KUBERNETES_SERVICE_HOST" in env or (
            isinstance(facts.container, ContainerFacts) and facts.container.kubernetes)
        if k8s and all(n in env for n in ("MASTER_ADDR", "WORLD_SIZE", "RANK")):
            return  # NOTE: the Kubeflow PyTorchJob operator sets these for every replica
        shown = ", ".join(f"{n}={env[n]}" for n in stray)
        world = env.get("WORLD_SIZE", "")
        single = world.strip() == "1" and env.get("RANK", "0").strip() == "0"
        if single:
            effect = ("WORLD_SIZE=1 makes init_process_group() succeed alone, but libraries that test these "
                      "variables will take the distributed code path")
        elif world.isdigit() and int(world) > 1:
            effect = (f"init_process_group() will wait for {int(world) - 1} other rank(s) at "
                      f"{env.get('MASTER_ADDR', '$MASTER_ADDR')}:{env.get('MASTER_PORT', '$MASTER_PORT')} and hang "
                      "until its timeout")
        else:
            effect = "init_process_group() and distributed-aware libraries will read them and wait for peers"
        yield self.finding(
            message=f"{shown} set, but no launcher (torchrun, Slurm, MPI, Kubernetes PyTorchJob) is in charge: "
                    f"{effect}.",
            evidence={f"env.variables.{n}": env[n] for n in stray},
            fix=f"unset {' '.join(stray)}   (and remove the export from ~/.bashrc or the job script); start "
                "distributed runs with: torchrun --nproc-per-node=<gpus> train.py",
            severity=Severity.INFO if single else None,
        )


CHECKS: tuple[type[Check], ...] = (
    TorchNotInstalled,
    TorchImportFailed,
    TorchCpuOnlyBuild,
    GpuArchNotInTorchBuild,
    GpuArchPtxJitOnly,
    TorchCompanionMismatch,
    PythonUnsupportedByTorch,
    NcclTooOldForGpu,
    DistributedEnvStray,
)
