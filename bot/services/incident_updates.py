"""Folding stored notifications into an incident: pure functions over the store's records.

Each webhook is kept in the inbox as it arrived; the group's ``incident.deliver`` job folds the
waiting ones in order into the incident, whose ``pending`` update accumulates what the thread has
not been told yet (alerts that joined, a resolution, a new firing). Because that update is stored
with the incident, a replica dying or a refused job loses none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.alert import AlertGroup
from bot.ports.store import InboxItem, IncidentRecord, ThreadUpdate
from bot.services.alert_keys import fingerprints

Route = Callable[[AlertGroup], str | None]


@dataclass(frozen=True)
class Receipt:
    group_key: str
    duplicate: bool


@dataclass(frozen=True)
class Folded:
    incident: IncidentRecord
    refired: bool  # a resolved group fired again: its old report no longer applies


def fold(record: IncidentRecord | None, item: InboxItem, route: Route) -> Folded:
    """The incident after one more notification (or a person's request)."""
    group = item.alert
    fps = fingerprints(group)
    firing = {fp for fp, a in zip(fps, group.alerts, strict=True) if a.status == "firing"}
    resolved = group.status == "resolved"
    requested = item.requested_by is not None
    if record is None:
        incident = IncidentRecord(
            group_key=item.group_key,
            channel=item.channel or route(group),
            status=group.status,
            alert=group,
            started_at=group.started_at or item.received_at,
            resolved_at=item.received_at if resolved else None,
            fingerprints=fps,
            noticed_at=item.received_at,
        )
        update = ThreadUpdate(
            new_firing=len(firing), resolved=resolved, first=True, requested_by=item.requested_by
        )
        return Folded(_with(incident, update, group, item.id), refired=False)
    known = set(record.fingerprints)
    update = ThreadUpdate(new_firing=len(firing - known), first=requested, requested_by=item.requested_by)
    changes: dict[str, object] = {
        "alert": group,
        "fingerprints": [*record.fingerprints, *(f for f in fps if f not in known)],
    }
    refired = False
    if resolved and record.status != "resolved":
        ends = [a.ends_at for a in group.alerts if a.ends_at]
        changes.update(status="resolved", resolved_at=max(ends) if ends else item.received_at)
        update.resolved = True
    elif group.status == "firing" and record.status == "resolved":
        changes.update(
            status="firing",
            resolved_at=None,
            started_at=group.started_at or item.received_at,
            noticed_at=item.received_at,
        )
        update.refired = refired = True
    return Folded(_with(record.model_copy(update=changes), update, group, item.id), refired=refired)


def _with(incident: IncidentRecord, update: ThreadUpdate, group: AlertGroup, through: int) -> IncidentRecord:
    pending = combine(incident.pending or ThreadUpdate(), update, group)
    return incident.model_copy(update={"pending": pending.model_copy(update={"through": through})})


def combine(earlier: ThreadUpdate, later: ThreadUpdate, group: AlertGroup) -> ThreadUpdate:
    """One thread update that covers both (the group as ``group`` shows it now)."""
    return earlier.model_copy(
        update={
            "new_firing": earlier.new_firing + later.new_firing,
            "resolved": (earlier.resolved or later.resolved) and group.status == "resolved",
            "refired": earlier.refired or later.refired,
            "first": earlier.first or later.first,
            "requested_by": later.requested_by or earlier.requested_by,
        }
    )


def urgent(update: ThreadUpdate) -> bool:
    """Posted at once rather than coalesced: a new thread, a resolution, a new firing."""
    return update.first or update.resolved or update.refired
