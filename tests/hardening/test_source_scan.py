"""Scan cudadoctor's own source (with ast, not grep) for shells, eval/exec, unsafe loaders and environ mutation.

Rules, for every .py under src/cudadoctor (the child scripts included: they run the same code paths
on the same sick machines):

- no call with ``shell=`` anything but a literal False;
- no eval / exec / compile of anything but a string literal; no os.system, os.popen, os.spawn*,
  os.exec*, pty.spawn, subprocess.getoutput/getstatusoutput, asyncio.create_subprocess_shell;
- no pickle/marshal/shelve/dill loading; yaml.load only with a SafeLoader;
- subprocesses only through ``_util.run_command`` (the one allowed ``subprocess.Popen``, which has
  its timeout on communicate()); subprocess.run/call/check_call/check_output must pass ``timeout=``;
  every run_command call passes an explicit ``env=``;
- no mutation of os.environ: item assignment or deletion, update/pop/setdefault/clear/popitem,
  os.putenv/os.unsetenv, rebinding os.environ, or any of these through a plain alias
  (``env = os.environ``). Tests may mutate the environment; src may not.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import cudadoctor

SRC = Path(cudadoctor.__file__).resolve().parent
FILES = sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)

#: Files allowed to call subprocess.Popen directly (the one wrapper every subprocess goes through).
POPEN_ALLOWED = {"_util.py"}
#: (file, line text) pairs allowed to mutate os.environ. The child scripts (probes/_*_child.py,
#: bench/_bench_child.py) run in interpreters of their own and could set variables for themselves;
#: none does today, so the list is empty. Add an entry with a comment saying why if one ever must.
ENVIRON_ALLOWED: set[tuple[str, str]] = set()

_SUBPROCESS_NEEDS_TIMEOUT = {"subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output"}
_FORBIDDEN_CALLS = {
    "os.system": "os.system runs a shell",
    "os.popen": "os.popen runs a shell",
    "pty.spawn": "pty.spawn",
    "subprocess.getoutput": "subprocess.getoutput runs a shell",
    "subprocess.getstatusoutput": "subprocess.getstatusoutput runs a shell",
    "asyncio.create_subprocess_shell": "asyncio.create_subprocess_shell runs a shell",
    "asyncio.create_subprocess_exec": "a subprocess outside _util.run_command (no timeout)",
    "pickle.load": "pickle.load of outside data", "pickle.loads": "pickle.loads of outside data",
    "pickle.Unpickler": "pickle.Unpickler", "cPickle.load": "cPickle.load", "cPickle.loads": "cPickle.loads",
    "dill.load": "dill.load", "dill.loads": "dill.loads", "marshal.load": "marshal.load",
    "marshal.loads": "marshal.loads", "shelve.open": "shelve.open unpickles", "yaml.unsafe_load": "yaml.unsafe_load",
    "yaml.full_load": "yaml.full_load", "yaml.load_all": "yaml.load_all without SafeLoader",
    "os.putenv": "os.putenv mutates the environment", "os.unsetenv": "os.unsetenv mutates the environment",
}
_FORBIDDEN_PREFIXES = ("os.spawn", "os.exec", "os.posix_spawn")
_CODE_BUILTINS = {"eval", "exec", "compile", "builtins.eval", "builtins.exec", "builtins.compile", "__import__"}
_MUTATING_METHODS = {"update", "pop", "setdefault", "clear", "popitem", "__setitem__", "__delitem__"}


@dataclass(frozen=True)
class Violation:
    """One rule broken at one place."""

    file: str
    line: int
    rule: str
    code: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.code}"


class _Scanner(ast.NodeVisitor):
    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.lines = source.splitlines()
        self.aliases: dict[str, str] = {}  #: local name -> dotted name it was imported as
        self.environ_aliases: set[str] = set()  #: names bound to os.environ itself
        self.found: list[Violation] = []

    # ---- helpers

    def qual(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qual(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def is_environ(self, node: ast.AST) -> bool:
        q = self.qual(node)
        return q == "os.environ" or (isinstance(node, ast.Name) and node.id in self.environ_aliases)

    def report(self, node: ast.AST, rule: str) -> None:
        line = getattr(node, "lineno", 0)
        code = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        if rule.startswith("os.environ") and (self.name, code) in ENVIRON_ALLOWED:
            return
        self.found.append(Violation(self.name, line, rule, code))

    # ---- imports and aliases

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.asname:
                self.aliases[a.asname] = a.name
            else:
                top = a.name.split(".")[0]
                self.aliases[top] = top
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module:
            for a in node.names:
                self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        self.generic_visit(node)

    # ---- os.environ mutation

    def _bind(self, targets: list[ast.expr], value: ast.AST | None) -> None:
        values = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
        aliased = any(v is not None and self.is_environ(v) for v in values)
        for t in targets:
            if isinstance(t, ast.Name):
                if aliased:
                    self.environ_aliases.add(t.id)
                else:
                    self.environ_aliases.discard(t.id)
            if self.qual(t) == "os.environ":
                self.report(t, "os.environ rebound")
            if isinstance(t, ast.Subscript) and self.is_environ(t.value):
                self.report(t, "os.environ item assignment")

    def visit_Assign(self, node: ast.Assign) -> None:
        flat: list[ast.expr] = []
        for t in node.targets:
            flat.extend(t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])
        self._bind(flat, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._bind([node.target], node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Subscript) and self.is_environ(node.target.value):
            self.report(node, "os.environ item assignment")
        if self.is_environ(node.target):
            self.report(node, "os.environ updated in place (|=)")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            if isinstance(t, ast.Subscript) and self.is_environ(t.value):
                self.report(node, "os.environ item deletion")
        self.generic_visit(node)

    # ---- calls

    def visit_Call(self, node: ast.Call) -> None:
        q = self.qual(node.func) or ""
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                self.report(node, "shell= (only a literal shell=False is allowed)")
        if q in _CODE_BUILTINS and not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args):
            self.report(node, f"{q}() of non-literal input")
        if q in _FORBIDDEN_CALLS:
            self.report(node, _FORBIDDEN_CALLS[q])
        if q.startswith(_FORBIDDEN_PREFIXES):
            self.report(node, f"{q} replaces or spawns a process outside _util.run_command")
        if q == "yaml.load":
            loader = next((kw.value for kw in node.keywords if kw.arg == "Loader"), node.args[1] if len(node.args) > 1 else None)
            if loader is None or not (self.qual(loader) or "").endswith(("SafeLoader", "CSafeLoader")):
                self.report(node, "yaml.load without Loader=yaml.SafeLoader")
        if q == "subprocess.Popen" and self.name.split("/")[-1] not in POPEN_ALLOWED:
            self.report(node, "subprocess.Popen outside _util.run_command")
        if q in _SUBPROCESS_NEEDS_TIMEOUT and not any(kw.arg == "timeout" for kw in node.keywords):
            self.report(node, f"{q} without timeout= (use _util.run_command)")
        if (q.endswith("run_command") and q.split(".")[-1] == "run_command"
                and not any(kw.arg in ("env", None) for kw in node.keywords)):
            self.report(node, "run_command without an explicit env=")
        if isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATING_METHODS and self.is_environ(node.func.value):
            self.report(node, f"os.environ.{node.func.attr}() mutates the environment")
        self.generic_visit(node)


def scan_source(name: str, source: str) -> list[Violation]:
    """Every rule *source* breaks (*name* is its path relative to src/cudadoctor)."""
    scanner = _Scanner(name, source)
    scanner.visit(ast.parse(source, filename=name))
    return scanner.found


def test_the_scan_covers_the_package() -> None:
    names = {p.relative_to(SRC).as_posix() for p in FILES}
    assert {"_util.py", "cli.py", "probes/_torch_child.py", "probes/_driver_child.py", "probes/_libs_child.py",
            "bench/_bench_child.py", "triage/parse.py"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_source_is_clean(path: Path) -> None:
    name = path.relative_to(SRC).as_posix()
    found = scan_source(name, path.read_text(encoding="utf-8"))
    assert not found, "\n".join(str(v) for v in found)


BAD = {
    "import subprocess\nsubprocess.run('ls', shell=True, timeout=1)": "shell=",
    "import subprocess as sp\nsp.check_output(['ls'], shell=flag, timeout=1)": "shell=",
    "from subprocess import run\nrun(['ls'])": "without timeout=",
    "import subprocess\nsubprocess.Popen(['ls'])": "Popen outside",
    "eval(text)": "eval() of non-literal",
    "exec(compile(src, 'f', 'exec'))": "exec() of non-literal",
    "import builtins\nbuiltins.eval(x)": "builtins.eval() of non-literal",
    "import os\nos.system('ls')": "os.system",
    "from os import popen\npopen('ls')": "os.popen",
    "import os\nos.execv('/bin/sh', ['sh'])": "os.execv",
    "import pickle\npickle.loads(data)": "pickle.loads",
    "import yaml\nyaml.load(text)": "yaml.load without",
    "import yaml\nyaml.load(text, Loader=yaml.Loader)": "yaml.load without",
    "import os\nos.environ['X'] = '1'": "item assignment",
    "import os\nos.environ.update(X='1')": "update()",
    "import os\nos.environ.setdefault('X', '1')": "setdefault()",
    "import os\nos.environ.pop('X')": "pop()",
    "import os\ndel os.environ['X']": "item deletion",
    "import os\nos.putenv('X', '1')": "os.putenv",
    "from os import environ\nenviron['X'] = '1'": "item assignment",
    "import os\nenv = os.environ\nenv['X'] = '1'": "item assignment",
    "import os\nos.environ |= {'X': '1'}": "in place",
    "from cudadoctor._util import run_command\nrun_command(['ls'], timeout=1)": "explicit env=",
}
GOOD = (
    "import subprocess\nsubprocess.run(['ls'], shell=False, timeout=5)",
    "import re\nre.compile(pattern)",
    "eval('1 + 1')",
    "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
    "import yaml\nyaml.safe_load(text)",
    "import os\nenv = dict(os.environ)\nenv['X'] = '1'\nenv.update(Y='2')",
    "import os\nenv = os.environ if x is None else x\nprint(env.get('X'))",
    "import os\nos.environ.get('X')",
    "from cudadoctor._util import run_command\nrun_command(['ls'], timeout=1, env={})",
    "spec.loader.exec_module(module)",
)


@pytest.mark.parametrize("source,rule", BAD.items(), ids=range(len(BAD)))
def test_scanner_catches(source: str, rule: str) -> None:
    found = scan_source("x.py", source)
    assert any(rule in v.rule for v in found), f"{source!r}: {[str(v) for v in found]}"


@pytest.mark.parametrize("source", GOOD, ids=range(len(GOOD)))
def test_scanner_allows(source: str) -> None:
    assert scan_source("x.py", source) == []
