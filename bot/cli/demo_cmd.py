"""``tugboat demo``: one incident end to end, with no credentials and no Prometheus binary."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve at once instead of asking."),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Where to create the demo repository and database (default: a new temp dir)."
    ),
) -> None:
    """Run a shipped incident end to end: alert, investigation, branch, approval, merge, audit.

    Needs no Slack, GitHub or LLM credentials and no Prometheus: the demo replays Prometheus
    answers that the project's tests recorded against a real Prometheus."""
    from rich.console import Console

    from bot.demo.runner import run_demo

    result = run_demo(Console(), yes=yes, workdir=workdir)
    if result.proposal_id is not None and not result.merged:
        raise typer.Exit(1)
