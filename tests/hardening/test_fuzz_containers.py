"""Fuzz the parsers of issue 15 (lint files, kernel.json, /proc/1/environ): only UsageError escapes, and fast."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from cudadoctor.errors import UsageError
from cudadoctor.lint.compose import parse_compose
from cudadoctor.lint.dockerfile import parse_dockerfile
from cudadoctor.lint.engine import lint
from cudadoctor.lint.pipargs import pip_installs
from cudadoctor.lint.requirements import parse_requirements
from cudadoctor.probes.jupyter import parse_kernelspec
from cudadoctor.probes.session import parse_environ
from cudadoctor.tables import load_tables
from tests.hardening._strategies import bounded, fuzz_settings, nasty_text, samples, text_for

TABLES = load_tables()
DOCKERFILES = samples("lint/*/Dockerfile")
COMPOSES = samples("lint/*/compose.yaml")
REQUIREMENTS = samples("lint/*/requirements.txt")


@fuzz_settings(60)
@given(st.one_of(nasty_text, text_for(DOCKERFILES)))
def test_dockerfile(text: str) -> None:
    try:
        model = bounded(parse_dockerfile, Path("Dockerfile"), text)
    except UsageError:
        return
    assert all(r.where.line >= 1 for r in model.requirements)


@fuzz_settings(60)
@given(st.one_of(nasty_text, text_for(COMPOSES)))
def test_compose(text: str) -> None:
    try:
        bounded(parse_compose, Path("compose.yaml"), text)
    except UsageError as e:
        assert "\n" not in str(e)


@fuzz_settings(60)
@given(st.one_of(nasty_text, text_for(REQUIREMENTS)))
def test_requirements_and_pip_lines(text: str) -> None:
    bounded(parse_requirements, Path("requirements.txt"), text)
    bounded(pip_installs, "pip install " + text)


@fuzz_settings(40)
@given(st.one_of(text_for(DOCKERFILES), text_for(REQUIREMENTS)))
def test_whole_lint_on_mutated_files(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("lint")
    (d / "Dockerfile").write_text(text, encoding="utf-8")
    (d / "requirements.txt").write_text(text, encoding="utf-8")
    from packaging.version import Version

    try:
        report = bounded(lint, [d / "Dockerfile", d / "requirements.txt"], TABLES, driver=Version("535.183.01"))
    except UsageError:
        return
    assert all(f.finding.fix for f in report.findings)


@fuzz_settings(60)
@given(st.one_of(nasty_text, st.builds(json.dumps, st.dictionaries(st.sampled_from(["argv", "language", "display_name"]),
                                                                 st.one_of(st.text(max_size=20), st.lists(st.text(max_size=20)), st.integers())))))
def test_kernel_json(text: str) -> None:
    try:
        spec = bounded(parse_kernelspec, "k", "/k/kernel.json", text, os.defpath)
    except ValueError:
        return  # json.JSONDecodeError is a ValueError; the probe records it as a problem
    assert spec.argv


@fuzz_settings(60)
@given(st.binary(max_size=3000))
def test_proc_environ(data: bytes) -> None:
    out = bounded(parse_environ, data)
    assert set(out) <= {"PATH", "LD_LIBRARY_PATH", "CUDA_HOME", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
                        "CUDA_VERSION"}
