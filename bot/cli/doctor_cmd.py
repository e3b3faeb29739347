"""``tugboat doctor``: check every configured connection; say what is wrong and how to fix it."""

from __future__ import annotations

import json

import typer

from bot.services.doctor import DEFAULT_TIMEOUT_S, CheckResult, Status, healthy, run_checks

_STYLE = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIPPED: "dim"}


def doctor(
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT_S, "--timeout", min=0.5, max=60, help="Seconds each check may take."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Check Slack, GitHub, Prometheus, Loki, the LLM, the database, the job queue and the git remote.

    Unconfigured components are shown as "not configured". Exit code 1 when a configured one fails.
    """
    from bot import wiring
    from bot.settings import load_settings  # imported here: start-up time of every other command

    results = run_checks(load_settings(), timeout, wiring.doctor_checks())
    if as_json:
        typer.echo(
            json.dumps({"healthy": healthy(results), "checks": [r.as_dict() for r in results]}, indent=2)
        )
    else:
        _print_table(results)
    raise typer.Exit(0 if healthy(results) else 1)


def _print_table(results: list[CheckResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tugboat doctor", title_justify="left", show_lines=False)
    for column in ("check", "status", "details", "how to fix"):
        table.add_column(column, overflow="fold")
    for r in results:
        style = _STYLE[r.status]
        table.add_row(r.name, f"[{style}]{r.status}[/]", r.detail, r.fix if r.status is not Status.OK else "")
    console = Console(width=max(120, Console().width))
    console.print(table)
    failed = [r.name for r in results if r.status is Status.FAIL]
    console.print(
        f"[bold red]failing: {', '.join(failed)}[/]" if failed else "[green]all configured checks pass[/]"
    )
