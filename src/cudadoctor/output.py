"""The one guarded sink for everything the CLI writes to stdout and stderr.

The CLI entry points call :func:`install`, which puts a :class:`GuardedStream` in place of
``sys.stdout`` and ``sys.stderr`` for the life of the process, so ``print()``, click's echo, rich
consoles and every ``sys.stdout.write`` go through it. What it guarantees:

- an encoding that cannot show a character (``PYTHONIOENCODING=ascii``, a latin-1 terminal, a
  Windows code page) degrades it — ASCII fallbacks for dashes, arrows, icons and box drawing, a
  byte that was not UTF-8 in the first place (a path, an environment value) as ``\\xNN`` — instead
  of raising ``UnicodeEncodeError``;
- a reader that went away (``cudadoctor check | head``) raises :class:`OutputClosed` once, which the
  boundary turns into a quiet exit with 141 (128 + SIGPIPE, what a shell reports for a Unix tool
  that a closed pipe ended); the interpreter's last flush stays silent;
- any other write failure on stdout (ENOSPC on ``> /dev/full``, EIO on a hung-up terminal, a closed
  descriptor) raises :class:`OutputFailed`, a CudaDoctorError: one line on stderr, exit 2;
- stderr never raises: a diagnostic that cannot be written is dropped.

In *lenient* mode (``healthcheck``, whose meaning is only its exit code 0/1) stdout failures are
recorded and dropped too, never raised.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import sys
import threading
import unicodedata
from typing import Any, TextIO

from cudadoctor.errors import CudaDoctorError

#: Exit status after the reader of stdout went away: 128 + SIGPIPE, as a shell reports a tool that
#: a closed pipe ended.
EXIT_PIPE_CLOSED = 141

_ERRORS = "cudadoctor-fallback"

#: ASCII for the characters cudadoctor's own text uses (dashes, arrows, icons, quotes).
_ASCII: dict[str, str] = {
    "\u2014": "-", "\u2013": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "*", "\u00b7": ".", "\u25cf": "*", "\u25cb": "o", "\u2219": ".",
    "\u2192": "->", "\u2190": "<-", "\u2191": "^", "\u2193": "v", "\u21d2": "=>", "\u2194": "<->",
    "\u2713": "ok", "\u2714": "ok", "\u2705": "ok", "\u2717": "x", "\u2718": "x", "\u274c": "x",
    "\u2716": "x", "\u26a0": "!", "\u2757": "!", "\u2139": "i", "\u2753": "?",
    "\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u2248": "~", "\u00d7": "x", "\u00b1": "+/-",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"',
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u00b5": "u", "\u00b0": " deg",
    "\ufffd": "?",
}


def fallback(ch: str) -> str:
    """ASCII text standing in for *ch* where the output encoding cannot show it."""
    if ch in _ASCII:
        return _ASCII[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if 0x2500 <= code <= 0x257F:  # box drawing: rich tables and panels
        name = unicodedata.name(ch, "")
        horizontal, vertical = "HORIZONTAL" in name, "VERTICAL" in name
        if horizontal and not vertical:
            return "=" if "DOUBLE" in name else "-"
        if vertical and not horizontal:
            return "|"
        return "+"
    if 0x2580 <= code <= 0x259F:  # block elements: bars
        return "#"
    ascii_part = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    return ascii_part if ascii_part.isprintable() and ascii_part else "?"


def _error_handler(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    chunk = exc.object[exc.start:exc.end]
    return "".join(fallback(ch) for ch in chunk), exc.end


codecs.register_error(_ERRORS, _error_handler)


def encode(text: str, encoding: str) -> bytes:
    """*text* in *encoding*, every character it cannot show replaced by its ASCII fallback."""
    try:
        return text.encode(encoding, _ERRORS)
    except LookupError:  # an unknown codec name in PYTHONIOENCODING: UTF-8 is the best guess
        return text.encode("utf-8", _ERRORS)


class OutputClosed(Exception):
    """The reader of stdout went away (EPIPE): stop quietly."""


class OutputFailed(CudaDoctorError):
    """stdout cannot be written (ENOSPC, EIO, a closed descriptor): one line, exit 2."""


def _describe(e: OSError) -> str:
    if e.strerror:
        return e.strerror
    return os.strerror(e.errno) if e.errno else str(e)


class GuardedStream(io.TextIOBase):
    """A text stream in front of a real one: encodes with fallbacks, turns write failures into
    the outcomes the module docstring lists. One instance each for stdout and stderr."""

    def __init__(self, raw: TextIO | None, name: str, *, strict: bool) -> None:
        super().__init__()
        self._raw = raw
        self._name = name
        self._strict = strict
        #: why writing stopped ("closed", "failed: ..."); everything after is dropped
        self.broken: str | None = None if raw is not None else "failed: the descriptor is closed"
        self._reported = False

    # -- what rich, click and print() look at
    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The real stream's encoding (rich picks ASCII boxes when it is not UTF-8)."""
        enc = getattr(self._raw, "encoding", None)
        return enc or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        """The error handler this stream applies."""
        return _ERRORS

    @property
    def name(self) -> str:
        """``<stdout>`` or ``<stderr>``."""
        return f"<{self._name}>"

    def isatty(self) -> bool:
        """Whether the real stream is a terminal (False once it broke)."""
        try:
            return self.broken is None and bool(self._raw is not None and self._raw.isatty())
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        """The real stream's descriptor."""
        if self._raw is None:
            raise io.UnsupportedOperation("fileno")
        return self._raw.fileno()

    def writable(self) -> bool:
        """Always: a write that cannot happen is handled, never refused up front."""
        return True

    # -- writing
    def write(self, text: str) -> int:  # type: ignore[override]
        """Write *text* (degraded for the encoding) and flush; see the module docstring for failures."""
        if self.broken is not None:
            return self._fail_again(len(text))
        self.write_bytes(encode(text, self.encoding))
        return len(text)

    def write_bytes(self, data: bytes) -> int:
        """Write already-encoded *data* (click and cached help write bytes) with the same guards."""
        if self.broken is not None:
            return self._fail_again(len(data))
        try:
            buffer = getattr(self._raw, "buffer", None)
            if buffer is not None:
                self._raw.flush()  # type: ignore[union-attr]  # text written to it before us first
                buffer.write(data)
                buffer.flush()
            else:  # a text-only stream (tests): hand it the text
                self._raw.write(bytes(data).decode(self.encoding, "replace"))  # type: ignore[union-attr]
                self._raw.flush()  # type: ignore[union-attr]
        except (OSError, ValueError) as e:
            self._broke(e)
        return len(data)

    @property
    def buffer(self) -> _GuardedBuffer:
        """The binary side: bytes written here get the same guards."""
        return _GuardedBuffer(self)

    def flush(self) -> None:
        """Flush the real stream (failures handled as for write)."""
        if self.broken is not None or self._raw is None:
            return
        try:
            self._raw.flush()
        except (OSError, ValueError) as e:
            self._broke(e)

    def _broke(self, e: OSError | ValueError) -> None:
        if isinstance(e, OSError) and e.errno in (errno.EPIPE, errno.ECONNRESET):
            self.broken = "closed"
        else:
            what = _describe(e) if isinstance(e, OSError) else "the stream is closed"
            self.broken = f"failed: {what}"
        _silence(self._raw)
        self._fail_again(0)

    def _fail_again(self, n: int) -> int:
        """Raise the failure once, in the main thread (strict stdout); drop silently otherwise.

        NOTE: an exception in another thread (the gate's watchdog printing its table) would only
        reach threading.excepthook, which prints a traceback; the main thread's next write raises.
        """
        if not self._strict or self._reported or self.broken is None:
            return n
        if threading.current_thread() is not threading.main_thread():
            return n
        self._reported = True
        if self.broken == "closed":
            raise OutputClosed(self._name)
        raise OutputFailed(f"cannot write to {self._name}: {self.broken.removeprefix('failed: ')}")


class _GuardedBuffer:
    """``GuardedStream.buffer``: a binary stream writing through the guarded one."""

    def __init__(self, stream: GuardedStream) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        """Write *data* through the guards."""
        return self._stream.write_bytes(data)

    def flush(self) -> None:
        """Flush through the guards."""
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        # NOTE: fileno, isatty, ...: callers see the real stream's.
        return getattr(self._stream, name)


def _silence(raw: Any) -> None:
    """Point the real stream's descriptor at /dev/null, so the interpreter's final flush of what
    is still buffered there cannot print "Exception ignored ... BrokenPipeError"."""
    try:
        fd = raw.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, OSError, ValueError):
        return
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)


def _occupy_closed_descriptors() -> None:
    """Open /dev/null on fds 0-2 that are closed (``cudadoctor check >&-``).

    NOTE: otherwise the next file or pipe opened takes the number, and a write meant for stdout
    would land in a cache file or a child's pipe.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                got = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return
            if got != fd:
                os.dup2(got, fd)
                os.close(got)


_installed: dict[str, GuardedStream] = {}


def install(*, strict: bool = True) -> None:
    """Route sys.stdout and sys.stderr through guarded streams (CLI entry points only; idempotent).

    *strict* False (healthcheck): stdout failures are dropped, never raised.
    """
    if _installed:
        return
    stdout, stderr = sys.stdout, sys.stderr
    _occupy_closed_descriptors()
    _installed["stdout"] = GuardedStream(stdout, "stdout", strict=strict)
    _installed["stderr"] = GuardedStream(stderr, "stderr", strict=False)
    sys.stdout = _installed["stdout"]
    sys.stderr = _installed["stderr"]


def err(text: str) -> None:
    """Write *text* to stderr through the sink; never raises."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, UnicodeError, AttributeError):
        pass


def finish() -> None:
    """Flush both streams at the end of a run; a failure here is dropped (the exit code is set)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, OutputClosed, OutputFailed, AttributeError):
            pass
