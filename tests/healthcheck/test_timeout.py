"""The global deadline: a hang anywhere ends in ~--timeout seconds, exit 1, and no child process survives."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

from cudadoctor import _util
from tests.healthcheck.conftest import clean_env, run_healthcheck


def live_processes_with(marker: str) -> list[str]:
    """'pid state cmdline' of every process whose command line or name (comm) contains *marker*.

    Reads /proc directly (no psutil). A zombie has an empty cmdline, so zombies are found by their
    comm (the first 15 characters of the script name): a killed child nobody reaped is a leak too.
    """
    found: list[str] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat.rsplit(")", 1)[1].split()[0]
        if marker in cmdline or marker[:15] in comm:
            found.append(f"{entry} {state} {comm} {cmdline[:120]}")
    return found


def wait_gone(marker: str, seconds: float = 3.0) -> list[str]:
    """Live processes carrying *marker* after up to *seconds* (a SIGKILLed child needs a moment)."""
    deadline = time.monotonic() + seconds
    while True:
        left = live_processes_with(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def hanging_python(tmp_path: Path, marker: str) -> Path:
    """An 'interpreter' that starts a grandchild and hangs: what a wedged `import torch` looks like."""
    script = tmp_path / f"{marker}.py"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "{marker}"])
        time.sleep(120)
    """))
    script.chmod(0o755)
    return script


def test_hanging_torch_probe_times_out_kills_children_and_exits_1(tmp_path: Path, cache_dir: Path) -> None:
    marker = f"h{uuid.uuid4().hex[:10]}"  # short: it is also the stub's comm
    python = hanging_python(tmp_path, marker)
    r = run_healthcheck(["--python", str(python), "--timeout", "1", "--cache-dir", str(cache_dir)], timeout=30)
    assert r.code == 1, r
    assert r.seconds < 5, r.seconds
    # (normally "torch probe" and "cuda_libs probe"; on a very slow machine the imports may still run)
    assert r.out.startswith("unhealthy: healthcheck timed out after 1 s (still running: "), r.out
    assert r.err.startswith("cudadoctor healthcheck: error: healthcheck timed out after 1 s")
    assert wait_gone(marker) == []
    assert [p for p in cache_dir.iterdir() if p.name.startswith("torch-")] == []  # nothing cached from a hang


def test_deadline_in_json_names_what_was_still_running(tmp_path: Path) -> None:
    """A facts provider stuck on a child process: the deadline kills it and says what was running."""
    marker = f"cudadoctor-stuck-{uuid.uuid4().hex}"
    script = textwrap.dedent(f"""\
        import sys
        from cudadoctor._util import run_command
        from cudadoctor.commands.healthcheck import main_fast

        def stuck():
            run_command([sys.executable, "-c", "import time; time.sleep(120)", "{marker}"], timeout=120)

        sys.exit(main_fast(sys.argv[1:], facts_provider=stuck))
    """)
    # 2 s: the imports before the provider runs take ~0.3 s here, more on a loaded CI machine.
    r = run_healthcheck(["--timeout", "2", "--format", "json"], argv0=[sys.executable, "-c", script], timeout=30)
    assert r.code == 1, r
    assert r.seconds < 6
    data = r.json()
    assert data["healthy"] is False
    assert data["reasons"][0]["name"] == "timeout"
    assert data["summary"] == "unhealthy: healthcheck timed out after 2 s (still running: facts provider)"
    assert data["still_running"] == ["facts provider"]
    assert wait_gone(marker) == []


def test_timeout_from_the_environment(tmp_path: Path, cache_dir: Path) -> None:
    marker = f"e{uuid.uuid4().hex[:10]}"
    python = hanging_python(tmp_path, marker)
    env = clean_env(CUDADOCTOR_TIMEOUT="0.8", CUDADOCTOR_PYTHON=str(python), CUDADOCTOR_CACHE_DIR=str(cache_dir))
    r = run_healthcheck([], env=env, timeout=30)
    assert r.code == 1 and "timed out after 0.8 s" in r.out
    assert wait_gone(marker) == []


def test_kill_children_ends_running_commands_and_blocks_new_ones() -> None:
    marker = f"cudadoctor-registry-{uuid.uuid4().hex}"
    results: list[_util.CommandResult] = []
    thread = threading.Thread(
        target=lambda: results.append(
            _util.run_command([sys.executable, "-c", "import time; time.sleep(60)", marker], timeout=60)
        )
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not _util.running_children() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_util.running_children()) == 1
        killed = _util.kill_children(block_new=True)
        thread.join(10)
        assert not thread.is_alive()
        assert len(killed) == 1 and results[0].returncode == -9
        assert _util.running_children() == []
        # Started after the deadline: killed at once, never left running.
        late = _util.run_command([sys.executable, "-c", "import time; time.sleep(60)", marker], timeout=60)
        assert late.returncode == -9
    finally:
        _util.allow_children()
    ok = _util.run_command([sys.executable, "-c", "print('fine')"], timeout=30)
    assert ok.returncode == 0 and ok.stdout.strip() == "fine"
    assert wait_gone(marker) == []


def test_healthcheck_leaves_no_children_when_it_finishes(cache_dir: Path, python_without_torch: str) -> None:
    """A normal run waits for its children; none of them is left behind."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from cudadoctor.commands.healthcheck import main_fast; "
         "code = main_fast(sys.argv[1:], hard_exit=False); "
         "from cudadoctor._util import running_children; print(running_children(), file=sys.stderr); sys.exit(code)",
         "--cache-dir", str(cache_dir), "--python", python_without_torch],
        capture_output=True, text=True, timeout=60, env=clean_env(),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "[]"
