"""cudadoctor: an environment compatibility doctor for PyTorch on NVIDIA GPUs.

Public API: :func:`check` (probe + judge, returns a Report), :func:`collect_facts`,
:func:`evaluate`, :func:`load_tables`, :class:`Report`, and :func:`gate` (the pre-training
gate: returns the Report or raises :class:`EnvironmentNotReady`). Imported lazily, so `import cudadoctor`
and the CLI's start-up stay cheap. In IPython, ``%load_ext cudadoctor`` adds the ``%cudadoctor`` magic.
"""

from __future__ import annotations

from typing import Any

from cudadoctor._version import __version__

__all__ = ["EnvironmentNotReady", "Report", "__version__", "check", "collect_facts", "evaluate", "gate", "load_tables"]


def load_ipython_extension(ipython: Any) -> None:
    """IPython's ``%load_ext cudadoctor`` hook: registers ``%cudadoctor`` (imports nothing of IPython)."""
    from cudadoctor.notebook import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    if name in ("check", "collect_facts", "evaluate", "load_tables", "gate", "EnvironmentNotReady"):
        from cudadoctor import api

        return getattr(api, name)
    if name == "Report":
        from cudadoctor.report import Report

        return Report
    raise AttributeError(f"module 'cudadoctor' has no attribute {name!r}")
