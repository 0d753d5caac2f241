"""Redaction of secrets and identity in text and in Facts."""

from __future__ import annotations

import dataclasses

import pytest

from cudadoctor.facts import EnvFacts, HostFacts, TorchFacts
from cudadoctor.redact import MASK, redact_facts, redact_text, secret_name, this_host
from tests.conftest import env_facts

SECRETS = {
    "ghp": "ghp_Zx9YwVu8Ts7Rq6Po5Nm4Lk3Ji2Hg1Fe0DcBa",
    "hf": "hf_QwErTyUiOpAsDfGhJkLzXcVbNm1234567890",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "openai": "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"export GITHUB_TOKEN={SECRETS['ghp']}", SECRETS["ghp"]),
        (f"token is {SECRETS['hf']} ok", SECRETS["hf"]),
        (f"aws_access_key_id = {SECRETS['aws']}", SECRETS["aws"]),
        (f"OPENAI_API_KEY='{SECRETS['openai']}'", SECRETS["openai"]),
        (f"Authorization: Bearer {SECRETS['bearer']}", SECRETS["bearer"]),
        ('{"WANDB_API_KEY": "0123456789abcdef0123456789abcdef01234567"}', "0123456789abcdef0123456789abcdef01234567"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("pip install --index-url https://alice:s3cr3tpw@pypi.example.com/simple torch", "s3cr3tpw"),
        ("DB_PASSWORD: hunter2hunter2", "hunter2hunter2"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----", "MIIEabc"),
        ("NGC_API_KEY=nvapi-AbCdEfGhIjKlMnOpQrStUvWxYz012345", "nvapi-AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    ],
)
def test_secrets_are_redacted(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert MASK in out


@pytest.mark.parametrize(
    "text",
    [
        "CUDA_VISIBLE_DEVICES=0,1", "Author: PyTorch Team", "torch==2.5.1+cu124", "PWD=/work/main",
        "libcudnn.so.9 => /usr/lib/x86_64-linux-gnu/libcudnn.so.9 (0x00007f)", "Driver Version: 535.104.05",
        "/home/alice/.venv/bin/python", "key features: fast",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact_text(text) == text


def test_secret_names() -> None:
    assert all(secret_name(n) for n in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_REGION", "AZURE_CLIENT_ID",
                                        "GOOGLE_APPLICATION_CREDENTIALS", "my_api_key", "DB_PASSWD", "X_AUTH"))
    assert not any(secret_name(n) for n in ("CUDA_HOME", "NCCL_DEBUG", "AUTHOR", "PWD", "KEYBOARD_LAYOUT"))


def test_identity_redaction_of_text() -> None:
    text = "File \"/home/alice/proj/train.py\" and /Users/bob/x and C:\\Users\\carol\\venv; alice again"
    assert redact_text(text) == text  # identity is opt-in
    out = redact_text(text, identity=True)
    for name in ("alice", "bob", "carol"):
        assert name not in out
    assert "/home/[REDACTED]/proj/train.py" in out
    host = this_host()
    if len(host) >= 3 and host != "localhost":
        assert host not in redact_text(f"running on {host} now", identity=True)


def test_generic_user_names_are_not_words_to_remove() -> None:
    out = redact_text("/home/ubuntu/x uses torch on Ubuntu 22.04", identity=True)
    assert "Ubuntu 22.04" in out and "torch" in out


def test_redact_facts_masks_secret_variables_and_tokens_everywhere() -> None:
    facts = env_facts("healthy_a100_cu121")
    assert isinstance(facts.env, EnvFacts) and isinstance(facts.torch, TorchFacts)
    env = dataclasses.replace(facts.env, variables={**facts.env.variables, "HF_TOKEN": "plain-value-123",
                                                    "NCCL_DEBUG": "INFO"})
    torch = dataclasses.replace(facts.torch, import_error=f"failed with {SECRETS['ghp']}")
    planted = dataclasses.replace(facts, env=env, torch=torch)
    out = redact_facts(planted)
    assert out.env.variables["HF_TOKEN"] == MASK  # type: ignore[union-attr]
    assert out.env.variables["NCCL_DEBUG"] == "INFO"  # type: ignore[union-attr]
    assert SECRETS["ghp"] not in out.torch.import_error  # type: ignore[union-attr]
    assert out.torch.version == planted.torch.version  # type: ignore[union-attr]
    who = redact_facts(planted, identity=True)
    assert isinstance(who.host, HostFacts) and isinstance(planted.host, HostFacts)
    assert who.host.hostname == MASK
    assert "/home/ana" not in who.torch.python_executable  # type: ignore[union-attr]
