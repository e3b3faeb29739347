"""SqlStore round trips and semantics, run on SQLite and on PostgreSQL (``store_url``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.adapters.store import SqlStore
from bot.domain.alert import parse_alert_group
from bot.domain.approval import Approval, Decision
from bot.domain.audit import AuditEvent, AuditKind, verify_trail
from bot.domain.errors import InvalidInput
from bot.domain.proposal import Action, FieldChange, Proposal, ProposalState
from bot.domain.report import CauseKind, Evidence, InvestigationReport, RootCause
from bot.ports.store import IncidentRecord

T0 = datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)


def a_proposal(**overrides: object) -> Proposal:
    fields: dict[str, object] = {
        "action": Action.SCALE,
        "service": "checkout",
        "namespace": "shop",
        "changes": [
            FieldChange.model_validate(
                {"file": "apps/checkout/deploy.yaml", "field": "replicas", "from": 3, "to": 6}
            ),
            FieldChange.model_validate(
                {
                    "file": "apps/checkout/deploy.yaml",
                    "field": "cpu",
                    "from": 0.5,
                    "to": 1.25,
                    "resource": "Deployment/checkout",
                    "container": "app",
                }
            ),
        ],
        "diff": "-  replicas: 3\n+  replicas: 6\n",
        "title": "Scale checkout to 6 replicas",
        "rationale": "traffic doubled (E1, E2) — «ünïcode» kept",
        "requested_by": "U123",
        "branch": "tugboat/abc",
        "head_sha": "a" * 40,
        "url": "https://example.test/pr/1",
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=24),
    }
    fields.update(overrides)
    return Proposal.model_validate(fields)


def an_alert_group() -> dict[str, object]:
    return {
        "version": "4",
        "status": "firing",
        "groupKey": '{}:{alertname="HighLatency"}',
        "commonLabels": {"alertname": "HighLatency", "namespace": "shop"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighLatency", "namespace": "shop", "service": "checkout"},
                "annotations": {"summary": "p99 above 2s"},
                "startsAt": "2026-03-14T09:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom/graph?g0.expr=histogram_quantile%280.99%2C+x%29",
                "fingerprint": "f00d",
            }
        ],
    }


def test_proposal_round_trip(store: SqlStore) -> None:
    proposal = a_proposal()
    store.save_proposal(proposal)
    assert store.get_proposal(proposal.id) == proposal
    assert store.get_proposal("missing") is None


def test_save_proposal_updates_fields_but_never_the_state(store: SqlStore) -> None:
    proposal = a_proposal()
    store.save_proposal(proposal)
    assert store.transition(proposal.id, [ProposalState.DRAFT], ProposalState.OPEN)
    changed = proposal.model_copy(update={"head_sha": "b" * 40, "state": ProposalState.MERGED})
    store.save_proposal(changed)
    got = store.get_proposal(proposal.id)
    assert got is not None
    assert got.head_sha == "b" * 40
    assert got.state is ProposalState.OPEN


def test_list_proposals_filters_by_state(store: SqlStore) -> None:
    first = a_proposal(created_at=T0)
    second = a_proposal(created_at=T0 + timedelta(minutes=1), action=Action.NONE, changes=[], diff="")
    undated = a_proposal(created_at=None)
    for p in (second, first, undated):
        store.save_proposal(p)
    store.transition(second.id, [ProposalState.DRAFT], ProposalState.OPEN)
    assert [p.id for p in store.list_proposals()] == [undated.id, first.id, second.id]
    assert [p.id for p in store.list_proposals([ProposalState.OPEN])] == [second.id]
    assert store.list_proposals([ProposalState.MERGED, ProposalState.REJECTED]) == []


def test_transition_only_from_the_given_states(store: SqlStore) -> None:
    proposal = a_proposal()
    store.save_proposal(proposal)
    assert not store.transition(proposal.id, [ProposalState.OPEN], ProposalState.APPROVED)
    assert store.transition(proposal.id, [ProposalState.DRAFT], ProposalState.OPEN)
    assert store.transition(proposal.id, [ProposalState.OPEN, ProposalState.DRAFT], ProposalState.APPROVED)
    assert not store.transition(proposal.id, [ProposalState.OPEN], ProposalState.APPROVED)
    assert not store.transition("missing", [ProposalState.DRAFT], ProposalState.OPEN)
    got = store.get_proposal(proposal.id)
    assert got is not None and got.state is ProposalState.APPROVED


def test_approvals_unique_per_user_and_head(store: SqlStore) -> None:
    proposal = a_proposal()
    store.save_proposal(proposal)
    first = Approval(
        proposal_id=proposal.id, user_id="U1", decision=Decision.APPROVE, head_sha="a" * 40, at=T0
    )
    assert store.add_approval(first)
    assert not store.add_approval(first.model_copy(update={"decision": Decision.REJECT}))
    second = first.model_copy(
        update={"user_id": "U2", "reason": "looks right", "at": T0 + timedelta(seconds=5)}
    )
    assert store.add_approval(second)
    no_head = Approval(proposal_id=proposal.id, user_id="cli:ana", decision=Decision.REJECT, at=T0)
    assert store.add_approval(no_head)
    assert not store.add_approval(no_head), "a missing head_sha still counts as one head"
    assert store.approvals(proposal.id) == [first, no_head, second]

    assert store.void_approvals(proposal.id) == 3
    assert store.approvals(proposal.id) == []
    assert store.add_approval(first.model_copy(update={"head_sha": "c" * 40}))


def test_approval_for_unknown_proposal_is_refused(store: SqlStore) -> None:
    approval = Approval(proposal_id="nope", user_id="U1", decision=Decision.APPROVE, at=T0)
    with pytest.raises(InvalidInput, match="unknown proposal nope"):
        store.add_approval(approval)


def test_audit_round_trip_keeps_hashes_valid(store: SqlStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    events = [
        AuditEvent(at=T0, kind=AuditKind.ALERT_RECEIVED, data={"group": "g", "n": [1, 2.5, None]}),
        AuditEvent(at=T0.astimezone(plus_two), kind=AuditKind.PROPOSAL_CREATED, proposal_id="p1"),
        AuditEvent(
            at=T0.replace(microsecond=0, tzinfo=None),
            kind=AuditKind.APPROVED,
            actor="U1",
            proposal_id="p1",
            data={"when": T0, "pair": (1, 2), "text": 'é "quoted"'},
        ),
    ]
    sealed = [store.append_audit(e) for e in events]
    assert [e.seq for e in sealed] == [1, 2, 3]
    assert sealed[0].prev_hash == "0" * 64 and sealed[1].prev_hash == sealed[0].hash
    trail = store.audit_trail()
    assert trail == sealed
    assert all(e.at.utcoffset() == timedelta(0) for e in trail)
    assert verify_trail(trail, head=store.audit_head()) == []
    assert store.audit_head() == (3, sealed[-1].hash)
    assert [e.seq for e in store.audit_trail("p1")] == [2, 3]


def test_incident_upsert_and_round_trip(store: SqlStore) -> None:
    group = parse_alert_group(an_alert_group())
    incident = IncidentRecord(
        group_key=group.group_key,
        channel="C1",
        alert=group,
        started_at=group.started_at,
        fingerprints=["f00d"],
    )
    store.upsert_incident(incident)
    assert store.get_incident(group.group_key) == incident
    assert store.get_incident("other") is None

    report = InvestigationReport(
        alert_name="HighLatency",
        service="checkout",
        at=T0,
        summary="traffic surge",
        root_causes=[
            RootCause(
                kind=CauseKind.TRAFFIC_SURGE,
                service="checkout",
                confidence=0.8,
                evidence=[
                    Evidence(
                        id="E1",
                        source="prometheus",
                        observation="rps x2",
                        query="sum(rate(http_requests_total[5m]))",
                    )
                ],
            )
        ],
        proposal=a_proposal(),
    )
    resolved = incident.model_copy(
        update={
            "thread_ts": "1710408413.000100",
            "status": "resolved",
            "report": report,
            "resolved_at": T0,
            "fingerprints": ["f00d", "beef"],
        }
    )
    store.upsert_incident(resolved)
    assert store.get_incident(group.group_key) == resolved
    stale = resolved.model_copy(update={"channel": None, "thread_ts": None, "status": "firing"})
    store.upsert_incident(stale)
    assert store.get_incident(group.group_key) == stale.model_copy(
        update={"channel": "C1", "thread_ts": "1710408413.000100"}
    ), "a stale writer does not erase the thread"
    store.upsert_incident(resolved)
    assert store.list_incidents() == [resolved]
    assert store.list_incidents(["firing"]) == []


def test_claim_once_and_purge(store: SqlStore) -> None:
    assert store.claim_once("slack:event:Ev1")
    assert not store.claim_once("slack:event:Ev1")
    assert store.claim_once("slack:action:A1")
    assert store.purge_processed_keys(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert store.purge_processed_keys(datetime.now(UTC) + timedelta(seconds=1)) == 2
    assert store.claim_once("slack:event:Ev1"), "a purged key can be claimed again"


def test_state_survives_reopening(store_url: str) -> None:
    proposal = a_proposal()
    with SqlStore.open(store_url) as first:
        first.save_proposal(proposal)
        first.transition(proposal.id, [ProposalState.DRAFT], ProposalState.OPEN)
        first.add_approval(Approval(proposal_id=proposal.id, user_id="U1", decision=Decision.APPROVE, at=T0))
        sealed = first.append_audit(AuditEvent(at=T0, kind=AuditKind.APPROVED, proposal_id=proposal.id))
        first.claim_once("k1")
        first.upsert_incident(IncidentRecord(group_key="g1", thread_ts="1.2"))

    with SqlStore.open(store_url) as second:  # a restart: new engine, migrations already current
        got = second.get_proposal(proposal.id)
        assert got == proposal.model_copy(update={"state": ProposalState.OPEN})
        assert [a.user_id for a in second.approvals(proposal.id)] == ["U1"]
        assert second.audit_trail() == [sealed]
        assert not second.claim_once("k1")
        incident = second.get_incident("g1")
        assert incident is not None and incident.thread_ts == "1.2"
        following = second.append_audit(AuditEvent(at=T0, kind=AuditKind.MERGED, proposal_id=proposal.id))
        assert following.prev_hash == sealed.hash
        assert verify_trail(second.audit_trail(), head=second.audit_head()) == []


def test_audit_data_that_is_not_json_is_refused(store: SqlStore) -> None:
    with pytest.raises(InvalidInput, match="not JSON"):
        store.append_audit(AuditEvent(at=T0, kind=AuditKind.MODEL_CALL, data={"cost": float("nan")}))
    assert store.audit_trail() == [] and store.audit_head() == (0, "0" * 64)


@pytest.mark.postgres
def test_a_server_in_another_time_zone_changes_nothing(postgres_url: str) -> None:
    """PostgreSQL answers timestamptz in the session's zone; hashes must not notice."""
    url = make_url(postgres_url)
    kolkata = url.update_query_dict({"options": f"{url.query['options']} -ctimezone=Asia/Kolkata"})
    with SqlStore.open(kolkata.render_as_string(hide_password=False)) as store:
        with store.engine.connect() as conn:
            assert conn.execute(text("SHOW timezone")).scalar() == "Asia/Kolkata"
        sealed = store.append_audit(AuditEvent(at=T0, kind=AuditKind.MERGED))
        proposal = a_proposal()
        store.save_proposal(proposal)
        assert store.get_proposal(proposal.id) == proposal
        assert store.audit_trail() == [sealed]
        assert verify_trail(store.audit_trail(), head=store.audit_head()) == []
