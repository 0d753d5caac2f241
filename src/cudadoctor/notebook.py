"""The IPython extension: ``%load_ext cudadoctor`` adds the ``%cudadoctor`` line magic.

``%cudadoctor`` runs :func:`cudadoctor.check` in the notebook's own kernel, so it inspects the
interpreter the notebook actually uses (and the report says so), and displays the Report.
Options: ``%cudadoctor --kernels`` (also inspect the other kernels' torch), ``--select CODES``,
``--ignore CODES``, ``--json`` (print the JSON report). IPython itself is never imported here: the
shell object IPython passes in is all this needs.
"""

from __future__ import annotations

import shlex
from typing import Any

USAGE = "usage: %cudadoctor [--kernels] [--select CODES] [--ignore CODES] [--json]"


def parse_magic_args(line: str) -> dict[str, Any]:
    """The magic's argument line as options; raises ValueError with the usage for anything else."""
    opts: dict[str, Any] = {"kernels": False, "select": [], "ignore": [], "json": False}
    words = shlex.split(line)
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("--kernels", "--json"):
            opts[w[2:]] = True
        elif w in ("--select", "--ignore") and i + 1 < len(words):
            opts[w[2:]].append(words[i + 1])
            i += 1
        else:
            raise ValueError(f"unknown argument {w!r}; {USAGE}")
        i += 1
    return opts


def cudadoctor_magic(line: str = "") -> Any:
    """``%cudadoctor``: diagnose the kernel's own environment; returns the Report (displayed by Jupyter)."""
    from cudadoctor import api
    from cudadoctor.errors import CudaDoctorError

    try:
        opts = parse_magic_args(line)
        report = api.check(select=opts["select"], ignore=opts["ignore"], kernels=opts["kernels"])
    except (ValueError, CudaDoctorError) as e:
        print(f"cudadoctor: error: {e}")
        return None
    if opts["json"]:
        from cudadoctor.render.json_report import render as render_json

        print(render_json(report))
        return None
    return report


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%cudadoctor`` on the running IPython shell (called by ``%load_ext cudadoctor``)."""
    ipython.register_magic_function(cudadoctor_magic, magic_kind="line", magic_name="cudadoctor")
