"""Rich renderables for the terminal report's layout: hanging indents and copyable fix blocks.

rich wraps a long line back to the padding's left edge, so a heading or an evidence value that
wraps would lose its indent (in a log file, a CI page, `| less`). These renderables wrap at the
width rich gives them and indent every continuation line, and they print each fix command on a
line of its own, broken only at spaces outside quotes with a trailing `` \\`` so the lines paste
into a shell as one command.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.text import Text

from cudadoctor.render.fixtext import command_lines, split_fix


def _wrapped(console: Console, text: Text, width: int) -> list[Text]:
    """*text* wrapped to *width* cells (at least 10, so a tiny terminal still shows words)."""
    return list(text.wrap(console, max(10, width), overflow="fold"))


def _emit(console: Console, pad: int, line: Text) -> Iterator[Segment]:
    yield Segment(" " * pad)
    yield from line.render(console)
    yield Segment.line()


class Hanging:
    """A paragraph whose first line starts at *indent* and whose continuation lines start at *hang*."""

    def __init__(self, text: Text, indent: int, hang: int) -> None:
        self.text, self.indent, self.hang = text, indent, hang

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        """Wrap at the narrower of the two widths so every line fits."""
        width = options.max_width - max(self.indent, self.hang)
        for i, line in enumerate(_wrapped(console, self.text, width)):
            yield from _emit(console, self.indent if i == 0 else self.hang, line)


class FixBlock:
    """A finding's fix: prose wrapped with its indent, each command on its own line, comments as ``# ...`` lines."""

    def __init__(self, fix: str, indent: int) -> None:
        self.fix, self.indent = fix, indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        """Lay the pieces out for the width rich gives."""
        inner = self.indent + 2
        width = options.max_width
        label = Text("Fix:", style="bold green")
        pieces = split_fix(self.fix)
        first = pieces[0] if pieces else None
        if first is not None and first.kind == "prose":
            head = Text.assemble(label, " ", first.text)
            pieces = pieces[1:]
            for i, line in enumerate(_wrapped(console, head, width - inner)):
                yield from _emit(console, self.indent if i == 0 else inner, line)
        else:
            yield from _emit(console, self.indent, label)
        for p in pieces:
            if p.kind == "command":
                # NOTE: never folded: a command line is copied as a whole, so it may run past the width
                # only where a single word is longer than the line.
                for i, line in enumerate(command_lines(p.text, width - inner - 4)):
                    yield from _emit(console, inner + 2 if i == 0 else inner + 4, Text(line, style="bold"))
            elif p.kind == "comment":
                for line in _wrapped(console, Text(p.text, style="dim"), width - inner - 4):
                    yield from _emit(console, inner + 2, Text.assemble(Text("# ", style="dim"), line))
            else:
                for line in _wrapped(console, Text(p.text), width - inner):
                    yield from _emit(console, inner, line)
