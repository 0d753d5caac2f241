"""`python -m cudadoctor` and the console script: route `healthcheck`, `--help` and `explain` before typer is imported."""

import sys


def main() -> None:
    """Run the CLI; `healthcheck` goes straight to its typer-free entry point (exit 0 or 1 only)."""
    from cudadoctor import output, shutdown

    args = sys.argv[1:]
    # NOTE: typer turns a KeyboardInterrupt into a silent exit 130; the CLI's signals must reach
    # its error boundary. The healthcheck handles a KeyboardInterrupt itself (unhealthy, exit 1).
    shutdown.install_handlers(as_keyboard_interrupt=args[:1] == ["healthcheck"])
    if args[:1] == ["healthcheck"]:
        # NOTE: only the exit code of a healthcheck means anything (0/1): a stdout that cannot
        # be written is dropped, never an error.
        output.install(strict=False)
        # NOTE: typer pulls in pydantic and rich (~0.3 s, ~10 MB); a container HEALTHCHECK runs
        # every few seconds and must stay light.
        from cudadoctor.commands.healthcheck import main_fast

        try:
            code = main_fast(args[1:])
        except (KeyboardInterrupt, shutdown.Stopped):  # outside the healthcheck's own wait: still 0/1 only
            shutdown.end(1, "cudadoctor healthcheck: error: healthcheck interrupted")
        sys.exit(code)
    output.install(strict=True)
    from cudadoctor import fastpath

    if fastpath.servable(args):
        # NOTE: help and explain texts are served from the cache without importing typer, the
        # commands or the checks (~0.25 s); the first run renders them through typer (fastpath.py).
        try:
            fastpath.main(args, _typer_main)
        except output.OutputClosed:  # a cache hit printed outside the typer CLI's error boundary
            shutdown.end(output.EXIT_PIPE_CLOSED)
        except output.OutputFailed as e:
            output.err(f"cudadoctor: error: {e}\n")
            sys.exit(2)
        return
    _typer_main(args)


def _typer_main(args: list[str]) -> None:
    from cudadoctor.cli import main as cli_main

    cli_main(args)


if __name__ == "__main__":
    main()
