"""`check --kernels` and the jupyter / session areas in a probed `check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import env_path


def _check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cudadoctor", "check", *args], capture_output=True, text=True,
                          timeout=300, check=False, env=env)


def test_kernels_cannot_replay_facts() -> None:
    out = _check("--kernels", "--facts", str(env_path("healthy_h100_cu128")))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--kernels" in out.stderr


def test_a_probed_check_lists_the_kernels_and_judges_them(tmp_path: Path) -> None:
    # One kernelspec on JUPYTER_PATH whose interpreter is the base Python outside our venv: --kernels
    # inspects it (no torch there), JUP001 says so.
    link = tmp_path / "env" / "bin" / "python3"
    link.parent.mkdir(parents=True)
    link.symlink_to(os.path.realpath(sys.executable))
    kdir = tmp_path / "share" / "kernels" / "sysenv"
    kdir.mkdir(parents=True)
    (kdir / "kernel.json").write_text(json.dumps({"argv": [str(link), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                                 "display_name": "System env", "language": "python"}))
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "share"), "JUPYTER_DATA_DIR": str(tmp_path / "nodata")}
    out = _check("--kernels", "--format", "json", "--select", "JUP001", env=env)
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    kernels = report["facts"]["jupyter"]["kernels"]
    assert [k["name"] for k in kernels][:1] == ["sysenv"]
    torch = kernels[0]["torch"]
    assert torch.get("status") in ("not-installed", "ok")
    if torch.get("status") == "not-installed":
        (finding,) = [f for f in report["findings"] if f["code"] == "JUP001"]
        assert "its interpreter has no torch" in finding["message"]
    assert "session" in report["facts"]
