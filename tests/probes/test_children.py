"""The child scripts share one prelude: one record marker, one emit, one way to build what a child runs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cudadoctor
from cudadoctor import childprelude
from cudadoctor.bench import runner
from cudadoctor.childrecords import child_program, marker, parse_records, prelude_source
from cudadoctor.probes import torch_build

SRC = Path(cudadoctor.__file__).parent
CHILDREN = ["probes/_torch_child.py", "probes/_driver_child.py", "probes/_libs_child.py", "bench/_bench_child.py"]
#: Children run by the inspected interpreter (--python), which may be as old as Python 3.7.
INSPECTED_INTERPRETER = {"probes/_torch_child.py", "probes/_libs_child.py", "bench/_bench_child.py"}


def _imports(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_prelude_is_stdlib_only_and_is_the_module() -> None:
    assert prelude_source() == Path(childprelude.__file__).read_text(encoding="utf-8")
    assert _imports(prelude_source()) <= set(sys.stdlib_module_names) | {"__future__"}
    # 3.7 syntax: the torch and bench children run in the inspected interpreter
    ast.parse(prelude_source(), feature_version=(3, 7))


@pytest.mark.parametrize("name", CHILDREN)
def test_every_child_program_is_prelude_then_source(name: str) -> None:
    source = (SRC / name).read_text(encoding="utf-8")
    # NOTE: a `from __future__` import after the prelude would make the program a SyntaxError.
    assert "from __future__" not in source
    program = child_program(source)
    assert program.startswith(prelude_source()) and program.endswith(source)
    compile(program, name, "exec")
    assert "cudadoctor" not in _imports(program)
    if name in INSPECTED_INTERPRETER:
        ast.parse(program, feature_version=(3, 7))


def test_the_marker_is_spelled_once() -> None:
    spelled = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if "@@cudadoctor" in p.read_text(encoding="utf-8")]
    assert spelled == ["childprelude.py"]
    assert torch_build.MARKER == marker("torch") == "@@cudadoctor-torch-child@@ "
    assert runner.MARKER == marker("bench") == "@@cudadoctor-bench-child@@ "


def test_records_written_by_the_prelude_are_read_back_by_childrecords() -> None:
    source = 'MARKER = marker("t")\nclaim_stdout()\nprint("noise on stdout")\nemit({"stage": "x", "value": 1})\n' \
             'progress("step: y")\nemit({"stage": "done"})\n'
    proc = subprocess.run([sys.executable, "-c", child_program(source)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    records = parse_records(proc.stdout, marker("t"))
    assert records.stages == {"x": {"stage": "x", "value": 1}} and records.done and records.bad_lines == 0
    assert "noise on stdout" not in proc.stdout and "noise on stdout" in proc.stderr
    assert "step: y" in proc.stderr
