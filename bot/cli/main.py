"""The ``tugboat`` command: one typer app; each command group lives in its own module."""

from __future__ import annotations

import sys

import typer

from bot import __version__
from bot.cli import (
    ask_cmd,
    audit_cmd,
    capacity_cmd,
    config_cmd,
    demo_cmd,
    doctor_cmd,
    foresight_cmd,
    investigate_cmd,
    manifest_cmd,
    serve_cmd,
)
from bot.domain.errors import TugboatError

app = typer.Typer(
    name="tugboat",
    help="ChatOps for GitOps: explain Kubernetes alerts with evidence, and draft fixes as approved changes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Listed in the order a newcomer meets them: the incident loop, foresight, then the tools.
app.command("serve")(serve_cmd.serve)
app.command("investigate")(investigate_cmd.investigate)
app.command("ask")(ask_cmd.ask)
app.command("demo")(demo_cmd.demo)
app.command("capacity")(capacity_cmd.capacity)
app.command("rightsize")(capacity_cmd.rightsize)
app.command("anomaly-scores")(foresight_cmd.anomaly_scores)
app.command("forecast")(foresight_cmd.forecast)
app.add_typer(manifest_cmd.app, name="manifest")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(config_cmd.app, name="config")
app.command("doctor")(doctor_cmd.doctor)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tugboat {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Tugboat investigates alerts from Prometheus, Loki and Git history, and proposes manifest
    changes that merge only after a person approves them."""


def run() -> None:
    """Console entry point: errors meant for people are printed plainly, never as a traceback."""
    try:
        app()
    except TugboatError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
