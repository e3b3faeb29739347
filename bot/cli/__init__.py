"""The ``tugboat`` command line (typer)."""
