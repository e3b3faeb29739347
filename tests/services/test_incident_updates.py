"""Folding stored notifications into an incident: what the thread is owed, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.alert import parse_alert_group
from bot.ports.store import InboxItem, IncidentRecord
from bot.services.incident_updates import fold, urgent
from tests.slack.conftest import alert_payload

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def item(
    n: int,
    fps: list[str],
    status: str = "firing",
    channel: str | None = None,
    requested_by: str | None = None,
) -> InboxItem:
    group = parse_alert_group(
        alert_payload(
            group_key="g",
            status=status,
            fingerprints=fps,
            ends_at="2026-11-26T01:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        )
    )
    at = T0 + timedelta(minutes=n)
    return InboxItem(n, "g", group, at, channel=channel, requested_by=requested_by)


def folded(*items: InboxItem, record: IncidentRecord | None = None) -> IncidentRecord:
    for one in items:
        record = fold(record, one, lambda group: "CDEFAULT").incident
    assert record is not None
    return record


def test_a_new_group_is_owed_its_parent_and_counts_each_alert_once() -> None:
    record = folded(item(1, ["a"]), item(2, ["a", "b"]), item(3, ["a", "b", "c"]), item(4, ["a", "b", "c"]))
    pending = record.pending
    assert pending is not None and pending.first and urgent(pending)
    assert (pending.new_firing, pending.through) == (3, 4)
    assert record.fingerprints == ["a", "b", "c"] and record.channel == "CDEFAULT"
    assert record.noticed_at == T0 + timedelta(minutes=1)


def test_after_a_post_joins_are_counted_and_a_resolution_keeps_them() -> None:
    posted = folded(item(1, ["a"])).model_copy(update={"pending": None, "thread_ts": "1.1"})
    record = folded(item(2, ["a", "b"]), item(3, ["a", "b", "c"], status="resolved"), record=posted)
    assert record.pending is not None
    assert (record.pending.new_firing, record.pending.resolved, record.pending.first) == (1, True, False)
    assert record.status == "resolved" and record.resolved_at == datetime(2026, 11, 26, 1, 30, tzinfo=UTC)


def test_a_resolved_group_firing_again_is_a_new_firing() -> None:
    resolved = folded(item(1, ["a"]), item(2, ["a"], status="resolved")).model_copy(update={"pending": None})
    result = fold(resolved, item(3, ["a"]), lambda group: None)
    assert result.refired and result.incident.status == "firing"
    assert result.incident.pending is not None and result.incident.pending.refired
    assert result.incident.noticed_at == T0 + timedelta(minutes=3)


def test_a_request_names_its_channel_and_asker() -> None:
    record = folded(item(1, ["a"], channel="CASKED", requested_by="U1"))
    assert record.channel == "CASKED"
    assert record.pending is not None and record.pending.requested_by == "U1" and record.pending.first
