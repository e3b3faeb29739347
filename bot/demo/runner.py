"""One incident end to end on embedded defaults: no Slack, GitHub, LLM or Prometheus needed.

The demo ships a recorded incident (bot/demo/data): an Alertmanager payload, logs, the GitOps
repository as a git bundle, and the Prometheus HTTP answers that a test recorded against a real
Prometheus. Everything else is the real code path: the investigation, the Slack messages (shown
in the terminal), the branch on a git remote, the approval, the merge and the audit trail.
"""

from __future__ import annotations

import getpass
import json
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.prompt import Confirm
from rich.table import Table

from bot import wiring
from bot.adapters.graphs import render_all
from bot.adapters.slack import blocks
from bot.cli.render import print_message
from bot.domain.alert import parse_alert_group
from bot.domain.approval import Decision
from bot.domain.audit import AuditEvent, event_words, verify_trail
from bot.domain.errors import TugboatError
from bot.domain.proposal import ProposalState
from bot.services import trail
from bot.settings import ApprovalPolicy, Settings

# The recorded answers were made against this address; the replay never opens a connection.
DEMO_PROMETHEUS = "http://prometheus.demo.invalid:9090"


@dataclass(frozen=True)
class DemoData:
    root: Path

    @classmethod
    def packaged(cls) -> DemoData:
        return cls(Path(str(resources.files("bot.demo") / "data")))

    @property
    def scenario(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.root / "scenario.json").read_text())
        return data

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(float(str(self.scenario["at"])), UTC)

    def path(self, name: str) -> Path:
        return self.root / name


@dataclass
class DemoResult:
    workdir: Path
    remote: Path
    proposal_id: str | None
    merged: bool
    merge_sha: str | None


def _git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TugboatError(f"git {args[0]} failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def prepare_repository(data: DemoData, workdir: Path) -> tuple[Path, Path]:
    """A bare 'remote' GitOps repository and a checkout of it, from the shipped bundle."""
    remote, checkout = workdir / "gitops.git", workdir / "gitops"
    _git("clone", "-q", "--bare", "-b", "main", str(data.path("repo.bundle")), str(remote))
    _git("clone", "-q", str(remote), str(checkout))
    return remote, checkout


def demo_settings(workdir: Path, remote: Path, approver: str) -> Settings:
    """Embedded defaults: SQLite in the work directory, plain git, one local approver, no LLM."""
    return Settings(
        database_url=f"sqlite:///{workdir / 'tugboat.db'}",
        repo=str(remote),
        data_dir=str(workdir / "data"),
        llm_enabled=False,
        openai_api_key=None,
        policy=ApprovalPolicy(approvers=[approver]),
    )


def run_demo(
    console: Console, *, yes: bool, workdir: Path | None = None, data: DemoData | None = None
) -> DemoResult:
    data = data or DemoData.packaged()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="tugboat-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    approver = f"cli:{getpass.getuser()}"
    console.rule("[bold]Tugboat demo[/bold]: one incident, end to end")
    console.print(f"Working in [cyan]{workdir}[/cyan] (kept, so you can look around afterwards).")

    remote, checkout = prepare_repository(data, workdir)
    console.print(f"GitOps repository: remote [cyan]{remote}[/cyan], checkout [cyan]{checkout}[/cyan]")
    settings = demo_settings(workdir, remote, approver)
    group = parse_alert_group(data.path("alert.json").read_bytes())

    store = wiring.store(settings)
    trail.alert_received(store, group)
    console.rule("1. Alertmanager fires")
    print_message(console, blocks.incident_parent(group), "#incidents · new incident (what Slack would show)")

    console.rule("2. Tugboat investigates")
    tree = wiring.checkout(settings)  # Tugboat's own clone of the remote, fetched now
    investigator = wiring.investigator(
        settings,
        prometheus_url=DEMO_PROMETHEUS,
        logs_file=data.path("logs.jsonl.gz"),
        repo=tree,
        recording=data.path("prometheus-recording.json.gz"),
    )
    investigation = investigator.investigate(group, data.at)
    report = investigation.report
    graphs = render_all(investigation.graphs, workdir / "graphs")
    trail.investigation_done(store, group, report)
    print_message(console, blocks.investigation(report), "thread reply · investigation")
    for graph in graphs:
        console.print(f"  graph: [cyan]{graph}[/cyan]")

    proposal = report.proposal
    if proposal is None or not proposal.is_change:
        console.print("[yellow]No change is warranted for this incident; nothing to approve.[/yellow]")
        return DemoResult(workdir, remote, None, False, None)

    console.rule("3. Tugboat proposes a change")
    host = wiring.change_host(settings)
    workflow = wiring.workflow(settings, store, host, repo_path=tree)
    proposal = workflow.submit(proposal, requested_by="alertmanager")
    proposal = workflow.open(proposal.id)
    print_message(console, blocks.proposal_blocks(proposal, with_buttons=True), "thread reply · proposal")

    console.rule("4. A person decides")
    approved = yes or _ask(console, approver)
    decision = Decision.APPROVE if approved else Decision.REJECT
    outcome = workflow.decide(
        proposal.id, approver, decision, reason="" if approved else "declined in the demo"
    )
    merge_sha = None
    if outcome.merged:
        merge_sha = _git("rev-parse", "main", cwd=remote)
        console.print(
            f"[bold green]Merged.[/bold green] Branch [cyan]{proposal.branch}[/cyan] was merged into "
            f"[cyan]main[/cyan] of [cyan]{remote}[/cyan] as commit [cyan]{merge_sha[:12]}[/cyan]. "
            "Argo CD or Flux would now apply it."
        )
        console.print(f"See it with: git -C {remote} log --oneline -3 && git -C {remote} show --stat main")
    else:
        console.print(f"[yellow]Not merged:[/yellow] {outcome.message}")
    print_message(
        console, blocks.decision_blocks(outcome.proposal, outcome.message), "thread reply · decision"
    )

    console.rule("5. Audit trail")
    events = store.audit_trail()
    console.print(_trail_table(events))
    problems = verify_trail(events)
    console.print("audit chain intact" if not problems else f"[red]audit chain broken: {problems}[/red]")
    final = store.get_proposal(proposal.id)
    merged = final is not None and final.state is ProposalState.MERGED
    return DemoResult(workdir, remote, proposal.id, merged, merge_sha)


def _trail_table(events: list[AuditEvent]) -> Table:
    """A compact view that fits a terminal; `tugboat audit show` has every field."""
    table = Table("seq", "time", "event", "by", "hash", box=None)
    for e in events:
        table.add_row(str(e.seq), f"{e.at:%H:%M:%S}", event_words(e.kind), e.actor, e.hash[:12])
    return table


def _ask(console: Console, approver: str) -> bool:
    if not console.is_interactive:
        console.print("(no terminal to ask in, so approving as if --yes was given)")
        return True
    return Confirm.ask(f"Approve and merge this change as [bold]{approver}[/bold]?", default=True)
