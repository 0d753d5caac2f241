"""The Python version from text: the REPL banner, `python --version`, conda specs, wheel tags, prose."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cudadoctor.triage.extract.record import RANK_COMMAND, RANK_FILE, RANK_OUTPUT, RANK_PROSE, Found

if TYPE_CHECKING:
    from cudadoctor.triage.normalise import Normalised

_PY = r"(3\.\d{1,2}(?:\.\d{1,2})?)"
# "Python 3.7.5 (default, Oct 25 2019, 15:51:11)" (the REPL banner) / "Python 3.10.12" alone on a line
_BANNER = re.compile(r"^\s{0,4}Python " + _PY + r"(?: \(|\s*$)", re.MULTILINE)
_CONDA = re.compile(r"(?:conda|mamba)\s(?:create|install)\s[^\n]{0,300}?(?<![\w-])python\s{0,2}==?\s{0,2}" + _PY + r"(?![\d.])")
# torch-2.1.0+cu121-cp310-cp310-linux_x86_64.whl
_WHEEL = re.compile(r"torch-\d[^\s/-]{0,40}-cp3(\d{1,2})-")
# NOTE: "python3.8" glued to its number is a path or an executable name, not a statement.
_PROSE = re.compile(
    r"(?<![\w./-])[Pp]ython(?:\s{1,2}version)?(?:\s{1,2}is|:|\s?=)?\s{1,2}v?" + _PY + r"(?![\d/]|\.\d)"
)


def extract(norm: Normalised) -> list[Found]:
    """torch.python_version records (the interpreter torch runs in) found in *norm*."""
    text = norm.text
    if "ython" not in text and "cp3" not in text:
        return []
    out: list[Found] = []
    for m in _BANNER.finditer(text):
        out.append(Found("torch.python_version", m.group(1), norm.locate(m.start(1)), RANK_OUTPUT))
    for m in _CONDA.finditer(text):
        out.append(Found("torch.python_version", m.group(1), norm.locate(m.start(1)), RANK_COMMAND, stated=False,
                         how="the python= of a conda create/install command", last_wins=True))
    for m in (_WHEEL.finditer(text) if "cp3" in text else ()):
        out.append(Found("torch.python_version", f"3.{m.group(1)}", norm.locate(m.start(1)), RANK_FILE, stated=False,
                         how=f"from the torch wheel's cp3{m.group(1)} tag"))
    for m in _PROSE.finditer(text):
        out.append(Found("torch.python_version", m.group(1), norm.locate(m.start(1)), RANK_PROSE))
    return out
