"""The jupyter probe: Jupyter's data path, kernel.json parsing, and each kernel's torch (--kernels)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cudadoctor.facts import JupyterFacts, TorchFacts, Unavailable
from cudadoctor.probes.jupyter import (
    parse_kernelspec,
    probe_kernel_torch,
    read_kernelspecs,
    resolve_interpreter,
    search_path,
)


def test_search_path_follows_jupyter_order() -> None:
    env = {"JUPYTER_PATH": "/extra/a:/extra/b", "XDG_DATA_HOME": "/home/u/.xdg"}
    assert search_path(env, "/home/u", ("/opt/venv",)) == (
        "/extra/a", "/extra/b", "/home/u/.xdg/jupyter", "/opt/venv/share/jupyter",
        "/usr/local/share/jupyter", "/usr/share/jupyter",
    )
    assert search_path({}, "/home/u", ())[0] == "/home/u/.local/share/jupyter"
    assert search_path({"JUPYTER_DATA_DIR": "/data/jd"}, "/home/u", ())[0] == "/data/jd"
    prefer_env = search_path({"JUPYTER_PREFER_ENV_PATH": "1"}, "/home/u", ("/opt/venv",))
    assert prefer_env[:2] == ("/opt/venv/share/jupyter", "/home/u/.local/share/jupyter")


def _kernel(root: Path, name: str, spec: dict[str, object]) -> Path:
    d = root / "kernels" / name
    d.mkdir(parents=True)
    (d / "kernel.json").write_text(json.dumps(spec))
    return d / "kernel.json"


def test_read_kernelspecs_first_of_a_name_wins_and_bad_files_are_reported(tmp_path: Path) -> None:
    user, system = tmp_path / "user", tmp_path / "system"
    _kernel(user, "python3", {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                              "display_name": "Python 3 (user)", "language": "python"})
    _kernel(system, "python3", {"argv": ["/usr/bin/python3", "-m", "ipykernel_launcher"], "language": "python"})
    _kernel(system, "ir", {"argv": ["R", "--slave"], "display_name": "R", "language": "R"})
    bad = system / "kernels" / "broken"
    bad.mkdir()
    (bad / "kernel.json").write_text("{not json")
    kernels, problems = read_kernelspecs((str(user), str(system), str(tmp_path / "missing")), os.defpath)
    by = {k.name: k for k in kernels}
    assert set(by) == {"python3", "ir"}
    assert by["python3"].display_name == "Python 3 (user)" and by["python3"].interpreter == sys.executable
    assert by["python3"].interpreter_dir == os.path.realpath(os.path.dirname(sys.executable))
    assert isinstance(by["ir"].interpreter, Unavailable) and "R kernel" in by["ir"].interpreter.reason
    assert len(problems) == 1 and "broken/kernel.json" in problems[0]


def test_resolve_interpreter(tmp_path: Path) -> None:
    assert isinstance(resolve_interpreter("conda", "/usr/bin"), Unavailable)
    missing = resolve_interpreter("/nonexistent/env/bin/python", "/usr/bin")
    assert isinstance(missing, Unavailable) and "cannot start" in missing.reason
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert resolve_interpreter("python3.12", str(tmp_path)) == str(fake)


def test_parse_kernelspec_rejects_a_file_without_argv() -> None:
    import pytest

    with pytest.raises(ValueError):
        parse_kernelspec("x", "/k/x/kernel.json", json.dumps({"display_name": "x"}), os.defpath)


def test_a_venv_is_not_its_base_interpreter(tmp_path: Path) -> None:
    from cudadoctor.probes.jupyter import env_dir

    base = Path(os.path.realpath(sys.executable))
    venv = tmp_path / "venv" / "bin" / "python"
    venv.parent.mkdir(parents=True)
    venv.symlink_to(base)
    assert env_dir(str(venv)) != env_dir(str(base))
    alias = tmp_path / "venv" / "bin" / "python3"
    alias.symlink_to("python")
    assert env_dir(str(alias)) == env_dir(str(venv))


def test_probe_kernel_torch_inspects_other_interpreters(tmp_path: Path) -> None:
    # A kernel whose interpreter is the base Python under another directory: outside our venv it
    # cannot see the venv's torch; the kernel on the inspected interpreter is not inspected again.
    link = tmp_path / "bin" / "python3"
    link.parent.mkdir()
    link.symlink_to(os.path.realpath(sys.executable))
    _kernel(tmp_path / "a", "other", {"argv": [str(link), "-m", "ipykernel_launcher"], "language": "python"})
    _kernel(tmp_path / "b", "same", {"argv": [sys.executable, "-m", "ipykernel_launcher"], "language": "python"})
    kernels, _ = read_kernelspecs((str(tmp_path / "a"), str(tmp_path / "b")), os.defpath)
    from cudadoctor.probes.jupyter import env_dir

    j = JupyterFacts(search_path=(), kernels=kernels, inspected_python=sys.executable,
                     inspected_dir=env_dir(sys.executable), in_kernel=False)
    out = probe_kernel_torch(j, timeout=60)
    by = {k.name: k for k in out.kernels}
    assert out.kernels_probed
    assert isinstance(by["same"].torch, Unavailable)  # the inspected interpreter: --python already covers it
    other = by["other"].torch
    assert isinstance(other, TorchFacts) and other.python_executable.endswith("python3")
