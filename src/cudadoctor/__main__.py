"""`python -m cudadoctor` and the console script: route `healthcheck` before typer is imported."""

import sys


def main() -> None:
    """Run the CLI; `healthcheck` goes straight to its typer-free entry point (exit 0 or 1 only)."""
    args = sys.argv[1:]
    if args[:1] == ["healthcheck"]:
        # NOTE: typer pulls in pydantic and rich (~0.3 s, ~10 MB); a container HEALTHCHECK runs
        # every few seconds and must stay light.
        from cudadoctor.commands.healthcheck import main_fast

        sys.exit(main_fast(args[1:]))
    from cudadoctor.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
