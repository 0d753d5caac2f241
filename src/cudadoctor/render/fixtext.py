"""Split a finding's fix text into prose, shell commands and comments, so renderers can put each
command on a line of its own (copyable) and each comment on its own line.

Fix texts are written as sentences for every output format (JSON keeps them verbatim). Two shapes
carry commands: backtick spans (`` `sudo ldconfig` ``), and clauses that *are* a command, with
an optional parenthesised remark after it (``unset LD_LIBRARY_PATH   (drops /opt/x; ...)``). This
module only finds those pieces; it never changes a command's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["prose", "command", "comment"]

#: Words that start a shell command in our fix texts (a clause starting with one is a command).
COMMAND_WORDS = frozenset({
    "apt", "apt-get", "cat", "conda", "cuobjdump", "docker", "dnf", "echo", "env", "export", "file", "grep",
    "kubectl", "ldconfig", "ln", "ls", "mkdir", "modprobe", "mount", "nvcc", "nvidia-ctk", "nvidia-modprobe",
    "nvidia-smi", "pip", "pip3", "podman", "python", "python3", "rmmod", "sbatch", "source", "srun", "sudo",
    "systemctl", "torchrun", "ubuntu-drivers", "ulimit", "unset", "uv", "yum",
})
#: Words that join a clause to the one before it ("...; or: CMD", "...; meanwhile CMD").
_CONNECTORS = ("or:", "or", "then", "meanwhile", "otherwise", "and")
_PATH_COMMAND = re.compile(r"^/\S*/(?:bin/\S+|python[0-9.]*|pip[0-9.]*)$")
_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


@dataclass(frozen=True, slots=True)
class Piece:
    """One part of a fix text: a sentence fragment, a command, or a remark about the command before it."""

    kind: Kind
    text: str


def split_fix(fix: str) -> list[Piece]:
    """The pieces of *fix*, in order; joining their texts gives back its words."""
    if "`" in fix:
        return _backticked(fix)
    pieces: list[Piece] = []
    for clause in _top_level_split(fix, "; "):
        more = _clause(clause)
        if more and more[0].kind == "prose" and pieces and pieces[-1].kind == "prose":
            # NOTE: two prose clauses stay one sentence, with the semicolon that joined them.
            pieces[-1] = Piece("prose", f"{pieces[-1].text}; {more.pop(0).text}")
        pieces += more
    return _merged(pieces)


def _backticked(fix: str) -> list[Piece]:
    """Backtick spans that hold a whole command go on their own; fragments (a flag, a YAML key) stay in the prose."""
    if fix.count("`") % 2:  # an unpaired backtick: not commands after all
        return [Piece("prose", fix.strip())]
    pieces: list[Piece] = []
    for i, part in enumerate(fix.split("`")):
        if i % 2 and _is_command(part.strip()):
            pieces.append(Piece("command", part.strip()))
        elif i % 2:
            pieces.append(Piece("prose", f"`{part}`"))
        elif re.search(r"\w", part) or (pieces and pieces[-1].kind == "prose"):
            # NOTE: after a command, a leading ", " or "; " only joined it to the sentence.
            pieces.append(Piece("prose", part.lstrip(" ,;") if pieces and pieces[-1].kind == "command" else part))
        # prose that is only punctuation (a closing ")." after a command) is dropped: the command line ends it
    return _merged(pieces, glue="")


def _is_command(text: str) -> bool:
    """Whether *text* starts like a shell command (a known command word, a path to one, VAR=...)."""
    word = text.split(" ", 1)[0]
    return bool(word) and (word in COMMAND_WORDS or bool(_PATH_COMMAND.match(word)) or bool(_ASSIGNMENT.match(word)))


def _clause(clause: str) -> list[Piece]:
    """A clause of plain fix text: [prose lead-in], command, [comment] -- or prose alone."""
    text = clause.strip()
    if not text:
        return []
    start = _command_start(text)
    if start is None:
        return [Piece("prose", text)]
    out: list[Piece] = []
    if start:
        out.append(Piece("prose", text[:start].strip()))
    command, comment = _split_comment(text[start:])
    out.append(Piece("command", command))
    if comment:
        out.append(Piece("comment", comment))
    return out


def _command_start(text: str) -> int | None:
    """Where a command begins in *text*: at its start, after a connector word, or after ": "."""
    candidates = [0]
    first = text.split(" ", 1)[0]
    if first in _CONNECTORS and " " in text:
        candidates.append(len(first) + 1)
    candidates += [m.end() for m in re.finditer(r": ", text)]
    for pos in candidates:
        if _is_command(text[pos:]):
            return pos
    return None


def _split_comment(text: str) -> tuple[str, str]:
    """Split ``CMD   (remark)`` / ``CMD (remark)`` at a top-level parenthesis that runs to the end."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(" and depth == 0 and i > 0 and text[i - 1] == " " and text.rstrip().endswith(")"):
            if _balanced(text[i:].rstrip()):
                return text[:i].rstrip(), text[i:].rstrip()[1:-1].strip()
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
    return text.strip(), ""


def _balanced(text: str) -> bool:
    """Whether *text* is one parenthesised group from its first to its last character."""
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and i != len(text) - 1:
            return False
    return depth == 0


def _top_level_split(text: str, sep: str) -> list[str]:
    """Split at *sep* outside quotes and parentheses."""
    out, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(sep, i):
            out.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    out.append(text[start:])
    return out


def _merged(pieces: list[Piece], glue: str = " ") -> list[Piece]:
    """Adjacent prose pieces joined (with *glue*), then trimmed; empty prose dropped."""
    out: list[Piece] = []
    for p in pieces:
        if p.kind == "prose" and out and out[-1].kind == "prose":
            out[-1] = Piece("prose", f"{out[-1].text}{glue}{p.text}")
        else:
            out.append(p)
    return [Piece(p.kind, p.text.strip()) for p in out if p.text.strip()]


def command_lines(command: str, width: int) -> list[str]:
    """*command* broken at spaces outside quotes into lines of at most *width*, joined by `` \\``.

    Each line but the last ends in `` \\`` (shell line continuation), so pasting the lines runs the
    same command. A word longer than *width* stays whole: a command is never broken inside a word.
    """
    words = _shell_words(command)
    lines: list[str] = []
    current = ""
    for w in words:
        candidate = f"{current} {w}" if current else w
        if current and len(candidate) + 2 > width:
            lines.append(current + " \\")
            current = w
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _shell_words(command: str) -> list[str]:
    """Words of *command* split at spaces outside single/double quotes (the quotes kept)."""
    words, current, quote = [], "", ""
    for ch in command:
        if quote:
            current += ch
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            current += ch
            quote = ch
        elif ch == " ":
            if current:
                words.append(current)
            current = ""
        else:
            current += ch
    if current:
        words.append(current)
    return words
