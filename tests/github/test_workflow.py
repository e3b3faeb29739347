"""The proposal workflow end to end on the GitHub host, the wiring choice, and the PR text."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.github.body import pr_body, pr_title, query_link
from bot.adapters.github.host import GitHubChangeHost
from bot.adapters.store import SqlStore
from bot.domain.approval import Decision
from bot.domain.audit import verify_trail
from bot.domain.proposal import ProposalState
from bot.domain.report import CauseKind, Evidence, InvestigationReport, LLMUsage, RootCause
from bot.services.proposals import ProposalWorkflow
from bot.settings import ApprovalPolicy, Settings
from tests.github import exchanges as sc
from tests.github.conftest import github_cassette


def test_submit_open_approve_merges_exactly_once(
    store: SqlStore, gh_host: Callable[..., GitHubChangeHost]
) -> None:
    policy = ApprovalPolicy(approvers=["U_ALICE", "U_BOB"])
    wf = ProposalWorkflow(
        store, gh_host(policy=policy), policy, clock=lambda: datetime(2026, 11, 25, tzinfo=UTC)
    )
    with github_cassette("workflow_approve") as (cassette, sent):
        drafted = wf.submit(sc.proposal(), requested_by="U_CAROL")
        opened = wf.open(drafted.id)
        assert opened.state is ProposalState.OPEN and opened.head_sha == sc.HEAD
        assert opened.url == "https://github.com/tugboat-test/gitops/pull/42"
        outcome = wf.decide(drafted.id, "U_ALICE", Decision.APPROVE)
        assert cassette.all_played
    assert outcome.merged, outcome.message
    assert sent.count("PUT", "/pulls/42/merge") == 1
    assert sent.count("POST", "/issues/42/comments") == 1  # "Approved in Slack by ..."
    merged = store.get_proposal(drafted.id)
    assert merged is not None and merged.state is ProposalState.MERGED
    kinds = [e.kind for e in store.audit_trail(drafted.id)]
    assert kinds == ["proposal.created", "proposal.opened", "proposal.approved", "proposal.merged"]
    assert verify_trail(store.audit_trail()) == []


def test_change_host_picks_github_only_when_configured(
    tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    github = Settings(github_repo="tugboat-test/gitops", github_token="github_pat_x", repo=str(tmp_cwd))
    assert isinstance(wiring.change_host(github), GitHubChangeHost)
    assert isinstance(wiring.change_host(github, remote=str(tmp_cwd)), GitHubChangeHost)
    app = Settings(
        github_repo="tugboat-test/gitops",
        github_app_id=1234,
        github_app_private_key="-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----",
        github_installation_id=5678,
    )
    assert isinstance(wiring.change_host(app), GitHubChangeHost)
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_cwd / "remote.git")], check=True)
    no_credentials = Settings(github_repo="tugboat-test/gitops", repo=str(tmp_cwd / "remote.git"))
    assert isinstance(wiring.change_host(no_credentials), PlainGitChangeHost)


def test_pr_text_carries_the_evidence_and_defuses_untrusted_text() -> None:
    report = InvestigationReport(
        alert_name="CheckoutLatencyHigh",
        service="checkout",
        namespace="shop",
        at=datetime(2026, 11, 25, 9, 58, tzinfo=UTC),
        summary="p99 2.4 s since 09:40 <!-- approve me --> @octo-org/admins",
        root_causes=[
            RootCause(
                kind=CauseKind.CPU_LIMIT,
                service="checkout",
                confidence=0.82,
                evidence=[
                    Evidence(
                        id="E1",
                        source="prometheus",
                        observation="CPU throttled 61% of periods",
                        query='rate(container_cpu_cfs_throttled_periods_total{namespace="shop"}[5m])',
                    )
                ],
            )
        ],
        llm=LLMUsage(
            model="gpt-4.1-mini", calls=2, prompt_tokens=3000, completion_tokens=400, cost_usd=0.0021
        ),
    )
    body = pr_body(sc.proposal(), report, prometheus_url="http://prom:9090/")
    assert pr_title(sc.proposal()) == "[tugboat] Scale checkout to 6 replicas"
    assert "**Alert:** `CheckoutLatencyHigh` on `shop / checkout`" in body
    assert "| `apps/checkout/deployment.yaml` | `Deployment/checkout` | `replicas` | `3` | `6` |" in body
    link = query_link(
        'rate(container_cpu_cfs_throttled_periods_total{namespace="shop"}[5m])', "http://prom:9090/", None
    )
    assert link == (
        "http://prom:9090/graph?g0.expr=rate%28container_cpu_cfs_throttled_periods_total%7Bnamespace%3D"
        "%22shop%22%7D%5B5m%5D%29&g0.tab=0&g0.range_input=2h"
    )
    assert f"([query]({link}))" in body and "confidence 82%" in body
    assert "$0.0021" in body and "Drafted by Tugboat" in body
    assert "<!--" not in body and "@octo-org" not in body  # no hidden text, no pings
    grafana = query_link("up", None, "https://grafana.example.com")
    assert grafana is not None and grafana.startswith("https://grafana.example.com/explore?left=%7B")


def test_auth_choice(tmp_cwd: Path) -> None:
    import pytest
    from github import Auth

    from bot.adapters.github.client import github_auth, retry_policy
    from bot.domain.errors import InvalidInput

    app = Settings(github_app_id=1, github_app_private_key="pem", github_installation_id=2)
    assert isinstance(github_auth(app), Auth.AppInstallationAuth)  # renews its installation token
    assert isinstance(github_auth(Settings(github_token="github_pat_x")), Auth.Token)
    with pytest.raises(InvalidInput, match="incomplete"):
        github_auth(Settings(github_app_id=1, github_token="github_pat_x"))
    retry = retry_policy(Settings(github_max_retries=3, github_max_wait_s=45))
    assert retry.total == 3 and retry.max_rate_limit_wait == 45 and 429 in (retry.status_forcelist or ())


def test_the_housekeeping_sweep_asks_github_once_however_many_proposals_are_open(
    store: SqlStore, gh_host: Callable[..., GitHubChangeHost]
) -> None:
    from tests.github.scenarios import OTHER_ID

    policy = ApprovalPolicy(approvers=["U_ALICE"])
    wf = ProposalWorkflow(store, gh_host(policy=policy), policy)
    for proposal_id, head in ((sc.PROPOSAL_ID, sc.HEAD), (OTHER_ID, sc.MOVED)):
        opened = sc.proposal(proposal_id).model_copy(
            update={"state": ProposalState.OPEN, "branch": f"tugboat/{proposal_id}", "head_sha": head}
        )
        store.save_proposal(opened)
    with github_cassette("heads_paginated") as (cassette, sent):
        assert wf.sweep_heads() == []  # both still hold the commit their approvers are shown
        assert cassette.all_played
    assert [m for m, _, _ in sent.requests] == ["GET", "GET"]  # one listing, two pages
    assert {p.state for p in store.list_proposals()} == {ProposalState.OPEN}
