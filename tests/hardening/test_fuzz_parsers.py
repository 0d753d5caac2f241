"""Fuzz every parser of outside text: nothing but the documented error escapes, and every call is fast.

Inputs are arbitrary text (control characters, binary noise decoded with errors="replace", huge
lines) and structured mutations of the real samples under tests/fixtures/ (lines inserted, deleted,
replaced, duplicated, re-numbered with nasty tokens, the text cut anywhere). JSON and TOML inputs
are mutated as trees (values replaced by any JSON or another type, keys deleted or renamed).

Hypothesis runs derandomized (the same examples on every run, so CI is deterministic) with no
example database on disk.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from packaging.version import Version

from cudadoctor.errors import FactsFileError, RuleTableError
from cudadoctor.facts import Facts, Unavailable
from cudadoctor.factsfile import facts_from_dict, facts_to_dict, load_facts
from cudadoctor.policy import Policy, PolicyError, load_policy, parse_policy
from cudadoctor.probes import container, cuda_libs, driver_parse, host, toolkit, torch_build
from cudadoctor.redact import MASK, SECRET_NAMES, Redactor
from cudadoctor.tables import TABLE_FILES, RuleTables, _CACHE, default_rules_dir, load_tables
from cudadoctor.triage import engine as triage_engine
from cudadoctor.triage import signatures as sig
from cudadoctor.triage.parse import ParsedText, parse_text
from cudadoctor.triage.parse_collect_env import parse_collect_env
from cudadoctor.triage.parse_common import normalise
from cudadoctor.triage.parse_ldd import parse_ldd
from cudadoctor.triage.parse_nvidia_smi import parse_nvidia_smi
from cudadoctor.triage.parse_pip import parse_packages, python_from_path

from tests.hardening._strategies import (
    bounded,
    fuzz_settings,
    json_values,
    mutated,
    mutated_json,
    nasty_text,
    samples,
    text_for,
    toml_dumps,
)

TABLES = load_tables()

# --------------------------------------------------------------------------------------------
# real samples

COLLECT_ENV = samples("collect_env/*.txt")
SMI = samples("triage_parse/smi_*.txt", "triage/ok_healthy_nvidia_smi.txt", "triage/smi_kernel_module.txt")
PIP = samples("triage_parse/pip_*.txt", "triage_parse/conda_*.txt")
LDD = samples("triage_parse/ldd_*.txt", "triage/libcud*_missing*.txt")
TRACEBACKS = samples("triage/*.txt", "triage_parse/traceback_*.txt", "triage_parse/issue_mixed.md")
EVERY_TEXT = COLLECT_ENV + SMI + PIP + LDD + TRACEBACKS
OS_RELEASE = samples("raw/host/os-release_*.txt")
CPUINFO = samples("raw/host/cpuinfo_*.txt")
MEMINFO = samples("raw/host/meminfo_*.txt")
PCI = samples("raw/host/pci_*.txt")
CGROUP = samples("raw/container/*.cgroup")
MOUNTINFO = samples("raw/container/*.mountinfo")
PROC_VERSION = samples("raw/driver/proc_version_*.txt", "raw/host/proc_version_*.txt")
LDCONFIG = samples("raw/libs/ldconfig_*.txt")
NVCC = samples("raw/toolkit/nvcc_*.txt")
GCC = samples("raw/toolkit/gcc_*.txt")
VERSION_FILES = samples("raw/toolkit/version_*", "raw/toolkit/cuda_runtime_api_h_*.txt")
DRIVER_DOCS = [json.loads(t) for t in samples("raw/driver/*.json")]
TORCH_RUNS = [json.loads(t) for t in samples("raw/torch_child/*.json")]
ENV_DOCS = [json.loads(t) for t in samples("envs/*.json")]

#: Inputs that broke (or could break) a parser, kept as explicit examples.
NASTY = (
    "",
    "\x00" * 100,
    "\r\r\r\n\n",
    "\ufeff\u202e" + "|" * 5000,
    "=" * 10_000,
    " " * 50_000 + "x",
    "a" * 100_000,
    "1" * 5000 + "." * 5000,
    "Traceback (most recent call last):\n" * 2000,
    "NVIDIA-SMI 550.54.14    Driver Version: 550.54.14    CUDA Version: " + "9" * 3000,
    "libcudart.so.12 => not found\n" * 3000,
    "CUDA error: " + "(" * 5000,
    'File "' + "/" * 3000 + 'site-packages/torch/__init__.py", line 1, in <module>',
    "PyTorch version: " + "+" * 5000,
)


def _texts(strategy: Any) -> Any:
    """Apply the NASTY inputs as @example()s to a one-argument text test."""
    def wrap(fn: Any) -> Any:
        for n in NASTY:
            fn = example(n)(fn)
        return given(strategy)(fn)
    return wrap


# --------------------------------------------------------------------------------------------
# pasted text (triage)


@fuzz_settings(60)
@_texts(text_for(COLLECT_ENV))
def test_collect_env(text: str) -> None:
    lines, _ = normalise(text)
    bounded(parse_collect_env, lines)


@fuzz_settings(60)
@_texts(text_for(SMI))
def test_nvidia_smi(text: str) -> None:
    lines, _ = normalise(text)
    bounded(parse_nvidia_smi, lines, TABLES)


@fuzz_settings(60)
@_texts(text_for(PIP))
def test_pip_and_conda_list(text: str) -> None:
    lines, _ = normalise(text)
    bounded(parse_packages, lines)
    for line in lines[:50]:
        bounded(python_from_path, line)


@fuzz_settings(50)
@_texts(text_for(LDD))
def test_ldd(text: str) -> None:
    lines, _ = normalise(text)
    bounded(parse_ldd, lines)


@fuzz_settings(60)
@example("# Name  Version  Build  Channel\npytorch  1.12.1  py3.9_cuda١١.٣_cudnn8.3.2_0  pytorch\n")
@_texts(text_for(EVERY_TEXT))
def test_parse_text(text: str) -> None:
    parsed = bounded(parse_text, text, tables=TABLES)
    assert isinstance(parsed, ParsedText) and isinstance(parsed.facts, Facts)
    # the parsed facts must survive the facts file round trip (triage --save-facts)
    facts_from_dict(json.loads(json.dumps(facts_to_dict(parsed.facts))))


@fuzz_settings(60)
@_texts(text_for(TRACEBACKS))
def test_signature_matcher(text: str) -> None:
    hits = bounded(sig.scan, text)
    bounded(sig.text_context, text)
    for h in hits:
        assert h.line_no >= 1 and len(h.line) <= 300
    sig.names_in(hits)
    for line in text.splitlines()[:30]:
        bounded(sig.library_family, line)
        bounded(sig.library_key, line)
        bounded(sig.undefined_symbol_key, line, line, line)
    bounded(sig.holds_error, text)


@given(st.one_of(st.text(max_size=30), st.sampled_from(("0", "-1", "9" * 30, "12040", "90100"))))
@fuzz_settings(40)
def test_signature_int_decoders(value: str) -> None:
    for decode in (sig.decode_cuda_int, sig.decode_cudnn_int):
        try:
            out = decode(value)
        except ValueError:
            # NOTE: callers only pass \d+ groups; the documented failure for other text is ValueError.
            continue
        assert isinstance(out, str)


@fuzz_settings(30)
@_texts(text_for(EVERY_TEXT))
def test_triage_engine(text: str) -> None:
    report = bounded(triage_engine.triage, text, TABLES, limit=4.0)
    assert report.triage.verdict


def test_triage_engine_huge_driver_version() -> None:
    triage_engine.triage("NVIDIA-SMI 550.54.14   Driver Version: " + "9" * 5000 + ".1", TABLES)


# --------------------------------------------------------------------------------------------
# redaction (it reads every outside text that reaches an output)

PLANTED = "s3cr3t-Planted-Value-9x7"


@fuzz_settings(60)
@example("a" * 400_000)
@example("a-" * 200_000)
@example("a.b-c_" * 60_000 + "=x")
@example("Bearer " + "a" * 400_000)
@example("http://" + "a" * 100_000)
@example("/home/" * 50_000)
@_texts(text_for(EVERY_TEXT))
def test_redactor(text: str) -> None:
    r = Redactor(identity=True, users=["alice", "zaphod"], hosts=["node-17"], secret_values=[PLANTED])
    out = bounded(r.text, text + " " + PLANTED + "\n" + text)
    assert PLANTED not in out


@fuzz_settings(80)
@given(
    st.one_of(st.sampled_from(sorted(SECRET_NAMES)), st.from_regex(r"[A-Z]{1,8}_(TOKEN|KEY|SECRET|PASSWORD|AUTH)", fullmatch=True)),
    st.text(st.sampled_from("abcdefXYZ0123456789/+=_-~."), min_size=8, max_size=64),
    st.sampled_from(("=", ": ", "='", '="', '": "', " = ", ":")),
    st.one_of(st.just(""), st.text(max_size=40)),
    st.sampled_from(("", "export ", "--", "  ", "{")),
)
def test_redactor_masks_secret_assignments(name: str, value: str, sep: str, before: str, lead: str) -> None:
    text = f"{before}\n{lead}{name}{sep}{value}\n"
    out = bounded(Redactor(secret_values=()).text, text)
    if value not in before:
        assert value not in out.split("\n", 1)[1], (text, out)
    assert MASK in out


# --------------------------------------------------------------------------------------------
# /proc and /sys


@fuzz_settings(50)
@_texts(text_for(OS_RELEASE))
def test_os_release(text: str) -> None:
    fields = bounded(host.parse_os_release, text)
    host.os_pretty_name(fields)


@fuzz_settings(50)
@_texts(text_for(CPUINFO))
def test_cpuinfo(text: str) -> None:
    out = bounded(host.parse_cpuinfo, text)
    assert out is None or isinstance(out, str)


@fuzz_settings(40)
@_texts(text_for(MEMINFO))
def test_meminfo(text: str) -> None:
    out = bounded(host.parse_meminfo, text)
    assert out is None or (isinstance(out, int) and out >= 0)


@fuzz_settings(40)
@_texts(text_for(PROC_VERSION))
@example("glibc 2." + "3" * 5000)
def test_host_small_parsers(text: str) -> None:
    bounded(host.parse_libc_version, text)
    bounded(host.is_wsl2, release=text, proc_version=text, has_dxg=False, env={"WSL_DISTRO_NAME": text})


@fuzz_settings(40)
@given(mutated(PCI), st.lists(st.tuples(nasty_text, nasty_text, nasty_text), max_size=5))
def test_pci_devices(text: str, extra: list[tuple[str, str, str]]) -> None:
    triples = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            triples.append((parts[0], parts[1], parts[2]))
    out = bounded(host.parse_pci_devices, triples + extra)
    assert all(isinstance(a, str) for a in out)


@fuzz_settings(50)
@_texts(text_for(CGROUP))
def test_cgroup(text: str) -> None:
    entries = bounded(container.parse_cgroup, text)
    container.cgroup_path(entries, None)
    container.cgroup_path(entries, "memory")


@fuzz_settings(50)
@_texts(text_for(MOUNTINFO))
def test_mountinfo(text: str) -> None:
    mounts = bounded(container.parse_mountinfo, text)
    container.mount_for("/dev/shm", mounts)
    for m in mounts:
        container.on_writable_layer(m, in_container=True, runtime="docker")


LIMIT_SAMPLES = ["max", "9223372036854771712", "17179869184", "-1", "100000", "max 100000", "150000 100000",
                 "50000", "0", "0 0", "1 -1"]


@fuzz_settings(60)
@given(st.one_of(mutated(LIMIT_SAMPLES), nasty_text), st.one_of(mutated(LIMIT_SAMPLES), nasty_text))
@example("max 0", "0")
@example("1 0", "0")
@example("9" * 5000, "1")
@example("1e3", "nan")
@example("1" * 1000, "")
def test_cgroup_limits(a: str, b: str) -> None:
    # NOTE: the documented failure of these parsers is ValueError (the reader turns it into Unavailable).
    for call in (lambda: container.parse_memory_limit(a, 1), lambda: container.parse_memory_limit(a, 2),
                 lambda: container.parse_cpu_max(a), lambda: container.parse_cfs_quota(a, b)):
        try:
            out = bounded(call)
        except ValueError:
            continue
        assert out == container.UNLIMITED or (isinstance(out, (int, float)) and out >= 0)


# --------------------------------------------------------------------------------------------
# driver, libraries, toolkit, torch


@fuzz_settings(50)
@example("NVRM version: NVIDIA UNIX x86_64 Kernel Module  ٥٥٠.٥٤  Thu Feb 22 01:44:30 UTC 2024")
@example("NVRM version: NVIDIA UNIX x86_64 Kernel Module  " + "5" * 5000 + ".1  Thu Feb 22 01:44:30 UTC 2024")
@_texts(text_for(PROC_VERSION))
def test_proc_version(text: str) -> None:
    out = bounded(driver_parse.parse_proc_version, text)
    assert isinstance(out.module_version, (Version, Unavailable))


@fuzz_settings(80)
@given(st.sampled_from(DRIVER_DOCS).flatmap(mutated_json), st.one_of(mutated(PROC_VERSION), nasty_text))
@example({"nvml": {"gpus": [{"clocks_event_reasons": {"v": -1}}]}, "libcuda": {}}, "")
@example({"nvml": {"failed": "timeout", "timeout": "soon"}, "libcuda": {"failed": "crash", "returncode": "x"}}, "")
@example({"nvml": {"limit_s": [1]}, "libcuda": {"limit_s": {"a": 1}}}, "")
@example({"nvml": {"gpus": [{"memory": {"v": [float("inf"), 1]}}]}, "libcuda": {}}, "")
def test_driver_child_document(doc: Any, proc: str) -> None:
    facts = bounded(driver_parse.parse_child_output, doc, proc_version=proc)
    if isinstance(doc, dict) and isinstance(doc.get("libcuda"), dict) and isinstance(doc["libcuda"].get("path"), str):
        bounded(driver_parse.parse_libcuda_filename, doc["libcuda"]["path"])
    facts_from_dict(json.loads(json.dumps(facts_to_dict(_with_driver(facts)), allow_nan=True)))


@fuzz_settings(40)
@given(st.one_of(nasty_text, json_values.map(json.dumps), st.sampled_from(DRIVER_DOCS).flatmap(mutated_json).map(json.dumps)))
@example("[]")
@example("null")
@example("{")
def test_driver_child_stdout(text: str) -> None:
    # the children's stdout as text: garbage is a DriverFacts full of reasons, never an exception
    bounded(driver_parse.parse_child_output, text, proc_version=Unavailable(probe="driver", reason="fuzz"))


def _with_driver(drv: Any) -> Facts:
    """The healthy A100 facts with *drv* as the driver area (to round-trip it through the facts codec)."""
    from dataclasses import replace

    base = facts_from_dict(ENV_DOCS[0])
    return replace(base, driver=drv)


LIBS_CHILD = {"resolved": [
    {"soname": "libcudart.so.12", "path": "/usr/local/cuda/lib64/libcudart.so.12.4.127"},
    {"soname": "libcudnn.so.9", "error": "libcudnn.so.9: cannot open shared object file: No such file or directory"},
    {"soname": "libnccl.so.2", "path": "/opt/venv/lib/python3.11/site-packages/nvidia/nccl/lib/libnccl.so.2"},
]}
SONAMES = ["libcudart.so.12", "libcudnn.so.9", "libnccl.so.2", "libcublas.so.12"]


@fuzz_settings(60)
@given(st.one_of(mutated_json(LIBS_CHILD).map(json.dumps), nasty_text), st.sampled_from((0, 1, -11, None)))
@example(json.dumps({"resolved": [{"soname": ["x"]}, {"soname": {"a": 1}, "path": 1}]}), 0)
@example("[" * 100_000, 0)
def test_libs_child_output(stdout: str, returncode: int | None) -> None:
    from cudadoctor._util import CommandResult

    result = CommandResult(returncode, stdout, "loading /x/libcudnn.so.9\nSegmentation fault", returncode is None)
    out = bounded(cuda_libs._resolve, SONAMES, result)
    assert [r.soname for r in out] == SONAMES


@fuzz_settings(50)
@_texts(text_for(LDCONFIG))
def test_ldconfig(text: str) -> None:
    rows = bounded(cuda_libs.parse_ldconfig, text)
    bounded(cuda_libs.cache_dirs_from, rows)
    for name, _flags, path in rows[:50]:
        cuda_libs.match_library(name)
        cuda_libs.is_libcuda(name)
        bounded(cuda_libs.version_from_filename, name)
        bounded(cuda_libs.version_from_filename, path)
        cuda_libs.soname_suffix(name)


@fuzz_settings(60)
@given(st.one_of(nasty_text, st.from_regex(r"lib[a-z_]{1,12}\.so(\.\d{1,40}){0,6}", fullmatch=True)))
@example("libcudart.so." + ".".join(["9" * 40] * 3))
@example("libcuda.so." + "1." * 2000 + "1")
@example(".so.0.0.٠")
@example("libcuda.so.٥٥٠.٥٤.١٤")
@example("libcuda.so." + "5" * 5000 + ".1")
@example("libcudart.so.1.1." + "5" * 5000)
def test_version_from_filename(name: str) -> None:
    out = bounded(cuda_libs.version_from_filename, name)
    assert isinstance(out, (Version, Unavailable))
    bounded(driver_parse.parse_libcuda_filename, name)


@fuzz_settings(50)
@given(st.sampled_from(("cudaRuntimeGetVersion", "cudnnGetVersion", "ncclGetVersion", "cublasLtGetVersion",
                        "nvJitLinkVersion")),
       st.dictionaries(st.sampled_from(("value", "status")), json_values, max_size=2))
@example("nvJitLinkVersion", {"value": [1]})
@example("cudnnGetVersion", {"value": float("inf")})
@example("cudnnGetVersion", {"value": "12.5"})
def test_library_call_results(call: str, result: dict[str, Any]) -> None:
    out = bounded(cuda_libs.parse_call_result, call, result)
    assert isinstance(out, (Version, Unavailable))


@fuzz_settings(50)
@example("Cuda compilation tools, release ١٢.٤, V12.4.131")
@_texts(text_for(NVCC))
def test_nvcc_version(text: str) -> None:
    assert isinstance(bounded(toolkit.parse_nvcc_version, text), (Version, Unavailable))


@fuzz_settings(50)
@example("𝟙𝟚")
@example("0" * 4301 + "\n12.2.0")
@_texts(text_for(GCC))
def test_gcc_version(text: str) -> None:
    assert isinstance(bounded(toolkit.parse_gcc_version, text), (Version, Unavailable))


@fuzz_settings(60)
@_texts(text_for(VERSION_FILES))
@example('{"cuda": {"version": ' + "[" * 5000 + "]" * 5000 + "}}")
@example('{"cuda": {"version": 1e999}}')
@example("#define CUDART_VERSION " + "9" * 5000)
def test_toolkit_version_files(text: str) -> None:
    for parse in (toolkit.parse_version_json, toolkit.parse_version_txt, toolkit.parse_cudart_header):
        assert isinstance(bounded(parse, text), (Version, Unavailable))


MARKER = torch_build.MARKER


def _records(run: dict[str, Any]) -> list[Any]:
    out = []
    for line in run["stdout"]:
        start = line.find(MARKER)
        if start >= 0:
            try:
                out.append(json.loads(line[start + len(MARKER):]))
            except ValueError:
                out.append(line[start + len(MARKER):])  # a garbage record stays garbage
    return out


@st.composite
def torch_runs(draw: st.DrawFn) -> tuple[list[str], Any, str]:
    """A recorded torch child run with its records mutated as JSON, or its stdout mutated as text."""
    run = draw(st.sampled_from(TORCH_RUNS))
    if draw(st.booleans()):
        records = draw(mutated_json(_records(run)))
        records = records if isinstance(records, list) else [records]
        stdout = [f"{MARKER}{r if isinstance(r, str) else json.dumps(r)}" for r in records]
    else:
        stdout = draw(mutated(["\n".join(run["stdout"])])).splitlines()
    returncode = draw(st.one_of(st.none(), st.just(run["returncode"]), st.integers(-64, 300)))
    stderr = draw(st.one_of(st.just(run.get("stderr", "")), nasty_text))
    return stdout, returncode, stderr


@fuzz_settings(100)
@given(torch_runs())
@example(([f'{MARKER}{{"stage": "python", "value": {{"version_info": [3, 11, "x"]}}}}'], 0, ""))
@example(([f'{MARKER}{{"stage": "python", "value": {{"version_info": []}}}}', f'{MARKER}{{"stage": "cudnn", "value": -1}}'], 0, ""))
@example(([f'{MARKER}{{"stage": "python", "value": {{}}}}', f'{MARKER}{{"stage": "nccl", "value": [1e309, 1, 1]}}'], 0, ""))
@example(([f'{MARKER}{{"stage": "python", "value": {{}}}}', f'{MARKER}{{"stage": "import", "ok": true}}',
            f'{MARKER}{{"stage": "loaded_libraries", "value": 1}}', f'{MARKER}{{"stage": "devices", "value": 1}}',
            f'{MARKER}{{"stage": "cuda_init", "value": [1]}}', f'{MARKER}{{"stage": "distributions", "value": 1}}',
            f'{MARKER}{{"stage": "cuda", "value": "12.4"}}', f'{MARKER}{{"stage": "nccl", "value": [2, -1, 5]}}'],
           0, ""))
@example(([f'{MARKER}{{"stage": "python", "value": {{"version_info": [Infinity, 1, 1]}}}}'], 0, ""))
@example(([f'{MARKER}{{"stage": "python", "value": {{}}}}', f'{MARKER}{{"stage": "import", "ok": true}}',
            f'{MARKER}{{"stage": "cuda", "value": "12.4"}}', f'{MARKER}{{"stage": "nccl", "value": [true, 20, 5]}}',
            f'{MARKER}{{"stage": "version", "value": "{"9" * 5000}"}}'], 0, ""))
def test_torch_child_output(run: tuple[list[str], Any, str]) -> None:
    stdout, returncode, stderr = run
    facts = bounded(torch_build.parse_child_output, stdout, returncode, stderr, python="/x/python", timeout=5.0)
    assert facts is not None
    bounded(torch_build.parse_records, "\n".join(stdout))


# --------------------------------------------------------------------------------------------
# rules TOML


def _one_line_naming(err: Exception, name: str) -> None:
    message = str(err)
    assert "\n" not in message and "\r" not in message, f"multi-line message: {message!r}"
    assert name in message, f"message does not name {name}: {message!r}"


def parsed_or_one_line(parse: Callable[..., Any], arg: Any, error: type[Exception], name: str, **kwargs: Any) -> Any:
    """parse(arg) within the call limit; if it raises *error*, the message is one line naming *name* (None)."""
    try:
        return bounded(parse, arg, **kwargs)
    except error as e:
        _one_line_naming(e, name)
        return None


def file_parsed_or_one_line(parse: Callable[[Path], Any], text: str, filename: str, error: type[Exception]) -> Any:
    """parsed_or_one_line on *text* written (bytes as they are, lone surrogates too) to a file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        return parsed_or_one_line(parse, path, error, str(path))


SHIPPED = {name: tomllib.loads((default_rules_dir() / f"{name}.toml").read_text()) for name in TABLE_FILES}
SHIPPED_TEXT = {name: (default_rules_dir() / f"{name}.toml").read_text() for name in TABLE_FILES}


@st.composite
def mutated_tables(draw: st.DrawFn) -> tuple[str, str]:
    """(table name, its TOML text) with the parsed document mutated as a tree, or the text mutated as lines."""
    name = draw(st.sampled_from(TABLE_FILES))
    if draw(st.integers(0, 3)) == 0:
        return name, draw(mutated([SHIPPED_TEXT[name]]))
    doc = draw(mutated_json(SHIPPED[name]))
    return name, toml_dumps(doc if isinstance(doc, dict) else {"schema": doc})


def _load_copy(name: str, text: str) -> RuleTables | None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "rules"
        shutil.copytree(default_rules_dir(), base)
        target = base / f"{name}.toml"
        target.write_text(text, encoding="utf-8")
        try:
            return parsed_or_one_line(load_tables, base, RuleTableError, str(target))
        finally:
            _CACHE.pop(str(base.resolve()), None)


@fuzz_settings(120)
@given(mutated_tables())
@example(("gpus", toml_dumps({**SHIPPED["gpus"], "source": 5})))
@example(("torch", toml_dumps({**SHIPPED["torch"], "source": [1, "x"]})))
@example(("cudnn", toml_dumps({**SHIPPED["cudnn"], "schema": "1"})))
@example(("cuda_driver", toml_dumps({**SHIPPED["cuda_driver"], "forward_compat": []})))
@example(("gpus", toml_dumps({**SHIPPED["gpus"], "gpu": [{**SHIPPED["gpus"]["gpu"][1], "model": "x\ny"},
                                                         SHIPPED["gpus"]["gpu"][0]]})))
@example(("torch", "\x00"))
@example(("cuda_driver", toml_dumps({**SHIPPED["cuda_driver"], "cuda": [{**SHIPPED["cuda_driver"]["cuda"][0], "version": "9" * 5000}]})))
@example(("torch", "schema = " + "9" * 5000))
@example(("gpus", "a = " + "[" * 5000))
@example(("torch", "schema = 1\nupdated = 2024-01-01\n"))
def test_rule_tables(case: tuple[str, str]) -> None:
    name, text = case
    _load_copy(name, text)


# --------------------------------------------------------------------------------------------
# facts JSON


@fuzz_settings(120)
@given(st.one_of(st.sampled_from(ENV_DOCS).flatmap(mutated_json), json_values))
@example({**ENV_DOCS[0], "env": {**ENV_DOCS[0]["env"], "variables": {"a\nb\u2028c": 1}}})
@example({**ENV_DOCS[0], "torch": {**ENV_DOCS[0]["torch"], "version": "9" * 5000}})
@example({"schema_version": 10**100})
@example({"schema_version": True})
@example({"kind": ["x"], "schema_version": 1})
def test_facts_json(data: Any) -> None:
    facts = parsed_or_one_line(facts_from_dict, data, FactsFileError, "fuzz.json", origin="fuzz.json")
    assert facts is None or isinstance(facts, Facts)


@fuzz_settings(40)
@given(st.one_of(st.sampled_from(ENV_DOCS).map(json.dumps).flatmap(lambda t: mutated([t])), nasty_text))
@example("\udcff")
@example("[" * 100_000)
@example('{"schema_version": ' + "9" * 5000 + "}")
@example('{"schema_version": 1' + "," * 100_000)
def test_facts_file(text: str) -> None:
    file_parsed_or_one_line(load_facts, text, "facts.json", FactsFileError)


# --------------------------------------------------------------------------------------------
# policy TOML

POLICY_DOC = {
    "schema": 1, "fail_on": "warning", "fatal": ["driver-too-old-for-torch"], "ignore": ["GPU004"],
    "min_gpus": 1, "min_driver_version": "550.54.15", "min_compute_capability": "8.0",
    "max_temperature_c": 85, "require_torch_cuda": True, "gate": {"allow": ["x"]},
}


@fuzz_settings(100)
@given(st.one_of(mutated_json(POLICY_DOC), st.dictionaries(st.text(max_size=20), json_values, max_size=5)))
@example({"fail_on": ["error"]})
@example({"fail_on": {"a": 1}})
@example({"min_driver_version": "1" * 5000})
@example({"fatal": ["a"], "ignore": ["A "]})
@example({"schema": 10**30})
@example({"max_temperature_c": float("nan")})
def test_policy_data(data: Any) -> None:
    policy = parsed_or_one_line(parse_policy, data, PolicyError, "fuzz.toml", source="fuzz.toml")
    assert policy is None or isinstance(policy, Policy)


@fuzz_settings(60)
@given(st.one_of(mutated([toml_dumps(POLICY_DOC)]), st.just(toml_dumps(POLICY_DOC)).flatmap(lambda t: mutated([t])),
                 nasty_text))
@example('fail_on = "error"\nfail_on = "warning"\n')
@example("[gate]\n[gate]\n")
@example("schema = 1\n" + "a = [" * 1000)
@example("schema = " + "9" * 5000)
@example("min_gpus = " + "{a = " * 5000)
def test_policy_file(text: str) -> None:
    policy = file_parsed_or_one_line(load_policy, text, "policy.toml", PolicyError)
    assert policy is None or isinstance(policy, Policy)


@pytest.mark.parametrize("name", TABLE_FILES)
def test_shipped_tables_round_trip_through_the_toml_writer(name: str) -> None:
    # the TOML writer the table fuzzing relies on must write what it read
    assert tomllib.loads(toml_dumps(SHIPPED[name])) == SHIPPED[name]
