"""The alert inbox and the incident writes the delivery and investigation jobs make, on SQLite
and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.adapters.store import SqlStore
from bot.domain.alert import parse_alert_group
from bot.domain.report import InvestigationReport
from bot.ports.store import IncidentRecord, ThreadUpdate
from tests.store.test_store import an_alert_group

T0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_inbox_keeps_order_refuses_repeats_and_folds_once(store: SqlStore) -> None:
    group = parse_alert_group(an_alert_group())
    assert store.add_to_inbox(group, "n1", T0)
    assert not store.add_to_inbox(group, "n1", T0), "an exact repeat is refused"
    assert store.add_to_inbox(group, "n2", T0 + timedelta(seconds=1), channel="C9", requested_by="U1")
    items = store.inbox(group.group_key)
    assert [i.received_at for i in items] == [T0, T0 + timedelta(seconds=1)]
    assert items[0].alert == group and (items[1].channel, items[1].requested_by) == ("C9", "U1")
    assert store.groups_waiting() == [group.group_key]

    pending = ThreadUpdate(new_firing=2, first=True, through=items[0].id)
    incident = IncidentRecord(group_key=group.group_key, alert=group, pending=pending, noticed_at=T0)
    store.fold_inbox(incident, items[0].id)  # the first item only
    assert [i.id for i in store.inbox(group.group_key)] == [items[1].id]
    assert store.get_incident(group.group_key) == incident
    store.fold_inbox(incident, items[1].id)
    assert store.inbox(group.group_key) == []
    assert store.groups_waiting() == [group.group_key], "the pending update still waits"
    store.set_incident_pending(group.group_key, ThreadUpdate(posted_at=T0))
    assert store.groups_waiting() == []
    assert store.purge_inbox(datetime.now(UTC) + timedelta(seconds=1)) == 2
    assert store.add_to_inbox(group, "n1", T0), "a purged key can be stored again"
    assert store.purge_inbox(datetime.now(UTC) + timedelta(seconds=1)) == 0, "waiting items are kept"


def test_column_writes_leave_the_others_alone(store: SqlStore) -> None:
    group = parse_alert_group(an_alert_group())
    incident = IncidentRecord(group_key=group.group_key, alert=group, started_at=T0, fingerprints=["a"])
    store.fold_inbox(incident, 0)
    report = InvestigationReport(alert_name="HighLatency", at=T0, summary="traffic surge")
    assert store.set_incident_report(group.group_key, T0, report)
    assert not store.set_incident_report(group.group_key, T0 + timedelta(hours=1), report), "another firing"
    store.fold_inbox(incident.model_copy(update={"fingerprints": ["a", "b"]}), 0)  # a fold read before
    store.set_incident_thread(group.group_key, "C1", "1.5")
    stored = store.get_incident(group.group_key)
    assert stored is not None and stored.report == report, "a fold does not erase the report"
    assert (stored.channel, stored.thread_ts, stored.fingerprints) == ("C1", "1.5", ["a", "b"])
    store.fold_inbox(stored, 0, clear_report=True)  # a new firing
    cleared = store.get_incident(group.group_key)
    assert cleared is not None and cleared.report is None and cleared.thread_ts == "1.5"


def test_claimed_at(store: SqlStore) -> None:
    assert store.claimed_at("step-intent:x") is None
    before = datetime.now(UTC)
    assert store.claim_once("step-intent:x")
    at = store.claimed_at("step-intent:x")
    assert at is not None and before - timedelta(seconds=1) <= at <= datetime.now(UTC)
