"""Plant secrets everywhere cudadoctor reads from and grep every output for them: none may appear.

Secrets go in three ways: a facts file (``check --facts``), the real environment of a cudadoctor
process (secret-named variables, and a fake ``torch`` whose import fails with a message and a
stderr full of credentials), and pasted text (``triage``). Every output is grepped: stdout and
stderr of each format, ``-o`` report files, ``--save-facts`` files and the healthcheck cache.
With ``--redact`` the user name, host name and home paths must be gone too.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cudadoctor.cli import main
from cudadoctor.factsfile import encode, facts_to_dict
from cudadoctor.probes.base import ProbeContext
from cudadoctor.probes.env import probe_env, wanted
from cudadoctor.redact import SECRET_WORDS, secret_name
from cudadoctor.render import OutputFormat
from tests.conftest import env_facts

FORMATS = [f.value for f in OutputFormat]
#: Formats that carry the report's text and facts (Prometheus metrics carry neither: its secrets
#: and identity are checked by test_check_prometheus_from_facts_file).
TEXT_FORMATS = [f for f in FORMATS if f != OutputFormat.PROMETHEUS.value]

#: Secret-named environment variables and their (distinctive) values.
ENV_SECRETS = {
    "HF_TOKEN": "hf_kT3xVb9LmN2pQr7sWy4zA1cD5eF8gH0jKq",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETKEY",
    "WANDB_API_KEY": "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f0a",
    "MY_SERVICE_PASSWORD": "correct-horse-battery-staple-4242",
    "GITHUB_TOKEN": "ghp_R8nT5vX2cL9mQ4wZ7kB1hJ6dF3sG0aYp2Ue8",
    "DB_CREDENTIALS": "dbuser:Sup3rS3cretDbPw-77",
    "NGC_API_KEY": "nvapi-Zq8W3e7R1t5Y9u2I6o0P4a8S3d7F1g5H9j2K",
}
#: Secret-looking variables under prefixes the env probe otherwise keeps (NCCL_, TORCH_, ...).
PREFIXED_SECRETS = {
    "NCCL_TOKEN": "ncclTok-9d8c7b6a5f4e3d2c1b0a",
    "TORCH_SECRET": "torchSecret-1a2b3c4d5e6f7g8h",
    "PYTORCH_AUTH_HEADER": "pytorchAuth-0f1e2d3c4b5a6978",
    "NVIDIA_API_KEY": "nvapi-Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0KkLl",
    "CUDNN_PASSWORD": "cudnnPw-5e6f7a8b9c0d1e2f",
    "NCCL_SESSION_COOKIE": "ncclCookie-77aa88bb99cc00dd",
}
#: Credentials inside text: an import error, a traceback, a pip index URL.
GH_IN_ERROR = "ghp_W4xY7zA2bC5dE8fG1hI3jK6lM9nO0pQ2rS4t"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0cmFpbmVyIn0.c2VjcmV0c2lnbmF0dXJl"
URL_USER, URL_PASSWORD = "deploybot", "hunter2-Pa55w0rd-xyz"
AWS_KEY_ID = "AKIAZ7QW3ERT5YUI8OPA"
SECRET_VALUES = [*ENV_SECRETS.values(), *PREFIXED_SECRETS.values(), GH_IN_ERROR, BEARER, URL_PASSWORD, AWS_KEY_ID]

INDEX_URL = f"https://{URL_USER}:{URL_PASSWORD}@pypi.internal.example.com/simple"
IMPORT_ERROR = (
    f"OSError: could not download libcudnn from {INDEX_URL} (Authorization: Bearer {BEARER}); "
    f"token {GH_IN_ERROR}, key id {AWS_KEY_ID}"
)

#: Identity planted for --redact.
USER = "zaphodbeeblebrox"
CTX = ProbeContext(python=sys.executable)
HOST = "gpu-node-secret-17"


def assert_clean(where: str, text: str, *, extra: Iterable[str] = ()) -> None:
    """No planted secret (nor any of *extra*) occurs in *text*."""
    leaked = [s for s in [*SECRET_VALUES, *extra] if s and s in text]
    assert not leaked, f"{where} leaks {leaked}"


def test_planted_values_are_secrets() -> None:
    # the test's own premise: every planted name is one redaction treats as a credential
    for name in [*ENV_SECRETS, *PREFIXED_SECRETS]:
        assert secret_name(name), name


# --------------------------------------------------------------------------------------------
# the env probe's allow-list


@pytest.mark.parametrize("name", sorted(PREFIXED_SECRETS))
def test_env_probe_drops_secret_names_under_allowed_prefixes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, PREFIXED_SECRETS[name])
    monkeypatch.setenv("NCCL_DEBUG", "INFO")
    facts = probe_env(CTX)
    assert name not in facts.variables
    assert facts.variables.get("NCCL_DEBUG") == "INFO"  # configuration under the prefix is kept
    assert_clean("env facts", json.dumps(encode(facts)))


@pytest.mark.parametrize("name", sorted(ENV_SECRETS))
def test_env_probe_never_captures_secret_names(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, ENV_SECRETS[name])
    assert name not in probe_env(CTX).variables


def test_every_secret_word_under_an_allowed_prefix_is_dropped_or_masked() -> None:
    # NOTE: the env probe's own secret pattern is narrower than redact.secret_name (PAT, PRIVATE,
    # PASS, CREDS ... pass it); whatever it keeps is masked by redaction on output instead.
    from cudadoctor.probes.env import PREFIXES
    from cudadoctor.redact import Redactor

    for prefix in PREFIXES:
        for word in sorted(SECRET_WORDS - {"PWD"}):
            name = f"{prefix}HUB_{word}"
            if wanted(name):
                masked = Redactor().text(f"{name}=s3cr3t-value-123")
                assert "s3cr3t-value-123" not in masked, name


# --------------------------------------------------------------------------------------------
# facts file -> check (every format, -o file, --save-facts)


@pytest.fixture(scope="module")
def planted_facts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = facts_to_dict(env_facts("healthy_a100_cu121"))
    data["env"]["variables"].update(ENV_SECRETS)
    data["env"]["variables"].update(PREFIXED_SECRETS)
    data["env"]["variables"]["PIP_INDEX_URL"] = INDEX_URL
    data["env"]["variables"]["NCCL_SOCKET_IFNAME"] = "eth0"
    data["env"]["working_directory"] = f"/home/{USER}/train"
    data["torch"]["status"] = "import-failed"
    data["torch"]["import_error"] = IMPORT_ERROR
    data["host"]["hostname"] = HOST
    data["driver"]["nvml_error"] = f"Authorization: Bearer {BEARER}"
    p = tmp_path_factory.mktemp("facts") / "facts.json"
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize("redact", [False, True], ids=["plain", "redact"])
@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_check_from_facts_file(planted_facts: Path, fmt: str, redact: bool, tmp_path: Path, capsys) -> None:
    out_file, saved = tmp_path / "report.out", tmp_path / "saved.json"
    args = ["check", "--facts", str(planted_facts), "--format", fmt, "-v", "--save-facts", str(saved)]
    with pytest.raises(SystemExit):
        main([*args, *(["--redact"] if redact else [])])
    with pytest.raises(SystemExit):
        main([*args, "-o", str(out_file), *(["--redact"] if redact else [])])
    cap = capsys.readouterr()
    identity = [HOST, f"/home/{USER}", USER] if redact else []
    assert_clean(f"check {fmt} stdout", cap.out, extra=identity)
    assert_clean(f"check {fmt} stderr", cap.err, extra=identity)
    assert_clean(f"check {fmt} -o file", out_file.read_text(), extra=identity)
    assert_clean("--save-facts file", saved.read_text(), extra=identity)
    assert "eth0" in saved.read_text()  # configuration survives in the saved facts
    assert "eth0" in cap.out or fmt == "terminal"  # configuration survives


@pytest.mark.parametrize("redact", [False, True], ids=["plain", "redact"])
def test_check_prometheus_from_facts_file(planted_facts: Path, redact: bool, tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "cudadoctor.prom"
    args = ["check", "--facts", str(planted_facts), "--format", "prometheus", *(["--redact"] if redact else [])]
    with pytest.raises(SystemExit):
        main(args)
    with pytest.raises(SystemExit):
        main([*args, "-o", str(out_file)])
    cap = capsys.readouterr()
    identity = [HOST, f"/home/{USER}", USER]  # metrics never carry identity, --redact or not
    assert_clean("check prometheus stdout", cap.out, extra=identity)
    assert_clean("check prometheus stderr", cap.err, extra=identity)
    assert_clean("check prometheus -o file", out_file.read_text(), extra=identity)
    assert "cudadoctor_findings{" in cap.out  # the findings themselves survive


# --------------------------------------------------------------------------------------------
# pasted text -> triage (every format, with and without --redact)

PASTE = textwrap.dedent(f"""\
    $ env | grep -i -e token -e key
    HF_TOKEN={ENV_SECRETS["HF_TOKEN"]}
    export AWS_SECRET_ACCESS_KEY='{ENV_SECRETS["AWS_SECRET_ACCESS_KEY"]}'
    WANDB_API_KEY: {ENV_SECRETS["WANDB_API_KEY"]}
    {{"MY_SERVICE_PASSWORD": "{ENV_SECRETS["MY_SERVICE_PASSWORD"]}", "GITHUB_TOKEN": "{ENV_SECRETS["GITHUB_TOKEN"]}"}}
    --db-credentials={ENV_SECRETS["DB_CREDENTIALS"]}
    NGC_API_KEY={ENV_SECRETS["NGC_API_KEY"]} NCCL_TOKEN={PREFIXED_SECRETS["NCCL_TOKEN"]} TORCH_SECRET={PREFIXED_SECRETS["TORCH_SECRET"]}
    PYTORCH_AUTH_HEADER={PREFIXED_SECRETS["PYTORCH_AUTH_HEADER"]} NVIDIA_API_KEY={PREFIXED_SECRETS["NVIDIA_API_KEY"]}
    CUDNN_PASSWORD={PREFIXED_SECRETS["CUDNN_PASSWORD"]} NCCL_SESSION_COOKIE={PREFIXED_SECRETS["NCCL_SESSION_COOKIE"]}
    $ pip install --index-url {INDEX_URL} torch
    Traceback (most recent call last):
      File "/home/{USER}/train/run.py", line 3, in <module>
        import torch
      File "/home/{USER}/.venv/lib/python3.11/site-packages/torch/__init__.py", line 290, in <module>
        from torch._C import *  # noqa: F403
      File "/home/{USER}/train/hub.py", line 9, in fetch
        headers = {{"Authorization": "Bearer {BEARER}"}}
    ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory ({IMPORT_ERROR})
    {USER}@{HOST}:~/train$ nvidia-smi
    NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.
    """)


@pytest.fixture(scope="module")
def paste(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("paste") / "paste.txt"
    p.write_text(PASTE)
    return p


@pytest.mark.parametrize("redact", [False, True], ids=["plain", "redact"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_triage_text(paste: Path, fmt: str, redact: bool, tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "report.out"
    args = ["triage", str(paste), "--format", fmt, "-v", *(["--redact"] if redact else [])]
    with pytest.raises(SystemExit):
        main(args)
    with pytest.raises(SystemExit):
        main([*args, "-o", str(out_file)])
    with pytest.raises(SystemExit):
        main(["triage", "--text", PASTE, "--format", fmt, *(["--redact"] if redact else [])])
    cap = capsys.readouterr()
    identity = [HOST, f"/home/{USER}", USER] if redact else []
    assert_clean(f"triage {fmt} stdout", cap.out, extra=identity)
    assert_clean(f"triage {fmt} stderr", cap.err, extra=identity)
    assert_clean(f"triage {fmt} -o file", out_file.read_text(), extra=identity)
    if not redact and fmt == "json":
        assert "libcudnn" in cap.out  # the diagnosis itself survives redaction


# --------------------------------------------------------------------------------------------
# the real environment of a cudadoctor process


FAKE_TORCH = f'''
import sys
# what a noisy import prints: the raw values, with no NAME= in front of them
print("hub login with {ENV_SECRETS["HF_TOKEN"]} / {ENV_SECRETS["WANDB_API_KEY"]}", file=sys.stderr)
print("db {ENV_SECRETS["DB_CREDENTIALS"]} pw {ENV_SECRETS["MY_SERVICE_PASSWORD"]}", file=sys.stderr)
print("index {INDEX_URL}")
raise OSError({IMPORT_ERROR!r} + " / " + {ENV_SECRETS["AWS_SECRET_ACCESS_KEY"]!r})
'''


@dataclass
class Run:
    """One finished cudadoctor process and the files it was told to write."""

    name: str
    argv: list[str]
    code: int
    out: str
    err: str
    files: list[Path]
    redact: bool


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory, paste: Path) -> list[Run]:
    """check (3 formats, --save-facts, -o, --redact), healthcheck (json, cache) and triage --probe, run
    concurrently in fresh interpreters whose environment holds the secrets."""
    tmp = tmp_path_factory.mktemp("real")
    home = tmp / "home" / USER
    site = home / ".local" / "fake-site"
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "__init__.py").write_text(FAKE_TORCH)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUDADOCTOR_")}
    env.update(ENV_SECRETS)
    env.update(PREFIXED_SECRETS)
    env.update({"PIP_INDEX_URL": INDEX_URL, "PYTHONPATH": str(site), "HOME": str(home), "USER": USER,
                "LOGNAME": USER, "NCCL_DEBUG": "INFO"})
    cache = tmp / "cache"
    specs: list[tuple[str, list[str], list[Path], bool]] = []
    for fmt in FORMATS:
        saved, report = tmp / f"saved-{fmt}.json", tmp / f"report-{fmt}.out"
        specs.append((f"check-{fmt}", ["check", "--format", fmt, "-v", "--save-facts", str(saved), "-o", str(report)],
                      [saved, report], False))
        specs.append((f"check-{fmt}-stdout", ["check", "--format", fmt, "-v"], [], False))
    specs.append(("check-json-redact", ["check", "--format", "json", "-v", "--redact"], [], True))
    specs.append(("check-markdown-redact", ["check", "--format", "markdown", "-v", "--redact"], [], True))
    specs.append(("healthcheck-json", ["healthcheck", "--format", "json", "--cache-dir", str(cache)], [cache], False))
    specs.append(("triage-probe-json", ["triage", str(paste), "--probe", "--format", "json", "-v"], [], False))
    specs.append(("triage-probe-redact", ["triage", str(paste), "--probe", "--format", "markdown", "--redact"], [],
                  True))
    procs = []
    for name, args, files, redact in specs:
        argv = [sys.executable, "-m", "cudadoctor", *args]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(home))
        procs.append((name, argv, files, redact, proc))
    runs = []
    for name, argv, files, redact, proc in procs:
        out, err = proc.communicate(timeout=240)
        runs.append(Run(name, argv, proc.returncode, out, err, files, redact))
    return runs


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    for p in paths:
        if p.is_dir():
            yield from (f for f in sorted(p.rglob("*")) if f.is_file())
        elif p.exists():
            yield p


def test_real_environment_runs_finished(real_runs: list[Run]) -> None:
    for r in real_runs:
        assert r.code in (0, 1), f"{r.name}: exit {r.code}\n{r.err[-2000:]}"
        assert "Traceback" not in r.err, f"{r.name}: {r.err[-2000:]}"
        for f in r.files:
            assert f.exists(), f"{r.name} did not write {f}"


def test_real_environment_leaks_no_secret(real_runs: list[Run]) -> None:
    for r in real_runs:
        assert_clean(f"{r.name} stdout", r.out)
        assert_clean(f"{r.name} stderr", r.err)
        for f in _files(r.files):
            assert_clean(f"{r.name} file {f.name}", f.read_text(errors="replace"))
    # the secrets did reach the reports, masked (not merely absent because nothing was read)
    json_out = next(r.out for r in real_runs if r.name == "check-json-stdout")
    assert "[REDACTED]" in json_out


def test_real_environment_saved_facts_keep_configuration(real_runs: list[Run]) -> None:
    saved = next(f for r in real_runs if r.name == "check-json" for f in r.files if f.name.startswith("saved"))
    data = json.loads(saved.read_text())
    variables = data["env"]["variables"]
    assert variables.get("NCCL_DEBUG") == "INFO"
    assert not set(variables) & (set(ENV_SECRETS) | set(PREFIXED_SECRETS))
    assert data["torch"]["status"] == "import-failed"  # the planted import error was seen (and masked)


def test_real_environment_redact_hides_identity(real_runs: list[Run]) -> None:
    host = socket.gethostname()
    identity = [USER, f"/home/{USER}"] + ([host] if len(host) >= 3 and host != "localhost" else [])
    for r in real_runs:
        if r.redact:
            assert_clean(f"{r.name} stdout (--redact)", r.out, extra=identity)
            assert_clean(f"{r.name} stderr (--redact)", r.err, extra=identity)
