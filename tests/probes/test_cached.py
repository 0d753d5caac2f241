"""probes/cached.py: a cached slow fact is re-used only while nothing it depends on changed.

One test per invalidation key: the inspected interpreter (path and mtime), every environment
variable of each area's key (and the NVIDIA_* family), /proc/driver/nvidia/version, torch's and the
nvidia-* wheels' dist-info RECORDs, each library torch mapped (path, size, mtime), the driver's
live state, cudadoctor's version and the working directory. Plus --fresh, CUDADOCTOR_FRESH, and
entries that are corrupt, truncated, directory-shaped or symlinks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from cudadoctor import cache as cache_mod
from cudadoctor.cache import KEY_VARIABLES, FactsCache
from cudadoctor.facts import LoadedLibrary, ToolkitFacts, TorchFacts
from cudadoctor.probes.base import ProbeContext
from cudadoctor.probes.cached import SlowFacts, fresh_from_environment
from tests.conftest import env_facts

#: A changed key names another entry file (or, on a hash collision, finds another key inside).
KEY_MISS = ("no entry", "key changed")
BASE_ENV = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "/opt/lib", "HOME": "/home/u"}


class World:
    """A fake interpreter (a script printing its sys.path), a site-packages with RECORDs, a mapped
    library, a /proc/driver/nvidia/version file, and probes that count their calls."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp
        self.site = tmp / "site-packages"
        for dist in ("torch-2.7.1.dist-info", "nvidia_cudnn_cu12-9.5.1.17.dist-info", "torchvision-0.22.dist-info"):
            (self.site / dist).mkdir(parents=True)
            (self.site / dist / "RECORD").write_text("x\n")
        self.python = tmp / "bin" / "python"
        self.python.parent.mkdir()
        # NOTE: read_sys_path runs the inspected interpreter; this one answers with our site dir.
        self.python.write_text(f"#!/bin/sh\necho '{json.dumps([str(self.site)])}'\n")
        self.python.chmod(0o755)
        self.lib = tmp / "libcudnn.so.9"
        self.lib.write_bytes(b"\x7fELF" + b"\0" * 60)
        self.proc = tmp / "proc-version"
        self.proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.86.15\n")
        monkeypatch.setattr(cache_mod, "PROC_DRIVER_VERSION", str(self.proc))
        self.cache_dir = tmp / "cache"
        self.env = dict(BASE_ENV)
        self.cwd = str(tmp)
        self.driver: Any = env_facts("healthy_h100_cu128").driver
        torch = env_facts("healthy_h100_cu128").torch
        assert isinstance(torch, TorchFacts)
        self.torch = dataclasses.replace(torch, loaded_libraries=(LoadedLibrary(path=str(self.lib), library="cudnn"),), location=str(tmp / "pkgs" / "torch"))
        toolkit = env_facts("healthy_h100_cu128").toolkit
        assert isinstance(toolkit, ToolkitFacts)
        self.toolkit = toolkit
        self.cuda_libs = env_facts("healthy_h100_cu128").cuda_libs
        self.calls: dict[str, int] = {}

    def probe(self, area: str) -> Any:
        def fn(_ctx: ProbeContext) -> Any:
            self.calls[area] = self.calls.get(area, 0) + 1
            return {"torch": self.torch, "toolkit": self.toolkit, "cuda_libs": self.cuda_libs}[area]

        return fn

    def run(self, area: str = "torch", *, fresh: bool = False) -> tuple[bool, SlowFacts]:
        """Run *area* through a new SlowFacts (a new healthcheck); True when it was served from the cache."""
        slow = SlowFacts(FactsCache.open(self.cache_dir), python=str(self.python), environ=self.env,
                         cwd=self.cwd, fresh=fresh, timeout=5.0)
        slow.driver.set(self.driver)
        before = self.calls.get(area, 0)
        slow.run(area, self.probe(area), ProbeContext(python=str(self.python)))
        hit = self.calls.get(area, 0) == before
        assert hit == (area in slow.cached())
        return hit, slow


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, monkeypatch)


def primed(world: World, area: str = "torch") -> World:
    world.run(area)
    hit, _ = world.run(area)
    assert hit, "a second run with nothing changed is served from the cache"
    return world


def test_nothing_changed_is_a_hit_with_its_age(world: World) -> None:
    hit, slow = world.run()
    assert not hit and slow.misses == {"torch": "no entry"}
    hit, slow = world.run()
    assert hit and slow.misses == {} and 0 <= slow.cached()["torch"] < 60


@pytest.mark.parametrize(("area", "name"), [(a, n) for a, names in KEY_VARIABLES.items() for n in names])
def test_every_key_variable_invalidates(world: World, area: str, name: str) -> None:
    primed(world, area)
    world.env[name] = world.env.get(name, "") + ":changed"
    hit, slow = world.run(area)
    assert not hit and slow.misses[area] in KEY_MISS
    assert world.run(area)[0]  # the new answer is cached under the new key


@pytest.mark.parametrize("area", ["torch", "cuda_libs"])
def test_any_nvidia_variable_invalidates(world: World, area: str) -> None:
    primed(world, area)
    world.env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility"
    assert not world.run(area)[0]


def test_an_unrelated_variable_does_not_invalidate(world: World) -> None:
    primed(world)
    world.env["TERM"] = "xterm"
    assert world.run()[0]


def test_interpreter_mtime_invalidates(world: World) -> None:
    primed(world)
    st = world.python.stat()
    os.utime(world.python, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    hit, slow = world.run()
    assert not hit and slow.misses["torch"] in KEY_MISS


def test_interpreter_path_invalidates(world: World, tmp_path: Path) -> None:
    primed(world)
    other = tmp_path / "bin" / "python3.12"
    other.write_bytes(world.python.read_bytes())
    other.chmod(0o755)
    world.python = other
    assert not world.run()[0]


def test_proc_driver_version_invalidates(world: World) -> None:
    primed(world)
    world.proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  575.51.03\n")
    hit, slow = world.run()
    assert not hit and slow.misses["torch"] in KEY_MISS


def test_kernel_module_unloaded_invalidates(world: World) -> None:
    primed(world)
    world.proc.unlink()
    assert not world.run()[0]


@pytest.mark.parametrize("dist", ["torch-2.7.1.dist-info", "nvidia_cudnn_cu12-9.5.1.17.dist-info"])
@pytest.mark.parametrize("area", ["torch", "cuda_libs"])
def test_a_rewritten_record_invalidates(world: World, dist: str, area: str) -> None:
    primed(world, area)
    record = world.site / dist / "RECORD"
    st = record.stat()
    os.utime(record, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # pip reinstalled the same version
    hit, slow = world.run(area)
    assert not hit and slow.misses[area] == f"{record} changed"


def test_other_distributions_records_are_not_dependencies(world: World) -> None:
    primed(world)
    record = world.site / "torchvision-0.22.dist-info" / "RECORD"
    st = record.stat()
    os.utime(record, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert world.run()[0]


@pytest.mark.parametrize("change", ["size", "mtime", "replaced"])
def test_a_changed_mapped_library_invalidates(world: World, change: str) -> None:
    primed(world)
    st = world.lib.stat()
    if change == "size":
        with world.lib.open("ab") as f:
            f.write(b"\0")
        os.utime(world.lib, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime, other size
    elif change == "mtime":
        os.utime(world.lib, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    else:
        new = world.tmp / "libcudnn.new"
        new.write_bytes(world.lib.read_bytes())
        os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(new, world.lib)  # same size and mtime, another file
    hit, slow = world.run()
    assert not hit and slow.misses["torch"] == f"{world.lib} changed"


def test_a_removed_mapped_library_invalidates(world: World) -> None:
    primed(world)
    world.lib.unlink()
    assert not world.run()[0]


def test_changed_driver_state_invalidates_torch(world: World) -> None:
    primed(world)
    gpus = world.driver.gpus
    world.driver = dataclasses.replace(world.driver, gpus=gpus[:-1])  # a GPU fell off the bus
    hit, slow = world.run()
    assert not hit and slow.misses["torch"] == "driver state changed"
    assert world.run()[0]


def test_driver_that_never_answers_is_neither_used_nor_stored(world: World) -> None:
    slow = SlowFacts(FactsCache.open(world.cache_dir), python=str(world.python), environ=world.env,
                     cwd=world.cwd, timeout=0.01)
    slow.run("torch", world.probe("torch"), ProbeContext(python=str(world.python)))
    assert not any(world.cache_dir.iterdir())


def test_cudadoctor_version_invalidates(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    primed(world)
    monkeypatch.setattr(cache_mod, "__version__", "999.0")
    assert not world.run()[0]


def test_working_directory_invalidates_torch(world: World) -> None:
    primed(world)
    world.cwd = "/"  # a ./torch in the working directory would shadow the installed one
    assert not world.run()[0]


def test_fresh_probes_again_and_refreshes_the_entry(world: World) -> None:
    primed(world)
    hit, slow = world.run(fresh=True)
    assert not hit and slow.misses == {"torch": "--fresh"}
    assert world.run()[0]


def test_fresh_from_environment() -> None:
    assert fresh_from_environment({"CUDADOCTOR_FRESH": "1"})
    assert fresh_from_environment({"CUDADOCTOR_FRESH": "yes"})
    assert not fresh_from_environment({"CUDADOCTOR_FRESH": "0"})
    assert not fresh_from_environment({})


def entry_file(world: World) -> Path:
    (path,) = [p for p in world.cache_dir.iterdir() if p.name.startswith("torch-")]
    return path


@pytest.mark.parametrize("damage", ["truncated", "garbage", "directory", "symlink", "fifo"])
def test_a_damaged_entry_is_a_miss_and_is_replaced(world: World, damage: str, tmp_path: Path) -> None:
    primed(world)
    path = entry_file(world)
    raw = path.read_bytes()
    target = tmp_path / "elsewhere.json"
    path.unlink()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\xff\xfe not json")
    elif damage == "directory":
        path.mkdir()
    elif damage == "symlink":
        target.write_bytes(raw)  # a valid entry, but reached through a link: refused
        path.symlink_to(target)
    else:
        os.mkfifo(path)
    hit, slow = world.run()
    assert not hit, slow.misses
    if damage == "directory":
        assert path.is_dir()  # cannot be replaced by a rename: left alone, the run still answers
        return
    assert not path.is_symlink() and json.loads(path.read_text())["area"] == "torch"
    if damage == "symlink":
        assert target.read_bytes() == raw  # the write replaced the link, it did not write through it
    assert world.run()[0]


def test_check_reports_cached_areas_and_fresh_bypasses(tmp_path: Path) -> None:
    """End to end: `check` twice serves the slow facts from the cache the second time; --fresh does not."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    env["CUDADOCTOR_CACHE_DIR"] = str(tmp_path / "cache")

    def check(*extra: str, **more: str) -> dict[str, Any]:
        r = subprocess.run([sys.executable, "-m", "cudadoctor", "check", "--format", "json", *extra],
                           capture_output=True, text=True, timeout=300, env={**env, **more})
        assert r.returncode in (0, 1), r.stderr
        return json.loads(r.stdout)  # type: ignore[no-any-return]

    assert check()["facts"]["cached"] == {}
    warm = check()
    assert set(warm["facts"]["cached"]) == {"cuda_libs", "toolkit", "torch"}
    assert check("--fresh")["facts"]["cached"] == {}
    assert check(CUDADOCTOR_FRESH="1")["facts"]["cached"] == {}
    text = subprocess.run([sys.executable, "-m", "cudadoctor", "check"], capture_output=True, text=True,
                          timeout=300, env={**env, "NO_COLOR": "1", "COLUMNS": "200"}).stdout
    assert "From cache: cuda_libs " in text and " s old" in text


@pytest.mark.parametrize("fresh", [False, True])
def test_gate_passes_fresh_to_the_probes(monkeypatch: pytest.MonkeyPatch, fresh: bool) -> None:
    """`gate --fresh` reaches check's gather (the cache hook), like `check --fresh`."""
    from cudadoctor.commands import check
    from cudadoctor.gating.local import GateOptions, run_local_gate

    seen: list[bool] = []

    class Stop(Exception):
        pass

    def gather(opts: check.CheckOptions) -> None:
        seen.append(opts.fresh)
        raise Stop

    monkeypatch.setattr(check, "gather", gather)
    with pytest.raises(Stop):
        run_local_gate(GateOptions(fresh=fresh, cpu=True, bench=False))
    assert seen == [fresh]


def test_cli_fresh_flags_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """--fresh is an option of check, gate and healthcheck, and CUDADOCTOR_FRESH sets it."""
    from cudadoctor.commands.healthcheck_options import parse

    assert parse(["--fresh"]).fresh and not parse([]).fresh
    monkeypatch.setenv("CUDADOCTOR_FRESH", "1")
    assert parse([]).fresh
    monkeypatch.delenv("CUDADOCTOR_FRESH")
    for cmd in ("check", "gate"):
        from typer.testing import CliRunner

        from cudadoctor.cli import app

        out = CliRunner().invoke(app, [cmd, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"}).output
        assert "--fresh" in out and "CUDADOCTOR_FRESH" in out, cmd
