"""Environment variables a paste sets or prints: Python code, shells, launch scripts, Dockerfiles, echoes.

Only names in the env probe's allow-list (cudadoctor.probes.env.wanted) are kept, so a secret
pasted by mistake never becomes a fact.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cudadoctor.probes.env import wanted
from cudadoctor.triage.extract.record import RANK_COMMAND, RANK_OUTPUT, Found

if TYPE_CHECKING:
    from cudadoctor.triage.normalise import Normalised

_NAME = r"([A-Z_][A-Z0-9_]{1,60})"
_Q = r"""["']"""
_VALUE = r"""("[^"\n]{0,1000}"|'[^'\n]{0,1000}'|[^\s"';&|]{0,1000})"""
#: (pattern, how, substrings of which the text must hold one for the pattern to be worth running)
_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    # os.environ["X"] = "v"; os.environ.setdefault("X", "v"); os.putenv("X", "v")
    (re.compile(r"os\.environ\s{0,2}\[\s{0,2}" + _Q + _NAME + _Q + r"\s{0,2}\]\s{0,2}=\s{0,2}" + _VALUE), "set in Python code", ("os.environ",)),
    (re.compile(r"os\.(?:environ\.setdefault|putenv)\(\s{0,2}" + _Q + _NAME + _Q + r"\s{0,2},\s{0,2}" + _VALUE), "set in Python code", ("os.",)),
    # export X=v / set X=v (cmd.exe) / $env:X = "v" (PowerShell) / ENV X=v (Dockerfile) / docker -e X=v
    (re.compile(r"(?:^|[\s;&(])(?:export|setenv|set)\s{1,4}" + _NAME + r"=" + _VALUE, re.MULTILINE), "set in a shell", ("export", "set")),
    (re.compile(r"\$env:" + _NAME + r"\s{0,2}=\s{0,2}" + _VALUE), "set in PowerShell", ("$env:",)),
    (re.compile(r"^\s{0,4}ENV\s{1,4}" + _NAME + r"(?:=|\s{1,4})" + _VALUE, re.MULTILINE), "set in a Dockerfile", ("ENV",)),
    (re.compile(r"(?:\s-e|\s--env)[\s=]" + _NAME + r"=" + _VALUE), "passed to a container", ("-e", "--env")),
    (re.compile(r"^\s{0,8}-\s{1,4}" + _NAME + r"=" + _VALUE + r"\s*$", re.MULTILINE), "set in a compose/Kubernetes file", ("- ",)),
    # NOTE: a Markdown bullet holding one assignment and nothing else ("* NODE_RANK=0") lists the environment
    (re.compile(r"^\s{0,8}[*•]\s{1,4}" + _NAME + r"=" + _VALUE + r"\s*$", re.MULTILINE), "listed in the text's environment", ("* ", "• ")),
)
# X=v Y=w python train.py (assignments before a command); "env X=v cmd"
_PREFIXED = re.compile(r"^\s{0,8}(?:env\s{1,4})?((?:[A-Z_][A-Z0-9_]{1,60}=(?:\"[^\"\n]{0,300}\"|'[^'\n]{0,300}'|\S{0,300})\s{1,4}){1,12})(?=[\w./~-])", re.MULTILINE)
_ASSIGN = re.compile(r"([A-Z_][A-Z0-9_]{1,60})=(\"[^\"\n]{0,300}\"|'[^'\n]{0,300}'|\S{0,300})")
# echo $LD_LIBRARY_PATH  (the next line is its value); printenv X
_ECHO = re.compile(r"(?:echo\s{1,4}[\"']?\$\{?|printenv\s{1,4})" + _NAME + r"\}?[\"']?\s{0,4}\n([^\n]{0,1000})")
_REF = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]{0,60}\}?|%[A-Za-z_][A-Za-z0-9_]{0,60}%")


def _clean(value: str) -> tuple[str, bool]:
    """The value without quotes and without $-references ("/x:$LD_LIBRARY_PATH" -> "/x"); and whether any were dropped."""
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1]
    if not _REF.search(v):
        return v, False
    sep = ";" if ";" in v else ":"
    kept = [p for p in v.split(sep) if not _REF.search(p)]
    return sep.join(kept), True


def extract(norm: Normalised) -> list[Found]:
    """env.<NAME> records for every allowed variable the paste sets or prints."""
    text = norm.text
    out: list[Found] = []
    for pattern, how, needles in _PATTERNS:
        if not any(n in text for n in needles):
            continue
        for m in pattern.finditer(text):
            _add(out, norm, m.group(1), m.group(2), m.start(1), how)
    for m in _PREFIXED.finditer(text):
        for a in _ASSIGN.finditer(m.group(1)):
            _add(out, norm, a.group(1), a.group(2), m.start(1) + a.start(), "set before a command")
    for m in (_ECHO.finditer(text) if "echo" in text or "printenv" in text else ()):
        name, value = m.group(1), m.group(2).strip()
        if not wanted(name) or value.startswith(("$", "echo ", "export ")) or " " in value.strip():
            continue
        out.append(Found(f"env.{name}", value, norm.locate(m.start(2)), RANK_OUTPUT, how="", last_wins=True))
    return out


def _add(out: list[Found], norm: Normalised, name: str, raw: str, at: int, how: str) -> None:
    if not wanted(name):
        return
    value, dropped = _clean(raw)
    if dropped and not value:
        return
    out.append(Found(f"env.{name}", value, norm.locate(at), RANK_COMMAND, stated=not dropped,
                     how=f"{how}; its $-references left out" if dropped else how, last_wins=True))
