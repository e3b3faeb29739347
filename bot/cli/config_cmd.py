"""``tugboat config``: inspect the effective configuration."""

from __future__ import annotations

import json

import typer
from pydantic import ValidationError

from bot.domain.errors import InvalidInput
from bot.settings import load_settings

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
) -> None:
    """Print the effective configuration (environment + tugboat.yaml + defaults), secrets masked."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        raise InvalidInput(f"invalid configuration: {exc}") from None
    data = settings.masked()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    import yaml

    typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
