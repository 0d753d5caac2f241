"""`cudadoctor healthcheck`: exit 0 healthy or 1 unhealthy, one line, fast, bounded by a global deadline.

Built for Docker ``HEALTHCHECK`` and Kubernetes probes, where any exit code but 0 and 1 is
wrong (Docker reserves 2), a hang is the worst outcome, and the check runs every few seconds:

* the entry point :func:`main_fast` imports neither typer, rich, pydantic nor torch (the CLI calls
  it before importing typer); it parses the options declared once in healthcheck_options.py,
  which the typer CLI registers too (``--help`` and shell completion are typer's);
* the driver probe's children (NVML, libcuda) start first (``probes.driver.start``, the same
  probe ``check`` runs), and everything else is imported while they run;
* host, env, container and driver facts are read live on every run; the slow facts (torch, the
  CUDA library scan, the toolkit) come from a cache keyed by what they depend on (cache.py);
* only the checks marked ``fast`` run, then the policy decides what is fatal
  (``gating.policy.judge_health``); this module only prints the verdict;
* a global ``--timeout`` bounds everything: on expiry every child process group is killed and
  the process exits 1 at once.

Test hooks: ``--facts FILE`` judges a saved facts file instead of probing, and ``main_fast``'s
``facts_provider`` argument supplies Facts from a function (used by the deadline tests).
``--debug-modules`` (hidden) prints the imported module names to stderr as JSON.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cudadoctor.commands.healthcheck_options import (
    DESCRIPTION,
    HELP_FLAGS,
    HealthcheckOptions,
    HelpRequested,
    UsageError,
    parse,
    typer_parameters,
)

if TYPE_CHECKING:
    import typer

    from cudadoctor.facts import Facts
    from cudadoctor.gating.policy import Reason
    from cudadoctor.probes.driver import DriverRun

EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
PROG = "cudadoctor healthcheck"
#: Longest reason text in the one-line summary (Docker keeps 4 KiB of probe output).
HEADLINE_CHARS = 200
#: Share of --timeout the driver children get: their own watchdog then reports a hung NVML
#: call by name (a finding) before the global deadline turns it into a bare timeout.
DRIVER_SHARE = 0.75
#: Seconds the deadline waits for killed children to be reaped before the process exits.
REAP_GRACE = 0.5


# --------------------------------------------------------------------------------------------
# one run, in a worker thread the deadline can abandon


class Outcome:
    """What the healthcheck decided, ready to print."""

    def __init__(self, *, healthy: bool, summary: str, reasons: list[Reason] | None = None,
                 notes: list[Reason] | None = None, gpus: int | None = None, driver: str | None = None,
                 torch: str | None = None, cached: dict[str, bool] | None = None, seconds: float = 0.0,
                 extra: dict[str, Any] | None = None) -> None:
        self.healthy = healthy
        self.summary = summary
        self.reasons = reasons or []
        self.notes = notes or []
        self.gpus = gpus
        self.driver = driver
        self.torch = torch
        self.cached = cached or {}
        self.seconds = seconds
        self.extra = extra or {}

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 unhealthy."""
        return EXIT_HEALTHY if self.healthy else EXIT_UNHEALTHY

    def line(self) -> str:
        """The one-line text output."""
        text = ("healthy: " if self.healthy else "unhealthy: ") + self.summary
        return " ".join(text.split())

    def to_json(self) -> dict[str, Any]:
        """The --format json object."""
        return {
            "healthy": self.healthy,
            "summary": self.line(),
            "reasons": [self._reason_json(r) for r in self.reasons],
            "notes": [self._reason_json(r) for r in self.notes],
            "gpus": self.gpus,
            "driver": self.driver,
            "torch": self.torch,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            **self.extra,
        }

    @staticmethod
    def _reason_json(reason: Any) -> dict[str, Any]:
        return reason.to_json() if hasattr(reason, "to_json") else dict(reason)


def failure(message: str, name: str, seconds: float, **extra: Any) -> Outcome:
    """An unhealthy outcome for the tool's own failures (bad policy, bad facts file, timeout, crash)."""
    return Outcome(
        healthy=False,
        summary=message,
        reasons=[{"name": name, "severity": "error", "message": message}],  # type: ignore[list-item]
        seconds=seconds,
        extra=extra,
    )


class Run:
    """The work of one healthcheck; ``stages`` says what is still running when the deadline fires."""

    def __init__(self, opts: HealthcheckOptions, started: float,
                 facts_provider: Callable[[], Facts] | None = None) -> None:
        self.opts = opts
        self.started = started
        self.facts_provider = facts_provider
        self.outcome: Outcome | None = None
        self.done = threading.Event()
        self._stages: dict[str, int] = {}
        self._lock = threading.Lock()
        self.driver_run: DriverRun | None = None
        self.check_order: list[str] = []  #: every check's code, in report order (the reasons' order)

    # -- bookkeeping

    def begin(self, name: str) -> None:
        """Mark *name* as running."""
        with self._lock:
            self._stages[name] = self._stages.get(name, 0) + 1

    def end(self, name: str) -> None:
        """Mark *name* as finished."""
        with self._lock:
            left = self._stages.get(name, 0) - 1
            if left > 0:
                self._stages[name] = left
            else:
                self._stages.pop(name, None)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Mark *name* as running for the duration of the block."""
        self.begin(name)
        try:
            yield
        finally:
            self.end(name)

    def running(self) -> list[str]:
        """Stages still running, in the order they began."""
        with self._lock:
            return list(self._stages)

    def elapsed(self) -> float:
        """Seconds since the healthcheck started."""
        return time.monotonic() - self.started

    # -- the work

    def start_driver(self) -> None:
        """Start the driver probe's children (first thing, before the imports); probe() collects them."""
        if self.opts.facts or self.facts_provider is not None:
            return
        from cudadoctor.probes import driver
        from cudadoctor.probes.base import ProbeContext

        ctx = ProbeContext(python=self.opts.python or sys.executable, timeout=max(0.05, self.opts.timeout * DRIVER_SHARE))
        self.begin("driver probe")
        try:
            self.driver_run = driver.start(ctx, on_done=lambda: self.end("driver probe"))
        except BaseException:
            self.end("driver probe")
            raise

    def __call__(self) -> None:
        try:
            self.outcome = self.work()
        except BaseException as e:  # noqa: BLE001 - the contract: any failure is "unhealthy", exit 1
            if os.environ.get("CUDADOCTOR_DEBUG"):
                import traceback

                traceback.print_exc()
            self.outcome = failure(f"internal error: {type(e).__name__}: {e}", "internal-error", self.elapsed())
        finally:
            self.done.set()

    def work(self) -> Outcome:
        """Probe (or replay), judge with the fast checks, apply the policy."""
        from pathlib import Path

        self.start_driver()
        with self.stage("loading checks"):
            from cudadoctor import engine
            from cudadoctor.commands.healthcheck_checks import health_checks
            from cudadoctor.errors import CudaDoctorError
            from cudadoctor.gating.policy import check_selectors, load_policy
            from cudadoctor.tables import load_tables
        try:
            with self.stage("policy"):
                policy = load_policy(Path(self.opts.policy) if self.opts.policy else None)
                checks = health_checks()
                check_selectors(policy, checks.names, checks.codes)
                self.check_order = list(checks.codes)
            with self.stage("rule tables"):
                tables = load_tables(Path(self.opts.rules_dir) if self.opts.rules_dir else None)
            cached: dict[str, bool] = {}
            extra: dict[str, Any] = {}
            if self.opts.facts:
                from cudadoctor.factsfile import load_facts

                with self.stage("facts file"):
                    facts = load_facts(Path(self.opts.facts))
                source = "facts-file"
            elif self.facts_provider is not None:
                with self.stage("facts provider"):
                    facts = self.facts_provider()
                source = "probe"
            else:
                facts, cached, extra = self.probe()
                source = "probe"
        except CudaDoctorError as e:
            return failure(str(e), "tool-error", self.elapsed())
        with self.stage("checks"):
            report = engine.evaluate(facts, tables, checks=checks.fast, source=source)
        return self.judge(report, policy, cached, extra)

    def probe(self) -> tuple[Facts, dict[str, bool], dict[str, Any]]:
        """Live facts every time, slow facts from the cache (probing and storing the misses; probes/cached.py)."""
        import datetime as dt

        from cudadoctor._version import __version__
        from cudadoctor.facts import Facts
        from cudadoctor.probes import probe_function
        from cudadoctor.probes.base import ProbeContext, run_probe
        from cudadoctor.probes.cached import SLOW_AREAS, SlowFacts, cwd_or_empty, open_cache

        opts = self.opts
        python = opts.python or sys.executable
        # NOTE: the global deadline is the real bound; the children's own timeouts are a safety net.
        ctx = ProbeContext(python=python, timeout=opts.timeout, torch_timeout=opts.timeout)
        environ = dict(os.environ)
        # An explicit directory is used or not at all; the default falls back to a private
        # directory under /tmp (read-only root filesystems, HOME=/ in a pod).
        cache = open_cache(environ, opts.cache_dir, disabled="--no-cache" if opts.no_cache else "")
        slow = SlowFacts(cache, python=python, environ=environ, cwd=cwd_or_empty(), fresh=opts.fresh,
                         timeout=opts.timeout)
        results: dict[str, Any] = {}
        seconds: dict[str, float] = {}

        def slow_area(area: str) -> None:
            with self.stage(f"{area} probe"):
                # NOTE: the probe module is imported only on a miss (a hit needs none of its code).
                results[area], seconds[area] = run_probe(
                    area, lambda c: slow.run(area, lambda c2: probe_function(area)(c2), c), ctx)

        # NOTE: the slow areas start first: on a miss their children run while the live facts are read.
        threads = [threading.Thread(target=slow_area, args=(area,), name=f"probe-{area}", daemon=True)
                   for area in SLOW_AREAS]
        for thread in threads:
            thread.start()
        for area in ("host", "env", "container"):
            with self.stage(f"{area} probe"):
                results[area], seconds[area] = run_probe(area, probe_function(area), ctx)
        driver_run = self.driver_run
        assert driver_run is not None
        with self.stage("driver probe"):
            results["driver"], seconds["driver"] = run_probe("driver", lambda _ctx: driver_run.collect(), ctx)
        slow.driver.set(results["driver"])
        for thread in threads:
            thread.join()
        ages = slow.cached()
        cached = {area: area in ages for area in SLOW_AREAS}
        extra: dict[str, Any] = {"cache": slow.summary()}
        facts = Facts(
            cudadoctor_version=__version__,
            collected_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            cached=ages,
            probe_seconds={k: round(v, 4) for k, v in sorted(seconds.items())},
            **results,
        )
        return facts, cached, extra

    def judge(self, report: Any, policy: Any, cached: dict[str, bool], extra: dict[str, Any]) -> Outcome:
        """The policy's verdict on *report* (gating.policy.judge_health), summarised for printing."""
        from cudadoctor.facts import DriverFacts, TorchFacts, Unavailable
        from cudadoctor.gating.policy import driver_text, judge_health

        verdict = judge_health(report, policy, check_order=self.check_order)
        reasons, notes = list(verdict.reasons), list(verdict.notes)
        if report.errors:
            extra = {**extra, "check_errors": [o.reason for o in report.errors]}
        facts = report.facts
        drv = facts.driver
        gpus = len(drv.gpus) if isinstance(drv, DriverFacts) else None
        driver = driver_text(drv) if isinstance(drv, DriverFacts) else None
        t = facts.torch
        torch = str(t.version) if isinstance(t, TorchFacts) and not isinstance(t.version, Unavailable) else None
        if reasons:
            summary = _clip(reasons[0].headline) + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else "")
        else:
            summary = _healthy_summary(gpus, driver, torch, t)
            if notes:
                summary += f" (warnings: {', '.join(dict.fromkeys(n.name for n in notes))})"
        return Outcome(
            healthy=verdict.healthy, summary=summary, reasons=reasons, notes=notes, gpus=gpus, driver=driver,
            torch=torch, cached=cached, seconds=self.elapsed(), extra={"policy": policy.source, **extra},
        )


def _healthy_summary(gpus: int | None, driver: str | None, torch: str | None, t: Any) -> str:
    parts = [f"{gpus or 0} GPU{'' if gpus == 1 else 's'}", f"driver {driver}" if driver else "no driver"]
    if torch:
        parts.append(f"torch {torch}")
    elif getattr(t, "status", "") == "not-installed":
        parts.append("torch not installed")
    else:
        parts.append("torch unknown")
    return ", ".join(parts)


def _clip(text: str, limit: int = HEADLINE_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


# --------------------------------------------------------------------------------------------
# entry points


def _emit(outcome: Outcome, fmt: str, output: str | None = None) -> bool:
    """Print the outcome in *fmt*; with *output*, write it there (atomically) and print the one line.

    Returns False when *output* could not be written (the caller then exits 1: the metrics a
    monitor reads would be stale).
    """
    if fmt == "json":
        import json

        text = json.dumps(outcome.to_json(), ensure_ascii=False)
    elif fmt == "prometheus":
        from cudadoctor.render.prometheus import render_health

        text = render_health(outcome.to_json(), now=time.time()).rstrip("\n")
    else:
        text = outcome.line()
    written = True
    if output:
        from pathlib import Path

        from cudadoctor.textfile import write_atomically

        try:
            write_atomically(Path(output), text + "\n")
        except OSError as e:
            sys.stderr.write(f"{PROG}: error: --output {output}: cannot write: {e.strerror or e}\n")
            written = False
        text = outcome.line()
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):  # stdout closed (a probe that stopped reading): the exit code still counts
        pass
    return written


def _finish(code: int, opts: Any) -> int:
    if getattr(opts, "debug_modules", False):
        import json

        sys.stderr.write("modules: " + json.dumps(sorted(sys.modules)) + "\n")
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return code


def main_fast(
    argv: list[str],
    *,
    facts_provider: Callable[[], Facts] | None = None,
    hard_exit: bool = True,
) -> int:
    """Run the healthcheck; return 0 (healthy) or 1 (unhealthy). Imports no typer, rich or torch.

    *facts_provider* replaces probing (test hook). With *hard_exit* (the CLI), a deadline that
    fires ends the process with os._exit(1) after printing, since abandoned threads may be stuck
    in a child or a driver call; without it (in-process callers) the call returns 1.
    """
    started = time.monotonic()
    fmt = "json" if _wants_json(argv) else "text"
    try:
        opts = parse(argv)
    except HelpRequested:
        return _print_help()
    except UsageError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        _emit(failure(f"bad usage: {e}", "usage-error", time.monotonic() - started), fmt)
        return EXIT_UNHEALTHY
    run = Run(opts, started, facts_provider)
    try:
        # NOTE: the worker starts the driver children before its heavy imports, so they overlap.
        worker = threading.Thread(target=run, name="healthcheck", daemon=True)
        worker.start()
        finished = run.done.wait(max(0.0, opts.timeout - (time.monotonic() - started)))
    except KeyboardInterrupt:
        finished, interrupted = False, True
    else:
        interrupted = False
    if finished and run.outcome is not None:
        outcome = run.outcome
        if outcome.reasons and _is_tool_failure(outcome):
            sys.stderr.write(f"{PROG}: error: {outcome.summary}\n")
        written = _emit(outcome, opts.format, opts.output)
        if hard_exit and run.running():
            # An early answer (a bad policy) left the driver children running: end them with us.
            from cudadoctor._util import kill_children

            kill_children(block_new=True)
        return _finish(outcome.exit_code if written else EXIT_UNHEALTHY, opts)
    # The deadline fired: nothing may outlive us, and nobody waits for the stuck threads.
    still = run.running()
    from cudadoctor._util import kill_children, running_children

    kill_children(block_new=True)
    # NOTE: the threads waiting on the killed children reap them as they return; a moment's
    # grace keeps them from becoming zombies under a PID 1 that never reaps (no tini in the image).
    grace = time.monotonic() + REAP_GRACE
    while running_children() and time.monotonic() < grace:
        time.sleep(0.01)
    message = "healthcheck interrupted" if interrupted else f"healthcheck timed out after {opts.timeout:g} s"
    message += f" (still running: {', '.join(still)})" if still else ""
    outcome = failure(message, "interrupted" if interrupted else "timeout", time.monotonic() - started,
                      still_running=still)
    sys.stderr.write(f"{PROG}: error: {message}\n")
    _emit(outcome, opts.format, opts.output)
    code = _finish(EXIT_UNHEALTHY, opts)
    if hard_exit:
        os._exit(code)
    return code


#: Reason names of the tool's own failures (reported on stderr too; findings are not).
TOOL_FAILURES = frozenset({"usage-error", "tool-error", "timeout", "interrupted", "internal-error"})


def _is_tool_failure(outcome: Outcome) -> bool:
    first = outcome.reasons[0]
    name = first.get("name") if isinstance(first, dict) else getattr(first, "name", "")
    return name in TOOL_FAILURES


def _wants_json(argv: list[str]) -> bool:
    """Whether the output should be JSON even when the options fail to parse (metrics then are not
    written: without the options there is no --output to write them to)."""
    for i, arg in enumerate(argv):
        if arg in ("--format", "-f") and i + 1 < len(argv):
            return argv[i + 1].strip().lower() == "json"
        if arg.startswith("--format="):
            return arg.split("=", 1)[1].strip().lower() == "json"
    return os.environ.get("CUDADOCTOR_FORMAT", "").strip().lower() == "json"


def _print_help() -> int:
    """Print `cudadoctor healthcheck --help` as the typer CLI renders it (help is not a health probe)."""
    from cudadoctor.cli import app

    code = app(args=["healthcheck", "--help"], standalone_mode=False, prog_name="cudadoctor")
    return EXIT_HEALTHY if code in (0, None) else EXIT_UNHEALTHY


#: Where the typer command keeps the arguments it leaves for main_fast to parse.
_ARGV_KEY = "cudadoctor.healthcheck.argv"


def register(app: typer.Typer) -> None:
    """Add `healthcheck` to the typer CLI with the declared options; main_fast parses them (one parser).

    typer lists the options in `cudadoctor healthcheck --help` and offers them to shell completion;
    an invocation hands its arguments to main_fast unparsed, so its exit codes (0/1, bad usage
    included) and messages are the fast path's.
    """
    import inspect

    import typer
    from typer.core import TyperCommand

    class FastParsedCommand(TyperCommand):
        """A typer command whose arguments main_fast parses (click only shows help and completes)."""

        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
            if any(arg in HELP_FLAGS for arg in args):
                return super().parse_args(ctx, ["--help"])
            if ctx.resilient_parsing:  # NOTE: shell completion: click reads what is typed so far
                return super().parse_args(ctx, args)
            ctx.meta[_ARGV_KEY] = list(args)
            return []

    def healthcheck(ctx: typer.Context, **_declared: Any) -> None:
        """Run main_fast on the arguments FastParsedCommand kept (exit 0 or 1)."""
        raise typer.Exit(main_fast(ctx.meta.get(_ARGV_KEY, [])))

    signature = inspect.Signature(
        [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
         *typer_parameters()],
        return_annotation=None,
    )
    # NOTE: typer reads the signature and the annotations; they must be objects, since typer is
    # not imported in this module's globals (it must stay out of main_fast's path).
    healthcheck.__signature__ = signature  # type: ignore[attr-defined]
    healthcheck.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {"return": None}
    app.command(
        name="healthcheck",
        cls=FastParsedCommand,
        help=DESCRIPTION,
        context_settings={"help_option_names": list(HELP_FLAGS)},
    )(healthcheck)
