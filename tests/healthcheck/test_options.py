"""One declaration of healthcheck's options: the typer CLI and the fast path's parser agree on it."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cudadoctor.cli import app
from cudadoctor.commands.healthcheck_options import (
    OPTIONS,
    HealthcheckOptions,
    HelpRequested,
    UsageError,
    converted,
    parse,
)
from tests.conftest import env_path
from tests.healthcheck.conftest import clean_env, run_healthcheck

HEALTHY = str(env_path("healthy_h100_cu128"))


def _command() -> Any:
    return get_command(app).commands["healthcheck"]  # type: ignore[attr-defined]


def _click_params() -> dict[str, Any]:
    return {p.name: p for p in _command().params if p.name != "help"}


def test_typer_registers_exactly_the_declared_options() -> None:
    params = _click_params()
    assert list(params) == [o.name for o in OPTIONS]
    for o in OPTIONS:
        p = params[o.name]
        assert [*p.opts, *p.secondary_opts] == list(o.flags), o.name
        assert p.envvar == o.envvar
        assert p.help == o.help
        assert p.hidden == o.hidden
        assert p.default == o.default
        assert p.is_flag == o.is_flag
        assert p.type_descriptor.annotation is o.kind, o.name
        if o.metavar:
            assert p.metavar == o.metavar
    # every visible option is configurable from the environment as CUDADOCTOR_<OPTION>
    assert all(o.envvar == f"CUDADOCTOR_{o.name.upper()}" for o in OPTIONS if not o.hidden)
    assert {o.name for o in OPTIONS if o.hidden} == {"debug_modules"}


CASES: list[tuple[list[str], dict[str, str]]] = [
    ([], {}),
    (["--format", "json", "--timeout", "3", "--no-cache", "--policy", "p.toml"], {}),
    (["-f", "JSON", "--cache-dir=/tmp/x", "--rules-dir", "/r", "--facts", "/f.json"], {}),
    (["--timeout", "5"], {"CUDADOCTOR_TIMEOUT": "4", "CUDADOCTOR_NO_CACHE": "1", "CUDADOCTOR_FORMAT": "terminal",
                          "CUDADOCTOR_FACTS": "/x.json", "CUDADOCTOR_POLICY": "/etc/p.toml"}),
    ([], {"CUDADOCTOR_NO_CACHE": "0", "CUDADOCTOR_CACHE_DIR": "/c", "CUDADOCTOR_TIMEOUT": "0.5"}),
    (["--python", sys.executable, "--debug-modules"], {"CUDADOCTOR_RULES_DIR": "/rules"}),
    ([], {"CUDADOCTOR_PYTHON": sys.executable, "CUDADOCTOR_NO_CACHE": "true", "CUDADOCTOR_FORMAT": ""}),
]


@pytest.mark.parametrize(("argv", "env"), CASES)
def test_click_and_the_fast_parser_read_the_same_options(argv: list[str], env: dict[str, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("CUDADOCTOR_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # NOTE: resilient parsing is the one way the typer command lets click parse (shell completion).
    ctx = _command().make_context("healthcheck", list(argv), resilient_parsing=True)
    assert converted(ctx.params) == parse(argv, env)


def test_the_fast_parser_keeps_the_contract() -> None:
    assert parse([], {}) == HealthcheckOptions()
    assert parse(["-fjson"], {}).format == "json"
    assert parse(["--format=terminal"], {}).format == "text"
    with pytest.raises(HelpRequested):
        parse(["--bogus", "-h"], {})
    for argv, message in [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["positional"], "unrecognized arguments: positional"),
        (["--format"], "argument --format/-f: expected one argument"),
        (["--timeout", "--no-cache"], "argument --timeout: expected one argument"),
        (["--timeout", "-1"], "--timeout must be between 0 and 86400 seconds, got '-1'"),
        (["--no-cache=1"], "argument --no-cache: ignored explicit argument '1'"),
        (["--format", "xml"], "--format must be text, json or prometheus, got 'xml'"),
    ]:
        with pytest.raises(UsageError) as e:
            parse(argv, {})
        assert str(e.value) == message
    with pytest.raises(UsageError, match="--timeout must be a number of seconds, got 'soon'"):
        parse([], {"CUDADOCTOR_TIMEOUT": "soon"})


def test_help_is_the_typer_clis_and_lists_every_visible_option() -> None:
    fast = run_healthcheck(["--help"])
    typer_cli = run_healthcheck(["healthcheck", "--help"], argv0=[sys.executable, "-m", "cudadoctor"])
    assert fast.code == typer_cli.code == 0
    assert fast.out == typer_cli.out
    for o in OPTIONS:
        assert (o.flags[0] in fast.out) is not o.hidden
        if o.envvar:
            assert o.envvar in fast.out
    top = run_healthcheck(["--help"], argv0=[sys.executable, "-m", "cudadoctor"])
    assert "healthcheck" in top.out


def test_through_the_typer_app_bad_usage_still_exits_1_with_one_line() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["healthcheck", "--bogus"], env=clean_env())
    assert r.exit_code == 1
    assert r.stdout.startswith("unhealthy: bad usage: ") and len(r.stdout.splitlines()) == 1
    r = runner.invoke(app, ["healthcheck", "--facts", HEALTHY, "-f", "json"], env=clean_env())
    assert r.exit_code == 0 and r.stdout.startswith('{"healthy": true')


def test_shell_completion_offers_the_declared_options() -> None:
    """click's completion machinery (what `--install-completion` would wire up) reads the same declarations."""
    from typer._click.shell_completion import ShellComplete

    class Complete(ShellComplete):
        def format_completion(self, item: Any) -> str:
            return str(item.value)

        def get_completion_args(self) -> tuple[list[str], str]:
            return [], ""

        def source_vars(self) -> dict[str, Any]:
            return {}

    complete = Complete(get_command(app), {}, "cudadoctor", "_CUDADOCTOR_COMPLETE")
    visible = [o.flags[0] for o in OPTIONS if not o.hidden]
    assert [c.value for c in complete.get_completions(["healthcheck"], "--")] == [*visible, "--help"]
    # what is already given is parsed (resilient parsing) and not offered again
    offered = [c.value for c in complete.get_completions(["healthcheck", "--format", "json"], "--")]
    assert "--format" not in offered and "--timeout" in offered
