"""The torch probe: import torch inside the inspected interpreter (a child process) and read back what it reports."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

from cudadoctor._util import CommandResult, child_env, describe_returncode, run_command
from cudadoctor.causes import classify, classify_reason
from cudadoctor.childrecords import ChildRecords, child_program, marker, stderr_tail
from cudadoctor.childrecords import parse_records as parse_child_records
from cudadoctor.facts import Distribution, LoadedLibrary, TorchDevice, TorchFacts, Unavailable
from cudadoctor.probes.base import ProbeContext

PROBE = "torch"

#: Prefix of every record line the child writes (the prelude's marker for "torch").
MARKER = marker("torch")

#: Library families reported from the child's /proc/self/maps, matched exactly...
LIBRARY_FAMILIES = frozenset({
    "libcuda", "libcudart", "libnvJitLink", "libnccl", "libcufft", "libcurand", "libcusolver",
    "libnvrtc", "libnvrtc-builtins", "libcupti", "libtorch_cuda",
})
#: ...or by prefix (libcudnn_ops, libcudnn_cnn_infer, libcublasLt, libcusparseLt, ...).
LIBRARY_FAMILY_PREFIXES = ("libcudnn", "libcublas", "libcusparse")

#: What the child was doing in each stage, for "killed by SIGSEGV <while ...>".
STAGE_ACTIONS: dict[str, str] = {
    "python": "while starting",
    "spec": "while looking for the torch package",
    "distributions": "while reading package metadata",
    "import": "during `import torch`",
    "version": "while reading torch.__version__",
    "cuda": "while reading torch.version.cuda",
    "hip": "while reading torch.version.hip",
    "debug": "while reading torch.version.debug",
    "git_version": "while reading torch.version.git_version",
    "cudnn": "while loading cuDNN (torch.backends.cudnn.version())",
    "nccl": "while loading NCCL (torch.cuda.nccl.version())",
    "arch_flags": "while reading the compiled arch list",
    "config": "while reading torch.__config__.show()",
    "cuda_init": "during CUDA initialisation (torch.cuda.is_available())",
    "devices": "while querying the CUDA devices",
    "arch_list": "while reading torch.cuda.get_arch_list()",
    "loaded_libraries": "while reading /proc/self/maps",
}

# auditwheel-repaired copies carry a content hash: libcudart-9335f6a2.so.11.0 is libcudart.
_WHEEL_HASH = re.compile(r"-[0-9a-f]{8}$")
_LEADING_VERSION = re.compile(r"^\d+(?:\.\d+)*")


def probe_torch(ctx: ProbeContext) -> TorchFacts | Unavailable:
    """Inspect torch as ``ctx.python`` imports it (in a child process bounded by ``ctx.torch_timeout``)."""
    return inspect_torch(ctx.python, timeout=ctx.torch_timeout)


def inspect_torch(
    python: str, *, timeout: float, env: Mapping[str, str] | None = None
) -> TorchFacts | Unavailable:
    """Run the torch child in *python* with *env* (default: ours) and parse what it reported."""
    executable = resolve_python(python)
    if isinstance(executable, Unavailable):
        return executable
    try:
        result = read_torch_child(executable, timeout=timeout, env=env)
    except OSError as e:
        return Unavailable(
            probe=PROBE,
            reason=f"could not run the Python interpreter {python}: {e.strerror or e}",
            detail=repr(e),
        )
    return parse_child_output(
        result.stdout, result.returncode, result.stderr, python=executable, timeout=timeout
    )


def resolve_python(python: str) -> str | Unavailable:
    """The interpreter path to run, or why it cannot be run (missing, not executable)."""
    path = python if os.sep in python else (shutil.which(python) or python)
    if not os.path.exists(path):
        return Unavailable(probe=PROBE, reason=f"the Python interpreter {python} does not exist (--python)")
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        return Unavailable(probe=PROBE, reason=f"{python} is not an executable Python interpreter (--python)")
    return path


def child_source() -> str:
    """Source text of the stdlib-only child script shipped beside this module."""
    return resources.files("cudadoctor.probes").joinpath("_torch_child.py").read_text(encoding="utf-8")


def read_torch_child(
    python: str, *, timeout: float, env: Mapping[str, str] | None = None
) -> CommandResult:
    """Run the child script in *python*: ``python -c <prelude + source> <timeout>``.

    NOTE: no ``-I``: isolated mode drops PYTHONPATH and user site-packages, so the child would
    inspect a different torch than the user's programs import. And ``-c`` rather than the file
    path, which would put cudadoctor's probes/ directory first on sys.path.
    """
    return run_command(
        [python, "-c", child_program(child_source()), f"{timeout:g}"],
        timeout=timeout,
        env=env if env is not None else child_env(),
    )


# --------------------------------------------------------------------------------------------
# parsing (pure)


def parse_records(stdout: str | Iterable[str]) -> ChildRecords:
    """Pick the torch child's marker lines out of *stdout*; anything else on it is ignored."""
    return parse_child_records(stdout, MARKER)


def parse_child_output(
    stdout: str | Iterable[str],
    returncode: int | None,
    stderr: str,
    *,
    python: str = "",
    timeout: float | None = None,
) -> TorchFacts | Unavailable:
    """Turn one child run (its stdout, exit status — None when timed out — and stderr) into facts."""
    records = parse_records(stdout)
    tail = stderr_tail(stderr)
    stopped = _stop_description(records, returncode, timeout)
    py = records.stages.get("python", {}).get("value")
    if not isinstance(py, dict):
        who = python or "the interpreter"
        what = stopped or "it reported nothing"
        return Unavailable(
            probe=PROBE,
            reason=f"{who} did not run the torch inspection script ({what}); is it a working Python 3 interpreter?",
            detail=tail,
        )
    return _Builder(records, returncode, tail, stopped).build(py)


def _stop_description(records: ChildRecords, returncode: int | None, timeout: float | None) -> str:
    """'' when the child finished; else e.g. 'killed by SIGSEGV during CUDA initialisation (...)'."""
    if records.done:
        return ""
    where = STAGE_ACTIONS.get(records.last_begun, f"in stage {records.last_begun!r}") if records.last_begun else ""
    if returncode is None:
        limit = f" after {timeout:g} s" if timeout is not None else ""
        how = f"timed out{limit} and was killed"
    else:
        code = describe_returncode(returncode)
        how = f"was {code}" if returncode < 0 else f"exited early with {code}"
    return f"the torch child {how}{' ' + where if where else ''}"


def python_version_from_info(info: Iterable[Any]) -> Version:
    """sys.version_info as a Version: [3, 13, 0, 'candidate', 1] -> 3.13.0rc1."""
    parts = list(info)
    major, minor, micro = (int(p) for p in parts[:3])
    level = str(parts[3]) if len(parts) > 3 else "final"
    serial = int(parts[4]) if len(parts) > 4 else 0
    suffix = {"alpha": "a", "beta": "b", "candidate": "rc"}.get(level)
    return Version(f"{major}.{minor}.{micro}" + (f"{suffix}{serial}" if suffix else ""))


def lenient_version(text: str) -> Version:
    """Parse *text*; when it is not PEP 440 (ROCm's '6.2.41133-dd7f95766'), its leading X.Y.Z."""
    try:
        return Version(text)
    except InvalidVersion:
        match = _LEADING_VERSION.match(text.strip())
        if not match:
            raise
        return Version(match.group(0))


def encoded_version(code: int) -> Version:
    """Decode cuDNN/NCCL integer versions: 90100 -> 9.1.0, 8902 -> 8.9.2, 21905 -> 2.19.5.

    NOTE: cuDNN 9 encodes MAJOR*10000 + MINOR*100 + PATCH, cuDNN <= 8 MAJOR*1000 + MINOR*100 + PATCH
    (cudnn_version.h; https://docs.nvidia.com/deeplearning/cudnn/latest/api/cudnn-graph-library.html);
    NCCL switched the same way at 2.9 (nccl.h NCCL_VERSION_CODE).
    """
    if code >= 10000:
        return Version(f"{code // 10000}.{code % 10000 // 100}.{code % 100}")
    return Version(f"{code // 1000}.{code % 1000 // 100}.{code % 100}")


def library_family(path: str) -> str | None:
    """Family of a mapped library ('libcudnn_ops' for .../libcudnn_ops.so.9), or None if not a CUDA one."""
    name = os.path.basename(path).split(".so", 1)[0]
    name = _WHEEL_HASH.sub("", name)
    if name in LIBRARY_FAMILIES or name.startswith(LIBRARY_FAMILY_PREFIXES):
        return name
    return None


def error_causes(import_error: str, cuda_unavailable_reason: str, cudnn: Version | Unavailable) -> dict[str, Any]:
    """The typed causes of TorchFacts, read from its error texts (the fields they fill, by name)."""
    return {
        "import_error_causes": classify(import_error),
        "cuda_unavailable_causes": classify(cuda_unavailable_reason),
        "cudnn_unavailable_causes": classify_reason(cudnn.reason, cudnn.detail) if isinstance(cudnn, Unavailable) else (),
    }


class _Builder:
    """Assembles TorchFacts from the stage records of one child run."""

    def __init__(self, records: ChildRecords, returncode: int | None, tail: str, stopped: str) -> None:
        self.stages = records.stages
        self.records = records
        self.returncode = returncode
        self.tail = tail
        self.stopped = stopped  # '' when the child finished

    # ---- helpers -------------------------------------------------------------------------

    def missing(self, stage: str, what: str) -> Unavailable:
        """Why *stage* has no record: the child stopped at it, or before it."""
        if self.stopped and self.records.last_begun == stage:
            return Unavailable(probe=PROBE, reason=f"{what} is unknown: {self.stopped}", detail=self.tail)
        if self.stopped:
            return Unavailable(
                probe=PROBE, reason=f"{what} is unknown: {self.stopped}, before getting that far", detail=self.tail
            )
        return Unavailable(probe=PROBE, reason=f"{what} was not reported by the torch child", detail=self.tail)

    def failed(self, stage: str, what: str, call: str) -> Unavailable | None:
        """Unavailable when *stage* failed (error record) or never completed; None when it has a value."""
        record = self.stages.get(stage)
        if record is None:
            return self.missing(stage, what)
        if "error" in record:
            return Unavailable(probe=PROBE, reason=f"{call} failed: {record['error']}", detail=str(record["error"]))
        return None

    def value(self, stage: str) -> Any:
        """The stage's value (None when it failed or is missing)."""
        return self.stages.get(stage, {}).get("value")

    def items(self, stage: str) -> list[Any]:
        """The stage's value when it is a list, else [] (a garbled record is no list of anything)."""
        raw = self.value(stage)
        return raw if isinstance(raw, list) else []

    def version_of(self, stage: str, what: str, call: str) -> Version | Unavailable:
        """A version-valued stage parsed leniently."""
        bad = self.failed(stage, what, call)
        if bad is not None:
            return bad
        raw = self.value(stage)
        try:
            return lenient_version(str(raw))
        except ValueError:  # NOTE: ValueError too: Version raises it for a part over 4300 digits
            return Unavailable(probe=PROBE, reason=f"{call} returned {raw!r}, which is not a version")

    # ---- the facts -----------------------------------------------------------------------

    def build(self, py: dict[str, Any]) -> TorchFacts | Unavailable:
        """All TorchFacts fields, Unavailable where the child could not tell."""
        try:
            python_version = python_version_from_info(py.get("version_info", ()))
        except (TypeError, ValueError, OverflowError, InvalidVersion) as e:
            return Unavailable(probe=PROBE, reason=f"the torch child reported an unreadable Python version: {e}")
        executable = str(py.get("executable") or "")
        distributions = self.distributions()
        spec = self.stages.get("spec", {})
        spec_value = spec.get("value") if isinstance(spec.get("value"), dict) else {}
        location: str | Unavailable
        if spec_value.get("location"):
            location = str(spec_value["location"])
        elif spec_value.get("found") is False:
            location = Unavailable(probe=PROBE, reason=f"torch is not installed for {executable}")
        else:
            location = self.failed("spec", "torch's location", "importlib.util.find_spec('torch')") or Unavailable(
                probe=PROBE, reason="importlib.util.find_spec('torch') gave no location"
            )

        status, import_error = self.status(spec_value, executable)
        common = {
            "python_executable": executable,
            "python_version": python_version,
            "status": status,
            "import_error": import_error,
            "location": location,
            "distributions": distributions,
        }
        if status in ("not-installed", "import-failed") or "import" not in self.stages:
            return self._without_torch(status, import_error, common)
        return self._with_torch(common)

    def status(self, spec: dict[str, Any], executable: str) -> tuple[str, str]:
        """(status, import_error) following the import stage and how the child ended."""
        if spec.get("found") is False:
            return "not-installed", f"No module named 'torch' (importlib.util.find_spec found none for {executable})"
        record = self.stages.get("import")
        if record is not None and not record.get("ok"):
            text = str(record.get("traceback") or record.get("error") or "import torch failed")
            return "import-failed", text.rstrip()
        if self.stopped:
            status = "import-timeout" if self.returncode is None else "import-crashed"
            text = self.stopped[0].upper() + self.stopped[1:] + "."
            return status, f"{text}\n{self.tail}".strip()
        if record is None:  # finished but never imported: a child from another cudadoctor?
            return "import-failed", "the torch child finished without trying to import torch"
        return "ok", ""

    def _without_torch(self, status: str, import_error: str, common: dict[str, Any]) -> TorchFacts:
        """Facts when torch never imported: every torch field Unavailable for the same reason."""
        if status == "not-installed":
            why = "torch is not installed"
        elif status == "import-failed":
            first = import_error.strip().splitlines()[-1] if import_error.strip() else "import torch failed"
            why = f"import torch failed: {first}"
        else:
            why = self.stopped or "import torch did not complete"
        gone = Unavailable(probe=PROBE, reason=why, detail=self.tail)
        libraries: tuple[LoadedLibrary, ...] | Unavailable = gone
        if status == "import-failed":
            # What was mapped before the failure shows which library copies were picked up.
            libraries = self.loaded_libraries()
        return TorchFacts(
            **common,
            version=gone, build=gone, cuda_version=gone, hip_version=gone, cudnn_version=gone,
            nccl_version=gone, debug=gone, git_version=gone, cuda_available=gone,
            cuda_unavailable_reason=why, device_count=gone, devices=(), arch_list=gone,
            build_config=gone, loaded_libraries=libraries,
            **error_causes(import_error, why, gone),
        )

    def _with_torch(self, common: dict[str, Any]) -> TorchFacts:
        """Facts once ``import torch`` succeeded (the child may still have died later)."""
        version = self.version_of("version", "torch's version", "torch.__version__")
        build = self.build_kind()
        cuda_available, reason, device_count, devices = self.cuda_state(build)
        cudnn = self.cudnn_version(build)
        return TorchFacts(
            **common,
            **error_causes(common["import_error"], reason, cudnn),
            version=version,
            build=build,
            cuda_version=self.cuda_version(build),
            hip_version=self.hip_version(build),
            cudnn_version=cudnn,
            nccl_version=self.nccl_version(build),
            debug=self.plain("debug", "torch.version.debug", bool),
            git_version=self.plain("git_version", "torch.version.git_version", str),
            cuda_available=cuda_available,
            cuda_unavailable_reason=reason,
            device_count=device_count,
            devices=devices,
            arch_list=self.arch_list(build, cuda_available),
            build_config=self.plain("config", "torch.__config__.show()", str),
            loaded_libraries=self.loaded_libraries(),
        )

    def plain(self, stage: str, call: str, kind: type) -> Any:
        """A stage value of a simple type, or Unavailable."""
        bad = self.failed(stage, call, call)
        if bad is not None:
            return bad
        raw = self.value(stage)
        if raw is None:
            return Unavailable(probe=PROBE, reason=f"{call} is None")
        return kind(raw)

    def build_kind(self) -> str | Unavailable:
        """'rocm' when torch.version.hip is set, 'cuda' when torch.version.cuda is, else 'cpu'."""
        for stage in ("cuda", "hip"):
            bad = self.failed(stage, "the torch build (CUDA/ROCm/CPU)", f"torch.version.{stage}")
            if bad is not None:
                return bad
        if self.value("hip"):
            return "rocm"
        if self.value("cuda"):
            return "cuda"
        return "cpu"

    def cuda_version(self, build: str | Unavailable) -> Version | Unavailable:
        """torch.version.cuda."""
        if build == "cpu":
            return Unavailable(probe=PROBE, reason="CPU-only build: torch.version.cuda is None")
        if build == "rocm":
            return Unavailable(probe=PROBE, reason=f"ROCm build (HIP {self.value('hip')}): torch.version.cuda is None")
        return self.version_of("cuda", "torch.version.cuda", "torch.version.cuda")

    def hip_version(self, build: str | Unavailable) -> Version | Unavailable:
        """torch.version.hip (ROCm builds only)."""
        if isinstance(build, str) and build != "rocm":
            return Unavailable(probe=PROBE, reason="not a ROCm build")
        return self.version_of("hip", "torch.version.hip", "torch.version.hip")

    def cudnn_version(self, build: str | Unavailable) -> Version | Unavailable:
        """torch.backends.cudnn.version() decoded to X.Y.Z."""
        if build == "cpu":
            return Unavailable(probe=PROBE, reason="CPU-only build has no cuDNN")
        bad = self.failed("cudnn", "the cuDNN version", "torch.backends.cudnn.version()")
        if bad is not None:
            return bad
        raw = self.value("cudnn")
        if build == "rocm":
            return Unavailable(
                probe=PROBE, reason=f"ROCm build: torch.backends.cudnn reports MIOpen ({raw}), not cuDNN"
            )
        if not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
            return Unavailable(
                probe=PROBE,
                reason=f"torch.backends.cudnn.version() returned {raw!r}: cuDNN is not available to this torch",
            )
        return encoded_version(raw)

    def nccl_version(self, build: str | Unavailable) -> Version | Unavailable:
        """torch.cuda.nccl.version(): (2, 21, 5[, suffix]) in recent torch, 2708 in old ones."""
        if build == "cpu":
            return Unavailable(probe=PROBE, reason="CPU-only build has no NCCL")
        bad = self.failed("nccl", "the NCCL version", "torch.cuda.nccl.version()")
        if bad is not None:
            return bad
        raw = self.value("nccl")
        if isinstance(raw, list) and len(raw) >= 3 and all(
            isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in raw[:3]
        ):
            return Version(".".join(str(p) for p in raw[:3]))
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
            return encoded_version(raw)
        return Unavailable(probe=PROBE, reason=f"torch.cuda.nccl.version() returned {raw!r}")

    def cuda_state(
        self, build: str | Unavailable
    ) -> tuple[bool | Unavailable, str, int | Unavailable, tuple[TorchDevice, ...]]:
        """(cuda_available, why not, device_count, devices) from the cuda_init and devices stages."""
        bad = self.failed("cuda_init", "whether CUDA is available", "torch.cuda.is_available()")
        if bad is not None:
            return bad, bad.reason, bad, ()
        init = self.value("cuda_init")
        init = init if isinstance(init, dict) else {}
        available = bool(init.get("available"))
        reason = "" if available else self.unavailable_reason(build, init)
        bad_devices = self.failed("devices", "the CUDA devices", "torch.cuda.device_count()")
        if bad_devices is not None:
            return available, reason, bad_devices, ()
        devices: list[TorchDevice] = []
        for entry in self.items("devices"):
            try:
                devices.append(TorchDevice(
                    index=int(entry["index"]),
                    name=str(entry["name"]),
                    capability=Version(".".join(str(int(p)) for p in entry["capability"][:2])),
                ))
            except (KeyError, TypeError, ValueError, OverflowError, InvalidVersion):
                continue  # a device torch could not describe; it still counts below
        return available, reason, len(self.items("devices")), tuple(devices)

    @staticmethod
    def unavailable_reason(build: str | Unavailable, init: dict[str, Any]) -> str:
        """Why is_available() is False: torch's warning, else init()'s error, else a plain statement."""
        if build == "cpu":
            return "torch was built without CUDA"
        raw = init.get("warnings")
        warnings = [str(w).strip() for w in (raw if isinstance(raw, list) else ()) if str(w).strip()]
        if warnings:
            return "\n".join(warnings)
        if init.get("init_error"):
            return str(init["init_error"])
        return "torch.cuda.is_available() returned False without saying why"

    def arch_list(self, build: str | Unavailable, available: bool | Unavailable) -> tuple[str, ...] | Unavailable:
        """Compiled architectures: get_arch_list(), or the raw arch flags when CUDA is unavailable."""
        if build == "cpu":
            return ()
        listed = self.value("arch_list")
        if isinstance(listed, list) and listed:
            return tuple(str(a) for a in listed)
        flags = self.value("arch_flags")
        if isinstance(flags, list) and flags:
            # NOTE: get_arch_list() is [] whenever CUDA is unavailable; the flags are the build's truth.
            return tuple(str(a) for a in flags)
        if available is True and isinstance(listed, list):
            return ()
        if "arch_list" not in self.stages and self.stopped:
            return self.missing("arch_list", "torch.cuda.get_arch_list()")
        return Unavailable(
            probe=PROBE,
            reason="torch.cuda.get_arch_list() is empty because CUDA is unavailable, and the compiled "
            "arch flags (torch._C._cuda_getArchFlags()) could not be read",
        )

    def loaded_libraries(self) -> tuple[LoadedLibrary, ...] | Unavailable:
        """CUDA-related shared objects mapped into the child, in the order they were mapped."""
        bad = self.failed("loaded_libraries", "the loaded CUDA libraries", "reading /proc/self/maps")
        if bad is not None:
            return bad
        out: list[LoadedLibrary] = []
        for path in self.items("loaded_libraries"):
            family = library_family(str(path))
            if family is not None:
                out.append(LoadedLibrary(path=str(path), library=family))
        return tuple(out)

    def distributions(self) -> tuple[Distribution, ...]:
        """torch, companions and nvidia-*/cuda-* wheels (empty when metadata could not be read)."""
        out: list[Distribution] = []
        for item in self.items("distributions"):
            try:
                out.append(Distribution(
                    name=str(item["name"]),
                    version=str(item["version"]),
                    requires=tuple(str(r) for r in item.get("requires") or ()),
                ))
            except (KeyError, TypeError, AttributeError):
                continue
        return tuple(out)
