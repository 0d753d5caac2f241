"""cudadoctor: an environment compatibility doctor for PyTorch on NVIDIA GPUs.

Public API: :func:`check` (probe + judge, returns a Report), :func:`collect_facts`,
:func:`evaluate`, :func:`load_tables`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from cudadoctor.api import check, collect_facts, evaluate, load_tables  # noqa: E402
from cudadoctor.report import Report  # noqa: E402

__all__ = ["Report", "__version__", "check", "collect_facts", "evaluate", "load_tables"]
