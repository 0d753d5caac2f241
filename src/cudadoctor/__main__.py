"""`python -m cudadoctor` runs the CLI."""

from cudadoctor.cli import main

if __name__ == "__main__":
    main()
