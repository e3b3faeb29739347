"""``tugboat ask``: a question about an alert, answered from the investigation's evidence.

With a model configured the assistant explains and may call read-only tools; with ``--no-llm``
or without a key the deterministic analysis is the answer.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.cli.investigate_cmd import build_investigator, parse_at, read_alert

if TYPE_CHECKING:  # the assistant pulls in langchain, the report pydantic: load them only when `ask` runs
    from bot.assistant.service import Answer
    from bot.domain.report import InvestigationReport


def ask(
    question: str = typer.Argument(..., help='The question, e.g. "why is checkout slow?"'),
    alert: Path | None = typer.Option(None, "--alert", help="Alertmanager webhook payload (JSON file)."),
    prometheus_url: str | None = typer.Option(None, "--prometheus-url", help="Prometheus base URL."),
    logs_file: Path | None = typer.Option(None, "--logs-file", help="Logs as JSON Lines {ts, labels, line}."),
    repo: str | None = typer.Option(
        None, "--repo", help="The GitOps repository: a git URL, a bare repository or a clone."
    ),
    at: str | None = typer.Option(None, "--at", help="As of this time (unix seconds or RFC 3339)."),
    no_llm: bool = typer.Option(False, "--no-llm", help="Deterministic analysis only."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Ask about an alert; the answer cites the investigation's evidence ([E1], [E2]...)."""
    from bot.assistant.service import Assistant
    from bot.assistant.tools import ToolContext
    from bot.security.redact import redact_data
    from bot.settings import load_settings

    logging.basicConfig(level=logging.ERROR)  # diagnostics go to stderr, never into --json output
    overrides: dict[str, object] = {"prometheus_url": prometheus_url, "repo": repo}
    if no_llm:
        overrides["llm_enabled"] = False
    settings = load_settings(**overrides)
    when = parse_at(at)
    report: InvestigationReport | None = None
    context = ToolContext(at=when, output_tokens=settings.llm_tool_output_tokens)
    if alert is not None:
        investigator = build_investigator(settings, logs_file)
        report = investigator.run(read_alert(alert), when)
        context = ToolContext(
            at=when,
            report=report,
            metrics=investigator.metrics,
            logs=investigator.logs,
            git=investigator.history,
            repo_dir=investigator.repo_root,
            workspace=investigator.workspace,
            output_tokens=settings.llm_tool_output_tokens,
        )
    answer = Assistant(settings, context=context).answer(question, "cli", [], report)
    if report is not None:
        report = report.model_copy(update={"llm": answer.usage, "notes": [*report.notes, *answer.notes]})
    if as_json:
        doc = {"question": question, "answer": answer.public(), "report": report.public() if report else None}
        typer.echo(json.dumps(redact_data(doc), default=str))
        return
    _show(answer)


def _show(answer: Answer) -> None:
    typer.echo(answer.text)
    for note in answer.notes:
        typer.secho(f"note: {note}", fg=typer.colors.YELLOW, err=True)
    if answer.proposal_suggestion is not None:
        p = answer.proposal_suggestion
        typer.echo(f"suggested (for review, not applied): {p.action} {p.workload} {p.field}={p.value}")
    u = answer.usage
    if u.spent:
        typer.secho(u.line(), fg=typer.colors.BRIGHT_BLACK, err=True)
