"""The slow-facts cache: hits, misses on any changed dependency, atomic writes, corrupt-file recovery."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from cudadoctor import cache as cache_mod
from cudadoctor.cache import CACHE_KIND, CACHE_SCHEMA, KEEP_PER_AREA, FactsCache, area_key, dependency_paths
from cudadoctor.facts import TorchFacts, Unavailable
from tests.conftest import env_facts, without_system_driver
from tests.healthcheck.conftest import clean_env, run_healthcheck

ENV = {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/opt/lib"}


@pytest.fixture
def torch_facts() -> TorchFacts:
    value = env_facts("healthy_h100_cu128").torch
    assert isinstance(value, TorchFacts)
    return value


def key(**overrides: object) -> dict[str, object]:
    base = area_key("torch", python=sys.executable, environ=ENV, cwd="/work", driver={"gpus": [["GPU-1", []]]})
    base.update(overrides)
    return base


def test_store_then_load_round_trips(cache_dir: Path, torch_facts: TorchFacts, tmp_path: Path) -> None:
    dep = tmp_path / "dep"
    dep.mkdir()
    c = FactsCache.open(cache_dir)
    assert c.store("torch", key(), torch_facts, [str(dep)])
    value, why = c.load("torch", key())
    assert why == "" and value == torch_facts
    assert [p.name for p in cache_dir.iterdir()] == [c.path_for("torch", key()).name]  # no temp file left


def test_a_changed_dependency_is_a_miss(cache_dir: Path, torch_facts: TorchFacts, tmp_path: Path) -> None:
    dep = tmp_path / "site-packages"
    dep.mkdir()
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [str(dep)])
    (dep / "new-package.dist-info").mkdir()  # pip install changes the directory
    value, why = c.load("torch", key())
    assert value is None and why == f"{dep} changed"


def test_a_dependency_that_appears_or_disappears_is_a_miss(cache_dir: Path, torch_facts: TorchFacts, tmp_path: Path) -> None:
    missing = tmp_path / "cuda-12.8"
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [str(missing)])
    assert c.load("torch", key())[0] == torch_facts
    missing.mkdir()
    assert c.load("torch", key()) == (None, f"{missing} changed")


def test_a_touched_file_is_a_miss(cache_dir: Path, torch_facts: TorchFacts, tmp_path: Path) -> None:
    lib = tmp_path / "libcudnn.so.9"
    lib.write_bytes(b"x")
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [str(lib)])
    st = lib.stat()
    os.utime(lib, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert c.load("torch", key())[1] == f"{lib} changed"


@pytest.mark.parametrize("change", [
    {"env": {**key()["env"], "CUDA_VISIBLE_DEVICES": "1"}},  # type: ignore[dict-item]
    {"driver": {"gpus": []}},
    {"cwd": "/elsewhere"},
    {"cudadoctor": "999.0"},
])
def test_a_changed_key_is_a_miss(cache_dir: Path, torch_facts: TorchFacts, change: dict[str, object]) -> None:
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [])
    assert c.load("torch", key(**change))[0] is None
    assert c.load("torch", key())[0] == torch_facts


def test_same_file_with_another_key_inside_is_a_miss(cache_dir: Path, torch_facts: TorchFacts) -> None:
    """The full key is stored and compared, so even a file-name collision cannot serve wrong facts."""
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [])
    path = c.path_for("torch", key())
    entry = json.loads(path.read_text())
    entry["key"]["cwd"] = "/other"
    path.write_text(json.dumps(entry))
    assert c.load("torch", key()) == (None, "key changed")


@pytest.mark.parametrize("damage, why", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "corrupt entry (not JSON)"),
    (lambda p: p.write_bytes(b"\x00\xff garbage \x13"), "corrupt entry (not JSON)"),
    (lambda p: p.write_text(""), "corrupt entry (not JSON)"),
    (lambda p: p.write_text('{"schema_version": 1, "kind": "cudadoctor-facts"}'), "foreign entry"),
    (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "schema": CACHE_SCHEMA + 1})), "foreign entry"),
    (lambda p: p.write_text("[1, 2, 3]"), "foreign entry"),
])
def test_corrupt_entries_are_ignored_and_rewritten(cache_dir: Path, torch_facts: TorchFacts, damage, why: str) -> None:  # type: ignore[no-untyped-def]
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [])
    path = c.path_for("torch", key())
    damage(path)
    value, reason = c.load("torch", key())
    assert value is None and reason.startswith(why)
    assert c.store("torch", key(), torch_facts, [])
    assert c.load("torch", key()) == (torch_facts, "")


def test_valid_entry_with_undecodable_facts_is_a_miss(cache_dir: Path, torch_facts: TorchFacts) -> None:
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [])
    path = c.path_for("torch", key())
    entry = json.loads(path.read_text())
    entry["facts"]["version"] = 42
    path.write_text(json.dumps(entry))
    value, why = c.load("torch", key())
    assert value is None and why.startswith("corrupt entry (") and "torch.version" in why


def test_write_is_atomic(cache_dir: Path, torch_facts: TorchFacts, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails half-way leaves the previous entry intact and no temp file behind."""
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [])
    before = c.path_for("torch", key()).read_bytes()

    import os

    from cudadoctor import keyed_entries

    real_fdopen = os.fdopen

    def half_written(fd: int, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        f = real_fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]

        def write(text: str) -> int:
            f.__class__.write(f, text[: len(text) // 2])
            raise OSError(28, "No space left on device")

        f.write = write  # type: ignore[method-assign]
        return f

    monkeypatch.setattr(keyed_entries.os, "fdopen", half_written)
    assert c.store("torch", key(), torch_facts, []) is False
    assert "No space left on device" in c.note
    assert c.path_for("torch", key()).read_bytes() == before
    assert [p.name for p in cache_dir.iterdir()] == [c.path_for("torch", key()).name]


def test_unusable_directory_disables_the_cache(tmp_path: Path, torch_facts: TorchFacts) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    c = FactsCache.open(blocker / "cache")
    assert not c.enabled and "unusable" in c.note
    assert c.store("torch", key(), torch_facts, []) is False
    assert c.load("torch", key())[0] is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_entries_of_another_user_are_ignored(cache_dir: Path, torch_facts: TorchFacts) -> None:
    c = FactsCache.open(cache_dir)
    c.store("torch", key(), torch_facts, [])
    os.chown(c.path_for("torch", key()), 65534, 65534)
    assert c.load("torch", key()) == (None, "entry not a regular file owned by this user")


def test_old_entries_are_pruned(cache_dir: Path, torch_facts: TorchFacts) -> None:
    c = FactsCache.open(cache_dir)
    for i in range(KEEP_PER_AREA + 3):
        c.store("torch", key(cwd=f"/w{i}"), torch_facts, [])
        time.sleep(0.002)
    names = {p.name for p in cache_dir.iterdir()}
    assert len(names) == KEEP_PER_AREA
    assert c.path_for("torch", key(cwd=f"/w{KEEP_PER_AREA + 2}")).name in names
    assert c.path_for("torch", key(cwd="/w0")).name not in names


def test_failures_that_may_be_transient_are_not_cached(torch_facts: TorchFacts) -> None:
    from dataclasses import replace

    assert cache_mod.cacheable("torch", torch_facts)
    assert not cache_mod.cacheable("torch", replace(torch_facts, status="import-timeout"))
    assert not cache_mod.cacheable("torch", replace(torch_facts, status="import-crashed"))
    assert not cache_mod.cacheable("cuda_libs", Unavailable(probe="cuda_libs", reason="x"))


def test_dependencies_name_what_the_facts_came_from(torch_facts: TorchFacts) -> None:
    facts = env_facts("healthy_h100_cu128")
    torch_deps = dependency_paths("torch", torch_facts, environ=ENV, sys_path=["/site", ""])
    assert isinstance(torch_facts.location, str)
    assert {torch_facts.location, os.path.dirname(torch_facts.location), "/site", "/etc/ld.so.cache"} <= set(torch_deps)
    libs_deps = dependency_paths("cuda_libs", facts.cuda_libs, environ={**ENV, "CUDA_HOME": "/opt/cuda"})
    assert facts.cuda_libs.searched and set(facts.cuda_libs.searched) <= set(libs_deps)  # type: ignore[union-attr]
    assert {"/opt/cuda", "/opt/lib", "/usr/local"} <= set(libs_deps)
    tk_deps = dependency_paths("toolkit", facts.toolkit, environ=ENV)
    assert {"/usr/bin", "/usr/bin/gcc", "/usr/local/cuda"} <= set(tk_deps)


def test_default_directory_follows_xdg() -> None:
    assert cache_mod.default_cache_dir({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/cudadoctor")
    assert cache_mod.default_cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == Path("/h/.cache/cudadoctor")
    assert cache_mod.default_cache_dir({"HOME": "/h"}) == Path("/h/.cache/cudadoctor")


# --------------------------------------------------------------------------------------------
# end to end (real probes on this machine: the first run imports torch, ~3 s)


def test_cold_then_cached_then_invalidated(cache_dir: Path, tmp_path: Path) -> None:
    args = ["--format", "json", "--cache-dir", str(cache_dir)]
    cold = run_healthcheck(args)
    data = cold.json()
    assert data["cached"] == {"cuda_libs": False, "toolkit": False, "torch": False}
    assert data["cache"]["misses"] == {"cuda_libs": "no entry", "toolkit": "no entry", "torch": "no entry"}
    assert data["torch"]  # the cold run computed torch within the deadline
    assert {p.name.split("-")[0] for p in cache_dir.iterdir()} == {"cuda_libs", "toolkit", "torch"}

    warm = run_healthcheck(args)
    data2 = warm.json()
    assert data2["cached"] == {"cuda_libs": True, "toolkit": True, "torch": True}
    assert (data2["reasons"], data2["torch"]) == (data["reasons"], data["torch"])  # same verdict from the cache

    # A new LD_LIBRARY_PATH entry changes what torch and the library scan may load.
    libdir = tmp_path / "lib"
    libdir.mkdir()
    env = clean_env(LD_LIBRARY_PATH=str(libdir))
    moved = run_healthcheck(args, env=env).json()
    assert moved["cached"] == {"cuda_libs": False, "toolkit": True, "torch": False}
    assert moved["cache"]["misses"]["torch"] == "no entry"
    assert run_healthcheck(args, env=env).json()["cached"] == {"cuda_libs": True, "toolkit": True, "torch": True}

    # A library dropped into a searched directory: the scan is stale, torch and the toolkit are not.
    (libdir / "libcudart.so.12").write_bytes(b"")
    touched = run_healthcheck(args, env=env).json()
    assert touched["cached"] == {"cuda_libs": False, "toolkit": True, "torch": True}
    assert touched["cache"]["misses"]["cuda_libs"] == f"{libdir} changed"


def test_corrupt_cache_files_end_to_end(cache_dir: Path, python_without_torch: str) -> None:
    args = ["--format", "json", "--cache-dir", str(cache_dir), "--python", python_without_torch]
    run_healthcheck(args)
    for path in cache_dir.iterdir():
        if path.name.startswith("toolkit-"):
            path.write_text('{"kind": "something-else"}')
        elif path.name.startswith("cuda_libs-"):
            path.write_bytes(path.read_bytes()[:100])
    data = run_healthcheck(args).json()
    assert data["cached"] == {"cuda_libs": False, "toolkit": False, "torch": True}
    assert data["cache"]["misses"]["cuda_libs"].startswith("corrupt entry")
    assert data["cache"]["misses"]["toolkit"].startswith("foreign entry")
    assert run_healthcheck(args).json()["cached"] == {"cuda_libs": True, "toolkit": True, "torch": True}


@without_system_driver  # asserts the no-driver reason comes first
def test_unwritable_cache_runs_without_cache(tmp_path: Path, python_without_torch: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_healthcheck(["--format", "json", "--cache-dir", str(blocker / "sub"), "--python", python_without_torch])
    data = r.json()
    assert r.code == 1  # this machine has no driver; the cache problem is not a reason
    assert [x["name"] for x in data["reasons"]][0] == "no-nvidia-driver"
    assert "unusable" in data["cache"]["note"]
    assert data["cached"] == {"cuda_libs": False, "toolkit": False, "torch": False}


def test_no_cache_option(cache_dir: Path, python_without_torch: str) -> None:
    data = run_healthcheck(
        ["--format", "json", "--cache-dir", str(cache_dir), "--no-cache", "--python", python_without_torch]
    ).json()
    assert data["cached"] == {"cuda_libs": False, "toolkit": False, "torch": False}
    assert list(cache_dir.iterdir()) == []


def test_default_cache_directory_from_environment(tmp_path: Path, python_without_torch: str) -> None:
    env = clean_env(XDG_CACHE_HOME=str(tmp_path / "xdg"), CUDADOCTOR_PYTHON=python_without_torch)
    run_healthcheck(["--no-cache"], env=env)
    assert not (tmp_path / "xdg").exists()
    run_healthcheck([], env=env)
    assert any((tmp_path / "xdg" / "cudadoctor").iterdir())
    env = clean_env(CUDADOCTOR_CACHE_DIR=str(tmp_path / "explicit"), CUDADOCTOR_PYTHON=python_without_torch)
    run_healthcheck([], env=env)
    assert any((tmp_path / "explicit").iterdir())


def test_cache_entry_layout(cache_dir: Path, python_without_torch: str) -> None:
    """What an entry holds (the docs describe it)."""
    run_healthcheck(["--cache-dir", str(cache_dir), "--python", python_without_torch])
    entry = json.loads(next(p for p in cache_dir.iterdir() if p.name.startswith("torch-")).read_text())
    assert entry["kind"] == CACHE_KIND and entry["schema"] == CACHE_SCHEMA and entry["area"] == "torch"
    assert {"python", "env", "cudadoctor", "cwd", "proc_driver_version"} <= set(entry["key"])
    # the driver state torch saw is live state, compared after this run's driver probe
    assert {"nvml_status", "gpus", "cu_init"} <= set(entry["live"]) and isinstance(entry["stored_at"], float)
    assert entry["key"]["python"][0] == os.path.realpath(python_without_torch)
    # torch is not installed: installing it changes a site-packages directory of that interpreter
    assert any(p.endswith("site-packages") for p in entry["deps"])
    assert entry["facts"]["status"] == "not-installed"


def test_default_directory_falls_back_to_a_private_temp_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    fallback = tmp_path / "tmp" / "cudadoctor-0"
    c = FactsCache.open(blocker / "cudadoctor", fallbacks=[fallback])
    assert c.enabled and c.directory == fallback
    assert f"cache directory {blocker / 'cudadoctor'} unusable" in c.note
    assert fallback.stat().st_mode & 0o777 == 0o700


def test_a_shared_fallback_directory_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    c = FactsCache.open(blocker / "x", fallbacks=[shared])
    assert not c.enabled
    assert "writable by others" in c.note and c.note.endswith("running without cache")


def test_home_without_a_writable_cache_uses_the_fallback(tmp_path: Path, python_without_torch: str) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("")  # HOME is a file: ~/.cache cannot be created
    env = clean_env(HOME=str(blocker), XDG_CACHE_HOME="", TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    data = run_healthcheck(["--format", "json", "--python", python_without_torch], env=env).json()
    assert data["cache"]["directory"] == str(tmp_path / "tmp" / f"cudadoctor-{os.geteuid()}")
    again = run_healthcheck(["--format", "json", "--python", python_without_torch], env=env).json()
    assert again["cached"] == {"cuda_libs": True, "toolkit": True, "torch": True}


def test_stale_temp_files_of_killed_writers_are_removed(cache_dir: Path, torch_facts: TorchFacts) -> None:
    """A writer killed between mkstemp and rename leaves a temp file; the next store removes it once stale."""
    c = FactsCache.open(cache_dir)
    name = c.path_for("torch", key()).name
    stale, fresh, other = cache_dir / f".{name}.abc.tmp", cache_dir / f".{name}.def.tmp", cache_dir / "notes.tmp"
    for p in (stale, fresh, other):
        p.write_text('{"kind": "cudadoctor-healthcheck-cache", "par')
    old = time.time() - cache_mod.STALE_TEMP_S - 5
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert c.store("torch", key(), torch_facts, [])
    assert not stale.exists()
    assert fresh.exists()  # possibly another healthcheck writing right now
    assert other.exists()  # not ours
    assert c.load("torch", key()) == (torch_facts, "")


def test_healthchecks_killed_at_any_moment_never_break_the_next(tmp_path: Path, python_without_torch: str) -> None:
    """SIGKILL cold healthchecks at moments spread over a whole run (as Docker does past
    HEALTHCHECK --timeout): the next healthcheck still answers normally and the cache recovers."""
    import signal
    import subprocess

    from tests.healthcheck.conftest import ENTRY

    def args(d: Path) -> list[str]:
        return [sys.executable, "-c", ENTRY, "--format", "json", "--cache-dir", str(d), "--python", python_without_torch]

    reference = run_healthcheck(args(tmp_path / "reference")[3:])
    assert reference.code in (0, 1)
    cache = tmp_path / "cache"
    kills = 8
    for i in range(kills):
        # NOTE: a fresh (cold) cache each time, so every kill lands somewhere in probing or writing.
        for p in cache.glob("*") if cache.exists() else ():
            p.unlink()
        proc = subprocess.Popen(args(cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=clean_env(), start_new_session=True)
        time.sleep(reference.seconds * (i + 0.5) / kills)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        after = run_healthcheck(args(cache)[3:])
        assert after.code == reference.code, (i, after.out, after.err)
        data = after.json()
        assert data["healthy"] == json.loads(reference.out)["healthy"]
        assert "Traceback" not in after.err
        # what the killed run left is now either valid, or replaced: the run after that is all hits
        assert run_healthcheck(args(cache)[3:]).json()["cached"] == {"cuda_libs": True, "toolkit": True, "torch": True}
