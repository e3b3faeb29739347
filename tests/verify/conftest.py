"""A real Prometheus backfilled with an incident that a merge fixes (scenario "fixed") and one it
does not (scenario "stuck"), plus the sync status Argo CD and Flux export; a real git remote; a
chat that records what Tugboat posts (and checks each uploaded file while it exists)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from bot import wiring
from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.git.patch import apply_diff
from bot.adapters.graphs import render_all
from bot.domain.alert import parse_alert_group
from bot.domain.approval import Decision
from bot.domain.proposal import Proposal
from bot.domain.report import CauseKind, Evidence, InvestigationReport, RootCause
from bot.ports.chat import Attachment, ChatMessage
from bot.ports.merges import MergeListener
from bot.ports.store import IncidentRecord, Store
from bot.services.proposals import ProposalWorkflow
from bot.services.verify import PostMergeService
from bot.settings import ApprovalPolicy, Settings
from testkit.gitops import GitOpsRemote, make_remote, scale_proposal
from testkit.promserver import running_prometheus

END = 1_790_000_000  # a fixed past moment: every query is "as of", never the wall clock
START = END - 4 * 3600
ONSET = START + 120 * 60  # the error ratio jumps here
MERGED = START + 150 * 60  # the fix merges here
FIXED = MERGED + 4 * 60  # ...and, in the "fixed" scenario, errors are back to normal from here
STEP = 30
CHANNEL, THREAD = "CINC", "1790000000.000100"
APPROVER = "U_ALICE"


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _ratio(scenario: str, ts: int, i: int) -> float:
    noise = 0.002 * math.sin(i * 0.7)
    high = ts >= ONSET and (scenario == "stuck" or ts < FIXED)
    return (0.30 if high else 0.01) + noise


def write_openmetrics(path: Path) -> Path:
    lines = ["# TYPE http_error_ratio gauge"]
    for scenario in ("fixed", "stuck"):
        for i, ts in enumerate(range(START, END + 1, STEP)):
            labels = f'namespace="shop",service="checkout",scenario="{scenario}"'
            lines.append(f"http_error_ratio{{{labels}}} {_ratio(scenario, ts, i):.5f} {ts}")
    lines.append("# TYPE argocd_app_info gauge")
    labels = (
        'name="checkout",namespace="argocd",project="default",sync_status="Synced",health_status="Healthy"'
    )
    lines += [f"argocd_app_info{{{labels}}} 1 {ts}" for ts in range(START, END + 1, STEP)]
    lines.append("# TYPE gotk_reconcile_condition gauge")
    for status, value in (("True", 1), ("False", 0), ("Unknown", 0)):
        labels = (
            f'kind="Kustomization",name="checkout",namespace="flux-system",type="Ready",status="{status}"'
        )
        lines += [f"gotk_reconcile_condition{{{labels}}} {value} {ts}" for ts in range(START, END + 1, STEP)]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def prom_url(prometheus_binaries: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = write_openmetrics(tmp_path_factory.mktemp("om") / "metrics.om")
    with running_prometheus(data) as url:
        yield url


class Clock:
    def __init__(self, ts: float) -> None:
        self.now = at(ts)

    def __call__(self) -> datetime:
        return self.now

    def set(self, ts: float) -> None:
        self.now = at(ts)


@dataclass
class Post:
    channel: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None


@dataclass
class RecordingChat:
    """A ChatNotifier that keeps what was posted; uploads are checked while their files exist."""

    posts: list[Post] = field(default_factory=list)
    uploads: list[tuple[str, bytes, str | None]] = field(default_factory=list)

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        *,
        marker: str | None = None,
    ) -> str:
        self.posts.append(Post(channel, text, blocks, thread_ts))
        return self.ts_of(self.posts[-1])

    def ts_of(self, post: Post) -> str:
        """The ts ``post_message`` answered for ``post``."""
        return f"{END}.{self.posts.index(post) + 1:06d}"

    def find_marked(
        self, channel: str, marker: str, *, thread_ts: str | None = None, since: float | None = None
    ) -> str | None:
        return None  # the post-merge watch posts no marked messages

    def find_uploaded(
        self, channel: str, filenames: set[str], *, thread_ts: str | None = None, since: float | None = None
    ) -> set[str]:
        return {name for name, _, _ in self.uploads} & filenames

    def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        self.posts.append(Post(channel, text, blocks, ts))

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> None:
        self.posts.append(Post(channel, text, blocks, thread_ts))

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[Attachment], comment: str | None = None
    ) -> None:
        for f in files:
            body = f.path.read_bytes() if f.path else (f.content or "").encode()
            self.uploads.append((f.filename, body, comment))

    def thread_replies(self, channel: str, thread_ts: str, limit: int = 50) -> list[ChatMessage]:
        return []

    def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        raise AssertionError("the post-merge watch opens no forms")

    def texts(self) -> list[str]:
        return [p.text for p in self.posts]


def settings_for(prom_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "prometheus_url": prom_url,
        "lookback_minutes": 120,
        "verify_window_minutes": 30,
        "verify_sustain_minutes": 5,
        "policy": ApprovalPolicy(approvers=[APPROVER]),
        "llm_enabled": False,
        **overrides,
    }
    return Settings(**values)


def alert_expr(scenario: str) -> str:
    return f'http_error_ratio{{service="checkout",scenario="{scenario}"}} > 0.05'


def incident_for(scenario: str, proposal: Proposal) -> IncidentRecord:
    """The stored incident an investigation left: the alert (its rule in generatorURL) and a
    report whose top cause cites the error ratio."""
    group = parse_alert_group(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="CheckoutErrors",scenario="{scenario}"}}',
            "status": "firing",
            "commonLabels": {"alertname": "CheckoutErrors", "namespace": "shop", "service": "checkout"},
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "CheckoutErrors", "namespace": "shop", "service": "checkout"},
                    "startsAt": at(ONSET + 120).isoformat(),
                    "generatorURL": "http://prometheus:9090/graph?g0.expr="
                    + quote_plus(alert_expr(scenario))
                    + "&g0.tab=1",
                    "fingerprint": f"fp-{scenario}",
                }
            ],
        }
    )
    query = f'http_error_ratio{{service="checkout",scenario="{scenario}"}}'
    report = InvestigationReport(
        alert_name="CheckoutErrors",
        service="checkout",
        namespace="shop",
        at=at(ONSET + 10 * 60),
        summary="checkout is saturated by a traffic surge",
        root_causes=[
            RootCause(
                kind=CauseKind.TRAFFIC_SURGE,
                service="checkout",
                namespace="shop",
                confidence=0.8,
                evidence=[
                    Evidence(id="E1", source="prometheus", observation="alert", query=alert_expr(scenario)),
                    Evidence(id="E2", source="prometheus", observation="errors 1% -> 30%", query=query),
                ],
            )
        ],
        proposal=proposal,
    )
    return IncidentRecord(
        group_key=group.group_key,
        channel=CHANNEL,
        thread_ts=THREAD,
        alert=group,
        report=report,
        started_at=at(ONSET + 120),
        fingerprints=[f"fp-{scenario}"],
    )


def workflow_for(
    store: Store,
    remote: GitOpsRemote,
    tmp: Path,
    clock: Clock,
    settings: Settings,
    listeners: Sequence[MergeListener] = (),
) -> ProposalWorkflow:
    host = PlainGitChangeHost(str(remote.bare), tmp / "cache")
    return ProposalWorkflow(
        store,
        host,
        settings.policy,
        clock=clock,
        repo_path=remote.work,
        apply_diff=apply_diff,
        listeners=listeners,
    )


def merge_fix(
    scenario: str,
    store: Store,
    tmp_path: Path,
    prom_url: str,
    edit: Callable[[IncidentRecord], IncidentRecord] = lambda incident: incident,
    **settings: Any,
) -> tuple[PostMergeService, RecordingChat, Clock, GitOpsRemote, str]:
    """Investigated incident -> proposal opened -> approved at MERGED -> merged on the remote,
    with the post-merge service hooked in through the composition root."""
    remote = make_remote(tmp_path / "gitops")
    clock = Clock(MERGED - 600)
    config = settings_for(prom_url, **settings)
    chat = RecordingChat()
    watch = wiring.merge_watch(config, store, chat, clock=clock)
    assert watch is not None
    workflow = workflow_for(store, remote, tmp_path, clock, config, listeners=[watch])
    service = wiring.post_merge(
        config, store, chat, workflow, wiring.git_history(remote.work), render=render_all
    )
    assert service is not None and workflow.merges.listeners == (watch,)
    proposal = scale_proposal(remote.work)
    store.upsert_incident(edit(incident_for(scenario, proposal)))
    opened = workflow.open(workflow.submit(proposal, requested_by="U_ONCALL").id)
    clock.set(MERGED)
    outcome = workflow.decide(opened.id, APPROVER, Decision.APPROVE)
    assert outcome.merged
    return service, chat, clock, remote, opened.id
