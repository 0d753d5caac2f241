"""Turn pasted text (collect_env, nvidia-smi, pip/conda list, ldd, tracebacks) into partial Facts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from packaging.version import Version

from cudadoctor._version import __version__
from cudadoctor.causes import classify, classify_reason, gpu_indices_named, killed_by_signal
from cudadoctor.facts import (
    PYTHON_UNKNOWN,
    CudaLibsFacts,
    Distribution,
    DriverFacts,
    Facts,
    GpuFacts,
    HostFacts,
    LibraryCopy,
    MigDevice,
    NvmlStatus,
    ResolvedLibrary,
    ToolkitFacts,
    TorchFacts,
    Unavailable,
)
from cudadoctor.probes.cuda_libs import match_library, soname_suffix, version_from_filename
from cudadoctor.triage.parse_collect_env import CollectEnv, parse_collect_env
from cudadoctor.triage.parse_common import (
    NOT_IN_TEXT,
    PROBE,
    first_version,
    is_unknown,
    lenient_version,
    major_minor,
    missing,
)
from cudadoctor.triage.extract import extract
from cudadoctor.triage.normalise import normalise_text
from cudadoctor.triage.parse_extracted import merge
from cudadoctor.triage.parse_ldd import LddResult, parse_ldd
from cudadoctor.triage.parse_nvidia_smi import SmiResult, make_gpu, parse_nvidia_smi
from cudadoctor.triage.provenance import Provenance
from cudadoctor.triage.parse_pip import Packages, parse_package_line, parse_packages, python_from_path

if TYPE_CHECKING:
    from cudadoctor.tables import RuleTables

#: host.hostname of facts parsed from text.
PASTED_HOST = "(pasted text)"
#: Section kinds, in the order they are reported.
SECTION_KINDS = ("collect_env", "nvidia-smi", "pip-list", "conda-list", "ldd", "traceback")

_TRACEBACK = re.compile(r"^\s{0,8}Traceback \(most recent call last\):")
_TORCH_FRAME = re.compile(
    r"""^\s{0,16}File\s"(.{1,800}?)[/\\](site|dist)-packages[/\\]torch[/\\]([^"]{1,300})",\sline\s\d{1,7}(?:,\sin\s(\S{1,200}))?"""
)
_ARCH = ("x86_64", "aarch64", "arm64", "ppc64le", "s390x", "armv7l", "i686", "AMD64")
_PLATFORM = re.compile(r"^Linux-(.{1,200})-(" + "|".join(_ARCH) + r")(?:-with-(.{0,200}))?$")


@dataclass(frozen=True)
class ParsedText:
    """What parse_text found: partial Facts and which kinds of section the text held."""

    facts: Facts  #: every area present; what the text does not give is Unavailable(probe="triage")
    sections: tuple[str, ...]  #: kinds recognised, in SECTION_KINDS order
    #: dotted fact paths filled with a stand-in because the schema has no Unavailable for them
    #: (e.g. "torch.python_version"); checks that read them should not be trusted
    placeholders: tuple[str, ...] = ()
    missing_sonames: tuple[str, ...] = ()  #: "=> not found" sonames from pasted ldd output
    notes: tuple[str, ...] = ()  #: what was seen but could not be mapped onto a fact
    #: the text after normalisation (ANSI codes, prompts, fences and CRLF removed; wrapped lines
    #: rejoined) that error signatures are scanned over; "" means scan the text as pasted
    normalised: str = ""
    #: dotted fact path -> where in the text it came from (cudadoctor.triage.provenance)
    provenance: Mapping[str, Provenance] = field(default_factory=dict)
    #: pasted line number of each line of ``normalised`` (its first piece, when rejoined)
    line_origin: tuple[int, ...] = ()
    #: dotted fact path -> its value as text, for every path in provenance (the `triage -v` table)
    values: Mapping[str, str] = field(default_factory=dict)


def parse_text(text: str, *, tables: RuleTables | None = None) -> ParsedText:
    """Parse any mix of pasted reports into one Facts. Pure and total: never raises, bounded time.

    *tables* supplies GPU compute capabilities for model names (default: the shipped tables).
    """
    if not isinstance(text, str):
        text = str(text, "utf-8", "replace") if isinstance(text, (bytes, bytearray)) else str(text)
    norm = normalise_text(text)
    lines, cut = norm.lines, norm.cut
    b = _Builder(tables)
    if cut:
        b.notes.append("the text is longer than 4 MiB: only its first and last 2 MiB were parsed")
    b.env = parse_collect_env(lines)
    b.smi = parse_nvidia_smi(lines, tables)
    b.pkgs = parse_packages(lines)
    b.ldd = parse_ldd(lines)
    b.traceback(lines)
    parsed = b.build()
    drv = parsed.facts.driver
    gpus_known = isinstance(drv, DriverFacts) and (bool(drv.gpus) or "driver.gpus" not in parsed.placeholders)
    merged = merge(parsed.facts, extract(norm, tables), norm, tables, gpus_known=gpus_known)
    placeholders = [p for p in parsed.placeholders if p not in ("driver.gpus",) or not gpus_known]
    return replace(
        parsed, facts=merged.facts, normalised=norm.text, provenance=merged.provenance,
        line_origin=tuple(j.pieces[0][1] for j in norm.joined), values=merged.values,
        placeholders=tuple(dict.fromkeys([*placeholders, *merged.placeholders])),
    )


class _Builder:
    """Merges the per-format results into Facts (one instance per parse_text call)."""

    def __init__(self, tables: RuleTables | None) -> None:
        self.tables = tables
        self.env: CollectEnv | None = None
        self.smi: SmiResult | None = None
        self.pkgs: Packages | None = None
        self.ldd: LddResult | None = None
        self.has_traceback = False
        self.torch_location = ""
        self.torch_import_error = ""
        self.python_guess = ""  #: "3.10" from a path
        self.placeholders: list[str] = []
        self.notes: list[str] = []

    # ---------------------------------------------------------------------------- traceback

    def traceback(self, lines: list[str]) -> None:
        """Mark a Python traceback; take torch's location (and an import failure) from its frames."""
        starts = [i for i, line in enumerate(lines) if _TRACEBACK.match(line)]
        self.has_traceback = bool(starts)
        for line in lines:
            m = _TORCH_FRAME.match(line)
            if m:
                prefix, kind = m.group(1), m.group(2)
                sep = "\\" if "\\" in prefix else "/"
                self.torch_location = self.torch_location or f"{prefix}{sep}{kind}-packages{sep}torch"
                self.python_guess = self.python_guess or python_from_path(prefix)
        for i in starts:
            self._import_failure(lines, i)

    def _import_failure(self, lines: list[str], start: int) -> None:
        """A traceback whose torch frame is torch/__init__.py at module level: `import torch` failed."""
        body: list[str] = []
        torch_init = False
        for line in lines[start: start + 400]:
            body.append(line)
            m = _TORCH_FRAME.match(line)
            if m and m.group(3) == "__init__.py" and m.group(4) == "<module>":
                torch_init = True
            if re.match(r"^(?:[A-Za-z_][\w.]{0,100})?(?:Error|Exception)\b.{0,1000}$", line) and len(body) > 1:
                break
        last = body[-1] if body else ""
        if torch_init and re.match(r"^(?:ImportError|ModuleNotFoundError|OSError|AttributeError|RuntimeError)\b", last):
            self.torch_import_error = self.torch_import_error or "\n".join(body)

    # ---------------------------------------------------------------------------- the whole

    def build(self) -> ParsedText:
        """Assemble Facts and the section list."""
        sections: list[str] = []
        if self.env is not None:
            sections.append("collect_env")
        if self.smi is not None:
            sections.append("nvidia-smi")
        if self.pkgs is not None:
            sections += self.pkgs.kinds
        if self.ldd is not None:
            sections.append("ldd")
        if self.has_traceback:
            sections.append("traceback")
        facts = Facts(
            cudadoctor_version=__version__,
            collected_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            host=self._host(),
            env=missing(),
            container=missing(),
            driver=self._driver(),
            cuda_libs=self._cuda_libs(),
            toolkit=self._toolkit(),
            torch=self._torch(),
        )
        order = {k: i for i, k in enumerate(SECTION_KINDS)}
        return ParsedText(
            facts=facts,
            sections=tuple(sorted(dict.fromkeys(sections), key=order.__getitem__)),
            placeholders=tuple(dict.fromkeys(self.placeholders)),
            missing_sonames=tuple(self.ldd.missing_sonames) if self.ldd else (),
            notes=tuple(dict.fromkeys(self.notes)),
        )

    def _field(self, key: str) -> str | None:
        """A collect_env value, or None when absent or printed as unknown."""
        if self.env is None:
            return None
        value = self.env.fields.get(key)
        return None if value is None or is_unknown(value) else value

    def _said(self, key: str) -> str:
        """Detail for an Unavailable: what collect_env printed instead of a value."""
        if self.env is not None and key in self.env.fields:
            return f"collect_env printed {key}: {self.env.fields[key] or '(empty)'}"
        return ""

    def _python_version(self) -> Version | None:
        py = self._field("Python version")
        v = lenient_version(py.split()[0]) if py else None
        if v is None and self.pkgs is not None and self.pkgs.python_version:
            v = lenient_version(self.pkgs.python_version)
        guess = self.python_guess or python_from_path(self.pkgs.torch_location if self.pkgs else "")
        if v is None and guess:
            v = lenient_version(guess)
        return v

    def _python_executable(self, location: str) -> str:
        """The interpreter implied by torch's location (<prefix>/lib/pythonX.Y/site-packages -> <prefix>/bin/pythonX.Y)."""
        m = re.match(r"^(.{1,800})/lib/python(\d{1,2}\.\d{1,3})/(?:site|dist)-packages/torch$", location)
        if m:
            prefix = "/usr" if m.group(1) == "/usr/local" and "dist-packages" in location else m.group(1)
            return f"{prefix}/bin/python{m.group(2)}"
        if re.match(r"^/usr/lib/python3/dist-packages/torch$", location):
            return "/usr/bin/python3"
        m = re.match(r"^(.{1,800})\\Lib\\site-packages\\torch$", location, re.IGNORECASE)
        if m:
            return m.group(1) + "\\python.exe"
        return ""

    # ---------------------------------------------------------------------------- host

    def _host(self) -> HostFacts | Unavailable:
        if self.env is None:
            return missing()
        os_value = self._field("OS")
        plat = self._field("Python platform") or ""
        libc = self._field("Libc version")
        cpu = self.env.cpu
        cpu_model = cpu.get("Model name") or cpu.get("Name") or (self.env.cpu_lines[0] if self.env.cpu_lines else "")
        py = self._python_version()
        if not (os_value or plat or libc or cpu_model or py):
            return missing()
        arch = ""
        os_name = os_value or ""
        m = re.match(r"^(.{1,300}?)\s\((" + "|".join(_ARCH) + r")\)$", os_name)
        if m:
            os_name, arch = m.group(1), m.group(2)
        kernel = ""
        glibc: Version | None = None
        p = _PLATFORM.match(plat)
        if p:
            kernel, arch = p.group(1), arch or p.group(2)
            g = re.search(r"glibc(\d{1,3}\.\d{1,4})", p.group(3) or "")
            glibc = lenient_version(g.group(1)) if g else None
        elif plat:
            a = re.search(r"(" + "|".join(_ARCH) + r")", plat)
            arch = arch or (a.group(1) if a else "")
        if libc:
            g = re.match(r"^glibc-(\d{1,3}\.\d{1,4})", libc)
            glibc = lenient_version(g.group(1)) if g else glibc
        if not kernel:
            self.placeholders.append("host.kernel")
        if not arch:
            self.placeholders.append("host.arch")
        if py is None:
            self.placeholders.append("host.python_version")
        self.placeholders += ["host.python_executable", "host.wsl2"]
        cpus = cpu.get("CPU(s)", "")
        if not cpus.isdigit():
            self.placeholders.append("host.cpu_count")
        wsl2 = "microsoft-standard-wsl2" in kernel.lower() or "wsl2" in kernel.lower()
        return HostFacts(
            os_name=os_name or missing(self._said("OS")),
            kernel=kernel or "unknown",
            arch=arch or "unknown",
            hostname=PASTED_HOST,
            glibc_version=glibc or missing(self._said("Libc version")),
            python_version=py or PYTHON_UNKNOWN,
            python_executable=self._python_executable(self.torch_location or (self.pkgs.torch_location if self.pkgs else "")) or "python",
            cpu_model=cpu_model or missing(),
            cpu_count=int(cpus) if cpus.isdigit() and len(cpus) < 7 else 0,
            memory_total_mib=missing(),
            wsl2=wsl2,
            nvidia_pci_devices=missing(),
        )

    # ---------------------------------------------------------------------------- driver

    def _driver(self) -> DriverFacts | Unavailable:
        smi, env = self.smi, self.env
        driver_version: Version | None = None
        cuda_driver: Version | None = None
        gpus: list[GpuFacts] = []
        status, error = "ok", ""
        gpus_known = False
        if smi is not None:
            driver_version, cuda_driver = smi.driver_version, smi.cuda_driver_version
            status, error = smi.nvml_status, smi.nvml_error
            gpus = list(smi.gpus)
            gpus_known = bool(gpus) or smi.no_devices or status != "ok"
        if env is not None:
            if driver_version is None:
                dv = self._field("Nvidia driver version")
                driver_version = lenient_version(dv) if dv else None
            if not gpus and status == "ok":
                gpus = self._collect_env_gpus(env)
                gpus_known = gpus_known or bool(gpus)
        if smi is None and driver_version is None and not gpus:
            return missing(self._said("Nvidia driver version"))
        listed = not (status == "ok" and not gpus_known)
        if not listed:
            self.placeholders.append("driver.gpus")
        if any(not g.uuid for g in gpus):
            self.placeholders.append("driver.gpus[].uuid")
        if any(not g.pci_bus_id for g in gpus):
            self.placeholders.append("driver.gpus[].pci_bus_id")
        return DriverFacts(
            nvml_status=NvmlStatus(status),
            nvml_error=error,
            driver_version=driver_version or missing(self._said("Nvidia driver version")),
            cuda_driver_version=cuda_driver or missing(),
            kernel_module_version=missing(),
            proc_version_text=missing(),
            libcuda_path=self._libcuda_path(),
            libcuda_version=missing(),
            libcuda_cuda_version=missing(),
            cu_init_result=missing(),
            cu_init_error="",
            cu_device_count=missing(),
            gpus=tuple(gpus),
            nvml_crashed=status == "other" and killed_by_signal(error),
            gpus_listed=listed,
            nvml_failed_gpus=gpu_indices_named(error),
        )

    def _libcuda_path(self) -> str | Unavailable:
        if self.ldd is not None:
            for r in self.ldd.resolved:
                if r.soname == "libcuda.so.1" and isinstance(r.path, str):
                    return r.path
        return missing()

    def _collect_env_gpus(self, env: CollectEnv) -> list[GpuFacts]:
        migs: dict[int, list[MigDevice]] = {}
        for gpu_index, index, name, uuid in env.mig_lines:
            migs.setdefault(gpu_index, []).append(MigDevice(index=index, uuid=uuid, name=name, memory_total_mib=missing()))
        gpus = [
            make_gpu(i, name, self.tables, uuid=uuid, mig_devices=tuple(migs.get(i, ())),
                 mig_enabled=True if migs.get(i) else None)
            for i, name, uuid in env.gpu_lines
        ]
        if env.other_gpu_lines and not gpus:
            self.notes.append(f"GPU not listed by nvidia-smi (ROCm or macOS?): {env.other_gpu_lines[0][:200]}")
        return gpus

    # ---------------------------------------------------------------------------- cuda_libs

    def _cuda_libs(self) -> CudaLibsFacts | Unavailable:
        copies: list[LibraryCopy] = []
        resolved: list[ResolvedLibrary] = []
        libcuda: list[str] = []
        if self.env is not None:
            for path in self.env.cudnn_paths:
                copy = _loader_cache_copy(path)
                if copy is not None:
                    copies.append(copy)
                elif path.lower().endswith(".dll"):
                    self.notes.append(f"cuDNN DLL listed by collect_env (Windows; not mapped): {path[:200]}")
        if self.ldd is not None:
            copies += self.ldd.copies
            resolved += self.ldd.resolved
            libcuda += self.ldd.libcuda_files
        if not copies and not resolved:
            return missing(self._said("cuDNN version"))
        self.placeholders += ["cuda_libs.ld_library_path", "cuda_libs.searched"]
        if not libcuda:
            self.placeholders.append("cuda_libs.libcuda_files")
        return CudaLibsFacts(
            copies=tuple(copies), resolved=tuple(resolved), ld_library_path=(),
            libcuda_files=tuple(dict.fromkeys(libcuda)), searched=(),
        )

    # ---------------------------------------------------------------------------- toolkit

    def _toolkit(self) -> ToolkitFacts | Unavailable:
        env = self.env
        if env is None or not ({"CUDA runtime version", "GCC version"} & set(env.fields)):
            return missing()
        nvcc_text = self._field("CUDA runtime version")
        # NOTE: collect_env's "CUDA runtime version" is `nvcc --version`'s "V12.1.105", not the
        # runtime torch loads (get_running_cuda_version in torch/utils/collect_env.py).
        nvcc = first_version(nvcc_text) if nvcc_text else None
        gcc_text = self._field("GCC version")
        gcc = first_version(re.sub(r"\([^)]{0,200}\)", " ", gcc_text)) if gcc_text else None
        return ToolkitFacts(
            cuda_home=missing(),
            cuda_home_source="none",
            cuda_home_version=missing(),
            nvcc_path=missing(),
            nvcc_version=major_minor(nvcc) if nvcc else missing(self._said("CUDA runtime version")),
            gcc_path=missing(),
            gcc_version=gcc or missing(self._said("GCC version")),
            cuda_home_exists=missing(),
        )

    # ---------------------------------------------------------------------------- torch

    def _torch(self) -> TorchFacts | Unavailable:
        env, pkgs = self.env, self.pkgs
        dists: dict[str, Distribution] = {}
        if env is not None:
            from_env = Packages()
            for line in env.pip_lines:
                parse_package_line(line, from_env, conda=False)
            for line in env.conda_lines:
                parse_package_line(line, from_env, conda=True)
            dists.update(from_env.distributions)
            conda_builds = from_env.torch_builds
        else:
            conda_builds = []
        if pkgs is not None:
            for name, d in pkgs.distributions.items():
                dists.setdefault(name, d)
            conda_builds = conda_builds + pkgs.torch_builds
        location = self.torch_location or (pkgs.torch_location if pkgs else "")

        tv_text = self._field("PyTorch version")
        version = lenient_version(tv_text) if tv_text else None
        said_na = env is not None and "PyTorch version" in env.fields and version is None
        if version is None and "torch" in dists:
            version = lenient_version(dists["torch"].version)
        if version is None and not said_na and not self.torch_import_error:
            return missing(self._said("PyTorch version"))

        if self.torch_import_error:
            status = "import-failed"
        elif version is not None:
            status = "ok"
        else:
            status = "not-installed"  # collect_env printed "PyTorch version: N/A": torch did not import
            self.notes.append("collect_env could not import torch (PyTorch version: N/A): not installed, or its import failed")
        build, cuda_version, hip_version = self._build(version, dists, conda_builds)
        py = self._python_version()
        if py is None:
            self.placeholders.append("torch.python_version")
        exe = self._python_executable(location)
        if not exe:
            self.placeholders.append("torch.python_executable")
        available = self._field("Is CUDA available")
        debug = self._field("Is debug build")
        cudnn = missing("collect_env's cuDNN list is the loader cache's, not what torch loads")
        return TorchFacts(
            python_executable=exe or "python",
            python_version=py or PYTHON_UNKNOWN,
            status=status,
            import_error=self.torch_import_error,
            location=location or missing(),
            version=version or missing(self._said("PyTorch version")),
            build=build,
            cuda_version=cuda_version,
            hip_version=hip_version,
            cudnn_version=cudnn,
            nccl_version=missing(),
            debug=_yes_no(debug) if debug else missing(self._said("Is debug build")),
            git_version=missing(),
            cuda_available=_yes_no(available) if available else missing(self._said("Is CUDA available")),
            cuda_unavailable_reason="",
            device_count=missing(),
            devices=(),
            arch_list=missing(),
            build_config=missing(),
            loaded_libraries=missing(),
            distributions=tuple(sorted(dists.values(), key=lambda d: d.name)),
            # NOTE: the same reading of the error texts the torch probe does (causes.py).
            import_error_causes=classify(self.torch_import_error),
            cuda_unavailable_causes=(),
            cudnn_unavailable_causes=classify_reason(cudnn.reason, cudnn.detail),
        )

    def _build(
        self, version: Version | None, dists: dict[str, Distribution], conda_builds: list[str]
    ) -> tuple[str | Unavailable, Version | Unavailable, Version | Unavailable]:
        """(build, torch.version.cuda, torch.version.hip) from collect_env, the local label or conda's build string."""
        cuda_text = self._field("CUDA used to build PyTorch")
        rocm_text = self._field("ROCM used to build PyTorch")
        xpu_text = self._field("XPU used to build PyTorch")
        cuda = lenient_version(cuda_text) if cuda_text else None
        hip = lenient_version(rocm_text) if rocm_text else None
        local = (version.local or "") if version is not None else ""
        if cuda is None and (m := re.fullmatch(r"cu(\d{2,3})(\d)", local)):
            cuda = Version(f"{m.group(1)}.{m.group(2)}")  # +cu124 -> 12.4
        if hip is None and (m := re.fullmatch(r"rocm(\d{1,2}(?:\.\d{1,3}){0,2})", local)):
            hip = Version(m.group(1))
        for b in conda_builds:
            m = re.search(r"cuda(\d{1,2}\.\d{1,2})", b, re.ASCII)  # NOTE: ASCII: Version rejects other digits
            if cuda is None and m:
                cuda = Version(m.group(1))
        if cuda is None and hip is None and version is not None and not local:
            # A plain PyPI wheel: its nvidia-cuda-runtime-cuXX dependency names the CUDA it was built for.
            rt = dists.get("nvidia-cuda-runtime-cu13") or dists.get("nvidia-cuda-runtime-cu12") or dists.get("nvidia-cuda-runtime-cu11")
            rv = lenient_version(rt.version) if rt else None
            if rv is not None:
                cuda = major_minor(rv)
        no_cuda = missing(self._said("CUDA used to build PyTorch"))
        no_hip = missing(self._said("ROCM used to build PyTorch"))
        if cuda is not None:
            return "cuda", cuda, hip or no_hip
        if hip is not None:
            return "rocm", no_cuda, hip
        if xpu_text:
            self.notes.append(f"an Intel XPU build of torch (XPU used to build PyTorch: {xpu_text[:100]})")
            return missing(f"an Intel XPU build ({xpu_text[:100]})"), no_cuda, no_hip
        env_says_cpu = self.env is not None and "CUDA used to build PyTorch" in self.env.fields and version is not None
        if local == "cpu" or any("_cpu_" in b or b.startswith("cpu_") for b in conda_builds) or env_says_cpu:
            return "cpu", no_cuda, no_hip
        return missing(), no_cuda, no_hip


def _yes_no(value: str) -> bool | Unavailable:
    v = value.strip().lower()
    if v in ("true", "yes"):
        return True
    if v in ("false", "no"):
        return False
    return missing(f"unrecognised value {value!r}")


def _loader_cache_copy(path: str) -> LibraryCopy | None:
    """A LibraryCopy for one path of collect_env's ldconfig-based cuDNN list."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    fam = match_library(base)
    if fam is None:
        return None
    version = version_from_filename(base)
    suffix = soname_suffix(base)
    return LibraryCopy(
        library=fam[0],
        path=path,
        real_path=path,  # NOTE: collect_env prints os.path.realpath of each ldconfig entry
        soname_major=suffix if suffix.count(".") <= 1 else suffix.split(".", 1)[0],
        origin="loader-cache",
        version=version if not isinstance(version, Unavailable) else missing(f"the file name {base} carries no full version"),
        version_source="filename" if not isinstance(version, Unavailable) else "unknown",
    )


__all__ = ["NOT_IN_TEXT", "PASTED_HOST", "PROBE", "SECTION_KINDS", "ParsedText", "parse_text"]
