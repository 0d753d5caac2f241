"""docs/examples: the Prometheus DaemonSet and the Slurm scripts parse, and do what their comments say.

No cluster or Slurm runs here: the manifest is read with PyYAML (and a structural check without
it), its healthcheck command is run as written with a replayed facts file; the Slurm scripts are
syntax-checked with bash and run with fake `scontrol` / `srun` on PATH.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cudadoctor.commands.healthcheck import main_fast
from cudadoctor.commands.healthcheck_options import parse
from tests.conftest import env_path

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
DAEMONSET = EXAMPLES / "k8s" / "daemonset-prometheus.yaml"
SLURM = EXAMPLES / "slurm"
parser = pytest.importorskip("prometheus_client.parser")
BASH = shutil.which("bash")


def metrics(text: str) -> dict[str, list]:
    return {f.name: [(dict(s.labels), s.value) for s in f.samples] for f in parser.text_string_to_metric_families(text)}


def loop_command(container: dict) -> list[str]:
    """The cudadoctor command inside the container's `while true; do ...; sleep N; done` loop."""
    assert container["command"][:2] == ["/bin/sh", "-c"]
    script = container["command"][2]
    assert script.startswith("while true; do ") and script.endswith("done")
    body = [part.strip() for part in script.removeprefix("while true; do ").removesuffix("done").split(";") if part.strip()]
    assert body[1].startswith("sleep ")
    return shlex.split(body[0])


def test_daemonset_structure_without_yaml() -> None:
    text = DAEMONSET.read_text()
    assert "kind: DaemonSet" in text and "\t" not in text
    assert "--collector.textfile.directory=/textfile" in text
    assert "cudadoctor healthcheck --timeout 20 --format prometheus --output /textfile/cudadoctor.prom" in text
    assert "nvidia.com/gpu:" not in text.split("resources:", 1)[1].split("volumeMounts:", 1)[0]  # no GPU requested


def test_daemonset_with_pyyaml(tmp_path: Path, capsys) -> None:
    yaml = pytest.importorskip("yaml")
    (ds,) = list(yaml.safe_load_all(DAEMONSET.read_text()))
    assert ds["apiVersion"] == "apps/v1" and ds["kind"] == "DaemonSet"
    spec = ds["spec"]["template"]["spec"]
    assert ds["spec"]["selector"]["matchLabels"] == ds["spec"]["template"]["metadata"]["labels"]
    doctor, exporter = spec["containers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    # The textfile directory is one volume, mounted by both containers (read-only for the exporter).
    mount = {m["name"]: m for m in doctor["volumeMounts"]}["textfile"]
    exp_mount = {m["name"]: m for m in exporter["volumeMounts"]}["textfile"]
    assert mount["mountPath"] == exp_mount["mountPath"] and exp_mount.get("readOnly") is True
    assert "hostPath" in volumes["textfile"]
    assert f"--collector.textfile.directory={exp_mount['mountPath']}" in exporter["args"]
    assert "nvidia.com/gpu" not in str(doctor.get("resources", {}))
    env = {e["name"]: e["value"] for e in doctor["env"]}
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all" and spec["runtimeClassName"] == "nvidia"
    argv = loop_command(doctor)
    assert argv[:2] == ["cudadoctor", "healthcheck"]
    opts = parse(argv[2:], {})
    assert opts.format == "prometheus" and Path(opts.output).parent == Path(mount["mountPath"])
    assert Path(opts.output).suffix == ".prom"
    period = float(doctor["command"][2].split("sleep ")[1].split(";")[0])
    assert opts.timeout < period  # one run always ends before the next starts
    # Run the command as written (its output redirected under tmp_path), on a replayed machine.
    out = tmp_path / Path(opts.output).name
    args = [a if a != opts.output else str(out) for a in argv[2:]]
    code = main_fast([*args, "--facts", str(env_path("healthy_h100_cu128"))], hard_exit=False)
    assert code == 0 and capsys.readouterr().out.startswith("healthy: ")
    got = metrics(out.read_text())
    assert got["cudadoctor_ready"] == [({}, 1.0)] and got["cudadoctor_gpus"] == [({}, 2.0)]


def _fake_bin(directory: Path, name: str, body: str) -> None:
    p = directory / name
    p.write_text("#!/bin/bash\n" + body)
    p.chmod(0o755)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    _fake_bin(fake, "scontrol", f'printf "%s\\n" "$@" > "{tmp_path}/scontrol.args"\n')
    # srun: drop its options, run the command once per node as that node's task would.
    _fake_bin(fake, "srun", 'while [[ "$1" == --* ]]; do shift; done\n'
              'for n in gpu001 gpu002 gpu003; do SLURMD_NODENAME=$n "$@" || exit $?; done\n')
    venv_bin = str(Path(sys.executable).parent)
    keep = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    return {**keep, "PATH": f"{fake}:{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}", **extra}


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize("script", ["healthcheck.sh", "prolog.sh", "fleet-report.sbatch"])
def test_slurm_scripts_are_valid_bash(script: str) -> None:
    path = SLURM / script
    assert path.read_text().startswith("#!/bin/bash\n") and os.access(path, os.X_OK)
    r = subprocess.run([BASH, "-n", str(path)], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_slurm_healthcheck_drains_an_unhealthy_node_and_writes_metrics(tmp_path: Path) -> None:
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    env = _env(tmp_path, CUDADOCTOR_FACTS=str(env_path("no_driver")), CUDADOCTOR_TEXTFILE_DIR=str(textfile),
               SLURMD_NODENAME="gpu042")
    r = subprocess.run([BASH, str(SLURM / "healthcheck.sh")], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 1, r.stderr
    args = (tmp_path / "scontrol.args").read_text().splitlines()
    assert args[:3] == ["update", "nodename=gpu042", "state=drain"]
    assert args[3].startswith("reason=cudadoctor: unhealthy: no-nvidia-driver")
    assert metrics((textfile / "cudadoctor.prom").read_text())["cudadoctor_ready"] == [({}, 0.0)]
    # healthy: exit 0, nobody drains anything
    (tmp_path / "scontrol.args").unlink()
    env["CUDADOCTOR_FACTS"] = str(env_path("healthy_h100_cu128"))
    r = subprocess.run([BASH, str(SLURM / "healthcheck.sh")], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and not (tmp_path / "scontrol.args").exists()
    assert metrics((textfile / "cudadoctor.prom").read_text())["cudadoctor_ready"] == [({}, 1.0)]


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_slurm_prolog_fails_on_an_unhealthy_node(tmp_path: Path) -> None:
    script = (SLURM / "prolog.sh").read_text()
    argv = shlex.split(script.split("exec ", 1)[1].splitlines()[0])
    assert argv[:2] == ["cudadoctor", "healthcheck"] and parse(argv[2:], {}).timeout == 20
    policy = tmp_path / "policy.toml"
    policy.write_text('schema = 1\nfail_on = "error"\n')
    run = tmp_path / "prolog.sh"
    run.write_text(script.replace("/etc/cudadoctor/policy.toml", str(policy)))
    for facts, code in (("no_driver", 1), ("healthy_h100_cu128", 0)):
        r = subprocess.run([BASH, str(run)], capture_output=True, text=True, timeout=120,
                           env=_env(tmp_path, CUDADOCTOR_FACTS=str(env_path(facts))))
        assert r.returncode == code, r.stdout + r.stderr


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_slurm_fleet_report_collects_one_report_per_node_and_summarises(tmp_path: Path) -> None:
    text = (SLURM / "fleet-report.sbatch").read_text()
    assert "srun --ntasks-per-node=1 bash -c 'cudadoctor check" in text and '"$0/$SLURMD_NODENAME.json"' in text
    out = tmp_path / "out"
    env = _env(tmp_path, CUDADOCTOR_FACTS=str(env_path("healthy_a100_cu121")), OUT=str(out), SLURM_JOB_ID="77")
    r = subprocess.run([BASH, str(SLURM / "fleet-report.sbatch")], capture_output=True, text=True, timeout=300,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["gpu001.json", "gpu002.json", "gpu003.json"]
    assert r.stdout.startswith("cudadoctor fleet: 3 nodes: all nodes ready, none odd")
    # a node with an error is a result, not a failed step: the summary runs and says so (exit 1)
    env["CUDADOCTOR_FACTS"] = str(env_path("no_driver"))
    r = subprocess.run([BASH, str(SLURM / "fleet-report.sbatch")], capture_output=True, text=True, timeout=300,
                       env=env, cwd=tmp_path)
    assert r.returncode == 1 and "3 not ready" in r.stdout, r.stdout + r.stderr
