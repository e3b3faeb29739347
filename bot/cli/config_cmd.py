"""``tugboat config``: inspect the effective configuration."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
) -> None:
    """Print the effective configuration (environment + tugboat.yaml + defaults), secrets masked."""
    from bot.settings import load_settings  # imported here: start-up time of every other command

    data = load_settings().masked()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    import yaml

    typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


def _shown_default(value: object) -> str:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return "see below"
    return "" if value in (None, "", [], {}) else f"`{value}`"


def reference_table() -> str:
    """The configuration reference as Markdown (the README embeds this output; a test checks it)."""
    from pydantic import AliasChoices

    from bot.settings import ApprovalPolicy, Settings

    rows = ["| variable | YAML key | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias.choices[0] if isinstance(alias, AliasChoices) else f"TUGBOAT_{name.upper()}"
        default = _shown_default(field.get_default(call_default_factory=True))
        rows.append(f"| `{variable}` | `{name}` | {default} | {field.description or ''} |")
    rows += [
        "",
        "The approver policy (`policy:` in tugboat.yaml):",
        "",
        "| key | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in ApprovalPolicy.model_fields.items():
        default = _shown_default(field.get_default(call_default_factory=True))
        rows.append(f"| `policy.{name}` | {default} | {field.description or ''} |")
    return "\n".join(rows)


@app.command("reference")
def reference() -> None:
    """Print every setting as a Markdown table: variable, YAML key, default and meaning."""
    typer.echo(reference_table())
