"""``tugboat manifest``: minimal, comment-preserving edits of one manifest file."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.adapters.manifests.fields import FIELDS
from bot.domain.errors import InvalidInput

if TYPE_CHECKING:
    from bot.ports.workspace import ManifestWorkspace

# The editor and its YAML parsers are imported inside the commands: start-up time of every other command.

app = typer.Typer(
    help="Edit GitOps manifests: change one value, keep every other byte.", no_args_is_help=True
)


def _typed_for_new_key(text: str, path: str, raw: str, document: str | None, where: str) -> Any:
    """A value for a key that does not exist yet is read as YAML (3 is a number); an existing
    value keeps its own type and style, so the text is passed on as given."""
    from bot.adapters.manifests.editor import parse, select_document
    from bot.adapters.manifests.tree import locate, parse_path, resolve_plain

    parsed = parse(text, where)
    segments = parse_path(path)
    index = select_document(parsed, document, segments, where)
    if locate(parsed.roots[index], segments, where).missing:
        return resolve_plain(raw)
    return raw


@app.command("set")
def set_value(
    file: Path = typer.Argument(..., help="The manifest to edit."),
    value: str = typer.Option(..., "--value", help="The new value (e.g. 3, 750m, 1Gi, registry/app:1.2.3)."),
    resource: str | None = typer.Option(None, "--resource", help="KIND/NAME, e.g. Deployment/checkout."),
    field: str | None = typer.Option(None, "--field", help=f"One of: {', '.join(FIELDS)}."),
    path: str | None = typer.Option(
        None, "--path", help="A YAML path instead: spec.replicas, a.b[0].c, replicas[name=checkout].count."
    ),
    document: str | None = typer.Option(None, "--document", help="KIND/NAME of the document, with --path."),
    container: str | None = typer.Option(None, "--container", help="The container, when there are several."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff and leave the file alone."),
) -> None:
    """Set one value in FILE, changing only that value's text."""
    from bot.adapters.manifests.editor import BY_LINE_NOTE, edit_path, unified_diff
    from bot.adapters.manifests.resources import edit_field

    if (path is None) == (resource is None and field is None):
        raise InvalidInput("give either --resource KIND/NAME with --field, or --path")
    if path is None and (resource is None or field is None):
        raise InvalidInput("--resource and --field go together")
    if not file.is_file():
        raise InvalidInput(f"{file} is not a file")
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{file} is not UTF-8 text") from exc
    where = str(file)
    if path is not None:
        edit = edit_path(text, path, _typed_for_new_key(text, path, value, document, where), document, where)
    else:
        assert resource is not None and field is not None
        edit = edit_field(text, resource, field, value, container, where=where).edit
    if diff:
        typer.echo(unified_diff(file.as_posix(), text, edit.text), nl=False)
    elif edit.text != text:
        file.write_bytes(edit.text.encode("utf-8"))
    if edit.by_line:
        typer.echo(f"note: {BY_LINE_NOTE}", err=True)
    if edit.text == text:
        typer.echo(f"{file}: already {value}; nothing to change", err=True)


def _units(field: str, raw: str) -> Any:
    """A command-line value in the field's units: 3, 750m or 0.75 (cores), 1Gi or bytes, an image."""
    from bot.adapters.manifests.resources import canonical_field
    from bot.domain.quantity import parse_cpu, parse_memory

    name = canonical_field(field)
    if name == "image":
        return raw
    if name.startswith("cpu"):
        return parse_cpu(raw)
    if name.startswith("memory"):
        return parse_memory(raw)
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{field} takes a whole number, got {raw!r}") from exc


REPO_HELP = "The GitOps repository (a git URL, a bare repository or a clone) or a directory of manifests."


def _workspace(repo: str) -> ManifestWorkspace:
    """The manifests of ``repo``: a clone's or a directory's files as they are on disk."""
    from bot import wiring
    from bot.settings import load_settings

    found = wiring.checkout(load_settings(), repo, as_on_disk=True)
    if found is None:
        raise InvalidInput("name the GitOps repository or a directory of manifests")
    return wiring.workspace(found)


@app.command("effective")
def effective(
    repo: str = typer.Argument(..., help=REPO_HELP),
    workload: str = typer.Argument(..., help="The workload's name."),
    field: str = typer.Option("replicas", "--field", help="replicas, cpu, memory, cpu_request, image, ..."),
    container: str | None = typer.Option(None, "--container", help="The container, when there are several."),
) -> None:
    """Show which file and path decide a workload's value (overlay, HPA, Helm values or the manifest)."""
    found = _workspace(repo).effective(workload, field, container)
    typer.echo(json.dumps(asdict(found), indent=2))


@app.command("plan")
def plan(
    repo: str = typer.Argument(..., help=REPO_HELP),
    workload: str = typer.Argument(..., help="The workload's name."),
    field: str = typer.Option(
        ..., "--field", help="replicas, cpu, memory, cpu_request, memory_request, image."
    ),
    value: str = typer.Option(..., "--value", help="5, 750m, 1.5, 1Gi, registry/app:1.2.3"),
    container: str | None = typer.Option(None, "--container", help="The container, when there are several."),
    as_json: bool = typer.Option(False, "--json", help="Print the changes and notes as JSON too."),
) -> None:
    """Print the minimal diff that sets a workload's value where it takes effect."""
    manifests = _workspace(repo)
    planned = manifests.plan(workload, field, _units(field, value), container)
    if as_json:
        changes = [c.public() for c in planned.changes]
        typer.echo(json.dumps({"changes": changes, "notes": planned.notes, "diff": planned.diff}, indent=2))
        return
    for note in planned.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(planned.diff, nl=False)
