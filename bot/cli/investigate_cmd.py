"""``tugboat investigate``: explain an alert from metrics, logs and Git history."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.domain.errors import InvalidInput

if TYPE_CHECKING:  # pydantic and numpy load when a command runs, not at start-up of every command
    from bot.domain.alert import AlertGroup
    from bot.domain.graph import GraphSpec
    from bot.domain.report import InvestigationReport
    from bot.services.investigate import Investigator
    from bot.settings import Settings


def parse_at(text: str | None) -> datetime:
    """Unix seconds or RFC 3339; the wall clock when absent."""
    if text is None or not text.strip():
        return datetime.now(UTC)
    raw = text.strip()
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"--at {raw!r} is neither unix seconds nor an RFC 3339 time (e.g. 2026-11-25T00:31:30Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_alert(path: Path) -> AlertGroup:
    from bot.domain.alert import parse_alert_group  # imported here: start-up time of every other command

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read the alert file {path}: {exc.strerror or exc}") from None
    return parse_alert_group(raw)


def investigate(
    alert: Path = typer.Option(..., "--alert", help="Alertmanager webhook payload (JSON file)."),
    prometheus_url: str | None = typer.Option(None, "--prometheus-url", help="Prometheus base URL."),
    logs_file: Path | None = typer.Option(None, "--logs-file", help="Logs as JSON Lines {ts, labels, line}."),
    loki_url: str | None = typer.Option(None, "--loki-url", help="Loki base URL."),
    repo: str | None = typer.Option(
        None, "--repo", help="The GitOps repository: a git URL, a bare repository or a clone."
    ),
    at: str | None = typer.Option(
        None, "--at", help="Investigate as of this time (unix seconds or RFC 3339)."
    ),
    no_llm: bool = typer.Option(False, "--no-llm", help="Deterministic analysis only."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    graphs_dir: Path | None = typer.Option(None, "--graphs", help="Write PNG graphs of the evidence here."),
) -> None:
    """Find the most likely root cause of an alert, with evidence, and propose a fix."""
    from bot.settings import load_settings  # imported here: start-up time of every other command

    logging.basicConfig(level=logging.ERROR)  # diagnostics go to stderr, never into --json output
    group = read_alert(alert)
    when = parse_at(at)
    settings = load_settings(prometheus_url=prometheus_url, loki_url=loki_url, repo=repo)
    investigator = build_investigator(settings, logs_file)
    result = investigator.investigate(group, when)
    report = result.report
    if graphs_dir is not None and result.graphs:
        report = _render(report, result.graphs, graphs_dir)
    if not no_llm and settings.llm_configured:
        from bot import wiring
        from bot.services.narrate import narrate  # langchain loads only when a model is used

        report = narrate(report, wiring.assistant(settings))
    if as_json:
        typer.echo(json.dumps(report.public(), default=str))
        return
    _show(report)


def build_investigator(settings: Settings, logs_file: Path | None) -> Investigator:
    """The investigator for this command and ``ask``, from the composition root."""
    from bot import wiring

    return wiring.investigator(settings, logs_file=logs_file)


def _render(report: InvestigationReport, specs: list[GraphSpec], directory: Path) -> InvestigationReport:
    from bot.adapters.graphs import render_all

    paths = render_all(specs, directory)
    return report.model_copy(update={"graphs": [p.name for p in paths]})


def _show(report: InvestigationReport) -> None:
    """A readable report for a terminal."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    from bot.analysis.kinds import label
    from bot.domain.proposal import action_words

    console = Console()
    console.print(Panel(report.summary, title=f"{report.alert_name} at {report.at:%Y-%m-%d %H:%M} UTC"))
    table = Table("#", "cause", "service", "confidence", "evidence")
    for i, rc in enumerate(report.root_causes, 1):
        lines = "\n".join(f"[{e.id}] {e.observation}" for e in rc.evidence[:4])
        table.add_row(str(i), label(rc.kind), rc.service, f"{rc.confidence:.0%}", lines)
    console.print(table)
    prop = report.proposal
    if prop is not None:
        console.print(f"[bold]Proposal:[/bold] {action_words(prop.action, prop.service)}: {prop.rationale}")
        if prop.diff:
            console.print(prop.diff, markup=False, highlight=False)
    for status in report.sources:
        mark = "ok" if status.ok else "unavailable"
        console.print(f"  {status.name}: {mark} {status.detail}", markup=False)
    for note in report.notes:
        console.print(f"  note: {note}", markup=False)
    if report.llm is not None and report.llm.spent:
        console.print(f"  {report.llm.line()}", markup=False)
