"""Fault injection: every sick-machine fault x every command finishes in time, exits as documented, says why.

Each case runs the real CLI (``python -m cudadoctor ...``) as a subprocess on a fake host (stub
NVML/libcuda/libcudart, fake torch, fake nvcc/gcc/ldconfig first on PATH) with an explicit
environment, and asserts: the wall-clock time stays within the command's own ``--timeout`` plus a
margin; the exit code is the documented one (check/gate/triage 0 or 1, healthcheck 0 or 1); no
Python traceback is printed by the doctor; the JSON report's affected area names what failed and
why; and no process the run started is left alive afterwards.

Matrix (counted in ``test_matrix_size``): 22 faults x {check, healthcheck} + 3 faults x {gate,
triage}. Permission-denied /proc and /dev files cannot be injected through the CLI (as root,
chmod does not stop reads, and the CLI has no --root), so they are tested at the function level
through the probes' injectable ``root`` (a directory or an unreadable FIFO where a file is
expected, and an ``open`` that raises PermissionError).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import system_driver
from tests.hardening.faults import (
    FAKE_TORCH, MARGIN, Result, Stubs, base_env, build_stubs, dig, install_tool, kill_strays, run_cli,
    stray_processes,
)

#: --timeout of check/healthcheck/triage in the matrix (small: every hang costs this much).
T = 3
#: gate splits its budget between the probes (half) and the benchmark, so it needs a little more.
T_GATE = 6
TRIAGE_TEXT = "RuntimeError: CUDA error: unknown error"
_TRACEBACK = re.compile(r"^\s*Traceback \(most recent call last\):", re.MULTILINE)

Expect = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Fault:
    """One way a machine is sick: environment changes, fake tools, and what the report must say."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    tools: tuple[tuple[str, str], ...] = ()  #: (tool name, behaviour: garbage|hang|fail)
    expect: Expect | None = None  #: assertion on check's JSON report
    area: str = ""  #: the fact area the fault hits (named by a healthcheck that times out)
    hc_mentions: tuple[str, ...] = ()  #: a healthcheck that finishes mentions one of these
    #: the fault hides the driver, which only works on a host without one (the loader cache would find it)
    driverless: bool = False


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _deadline_or(area: str, *needles: str) -> Expect:
    """The area is Unavailable naming its probe and the deadline, or its text carries a needle."""
    def check(report: dict[str, Any]) -> None:
        facts = dig(report, f"facts.{area}")
        if isinstance(facts, dict) and facts.get("unavailable"):
            assert facts["probe"] == area, facts
            assert f"the {area} probe" in facts["reason"] and "deadline" in facts["reason"], facts
            return
        text = _text(facts)
        assert any(n in text for n in needles), f"{area} does not say {needles}: {text[:1500]}"
    return check


def _eq(path: str, value: Any) -> Expect:
    def check(report: dict[str, Any]) -> None:
        assert dig(report, path) == value, f"{path} = {dig(report, path)!r}, expected {value!r}"
    return check


def _contains(path: str, *needles: str) -> Expect:
    def check(report: dict[str, Any]) -> None:
        text = _text(dig(report, path))
        assert all(n in text for n in needles), f"{path} lacks {needles}: {text[:1500]}"
    return check


def _known(path: str) -> Expect:
    def check(report: dict[str, Any]) -> None:
        value = dig(report, path)
        assert isinstance(value, str) and value, f"{path} = {value!r}, expected a known value"
    return check


def _all(*checks: Expect) -> Expect:
    def check(report: dict[str, Any]) -> None:
        for c in checks:
            c(report)
    return check


def _libcudart_failed(how: str) -> Expect:
    def check(report: dict[str, Any]) -> None:
        libs = dig(report, "facts.cuda_libs")
        if isinstance(libs, dict) and libs.get("unavailable"):
            _deadline_or("cuda_libs")(report)
            return
        ours = [c for c in libs["copies"] if c["library"] == "libcudart" and c["origin"] == "ld-library-path"]
        assert ours, _text(libs)[:1500]
        assert how in _text(ours[0]["version"]), ours[0]
        assert any("loading libraries" in p and how in p for p in libs["problems"]), libs["problems"]
    return check


def _cuda_libs_usable(report: dict[str, Any]) -> None:
    libs = dig(report, "facts.cuda_libs")
    assert isinstance(libs, dict) and not libs.get("unavailable"), libs
    assert any(c["library"] == "libcudart" for c in libs["copies"]), _text(libs)[:1000]


FAULTS: tuple[Fault, ...] = (
    # -- NVML
    Fault("nvml-missing", {"LD_LIBRARY_PATH": "<empty>"},
          expect=_eq("facts.driver.nvml_status", "library-not-found"), area="driver", hc_mentions=("NVML",),
          driverless=True),
    Fault("nvml-init-fails", {"STUB_NVML_INIT": "999"},
          expect=_all(_eq("facts.driver.nvml_status", "unknown-error"), _contains("facts.driver.nvml_error", "Unknown")),
          area="driver"),
    Fault("nvml-hangs", {"STUB_NVML_HANG": "1"},
          expect=_all(_eq("facts.driver.nvml_status", "timeout"), _contains("facts.driver.nvml_error", "nvmlInit")),
          area="driver"),
    Fault("nvml-crashes", {"STUB_NVML_CRASH": "1"},
          expect=_contains("facts.driver.nvml_error", "SIGSEGV", "nvmlInit"), area="driver"),
    # -- libcuda
    Fault("cuinit-hangs", {"STUB_CUDA_HANG": "1"},
          expect=_contains("facts.driver.cu_init_result", "cuInit did not return"), area="driver"),
    Fault("cuinit-crashes", {"STUB_CUDA_CRASH": "1"},
          expect=_contains("facts.driver.cu_init_result", "SIGSEGV", "cuInit"), area="driver"),
    Fault("cuinit-unknown-error", {"STUB_CUDA_INIT": "999"},
          expect=_all(_eq("facts.driver.cu_init_result", 999), _eq("facts.driver.cu_init_error", "CUDA_ERROR_UNKNOWN")),
          area="driver"),
    # -- CUDA libraries
    Fault("libcudart-crashes", {"LD_LIBRARY_PATH": "<driver>:<cudart_crash>"},
          expect=_libcudart_failed("SIGSEGV"), area="cuda_libs"),
    Fault("libcudart-hangs", {"LD_LIBRARY_PATH": "<driver>:<cudart_hang>"},
          expect=_libcudart_failed("timed out"), area="cuda_libs"),
    # -- torch
    Fault("torch-import-segfaults", {"PYTHONPATH": str(FAKE_TORCH / "import_segfault")},
          expect=_all(_eq("facts.torch.status", "import-crashed"), _contains("facts.torch.import_error", "SIGSEGV")),
          area="torch", hc_mentions=("torch-import-failed",)),
    Fault("torch-import-hangs", {"PYTHONPATH": str(FAKE_TORCH / "import_hang")},
          expect=_deadline_or("torch", "import-timeout"), area="torch"),
    Fault("torch-prints-garbage", {"FAKE_TORCH_GARBAGE": "1"},
          expect=_all(_eq("facts.torch.status", "ok"), _eq("facts.torch.version", "2.5.1+cu124")), area="torch"),
    Fault("torch-cuda-init-hangs", {"FAKE_TORCH_CUDA_INIT": "hang"},
          expect=_deadline_or("torch", "timed out", "did not finish"), area="torch"),
    # -- subprocess garbage
    Fault("nvcc-garbage", {"CUDA_HOME": "<cuda>"}, (("nvcc", "garbage"),),
          expect=_contains("facts.toolkit.nvcc_version", "unavailable", "release X.Y"), area="toolkit"),
    # A hung tool costs half the deadline (nvcc and gcc run side by side): the other still answers.
    Fault("nvcc-hangs", {"CUDA_HOME": "<cuda>"}, (("nvcc", "hang"),),
          expect=_all(_contains("facts.toolkit.nvcc_version", "unavailable", "timed out"), _known("facts.toolkit.gcc_version")),
          area="toolkit"),
    Fault("nvcc-fails", {"CUDA_HOME": "<cuda>"}, (("nvcc", "fail"),),
          expect=_contains("facts.toolkit.nvcc_version", "unavailable", "exit code 3"), area="toolkit"),
    Fault("gcc-garbage", {}, (("gcc", "garbage"),),
          expect=_contains("facts.toolkit.gcc_version", "unavailable", "gcc"), area="toolkit"),
    Fault("gcc-hangs", {}, (("gcc", "hang"),),
          expect=_all(_contains("facts.toolkit.gcc_version", "unavailable", "timed out"), _known("facts.toolkit.nvcc_version")),
          area="toolkit"),
    Fault("gcc-fails", {}, (("gcc", "fail"),),
          expect=_contains("facts.toolkit.gcc_version", "unavailable", "exit code 3"), area="toolkit"),
    Fault("ldconfig-garbage", {}, (("ldconfig", "garbage"),), expect=_cuda_libs_usable, area="cuda_libs"),
    # A hung ldconfig costs half the deadline: the area survives and says what it could not read.
    Fault("ldconfig-hangs", {}, (("ldconfig", "hang"),),
          expect=_all(_cuda_libs_usable, _contains("facts.cuda_libs.problems", "ldconfig -p` failed (timed out)")),
          area="cuda_libs"),
    Fault("ldconfig-fails", {}, (("ldconfig", "fail"),), expect=_cuda_libs_usable, area="cuda_libs"),
)
BY_NAME = {f.name: f for f in FAULTS}
#: The faults gate and triage (which wrap check's probing) are run with.
WRAPPER_FAULTS = ("nvml-hangs", "torch-import-segfaults", "torch-import-hangs")


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Stubs:
    """The stub libraries, compiled once for the module."""
    return build_stubs(tmp_path_factory.mktemp("fault-stubs"))


def sick_env(fault: Fault, tmp: Path, stubs: Stubs) -> dict[str, str]:
    """The fake host's environment with *fault* applied (fake tools installed under *tmp*)."""
    env = base_env(tmp, stubs)
    places = {"<empty>": str(stubs.empty), "<driver>": str(stubs.driver), "<cudart_crash>": str(stubs.cudart_crash),
              "<cudart_hang>": str(stubs.cudart_hang), "<cuda>": str(tmp / "cuda")}
    for key, value in fault.env.items():
        for token, path in places.items():
            value = value.replace(token, path)
        env[key] = value
    for tool, behaviour in fault.tools:
        # NOTE: the toolkit probe runs $CUDA_HOME/bin/nvcc (as torch.utils.cpp_extension does), gcc
        # from PATH; the cuda_libs probe tries `ldconfig` on PATH before /sbin/ldconfig.
        install_tool(tmp / "cuda" / "bin" if tool == "nvcc" else tmp / "bin", tool, behaviour)
    return env


def _skip_if_impossible(fault: Fault) -> None:
    if fault.driverless and system_driver():
        pytest.skip(f"{fault.name} hides the driver, but {system_driver()}")


def assert_sane(result: Result, *, timeout: float, codes: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    """The common contract: in time, documented exit code, no traceback, JSON out, nothing left running."""
    strays = stray_processes(result.tag)
    kill_strays(strays)
    assert not result.timed_out, f"HUNG (killed by the test):\n{result.describe()}"
    assert result.seconds <= timeout + MARGIN, f"took {result.seconds:.1f} s with --timeout {timeout}:\n{result.describe()}"
    assert result.returncode in codes, result.describe()
    for label, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        assert not _TRACEBACK.search(text), f"a traceback on {label}:\n{result.describe()}"
    assert isinstance(result.json, dict), f"stdout is not one JSON object:\n{result.describe()}"
    assert not strays, f"processes left behind: {strays}"
    return result.json


def test_matrix_size() -> None:
    """The note counts 22 faults x {check, healthcheck} + 3 x {gate, triage} = 50 CLI cases."""
    assert len(FAULTS) == 22 and len(BY_NAME) == 22
    assert len(FAULTS) * 2 + len(WRAPPER_FAULTS) * 2 == 50


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_check_under_fault(fault: Fault, stubs: Stubs, tmp_path: Path) -> None:
    """`check --format json` finishes in time, exits 0/1 and its affected area says what failed."""
    _skip_if_impossible(fault)
    result = run_cli(["check", "--format", "json", "--timeout", str(T)], sick_env(fault, tmp_path, stubs),
                     limit=T + 3 * MARGIN)
    report = assert_sane(result, timeout=T)
    assert fault.expect is not None
    fault.expect(report)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_healthcheck_under_fault(fault: Fault, stubs: Stubs, tmp_path: Path) -> None:
    """`healthcheck` answers 0 or 1 within its deadline; a timeout names the probe still running."""
    _skip_if_impossible(fault)
    args = ["healthcheck", "--format", "json", "--timeout", str(T), "--cache-dir", str(tmp_path / "hc-cache")]
    result = run_cli(args, sick_env(fault, tmp_path, stubs), limit=T + 3 * MARGIN)
    out = assert_sane(result, timeout=T)
    assert out["healthy"] is (result.returncode == 0), out
    if out.get("still_running"):
        # The global deadline fired: the one-line answer names what used it up.
        assert f"{fault.area} probe" in out["still_running"] or "driver probe" in out["still_running"], out
        assert "timed out after" in out["summary"], out
    elif fault.hc_mentions:
        assert any(m in _text(out) for m in fault.hc_mentions), out


@pytest.mark.parametrize("name", WRAPPER_FAULTS)
def test_triage_probe_under_fault(name: str, stubs: Stubs, tmp_path: Path) -> None:
    """`triage --probe` still triages the pasted text, and its live facts say what failed."""
    fault = BY_NAME[name]
    args = ["triage", "--probe", "--text", TRIAGE_TEXT, "--format", "json", "--timeout", str(T)]
    report = assert_sane(run_cli(args, sick_env(fault, tmp_path, stubs), limit=T + 3 * MARGIN), timeout=T)
    assert report.get("triage") is not None, list(report)
    assert fault.expect is not None
    fault.expect(report)


def _gate_importable() -> str:
    import importlib

    try:
        importlib.import_module("cudadoctor.commands.gate")
    except Exception as e:  # noqa: BLE001 - any failure to import means the column is skipped
        return f"gate is not importable: {type(e).__name__}: {e}"
    # NOTE: the gate's package has been cudadoctor.gate and cudadoctor.gating; either will do.
    errors = []
    for package in ("cudadoctor.gating.local", "cudadoctor.gate.local"):
        try:
            importlib.import_module(package)
            return ""
        except Exception as e:  # noqa: BLE001
            errors.append(f"{package}: {type(e).__name__}: {e}")
    return "gate is not importable: " + "; ".join(errors)


@pytest.mark.skipif(bool(_gate_importable()), reason=_gate_importable() or "gate present")
@pytest.mark.parametrize("name", WRAPPER_FAULTS)
def test_gate_under_fault(name: str, stubs: Stubs, tmp_path: Path) -> None:
    """`gate --cpu` decides stop/go within its deadline and its facts say what failed."""
    fault = BY_NAME[name]
    args = ["gate", "--cpu", "--format", "json", "--timeout", str(T_GATE)]
    report = assert_sane(run_cli(args, sick_env(fault, tmp_path, stubs), limit=T_GATE + 3 * MARGIN), timeout=T_GATE)
    gate = report.get("gate")
    assert isinstance(gate, dict) and gate.get("verdict") in ("go", "stop"), gate
    assert fault.expect is not None
    fault.expect(report)


# --------------------------------------------------------------------------------------------
# the global deadline


def test_global_deadline_names_the_probe_and_leaves_no_child(stubs: Stubs, tmp_path: Path) -> None:
    """A hung `import torch` and `check --timeout 5`: back in ~5 s, torch Unavailable naming its probe, no strays."""
    env = sick_env(BY_NAME["torch-import-hangs"], tmp_path, stubs)
    result = run_cli(["check", "--format", "json", "--timeout", "5"], env, limit=5 + 3 * MARGIN)
    report = assert_sane(result, timeout=5)  # also asserts that no tagged process is left
    torch = report["facts"]["torch"]
    assert torch.get("unavailable") is True, torch
    assert torch["probe"] == "torch"
    assert torch["reason"] in (
        "the torch probe did not finish within the 5 s deadline (--timeout)",
    ) or "torch" in torch["reason"] and ("timed out" in torch["reason"] or "5 s" in torch["reason"]), torch
    # The other probes were not held up by the hung one.
    assert report["facts"]["driver"].get("nvml_status") == "ok"


def test_collect_facts_kills_children_at_the_deadline(tmp_path: Path) -> None:
    """In process: a probe stuck in a child that outlives the deadline has that child killed."""
    import sys
    import time

    from cudadoctor import _util, probes
    from cudadoctor.probes.base import ProbeContext

    pid_file = tmp_path / "pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"

    def stuck(ctx: ProbeContext) -> object:
        return _util.run_command([sys.executable, "-c", script], timeout=120, env=_util.child_env())

    started = time.monotonic()
    facts = probes.collect_facts(ProbeContext(python=sys.executable), deadline=1.5, probes={"torch": stuck})
    assert time.monotonic() - started < 1.5 + 2.0
    assert facts.torch.reason == "the torch probe did not finish within the 1.5 s deadline (--timeout)"  # type: ignore[union-attr]
    pid = int(pid_file.read_text())
    for _ in range(100):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, 9)
        pytest.fail(f"child {pid} survived the deadline")
    # Children may be started again afterwards (an in-process caller goes on working).
    assert not _util.children_blocked()
    assert _util.run_command([sys.executable, "-c", "print(1)"], timeout=30).stdout.strip() == "1"


# --------------------------------------------------------------------------------------------
# permission denied on /proc and /dev files (function level: the CLI cannot be given a root)


def _unreadable_tree(root: Path, files: list[str], how: str) -> None:
    """Make each of *files* under *root* unreadable: a directory, or a FIFO nobody writes."""
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if how == "directory":
            path.mkdir(exist_ok=True)
        else:
            os.mkfifo(path)


HOST_FILES = ["proc/cpuinfo", "proc/meminfo", "proc/version", "etc/os-release", "usr/lib/os-release"]
CONTAINER_FILES = ["proc/self/mountinfo", "proc/self/cgroup", "proc/1/environ", "proc/1/cgroup", "proc/1/sched",
                   "run/.containerenv", "sys/fs/cgroup/memory.max", "sys/fs/cgroup/cpu.max"]


@pytest.fixture
def deny_open(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make every read under a root raise PermissionError (what a non-root user meets on /proc/1/*)."""
    def install(root: Path) -> None:
        real = Path.read_text
        prefix = str(root)

        def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
            if str(self).startswith(prefix):
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Path, "read_text", read_text)
    return install


def test_host_probe_with_directories_for_files(tmp_path: Path) -> None:
    """collect_host: /proc files that are directories become Unavailable naming the file."""
    from cudadoctor.facts import HostFacts, Unavailable
    from cudadoctor.probes.host import collect_host

    _unreadable_tree(tmp_path, HOST_FILES, "directory")
    facts = collect_host(root=tmp_path, env={})
    assert isinstance(facts, HostFacts)
    assert isinstance(facts.cpu_model, Unavailable) and "proc/cpuinfo" in facts.cpu_model.reason
    assert isinstance(facts.memory_total_mib, Unavailable) and "proc/meminfo" in facts.memory_total_mib.reason


def test_host_probe_with_permission_denied(tmp_path: Path, deny_open: Callable[[Path], None]) -> None:
    """collect_host: PermissionError on every file becomes Unavailable saying 'Permission denied'."""
    from cudadoctor.facts import Unavailable
    from cudadoctor.probes.host import collect_host

    for rel in HOST_FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("MemTotal: 1 kB\nmodel name: x\nNAME=x\n")
    deny_open(tmp_path)
    facts = collect_host(root=tmp_path, env={})
    assert isinstance(facts.cpu_model, Unavailable) and "Permission denied" in facts.cpu_model.reason
    assert isinstance(facts.os_name, Unavailable) and "Permission denied" in facts.os_name.reason


@pytest.mark.parametrize("how", ["directory", "permission"])
def test_container_probe_with_unreadable_files(how: str, tmp_path: Path, deny_open: Callable[[Path], None]) -> None:
    """collect_container: unreadable /proc and /sys files and a missing /dev never raise."""
    from cudadoctor.facts import ContainerFacts, Unavailable
    from cudadoctor.probes.container import collect_container

    if how == "directory":
        _unreadable_tree(tmp_path, CONTAINER_FILES, "directory")
    else:
        for rel in CONTAINER_FILES:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text("0::/\n")
        deny_open(tmp_path)
    (tmp_path / "dev").mkdir(exist_ok=True)
    (tmp_path / "dev" / "shm").write_text("not a mount")  # a file where a directory is expected
    facts = collect_container(root=tmp_path, env={}, cwd="/")
    assert isinstance(facts, ContainerFacts)
    assert isinstance(facts.cgroup_version, Unavailable) or isinstance(facts.memory_limit_bytes, Unavailable), facts


def test_dev_nodes_unlistable(tmp_path: Path) -> None:
    """collect_container: a /dev that is a file (cannot be listed) gives Unavailable device nodes, no exception."""
    from cudadoctor.probes.container import collect_container

    (tmp_path / "dev").write_text("")
    facts = collect_container(root=tmp_path, env={}, cwd="/")
    assert facts.device_nodes == () or not isinstance(facts.device_nodes, tuple), facts.device_nodes


@pytest.mark.timeout(20)
def test_fifo_in_proc_does_not_hang(tmp_path: Path) -> None:
    """A FIFO where /proc/meminfo should be: the probe must not block forever opening it.

    Run in a child with a hard timeout: a blocking open() cannot be interrupted in-process.
    """
    import subprocess
    import sys

    _unreadable_tree(tmp_path, ["proc/meminfo"], "fifo")
    code = (f"from pathlib import Path; from cudadoctor.probes.host import read_memory_total_mib; "
            f"print(read_memory_total_mib(root=Path({str(tmp_path)!r})))")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=4,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(Path.cwd())})
    except subprocess.TimeoutExpired:
        pytest.xfail("reading a FIFO placed at /proc/meminfo blocks (open() waits for a writer); "
                     "real /proc never holds FIFOs, so this stays a documented limitation")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO((tmp_path / "proc/meminfo").stat().st_mode)
