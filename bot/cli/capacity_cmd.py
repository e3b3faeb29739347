"""``tugboat capacity`` and ``tugboat rightsize``: forecasts and resource fits from Prometheus history."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.cli.investigate_cmd import parse_at
from bot.domain.errors import InvalidInput

if TYPE_CHECKING:  # the proposal workflow and settings load when a command runs, not at start-up
    from bot.ports.metrics import MetricsSource
    from bot.services.proposals import ProposalWorkflow
    from bot.settings import Settings

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(m|h|d|w)$")
_HOURS = {"m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}


def parse_hours(text: str, option: str) -> float:
    """``90m``, ``24h``, ``2d``, ``1w`` as hours."""
    match = _DURATION.match(text.strip())
    if not match or float(match[1]) <= 0:
        raise InvalidInput(f"{option} {text!r} is not a duration such as 90m, 24h, 2d or 1w")
    return float(match[1]) * _HOURS[match[2]]


REPO_HELP = "The GitOps repository (a git URL, a bare repository or a clone); else TUGBOAT_REPO."


def _inputs(prometheus_url: str | None, repo: str | None) -> tuple[Settings, MetricsSource, Path]:
    from bot import wiring
    from bot.settings import load_settings  # imported here: start-up time of every other command

    settings = load_settings(prometheus_url=prometheus_url, repo=repo)
    metrics = wiring.metrics_source(settings)
    if metrics is None:
        raise InvalidInput("no Prometheus to read: pass --prometheus-url or set TUGBOAT_PROMETHEUS_URL")
    checkout = wiring.checkout(settings)
    if checkout is None:
        raise InvalidInput("no GitOps repository: pass --repo or set TUGBOAT_REPO")
    return settings, metrics, checkout


def _workflow(settings: Settings, checkout: Path) -> ProposalWorkflow:
    """Proposals go to the GitOps remote that --repo (or TUGBOAT_REPO) names."""
    from bot import wiring

    host = wiring.change_host(settings)
    return wiring.workflow(settings, wiring.store(settings), host, repo_path=checkout)


def capacity(
    prometheus_url: str | None = typer.Option(None, "--prometheus-url", help="Prometheus base URL."),
    repo: str | None = typer.Option(None, "--repo", help=REPO_HELP),
    horizon: str = typer.Option("24h", "--horizon", help="How far ahead to look (90m, 24h, 2d, 1w)."),
    at: str | None = typer.Option(None, "--at", help="Judge as of this time (unix seconds or RFC 3339)."),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="Only this namespace."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    propose: bool = typer.Option(False, "--propose", help="Open the scale proposals for approval."),
    graphs_dir: Path | None = typer.Option(None, "--graphs", help="Write forecast graphs (PNG) here."),
) -> None:
    """Forecast each workload's load and propose more replicas before it outgrows its capacity."""
    from bot import wiring
    from bot.services.capacity import submit_findings

    logging.basicConfig(level=logging.ERROR)
    hours = parse_hours(horizon, "--horizon")
    if hours > 24 * 14:
        raise InvalidInput(f"--horizon {horizon} is too far: forecasts from a week of history reach 14 days")
    when = parse_at(at)
    settings, metrics, checkout = _inputs(prometheus_url, repo)
    planner = wiring.capacity_planner(settings, metrics, checkout)
    findings = planner.check(when, namespace, horizon_hours=hours)
    if propose:
        run = submit_findings(findings, _workflow(settings, checkout))
        for line in run.skipped:
            typer.echo(f"skipped: {line}", err=True)
    graphs: dict[str, str] = {}
    if graphs_dir is not None:
        from bot.adapters.graphs import render

        graphs_dir.mkdir(parents=True, exist_ok=True)
        for f in findings:
            if f.graph is not None:
                graphs[f.workload] = str(render(f.graph, graphs_dir / f"{f.graph.name}.png"))
    if as_json:
        doc = [f.public() | ({"graph": graphs[f.workload]} if f.workload in graphs else {}) for f in findings]
        typer.echo(json.dumps({"at": when.isoformat(), "horizon_hours": hours, "findings": doc}))
        return
    if not findings:
        typer.echo("no workloads found (kube_deployment_spec_replicas / kube_statefulset_replicas)")
    for f in findings:
        where = f.workload + (f" ({f.namespace})" if f.namespace else "")
        typer.echo(f"{where}: {'SHORT' if f.short else 'ok'}: {f.reason}")
        for note in f.notes:
            typer.echo(f"  note: {note}")
        if f.proposal is not None:
            typer.echo(f"  proposal: {f.proposal.title}")
            if f.proposal.branch:
                typer.echo(f"  opened: {f.proposal.url or f.proposal.branch} (id {f.proposal.id})")
            typer.echo(f.proposal.diff, nl=False)
        if f.workload in graphs:
            typer.echo(f"  graph: {graphs[f.workload]}")


def rightsize(
    workload: str = typer.Argument(..., help="The workload (Deployment, StatefulSet...) to fit."),
    prometheus_url: str | None = typer.Option(None, "--prometheus-url", help="Prometheus base URL."),
    repo: str | None = typer.Option(None, "--repo", help=REPO_HELP),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="The workload's namespace."),
    at: str | None = typer.Option(None, "--at", help="Judge as of this time (unix seconds or RFC 3339)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    propose: bool = typer.Option(False, "--propose", help="Open the proposal for approval."),
) -> None:
    """Recommend requests and limits from usage history (OOM kills and autoscalers included).

    Exits 1 when it refuses (too little history)."""
    from bot import wiring

    logging.basicConfig(level=logging.ERROR)
    when = parse_at(at)
    settings, metrics, checkout = _inputs(prometheus_url, repo)
    rec = wiring.rightsizer(settings, metrics, checkout).recommend(workload, when, namespace)
    if propose and rec.proposal is not None:
        workflow = _workflow(settings, checkout)
        submitted = workflow.submit(rec.proposal, requested_by="tugboat:rightsize")
        rec.proposal = workflow.open(submitted.id, actor="tugboat:rightsize")
    if as_json:
        typer.echo(json.dumps(rec.public() | {"branch": rec.proposal.branch if rec.proposal else None}))
    else:
        typer.echo(rec.summary())
        for note in rec.notes:
            typer.echo(f"  note: {note}")
        if rec.proposal is not None:
            if rec.proposal.branch:
                typer.echo(f"  opened: {rec.proposal.url or rec.proposal.branch} (id {rec.proposal.id})")
            typer.echo(rec.proposal.diff, nl=False)
    if rec.refused:
        raise typer.Exit(1)
