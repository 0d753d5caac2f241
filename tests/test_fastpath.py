"""fastpath.py: `--help` and `explain` served from the cache print exactly what typer prints."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cudadoctor import fastpath


def run(args: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    full.update({"CUDADOCTOR_CACHE_DIR": str(cache), **env})
    return subprocess.run([sys.executable, "-m", "cudadoctor", *args], capture_output=True, timeout=120, env=full)


def typer_output(args: list[str], **env: str) -> bytes:
    """What the typer CLI prints, never through the fast path."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    full.update(env)
    code = "import sys; from cudadoctor.cli import main; main(sys.argv[1:])"
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, timeout=120, env=full)
    assert r.returncode == 0, r.stderr
    return r.stdout


CASES = [
    ["--help"],
    [],
    ["check", "--help"],
    ["gate", "--help"],
    ["explain", "DRV001"],
    ["explain", "gpu-ecc-errors", "--format", "json"],
    ["explain", "--list"],
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a) or "no-args")
@pytest.mark.parametrize("terminal", [{}, {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "123"}],
                         ids=["pipe", "forced-colour"])
def test_served_output_equals_typer_output(tmp_path: Path, args: list[str], terminal: dict[str, str]) -> None:
    cache = tmp_path / "cache"
    first = run(args, cache, **terminal)
    assert first.returncode == 0, first.stderr
    assert any(p.name.startswith("output-") for p in cache.iterdir()), "the first run stores the text"
    second = run(args, cache, **terminal)
    assert second.returncode == 0 and second.stderr == b""
    assert second.stdout == first.stdout == typer_output(args, **terminal)


def test_a_hit_imports_neither_typer_nor_the_checks(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run(["explain", "DRV001"], cache)
    code = ("import sys; sys.argv = ['cudadoctor', 'explain', 'DRV001']\n"
            "from cudadoctor.__main__ import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('typer', 'rich', 'cudadoctor.checks', 'cudadoctor.probes', 'cudadoctor.tables'))), file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**env, "CUDADOCTOR_CACHE_DIR": str(cache)})
    assert "DRV001 no-nvidia-driver" in r.stdout
    assert r.stderr.strip() == "[]"


def test_failures_are_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    r = run(["explain", "no-such-check"], cache)
    assert r.returncode == 2 and b"no check named" in r.stderr
    assert not cache.exists() or not any(p.name.startswith("output-") for p in cache.iterdir())


def test_fresh_goes_through_typer(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run(["--help"], cache)
    (entry,) = [p for p in cache.iterdir() if p.name.startswith("output-")]
    data = json.loads(entry.read_text())
    data["payload"]["stdout"] = "planted\n"
    entry.write_text(json.dumps(data))
    assert run(["--help"], cache).stdout == b"planted\n"  # (the entry is served as stored ...)
    assert run(["--help"], cache, CUDADOCTOR_FRESH="1").stdout != b"planted\n"  # ... --fresh bypasses it


def fake_main(calls: list[list[str]], text: str = "help text\n"):  # type: ignore[no-untyped-def]
    def run_typer(argv: list[str]) -> None:
        calls.append(argv)
        sys.stdout.write(text)
        raise SystemExit(0)

    return run_typer


def serve(argv: list[str], env: dict[str, str], calls: list[list[str]], text: str = "help text\n") -> str:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    saved = sys.stdout
    sys.stdout = out
    try:
        with pytest.raises(SystemExit) as e:
            fastpath.main(argv, fake_main(calls, text), environ=env)
        assert e.value.code in (0, None)
    finally:
        sys.stdout = saved
    out.flush()
    return out.buffer.getvalue().decode()  # type: ignore[attr-defined]


@pytest.mark.parametrize("change", [
    {"COLUMNS": "60"}, {"NO_COLOR": "1"}, {"TERM": "dumb"}, {"FORCE_COLOR": "1"}, {"LANG": "C"},
    {"CUDADOCTOR_FORMAT": "json"}, {"TYPER_USE_RICH": "0"},
])
def test_a_changed_rendering_variable_is_a_miss(tmp_path: Path, change: dict[str, str]) -> None:
    env = {"CUDADOCTOR_CACHE_DIR": str(tmp_path)}
    calls: list[list[str]] = []
    assert serve(["--help"], env, calls) == "help text\n"
    assert serve(["--help"], env, calls, "other\n") == "help text\n" and len(calls) == 1  # a hit
    assert serve(["--help"], {**env, **change}, calls, "changed\n") == "changed\n" and len(calls) == 2


def test_a_changed_source_file_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"CUDADOCTOR_CACHE_DIR": str(tmp_path)}
    calls: list[list[str]] = []
    serve(["--help"], env, calls)
    real = fastpath.source_signature
    monkeypatch.setattr(fastpath, "source_signature", lambda root: [*real(root), ["checks/new.py", [1, 2, 3, 4]]])
    assert serve(["--help"], env, calls, "new check\n") == "new check\n" and len(calls) == 2


def test_foreign_or_linked_entries_are_not_served(tmp_path: Path) -> None:
    env = {"CUDADOCTOR_CACHE_DIR": str(tmp_path)}
    calls: list[list[str]] = []
    serve(["--help"], env, calls)
    (entry,) = list(tmp_path.glob("output-*.json"))
    target = tmp_path / "elsewhere"
    entry.rename(target)
    entry.symlink_to(target)
    assert serve(["--help"], env, calls, "again\n") == "again\n" and len(calls) == 2
    assert not entry.is_symlink()  # replaced, not written through
    entry.write_text("{not json")
    assert serve(["--help"], env, calls, "third\n") == "third\n"


def test_servable() -> None:
    assert fastpath.servable([]) and fastpath.servable(["--help"]) and fastpath.servable(["check", "--help"])
    assert fastpath.servable(["explain", "DRV001"]) and fastpath.servable(["explain", "--list", "--format", "json"])
    assert not fastpath.servable(["check"]) and not fastpath.servable(["explain", "--bogus"])
    assert not fastpath.servable(["nosuch", "--help"]) and not fastpath.servable(["--version"])
