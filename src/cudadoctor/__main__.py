"""`python -m cudadoctor` and the console script: route `healthcheck`, `--help` and `explain` before typer is imported."""

import sys


def main() -> None:
    """Run the CLI; `healthcheck` goes straight to its typer-free entry point (exit 0 or 1 only)."""
    args = sys.argv[1:]
    if args[:1] == ["healthcheck"]:
        # NOTE: typer pulls in pydantic and rich (~0.3 s, ~10 MB); a container HEALTHCHECK runs
        # every few seconds and must stay light.
        from cudadoctor.commands.healthcheck import main_fast

        sys.exit(main_fast(args[1:]))
    from cudadoctor import fastpath

    if fastpath.servable(args):
        # NOTE: help and explain texts are served from the cache without importing typer, the
        # commands or the checks (~0.25 s); the first run renders them through typer (fastpath.py).
        fastpath.main(args, _typer_main)
        return
    _typer_main(args)


def _typer_main(args: list[str]) -> None:
    from cudadoctor.cli import main as cli_main

    cli_main(args)


if __name__ == "__main__":
    main()
