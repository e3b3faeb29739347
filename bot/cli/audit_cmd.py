"""``tugboat audit``: read, check and export the hash-chained audit trail."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.domain.errors import InvalidInput

if TYPE_CHECKING:
    from rich.table import Table

    from bot.adapters.store import SqlStore
    from bot.domain.audit import AuditEvent

app = typer.Typer(help="Read, verify and export the audit trail.", no_args_is_help=True)

DATABASE_URL_HELP = "SQLAlchemy URL of the store; default: the database_url setting."
DATA_WIDTH = 80


def open_store(database_url: str | None) -> SqlStore:
    """The configured store. A SQLite file that does not exist yet is an error, not a new file."""
    from bot import wiring  # imported here: other commands do not pay for SQLAlchemy and Alembic
    from bot.settings import load_settings

    return wiring.store(load_settings(database_url=database_url), must_exist=True)


def _words(value: object) -> object:
    """The event's data with a cause kind or an action in the words people read (``--json``
    keeps the stored values)."""
    from bot.analysis.kinds import label
    from bot.domain.proposal import Action, action_words
    from bot.domain.report import CauseKind

    if isinstance(value, dict):
        return {k: _words(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_words(v) for v in value]
    if isinstance(value, str) and value in {k.value for k in CauseKind}:
        return label(value)
    if isinstance(value, str) and value in {a.value for a in Action}:
        return action_words(Action(value))
    return value


def _summary(data: dict[str, object]) -> str:
    text = json.dumps(_words(data), sort_keys=True, default=str) if data else ""
    return text if len(text) <= DATA_WIDTH else text[: DATA_WIDTH - 1] + "…"


def audit_table(events: Sequence[AuditEvent]) -> Table:
    """The trail as a rich table (also used by the demo)."""
    from rich.table import Table  # imported here: start-up time of every other command

    from bot.domain.audit import event_words

    table = Table("seq", "at (UTC)", "event", "actor", "proposal", "data", "hash", box=None)
    for e in events:
        table.add_row(
            str(e.seq),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            event_words(e.kind),
            e.actor,
            e.proposal_id or "",
            _summary(e.data),
            e.hash[:12],
        )
    return table


@app.command("show")
def show(
    proposal: str | None = typer.Option(None, "--proposal", help="Only the events of this proposal."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array instead of a table."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_URL_HELP),
) -> None:
    """List audit events, oldest first."""
    with open_store(database_url) as store:
        events = store.audit_trail(proposal)
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in events], indent=2))
        return
    if not events:
        typer.echo("no audit events" + (f" for proposal {proposal}" if proposal else ""))
        return
    from rich.console import Console  # imported here: start-up time of every other command

    Console(width=200).print(audit_table(events))


@app.command("verify")
def verify(
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Check a file written by `audit export` instead of the database."
    ),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_URL_HELP),
) -> None:
    """Recompute every hash and link of the chain; exit 1 if anything was edited, removed or moved."""
    from bot.domain.audit import verify_trail  # imported here: start-up time of every other command

    head: tuple[int, str] | None = None
    if file is not None:
        events = read_export(file)
    else:
        with open_store(database_url) as store:
            events, head = store.audit_trail(), store.audit_head()
    problems = verify_trail(events, head=head)
    if problems:
        typer.secho(
            f"audit trail BROKEN: {len(problems)} problem(s) in {len(events)} events", fg="red", err=True
        )
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit trail intact: {len(events)} events")


@app.command("export")
def export(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    database_url: str | None = typer.Option(None, "--database-url", help=DATABASE_URL_HELP),
) -> None:
    """Write every event as JSON lines (one object per line, with seq, prev_hash and hash)."""
    with open_store(database_url) as store:
        events = store.audit_trail()
    lines = [e.model_dump_json() for e in events]
    if output is None:
        for line in lines:
            typer.echo(line)
        return
    output.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    typer.echo(f"exported {len(lines)} events to {output}", err=True)


def read_export(path: Path) -> list[AuditEvent]:
    """Events from a JSON-lines export, with the line of any that cannot be read."""
    from pydantic import ValidationError

    from bot.domain.audit import AuditEvent

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    events: list[AuditEvent] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(AuditEvent.model_validate_json(line))
        except ValidationError as exc:
            raise InvalidInput(
                f"{path}:{number} is not an exported audit event: {exc.errors()[0]['msg']}"
            ) from None
    return events
