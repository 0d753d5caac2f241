"""The guarded output sink (cudadoctor.output) in-process: fallbacks, encodings, and what a
closed, full or missing stream becomes."""

from __future__ import annotations

import io
import os

import pytest

from cudadoctor import output


@pytest.mark.parametrize(("ch", "ascii_text"), [
    ("\u2014", "-"), ("\u2192", "->"), ("\u2713", "ok"), ("\u2717", "x"), ("\u26a0", "!"), ("\u2026", "..."),
    ("\u2500", "-"), ("\u2502", "|"), ("\u250c", "+"), ("\u2550", "="), ("\u2588", "#"), ("\u00e9", "e"),
    ("\udcff", "\\xff"), ("\u4e2d", "?"),
])
def test_fallback_is_ascii(ch: str, ascii_text: str) -> None:
    """Every character has an ASCII stand-in; the ones cudadoctor prints have readable ones."""
    assert output.fallback(ch) == ascii_text


def test_encode_keeps_what_the_encoding_can_show() -> None:
    """latin-1 keeps é, replaces the dash; UTF-8 keeps both; a lone surrogate never raises."""
    assert output.encode("caf\u00e9 \u2014 ok", "latin-1") == "caf\u00e9 - ok".encode("latin-1")
    assert output.encode("caf\u00e9 \u2014", "utf-8") == "caf\u00e9 \u2014".encode()
    assert output.encode("/opt/\udcff/lib", "utf-8") == b"/opt/\\xff/lib"
    assert output.encode("x", "no-such-codec") == b"x"


def _stream_on(fd: int, encoding: str = "utf-8", *, strict: bool = True) -> output.GuardedStream:
    raw = io.TextIOWrapper(io.BufferedWriter(io.FileIO(fd, "w", closefd=False)), encoding=encoding)
    return output.GuardedStream(raw, "stdout", strict=strict)


def test_closed_pipe_raises_once_then_drops() -> None:
    """EPIPE: OutputClosed once; later writes and flushes are dropped silently."""
    read, write = os.pipe()
    os.close(read)
    try:
        stream = _stream_on(write)
        with pytest.raises(output.OutputClosed):
            stream.write("report\n")
        assert stream.broken == "closed"
        stream.write("more\n")
        stream.flush()
    finally:
        os.close(write)


def test_full_device_is_one_tool_error() -> None:
    """ENOSPC: OutputFailed (a CudaDoctorError, exit 2) naming the cause."""
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        stream = _stream_on(fd)
        with pytest.raises(output.OutputFailed, match="No space left"):
            stream.write("report\n")
    finally:
        os.close(fd)


def test_lenient_stream_never_raises() -> None:
    """healthcheck's stdout: failures recorded, never raised."""
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        stream = _stream_on(fd, strict=False)
        stream.write("healthy\n")
        assert stream.broken and stream.broken.startswith("failed")
    finally:
        os.close(fd)


def test_missing_stream_is_a_failure() -> None:
    """sys.stdout is None (descriptor 1 closed at start-up): writing is an OutputFailed."""
    stream = output.GuardedStream(None, "stdout", strict=True)
    with pytest.raises(output.OutputFailed, match="closed"):
        stream.write("x")


def test_ascii_stream_degrades() -> None:
    """An ASCII stdout gets the stand-ins, and reports its encoding (rich picks ASCII boxes)."""
    read, write = os.pipe()
    try:
        stream = _stream_on(write, "ascii")
        assert stream.encoding == "ascii"
        stream.write("ok \u2713 \u2014 \u2192 \u2500\u2502\n")
        assert os.read(read, 100) == b"ok ok - -> -|\n"
    finally:
        os.close(read)
        os.close(write)


def test_text_only_stream() -> None:
    """A stream without a buffer (a test's StringIO) receives the degraded text."""
    raw = io.StringIO()
    stream = output.GuardedStream(raw, "stdout", strict=True)  # type: ignore[arg-type]
    stream.write("a \u2014 b")
    assert raw.getvalue() == "a \u2014 b"


def test_failure_in_another_thread_is_raised_in_the_main_thread() -> None:
    """A write from a worker thread on a closed pipe is dropped there (no thread traceback); the
    main thread's next write raises OutputClosed."""
    import threading

    read, write = os.pipe()
    os.close(read)
    try:
        stream = _stream_on(write)
        worker = threading.Thread(target=stream.write, args=("from a thread\n",))
        worker.start()
        worker.join()
        assert stream.broken == "closed"
        with pytest.raises(output.OutputClosed):
            stream.write("from main\n")
    finally:
        os.close(write)


def test_binary_side_has_the_same_guards() -> None:
    """Bytes written to ``.buffer`` (click, cached help text) go through the same guards."""
    read, write = os.pipe()
    os.close(read)
    try:
        stream = _stream_on(write)
        with pytest.raises(output.OutputClosed):
            stream.buffer.write(b"cached help\n")
    finally:
        os.close(write)
