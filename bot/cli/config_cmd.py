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


def reference_table() -> str:
    """The configuration reference as a Markdown table (the README embeds this output)."""
    from pydantic import AliasChoices, BaseModel

    from bot.settings import Settings

    rows = ["| variable | YAML key | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias.choices[0] if isinstance(alias, AliasChoices) else f"TUGBOAT_{name.upper()}"
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            shown = "see `policy` below"
        elif default in (None, [], {}):
            shown = ""
        else:
            shown = f"`{default}`"
        rows.append(f"| `{variable}` | `{name}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


@app.command("reference")
def reference() -> None:
    """Print every setting as a Markdown table: variable, YAML key, default and meaning."""
    typer.echo(reference_table())
