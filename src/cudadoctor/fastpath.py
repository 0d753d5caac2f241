"""Fast start-up for `cudadoctor --help`, `cudadoctor CMD --help` and `cudadoctor explain ...`.

These print the same text every time until cudadoctor, typer or the terminal change, yet the
typer path costs ~0.2-0.3 s (typer, rich, every command module, every check class). So the first
run goes through typer while its stdout is copied; when it succeeds (exit 0, nothing on stderr),
the text is stored in the cache directory, keyed by everything it depends on:

* the arguments, cudadoctor's version and the stat signature of every source file of the
  package (a new check, an edited docstring or option changes the text);
* typer's and rich's installed files (an upgrade changes the rendering);
* what rich and typer read to decide layout and colour: whether each standard stream is a
  terminal and its size, the stream encoding, and the environment variables they consult
  (TERM, COLUMNS, NO_COLOR, FORCE_COLOR, ...), plus every CUDADOCTOR_* variable.

A later run with an equal key writes the stored bytes and exits 0 without importing typer. Any
doubt (a missing, corrupt, foreign, symlinked or other user's entry, an unusable directory, shell
completion, CUDADOCTOR_FRESH) means the typer path, so the fast path can only ever print what
typer printed for the same key; tests/test_fastpath.py compares the two.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from cudadoctor import keyed_entries
from cudadoctor._version import __version__

#: Marks an output entry in the cache directory.
OUTPUT_KIND = "cudadoctor-output-cache-1"
#: Commands whose `--help` is served (the typer CLI's commands; others go through typer).
HELP_COMMANDS = frozenset({"check", "explain", "rules", "triage", "bench", "healthcheck", "gate", "snapshot", "diff", "fleet"})
#: Environment variables rich, typer and its click read to lay out and colour the help.
RENDER_VARIABLES = (
    "TERM", "COLORTERM", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "PY_COLORS", "CLICOLOR", "CLICOLOR_FORCE",
    "GITHUB_ACTIONS", "TERMINAL_WIDTH", "_TYPER_FORCE_DISABLE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
    "JUPYTER_COLUMNS", "JUPYTER_LINES", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LANGUAGE",
    "PYTHONIOENCODING", "PYTHONUTF8",
)
#: Prefixes of variables that are part of the key as whole families.
RENDER_PREFIXES = ("CUDADOCTOR_", "TYPER_", "_TYPER_", "RICH_")
#: Variables that mean a shell is asking for completions: never served from the cache.
COMPLETION_VARIABLES = ("_CUDADOCTOR_COMPLETE", "COMP_WORDS", "COMP_CWORD")
#: Libraries whose rendering the text depends on (their installed files are part of the key).
RENDERERS = ("typer", "rich")


def servable(argv: Sequence[str]) -> bool:
    """Whether *argv* is one of the invocations this module may answer from the cache."""
    args = list(argv)
    if args in ([], ["--help"]):
        return True
    if len(args) == 2 and args[1] == "--help" and args[0] in HELP_COMMANDS:
        return True
    if args[:1] == ["explain"]:
        rest = args[1:]
        # `explain NAME`, `explain --list`, either with --format json: plain prints, no terminal rendering.
        plain = [a for a in rest if a not in ("--list",)]
        if len(plain) >= 2 and plain[-2] in ("--format", "-f") and plain[-1] in ("json", "terminal"):
            plain = plain[:-2]
        return len(plain) <= 1 and all(not a.startswith("-") for a in plain)
    return False


def _signature(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size]


def source_signature(root: str) -> list[Any]:
    """Stat signatures of every file under the package directory *root* (sorted; bytecode caches left out)."""
    out: list[Any] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".toml", ".json", ".txt", ".md")):
                path = os.path.join(directory, name)
                out.append([os.path.relpath(path, root), _signature(path)])
    return out


def renderer_signature(search: Sequence[str]) -> dict[str, Any]:
    """Where typer and rich are installed (first match on *search*, i.e. sys.path) and their
    __init__.py's stat signature: an upgrade rewrites it."""
    found: dict[str, Any] = {}
    for name in RENDERERS:
        for entry in search:
            init = os.path.join(entry or ".", name, "__init__.py")
            sig = _signature(init)
            if sig is not None:
                found[name] = [os.path.abspath(init), sig]
                break
        else:
            found[name] = None
    return found


def _terminal(fd: int) -> list[Any]:
    try:
        tty = os.isatty(fd)
    except OSError:
        return [False, None]
    try:
        size = list(os.get_terminal_size(fd)) if tty else None
    except OSError:
        size = None
    return [tty, size]


def output_key(argv: Sequence[str], environ: Mapping[str, str], stdout: TextIO) -> dict[str, Any]:
    """Everything the text printed for *argv* depends on, as JSON data."""
    from cudadoctor.cache import value_digest

    root = os.path.dirname(os.path.abspath(__file__))
    env = {k: environ.get(k) for k in RENDER_VARIABLES}
    # NOTE: digests, not values: a CUDADOCTOR_* or TYPER_* variable could hold anything, and entries are files.
    env.update({k: value_digest(v) for k, v in sorted(environ.items()) if k.startswith(RENDER_PREFIXES)})
    return {
        "argv": list(argv),
        "cudadoctor": __version__,
        "python": [sys.executable, sys.version],
        "sources": source_signature(root),
        "renderers": renderer_signature(sys.path),
        "env": env,
        "terminals": [_terminal(fd) for fd in (0, 1, 2)],
        "encoding": getattr(stdout, "encoding", None),
    }


def lookup(directory: str, key: Mapping[str, Any]) -> bytes | None:
    """The stored output for *key*, or None (missing, unreadable, foreign, another key inside)."""
    payload = keyed_entries.lookup(directory, "output", OUTPUT_KIND, key)
    text = payload.get("stdout") if payload is not None else None
    return text.encode("utf-8", "surrogateescape") if isinstance(text, str) else None


def store(directory: str, key: Mapping[str, Any], output: bytes) -> None:
    """Write the entry atomically; failures are ignored (the next run takes the typer path again)."""
    keyed_entries.store(directory, "output", OUTPUT_KIND, key, {"stdout": output.decode("utf-8", "surrogateescape")})


class _Tee:
    """A text stream that writes through to *inner* and keeps a copy of the bytes (what typer printed).

    Text is copied encoded as the stream encodes it; writes to ``.buffer`` (click writes bytes
    there) are copied as they are, in the same order.
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self.copy: list[bytes] = []
        self._encoding = getattr(inner, "encoding", None) or "utf-8"
        self._errors = getattr(inner, "errors", None) or "strict"

    def write(self, text: Any) -> int:
        if isinstance(text, (bytes, bytearray)):
            self.copy.append(bytes(text))
            return self._inner.buffer.write(text)  # type: ignore[no-any-return]
        self.copy.append(str(text).encode(self._encoding, self._errors))
        return self._inner.write(text)

    @property
    def buffer(self) -> Any:
        return _BinaryTee(self)

    def __getattr__(self, name: str) -> Any:
        # NOTE: isatty, fileno, encoding, flush...: rich and click see the real stream.
        return getattr(self._inner, name)


class _BinaryTee:
    """The binary side of a :class:`_Tee`."""

    def __init__(self, tee: _Tee) -> None:
        self._tee = tee

    def write(self, data: bytes) -> int:
        self._tee._inner.flush()  # NOTE: keep text already written ahead of these bytes
        self._tee.copy.append(bytes(data))
        return self._tee._inner.buffer.write(data)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tee._inner.buffer, name)


def main(argv: Sequence[str], run_typer: Any, *, environ: Mapping[str, str] | None = None) -> None:
    """Answer *argv* from the cache, or run *run_typer(argv)* (the typer CLI) and cache its output.

    Exits like the typer CLI: the stored text and 0 on a hit.
    """
    env = os.environ if environ is None else environ
    fresh = env.get("CUDADOCTOR_FRESH", "").strip().lower() in ("1", "true", "yes", "on", "y", "t")
    directory = None if fresh or any(v in env for v in COMPLETION_VARIABLES) else keyed_entries.cache_directory(env)
    key: dict[str, Any] | None = None
    if directory is not None:
        key = output_key(argv, env, sys.stdout)
        hit = lookup(directory, key)
        if hit is not None:
            out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
            if out is not None:
                sys.stdout.flush()
                out.write(hit)
                out.flush()
            else:
                sys.stdout.write(hit.decode("utf-8", "surrogateescape"))
            sys.exit(0)
    tee, err = _Tee(sys.stdout), _Tee(sys.stderr)
    sys.stdout, sys.stderr = tee, err  # type: ignore[assignment]
    code: Any = 1
    try:
        run_typer(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code
        raise
    finally:
        sys.stdout, sys.stderr = tee._inner, err._inner
        if code in (0, None) and not err.copy and tee.copy:
            if directory is None:
                directory = _ensure_directory(env)
            if directory is not None:
                if key is None:
                    key = output_key(argv, env, sys.stdout)
                sys.stdout.flush()
                store(directory, key, b"".join(tee.copy))


def _ensure_directory(environ: Mapping[str, str]) -> str | None:
    """The cache directory, created 0700 when missing (the slow path only); None when unusable or fresh."""
    if environ.get("CUDADOCTOR_FRESH", "").strip().lower() in ("1", "true", "yes", "on", "y", "t"):
        return None
    if any(v in environ for v in COMPLETION_VARIABLES):
        return None
    from pathlib import Path

    from cudadoctor.cache import FactsCache, default_cache_dir

    explicit = environ.get("CUDADOCTOR_CACHE_DIR")
    cache = FactsCache.open(Path(explicit) if explicit else default_cache_dir(environ))
    return keyed_entries.cache_directory(environ) if cache.enabled else None
