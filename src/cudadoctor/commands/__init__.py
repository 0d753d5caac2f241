"""One module per subcommand; each exposes plain functions returning an exit code."""
