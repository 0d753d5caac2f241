"""Clean pasted text into lines the parsers can read, keeping each line's number in the paste.

Copy-paste adds noise no parser should have to know about: CR line ends, terminal colour codes
(also in their caret form ``^[[1;36m``), shell and REPL prompts (``$ ``, ``# pip``, ``>>> ``,
``... ``, ``(venv) user@host:~$``, ``PS C:\\>``, ``In [3]:``), Markdown fences, inline backticks
and quote markers. :func:`normalise_text` removes them line by line (``lines`` stays one-to-one
with the pasted lines), then rejoins lines that a terminal, a forum or an e-mail client wrapped in
mid-sentence (``joined``), so a message split over two lines reads as one. Every joined line
remembers which pasted line each of its pieces came from.

Bounded: a paste longer than MAX_CHARS keeps its first and last halves; lines longer than MAX_LINE
are cut; a joined line holds at most MAX_JOIN pieces.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property

#: Most characters cleaned; a longer paste keeps its head and tail (errors sit at the end).
MAX_CHARS = 4 * 1024 * 1024
#: Longest line kept: every regex then runs on bounded input.
MAX_LINE = 2000
#: Most pasted lines one joined line is made of (a wrapped paragraph, not a whole log).
MAX_JOIN = 24
#: Shortest line that can have been wrapped: wraps happen near a width of 70-120 columns.
MIN_WRAPPED = 40

_ANSI = re.compile(r"(?:\x1b|\^\[)\[[0-9;?]{0,32}[A-Za-z]|\x1b\][^\x07\n]{0,200}\x07")
_FENCE = re.compile(r"^\s{0,8}(?:```|~~~)[\w+.-]{0,30}\s*$")
# NOTE: "# " is a root prompt only before a command; conda list headers and comments keep theirs.
_COMMANDS = (
    r"(?:sudo\s)?(?:pip3?|python[\d.]{0,4}|conda|mamba|micromamba|nvidia-smi|nvcc|export|echo|ls|cat|apt|apt-get|yum|dnf"
    r"|docker|podman|torchrun|deepspeed|accelerate|ldd|ldconfig|cd|env|source|uv|poetry|git|which|make|cmake|bash|sh)\b"
)
_PROMPTS = re.compile(
    r"^(?:"
    r"(?:\([\w.\-/ ]{1,60}\)\s{1,2})?[\w.-]{1,64}@[\w.-]{1,64}:[^\s$#]{0,200}\s?[$#]\s?"  # (venv) user@host:~/x$
    r"|(?:\([\w.\-/ ]{1,60}\)\s{1,2})?\[[\w.-]{1,64}@[\w.-]{1,64}\s[^\]]{0,200}\][$#]\s?"  # [user@host dir]$
    r"|(?:\([\w.\-/ ]{1,60}\)\s{1,2})?PS\s[A-Za-z]:\\[^>]{0,200}>\s?"  # PS C:\Users\x>
    r"|(?:\([\w.\-/ ]{1,60}\)\s{1,2})?[A-Za-z]:\\[^>\s]{0,200}>\s?(?=\S)"  # C:\Users\x>python
    r"|(?:\([\w.\-/ ]{1,60}\)\s{1,2})\$\s"  # (base) $ cmd
    r"|\$\s"
    r"|#\s(?=" + _COMMANDS + r")"
    r"|>>>\s?|\.\.\.\s"
    r"|In\s\[\d{1,5}\]:\s?|Out\[\d{1,5}\]:\s?"
    r")"
)
#: Lines that start something of their own: never glued onto the line before.
_STARTS_ANEW = re.compile(
    # NOTE: a progress bar ("  0%|###| 0/1") is a new write to the terminal, never a wrapped sentence.
    r"^(?:Traceback\b|File\s\"|During handling|The above exception|[\[|+#$>*=<{}`~-]|\d{1,4}[.)]\s|\d{1,3}%\|"
    r"|terminate called|frame #\d|Segmentation fault|Killed\b|Aborted\b|\(core dumped\)"
    r"|[\w.]{0,80}(?:Error|Exception|Warning|Exit|Interrupt)\b|[A-Z][\w ()/-]{0,40}:\s"
    r"|(?:NVIDIA-SMI|Driver Version|CUDA Version|GPU\s\d)|" + _COMMANDS + r"|\w{1,80}\s{0,2}={1,3}\s{0,2}\d)"
)
_ERROR_LINE = re.compile(r"^[\w.]{0,80}(?:Error|Exception|Warning)\b")
#: Last words after which a wrapped line goes on with a number.
_WANTS_NUMBER = frozenset({"version", "versions", "is", "of", "to", "than", "with", "=", "at", "and", "or", "from", "v"})
#: Shortest line a wrap can leave before a capitalised word (prose wraps near 70-120 columns).
MIN_WRAPPED_UPPER = 60
_STRUCTURE = ("File \"", "[pip", "[conda", "+-", "|", "#")
_COLUMNS = re.compile(r"\S(?: {3,}|\t)\S")


@dataclass(frozen=True)
class JoinedLine:
    """One line of the joined view and the pasted lines it is made of."""

    text: str
    #: (character offset in text, 1-based pasted line number) of each piece, in order
    pieces: tuple[tuple[int, int], ...]

    def line_at(self, offset: int) -> int:
        """The pasted line number of the piece holding character *offset*."""
        line = self.pieces[0][1]
        for start, number in self.pieces:
            if start > offset:
                break
            line = number
        return line


@dataclass(frozen=True)
class Normalised:
    """A paste, cleaned: per-line (``lines``) and with wrapped lines rejoined (``joined``)."""

    lines: list[str]  #: cleaned lines, one per pasted line kept (fences become "")
    origin: list[int]  #: 1-based pasted line number of each entry of ``lines``
    joined: list[JoinedLine]  #: wrapped lines rejoined
    raw: dict[int, str] = field(default_factory=dict)  #: pasted line number -> the line as pasted (clipped)
    cut: bool = False  #: the paste was longer than MAX_CHARS and its middle was left out

    @cached_property
    def text(self) -> str:
        """The joined view as one string (what error signatures and extractors scan)."""
        return "\n".join(j.text for j in self.joined)

    @cached_property
    def _starts(self) -> list[int]:
        starts, at = [], 0
        for j in self.joined:
            starts.append(at)
            at += len(j.text) + 1
        return starts

    def locate(self, offset: int) -> int:
        """The 1-based pasted line number of character *offset* of :attr:`text`."""
        if not self.joined:
            return 1
        k = max(0, bisect_right(self._starts, offset) - 1)
        return self.joined[k].line_at(offset - self._starts[k])

    def pasted(self, number: int, limit: int = 200) -> str:
        """The pasted line *number* as it was pasted, clipped to *limit* characters."""
        return self.raw.get(number, "")[:limit]


def clean_line(line: str) -> str:
    """One pasted line without colour codes, quote markers, prompts, fences and backticks."""
    if len(line) > MAX_LINE:
        line = line[:MAX_LINE]
    if "\x1b" in line or "^[" in line:
        line = _ANSI.sub("", line)
    if "\x00" in line:
        line = line.replace("\x00", "")
    s = line.lstrip()
    # A quoted reply ("> > PyTorch version: ...") still carries the quoted report.
    while s.startswith(">") and not s.startswith(">>>"):
        if s == ">":
            return ""
        if s[1:2] not in (" ", ">"):
            break
        s = s[1:].lstrip()
        line = s
    if "`" in line or "~~~" in line:
        if _FENCE.match(line):
            return ""
        line = line.replace("`", "")
        s = line.lstrip()
    if s[:1] in "$#>.(PIOC[" or (s[:1].isalpha() and "@" in s[:130]) or (s[1:3] == ":\\"):
        m = _PROMPTS.match(s)
        if m and m.end() > 0:
            line = s[m.end():]
    return line.rstrip()


def _is_command(line: str) -> bool:
    """Whether pasted *line* is a command at a shell prompt that does not continue with a backslash."""
    s = line.lstrip()
    if not s or s.rstrip().endswith("\\"):
        return False
    m = _PROMPTS.match(s) if (s[:1] in "$#(PIC[" or (s[:1].isalpha() and "@" in s[:130]) or s[1:3] == ":\\") else None
    return bool(m and m.end() > 0)


def _can_join(a: str, b: str) -> bool:
    """Whether *b* continues *a* (a line wrapped mid-sentence)."""
    sa, sb = a.strip(), b.strip()
    if len(sa) < MIN_WRAPPED or not sb or sa[-1] in ".!?:;|" or sa.startswith(_STRUCTURE):
        return False
    if _COLUMNS.search(sa):
        return False  # NOTE: runs of spaces mark columns (pip list, nvidia-smi, tables), not prose
    ia = len(a) - len(a.lstrip())
    ib = len(b) - len(b.lstrip())
    if ib != ia and ib > 1:
        return False
    if _STARTS_ANEW.match(sb):
        return False
    first = sb[0]
    if _ERROR_LINE.match(sa) and not (first.islower() or first.isdigit() or first == "("):
        return False  # an error message ends there: the next sentence is the next message
    if first.isdigit():
        # NOTE: a number continues only a phrase that asks for one ("found version\n12040)");
        # otherwise it starts a log line (a timestamp, a step counter).
        return sa.count("(") > sa.count(")") or sa.rsplit(None, 1)[-1].lower() in _WANTS_NUMBER
    if first.isupper():
        return len(sa) >= MIN_WRAPPED_UPPER  # wrapped prose runs near the wrap width
    return True


def _lines(text: str) -> tuple[list[str], list[bool]]:
    """*text* split into lines, and for each whether it began after a lone carriage return.

    NOTE: a lone CR is a progress bar (tqdm) redrawing the terminal line, not a wrapped sentence:
    those pieces are lines of their own and are never rejoined to the line before.
    """
    lines: list[str] = []
    redrawn: list[bool] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        for k, piece in enumerate(line.split("\r")):
            lines.append(piece)
            redrawn.append(k > 0)
    return lines, redrawn


def _split(text: str) -> tuple[list[str], list[bool], int, int, bool]:
    """Pasted lines (head and tail when cut), which began after a lone CR, the number of the first
    tail line, and whether cut."""
    if len(text) <= MAX_CHARS:
        lines, redrawn = _lines(text)
        return lines, redrawn, 0, 0, False
    half = MAX_CHARS // 2
    head, head_redrawn = _lines(text[:half])
    tail_text = text[-half:]
    # NOTE: line numbers after the gap stay true to the paste: count the lines left out.
    first_tail = text.count("\n", 0, len(text) - half) + 1
    tail, tail_redrawn = _lines(tail_text)
    return head + tail, head_redrawn + tail_redrawn, len(head), first_tail, True


def normalise_text(text: str) -> Normalised:
    """Clean *text* (see the module docstring). Pure and total: never raises."""
    pasted, redrawn, tail_at, first_tail, cut = _split(text)
    lines: list[str] = []
    origin: list[int] = []
    raw: dict[int, str] = {}
    apart = list(redrawn)
    for i, line in enumerate(pasted):
        number = i + 1 if i < tail_at or not cut else first_tail + (i - tail_at)
        if i + 1 < len(apart) and _is_command(line):
            # NOTE: a command typed at a prompt ends at its newline (unless it ends with a \).
            apart[i + 1] = True
        lines.append(clean_line(line))
        origin.append(number)
        raw[number] = line[:300]
    return Normalised(lines=lines, origin=origin, joined=join_wrapped(lines, origin, apart), raw=raw, cut=cut)


def join_wrapped(lines: list[str], origin: list[int], redrawn: list[bool] | None = None) -> list[JoinedLine]:
    """Rejoin lines wrapped mid-sentence; blank lines, structure (tables, frames) and the lines
    marked in *redrawn* (a carriage return redrew them; the line before was a shell command) stay apart."""
    out: list[JoinedLine] = []
    i, n = 0, len(lines)
    while i < n:
        text = lines[i]
        pieces = [(0, origin[i])]
        j = i + 1
        while (j < n and len(pieces) < MAX_JOIN and len(text) < MAX_LINE and not (redrawn and redrawn[j])
               and _can_join(lines[j - 1], lines[j])):
            nxt = lines[j].strip()
            sep = "" if text.endswith(("-", "/", "_", "=")) and not text.endswith(" -") else " "
            pieces.append((len(text) + len(sep), origin[j]))
            text = f"{text}{sep}{nxt}"
            j += 1
        out.append(JoinedLine(text=text, pieces=tuple(pieces)))
        i = j
    return out


__all__ = ["MAX_CHARS", "MAX_LINE", "JoinedLine", "Normalised", "clean_line", "join_wrapped", "normalise_text"]
