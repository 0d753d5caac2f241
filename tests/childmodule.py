"""Load a child script as its parent runs it (the shared prelude, then its source), as a module for tests."""

from __future__ import annotations

import types
from pathlib import Path

from cudadoctor.childrecords import child_program


def child_module(path: Path, name: str) -> types.ModuleType:
    """The child script at *path* executed as module *name* (its main() guarded by ``__name__``)."""
    module = types.ModuleType(name)
    module.__file__ = str(path)
    exec(compile(child_program(path.read_text(encoding="utf-8")), str(path), "exec"), module.__dict__)  # noqa: S102
    return module
