"""After the merge, against a real Prometheus, a real git remote and a real SQLite store: the
thread hears of the merge and the sync status, then "recovered" with a graph, or "not
recovered" with a revert that goes through the same approval and undoes exactly the merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.adapters.slack import blocks
from bot.adapters.store import SqlStore
from bot.domain.approval import Decision
from bot.domain.audit import AuditKind, verify_trail
from bot.domain.proposal import Action, ProposalState
from testkit.gitops import DEPLOYMENT, git
from tests.verify.conftest import (
    APPROVER,
    CHANNEL,
    MERGED,
    THREAD,
    at,
    merge_fix,
)

pytestmark = pytest.mark.prometheus
PATH = "apps/checkout/deployment.yaml"


def test_a_fix_that_works_is_reported_recovered_with_a_graph_and_argo_cd_sync(
    store: SqlStore, tmp_path: Path, prom_url: str
) -> None:
    service, chat, clock, remote, proposal_id = merge_fix(
        "fixed", store, tmp_path, prom_url, gitops_tool="argocd"
    )
    merge_sha = remote.head()
    announced = chat.posts[0]
    assert announced.channel == CHANNEL and announced.thread_ts == THREAD
    assert f"Merged `tugboat/{proposal_id}` at `{merge_sha[:10]}`" in announced.text
    assert "watching for recovery for 30 min" in announced.text
    assert "Argo CD `checkout`: Synced, Healthy" in json.dumps(announced.blocks)

    clock.set(MERGED + 120)  # errors are still high right after the merge
    assert service.tick() == [] and len(chat.posts) == 1
    assert [w.proposal.id for w in service.due()] == [proposal_id]

    clock.set(MERGED + 15 * 60)
    # A re-fire resets the stored incident (no report, a new start): the watch keeps what it
    # recorded at the merge, so the fix is still judged on the alert and metric it was for.
    [incident] = store.list_incidents()
    store.upsert_incident(incident.model_copy(update={"report": None, "started_at": clock.now}))
    [(watch, verdict)] = service.tick()
    assert verdict.status == "recovered" and watch.merge_sha == merge_sha
    assert "returned nothing since" in verdict.observation and "back near its baseline" in verdict.observation
    assert verdict.sync == "Argo CD `checkout`: Synced, Healthy"
    said = chat.posts[-1]
    assert said.text.startswith(":white_check_mark: Recovered 15 min after the merge")
    [(name, png, comment)] = chat.uploads
    assert name == "recovery-checkout.png" and png.startswith(b"\x89PNG") and comment == "After the merge"
    assert verdict.graph is not None and verdict.graph.at_label == f"merged {at(MERGED):%H:%M}"

    verified = [e for e in store.audit_trail(proposal_id) if e.kind == AuditKind.VERIFIED.value]
    assert [e.data["status"] for e in verified] == ["recovered"]
    assert verified[0].data["merge_sha"] == merge_sha
    assert verify_trail(store.audit_trail(), head=store.audit_head()) == []
    clock.set(MERGED + 20 * 60)  # decided once: later ticks neither post nor record again
    assert service.due() == [] and service.tick() == [] and len(chat.uploads) == 1


def test_a_fix_that_does_not_work_offers_a_revert_through_the_same_approval(
    store: SqlStore, tmp_path: Path, prom_url: str
) -> None:
    service, chat, clock, remote, proposal_id = merge_fix(
        "stuck", store, tmp_path, prom_url, gitops_tool="flux"
    )
    merge_sha = remote.head()
    assert "Flux `checkout`: Ready" in json.dumps(chat.posts[0].blocks)
    assert "replicas: 6" in remote.show(PATH)
    git(remote.work, "pull", "-q", "origin", "main")  # git-sync's job

    clock.set(MERGED + 10 * 60)
    assert service.tick() == []  # still inside the window: pending, nothing said
    clock.set(MERGED + 31 * 60)
    [(_, verdict)] = service.tick()
    assert verdict.status == "not_recovered"
    assert "still held at" in verdict.observation and "still away from its baseline" in verdict.observation
    texts = chat.texts()
    assert any(t.startswith(":x: Not recovered 30 min after the merge") for t in texts)

    [revert] = [p for p in store.list_proposals() if p.action is Action.REVERT]
    assert revert.state is ProposalState.OPEN and revert.requested_by == "tugboat"
    assert revert.commit == merge_sha and revert.branch == f"tugboat/{revert.id}"
    assert [(c.field, c.from_, c.to) for c in revert.changes] == [("replicas", 6, 3)]
    shown = chat.posts[-1]
    assert shown.text == f"Proposed change: {revert.title}" and shown.thread_ts == THREAD
    buttons = next(b for b in shown.blocks or [] if b["type"] == "actions")["elements"]
    assert [(e["action_id"], e["value"]) for e in buttons] == [
        (blocks.ACTION_APPROVE, f"{revert.id}@{revert.head_sha}"),
        (blocks.ACTION_REJECT, revert.id),
    ]
    recorded = store.proposal_message(revert.id)  # so its buttons go when the revert ends
    assert recorded is not None and (recorded.channel, recorded.ts) == (shown.channel, chat.ts_of(shown))
    verified = [e for e in store.audit_trail(proposal_id) if e.kind == AuditKind.VERIFIED.value]
    assert verified[0].data["status"] == "not_recovered"
    assert verified[0].data["revert_proposal"] == revert.id

    # What `git revert` of the merge makes of main...
    check = tmp_path / "check"
    git(tmp_path, "clone", "-q", str(remote.bare), str(check))
    git(check, "revert", "--no-edit", "-m", "1", merge_sha)
    expected = (check / PATH).read_text()
    assert expected == DEPLOYMENT
    # ...is what main holds once a person approves the revert in the same workflow.
    outcome = service.workflow.decide(revert.id, APPROVER, Decision.APPROVE)
    assert outcome.merged
    assert remote.show(PATH) == expected
