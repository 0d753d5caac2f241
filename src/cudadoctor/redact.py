"""Redaction of secrets (always) and identity (user and host names, on request) in text and Facts."""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from cudadoctor.facts import Facts, HostFacts

if TYPE_CHECKING:
    from cudadoctor.report import Report

MASK = "[REDACTED]"

#: Words of a variable name (split on "_", "-", ".") that mark a credential.
SECRET_WORDS = frozenset({
    "TOKEN", "TOKENS", "KEY", "KEYS", "APIKEY", "SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASS", "PWD",
    "CREDENTIAL", "CREDENTIALS", "CREDS", "AUTH", "SESSION", "COOKIE", "PRIVATE", "PAT",
})
#: Name prefixes and exact names of well-known credential variables.
SECRET_PREFIXES = ("AWS_", "AZURE_", "GCP_", "GOOGLE_APPLICATION_CREDENTIALS")
SECRET_NAMES = frozenset({
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "NGC_API_KEY",
    "ANTHROPIC_API_KEY", "COMET_API_KEY", "NEPTUNE_API_TOKEN", "KAGGLE_KEY",
})
#: Words that look like credential words but are configuration (PWD is the working directory).
_NOT_SECRET = frozenset({"PWD", "OLDPWD"})

# NOTE: token shapes as documented by their issuers: GitHub
# (https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/), Hugging Face
# (hf_...), AWS access key ids (AKIA/ASIA + 16), OpenAI/Anthropic (sk-...), Slack (xox?-), GitLab
# (glpat-), Google API keys (AIza + 35), NVIDIA NGC (nvapi-).
_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255}|hf_[A-Za-z0-9]{20,255}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,255}|xox[abprs]-[A-Za-z0-9-]{10,255}"
    r"|glpat-[A-Za-z0-9_-]{20,255}|AIza[0-9A-Za-z_-]{35}|nvapi-[A-Za-z0-9_-]{20,255})"
)
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,4096}", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]{1,20}://)[^/\s:@]{1,256}:[^/\s@]{1,256}@", re.IGNORECASE)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[\s\S]{0,16384}?-----END [A-Z ]{0,40}PRIVATE KEY-----")
# NAME=value, NAME: value, "NAME": "value", export NAME='value', --name=value
# NOTE: the look-behind lets a name start only where a word starts: without it, every position
# of a long word was tried with up to 128 name characters (seconds for a 100 KB line).
_ASSIGN = re.compile(
    r"""(?<![A-Za-z0-9_.-])(?P<name>-{0,2}[A-Za-z_][A-Za-z0-9_.-]{0,255})(?P<sep>["']?\s{0,4}[=:]\s{0,4}["']?)(?P<value>[^\s"',;}]{1,4096})"""
)
_HOME = re.compile(r"(/home/|/Users/|[A-Za-z]:\\Users\\|/var/home/)([^/\\\s\"':]{1,64})")
#: User names never redacted: not identifying, and too common as words.
_GENERIC_USERS = frozenset({
    "root", "user", "users", "admin", "runner", "ubuntu", "ec2-user", "shared", "public", "default", "home",
    "torch", "cuda", "nvidia", "python", "conda", "lib", "bin", "usr", "local", "opt", "app", "work", "workspace",
})


def secret_name(name: str) -> bool:
    """Whether an environment variable of this name looks like it holds a credential."""
    upper = name.upper()
    if upper in _NOT_SECRET:
        return False
    if upper in SECRET_NAMES or upper.startswith(SECRET_PREFIXES):
        return True
    return any(word in SECRET_WORDS for word in re.split(r"[_.\-]+", upper))


#: Shortest secret value masked wherever it appears (shorter values would mask ordinary words).
MIN_SECRET_VALUE = 8


def environment_secrets(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Values of the secret-named variables in *environ* (default: this process's environment).

    A child (torch's import, a library's logging) may print such a value with no ``NAME=`` in
    front of it, where no pattern can tell it is a secret; knowing the value itself can.
    """
    env = os.environ if environ is None else environ
    return frozenset(
        v.strip() for k, v in env.items() if secret_name(k) and len(v.strip()) >= MIN_SECRET_VALUE
    )


class Redactor:
    """Replaces secrets (always) and the given user and host names (identity mode) in text.

    Secrets are credential-shaped text (tokens, Bearer headers, URL passwords, secret-named
    assignments) and the literal values of this process's secret-named environment variables
    (*secret_values*; default: :func:`environment_secrets`).
    """

    def __init__(
        self, *, identity: bool = False, users: Iterable[str] = (), hosts: Iterable[str] = (),
        secret_values: Iterable[str] | None = None,
    ) -> None:
        values = environment_secrets() if secret_values is None else {v for v in secret_values if v}
        self._values = (
            re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))) if values else None
        )
        self.identity = identity
        self.users = sorted({u for u in users if _redactable_user(u)}, key=len, reverse=True)
        self.hosts = sorted({h for h in hosts if _redactable_host(h)}, key=len, reverse=True)
        self._names = (
            re.compile(r"(?<![\w.-])(?:" + "|".join(re.escape(n) for n in self.users + self.hosts) + r")(?![\w-])")
            if identity and (self.users or self.hosts) else None
        )

    def text(self, text: str) -> str:
        """*text* with secrets, and in identity mode user/host names and home paths, replaced by [REDACTED]."""
        if not text:
            return text
        if self._values is not None:
            text = self._values.sub(MASK, text)
        text = _PRIVATE_KEY.sub(MASK, text)
        text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
        text = _TOKENS.sub(MASK, text)
        text = _ASSIGN.sub(self._assignment, text)
        if self.identity:
            text = _HOME.sub(lambda m: m.group(1) + MASK, text)
            if self._names is not None:
                text = self._names.sub(MASK, text)
        return text

    @staticmethod
    def _assignment(m: re.Match[str]) -> str:
        name = m.group("name").lstrip("-").replace("-", "_")
        if secret_name(name) and m.group("value") != MASK:
            return m.group("name") + m.group("sep") + MASK
        return m.group(0)


def _redactable_user(name: str) -> bool:
    return len(name) >= 3 and name.lower() not in _GENERIC_USERS and MASK not in name


def _redactable_host(name: str) -> bool:
    return len(name) >= 3 and name.lower() not in ("localhost", "(pasted text)") and not name.startswith("(")


def this_user() -> str:
    """The current user name ("" when it cannot be told)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return os.environ.get("USER", "")


def this_host() -> str:
    """This machine's host name ("" when it cannot be told)."""
    try:
        return socket.gethostname()
    except OSError:
        return ""


def users_in(text: str) -> set[str]:
    """User names that appear as home directories (/home/<user>, /Users/<user>, C:\\Users\\<user>)."""
    return {m.group(2) for m in _HOME.finditer(text)}


def redact_text(text: str, *, identity: bool = False) -> str:
    """Replace secrets in *text* with [REDACTED]; with *identity* also user names, host names and home paths.

    Identity mode redacts the user names found in home paths of the text itself, the current user,
    and this machine's host name.
    """
    if not identity:
        return Redactor().text(text)
    return Redactor(identity=True, users=users_in(text) | {this_user()}, hosts={this_host()}).text(text)


def _strings(value: Any) -> Iterable[str]:
    """Every string inside a facts value (dict keys included)."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)


def redactor_for(facts: Facts, *, identity: bool = False) -> Redactor:
    """A Redactor that knows the user and host names of *facts* (and of this machine)."""
    if not identity:
        return Redactor()
    users: set[str] = {this_user()}
    for s in _strings(facts):
        if "/home/" in s or "/Users/" in s or "\\Users\\" in s or "/var/home/" in s:
            users |= users_in(s)
    hosts = {this_host()}
    if isinstance(facts.host, HostFacts):
        hosts.add(facts.host.hostname)
    return Redactor(identity=True, users=users, hosts=hosts)


def _map(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, Enum):
        # NOTE: enum values are our own vocabulary, never secrets; mapping one would turn a
        # NvmlStatus into a plain str and break identity comparisons downstream.
        return value
    if isinstance(value, str):
        return fn(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _map(getattr(value, f.name), fn) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_map(v, fn) for v in value)
    if isinstance(value, list):
        return [_map(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: (MASK if secret_name(str(k)) and isinstance(v, str) else _map(v, fn)) for k, v in value.items()}
    return value


def redact_value(value: Any) -> Any:
    """A copy of a facts value (one area, a dataclass, a tuple ...) with secrets masked in every string."""
    return _map(value, Redactor().text)


def redact_facts(facts: Facts, *, identity: bool = False, redactor: Redactor | None = None) -> Facts:
    """A copy of *facts* with every string redacted (secret-named variables' values masked)."""
    r = redactor or redactor_for(facts, identity=identity)
    return _map(facts, r.text)  # type: ignore[no-any-return]


def redact_report(report: Report, *, identity: bool = False) -> Report:
    """A copy of *report* whose facts (the benchmark and the ranks included), findings, skip reasons,
    gate decision and triage summary are redacted (every output format).

    Secrets are always masked; *identity* also hides user names, host names and home paths.
    """
    r = redactor_for(report.facts, identity=identity)
    outcomes = tuple(
        dataclasses.replace(
            o,
            reason=r.text(o.reason),
            findings=tuple(
                dataclasses.replace(
                    f,
                    message=r.text(f.message),
                    fix=r.text(f.fix),
                    evidence={k: (MASK if secret_name(k) else r.text(v)) for k, v in f.evidence.items()},
                )
                for f in o.findings
            ),
        )
        for o in report.outcomes
    )
    return dataclasses.replace(
        report,
        facts=redact_facts(report.facts, redactor=r),
        outcomes=outcomes,
        gate=_map(report.gate, r.text),
        triage=_map(report.triage, r.text),
    )
