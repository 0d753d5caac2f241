"""Renderers: Report in, text out, selected by an exhaustive OutputFormat enum."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from cudadoctor._util import assert_never

if TYPE_CHECKING:
    from cudadoctor.report import Report


class OutputFormat(str, Enum):
    """Output formats; values are the CLI spellings."""

    TERMINAL = "terminal"
    JSON = "json"
    MARKDOWN = "markdown"
    PROMETHEUS = "prometheus"  #: node-exporter textfile-collector metrics


def render(
    report: Report,
    fmt: OutputFormat,
    *,
    width: int | None = None,
    verbose: bool = False,
    color: bool = False,
    redact_identity: bool = False,
) -> str:
    """Render *report* in *fmt* as text.

    Every format masks secrets (values of credential-like variables, token shapes); with
    *redact_identity* user names, host names and home paths are hidden too (``--redact``).
    """
    from cudadoctor.redact import redact_report

    report = redact_report(report, identity=redact_identity)
    match fmt:
        case OutputFormat.TERMINAL:
            from cudadoctor.render import terminal

            return terminal.render(report, width=width, verbose=verbose, color=color)
        case OutputFormat.JSON:
            from cudadoctor.render import json_report

            return json_report.render(report)
        case OutputFormat.MARKDOWN:
            from cudadoctor.render import markdown

            return markdown.render(report, redact_identity=redact_identity)
        case OutputFormat.PROMETHEUS:
            from cudadoctor.render import prometheus

            return prometheus.render(report)
        case _:
            assert_never(fmt)
