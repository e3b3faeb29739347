"""Incidents (Slack threads) and the alert inbox, for ``SqlStore``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from bot.adapters.store.audit_chain import append_in
from bot.adapters.store.schema import AlertInboxRow, IncidentRow, as_utc
from bot.adapters.store.tables import ROWCOUNT, Tables, now
from bot.domain.alert import AlertGroup
from bot.domain.audit import AuditEvent
from bot.domain.report import InvestigationReport
from bot.ports.store import InboxItem, IncidentRecord, ThreadUpdate


class IncidentTables(Tables):
    def get_incident(self, group_key: str) -> IncidentRecord | None:
        with self._read() as conn:
            row = conn.execute(
                select(IncidentRow.__table__).where(IncidentRow.group_key == group_key)
            ).first()
        return _incident(row._mapping) if row else None

    def upsert_incident(self, incident: IncidentRecord) -> None:
        values = _incident_values(incident)
        values["report"] = incident.report.model_dump(mode="json", by_alias=True) if incident.report else None
        with self._write() as conn:
            self._upsert_incident(conn, incident.group_key, values)

    def _upsert_incident(self, conn: Connection, group_key: str, values: dict[str, Any]) -> None:
        stmt = self._insert(conn, IncidentRow).values(group_key=group_key, **values)
        # A replica that read the row before the thread was posted must not erase it.
        keep = {
            name: func.coalesce(stmt.excluded[name], IncidentRow.__table__.c[name])
            for name in ("channel", "thread_ts")
        }
        conn.execute(stmt.on_conflict_do_update(index_elements=["group_key"], set_={**values, **keep}))

    def set_incident_thread(self, group_key: str, channel: str, thread_ts: str) -> None:
        with self._write() as conn:
            conn.execute(
                update(IncidentRow)
                .where(IncidentRow.group_key == group_key)
                .values(channel=channel, thread_ts=thread_ts, updated_at=now())
            )

    def set_incident_pending(self, group_key: str, pending: ThreadUpdate | None) -> None:
        value = pending.model_dump(mode="json") if pending is not None else None
        with self._write() as conn:
            conn.execute(
                update(IncidentRow)
                .where(IncidentRow.group_key == group_key)
                .values(pending=value, updated_at=now())
            )

    def set_incident_report(
        self, group_key: str, started_at: datetime | None, report: InvestigationReport
    ) -> bool:
        same_firing = (
            IncidentRow.started_at.is_(None)
            if started_at is None
            else IncidentRow.started_at == as_utc(started_at)
        )
        stmt = (
            update(IncidentRow)
            .where(IncidentRow.group_key == group_key, same_firing)
            .values(report=report.model_dump(mode="json", by_alias=True), updated_at=now())
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount == 1

    def list_incidents(self, statuses: Iterable[str] | None = None) -> list[IncidentRecord]:
        query = select(IncidentRow.__table__).order_by(IncidentRow.id)
        if statuses is not None:
            query = query.where(IncidentRow.status.in_(list(statuses)))
        with self._read() as conn:
            return [_incident(row._mapping) for row in conn.execute(query)]

    # The alert inbox

    def add_to_inbox(
        self,
        group: AlertGroup,
        dedup_key: str,
        received_at: datetime,
        *,
        channel: str | None = None,
        requested_by: str | None = None,
    ) -> bool:
        values = {
            "group_key": group.group_key,
            "dedup_key": dedup_key,
            "alert": group.model_dump(mode="json", by_alias=True),
            "channel": channel,
            "requested_by": requested_by,
            "received_at": received_at,
        }
        with self._write() as conn:
            stmt = self._insert(conn, AlertInboxRow).values(**values).on_conflict_do_nothing()
            return conn.execute(stmt, execution_options=ROWCOUNT).rowcount == 1

    def inbox(self, group_key: str, limit: int = 500) -> list[InboxItem]:
        query = (
            select(AlertInboxRow.__table__)
            .where(AlertInboxRow.processed_at.is_(None), AlertInboxRow.group_key == group_key)
            .order_by(AlertInboxRow.id)
            .limit(limit)
        )
        with self._read() as conn:
            rows = list(conn.execute(query))
        return [
            InboxItem(
                id=r.id,
                group_key=r.group_key,
                alert=AlertGroup.model_validate(r.alert),
                received_at=r.received_at,
                channel=r.channel,
                requested_by=r.requested_by,
            )
            for r in rows
        ]

    def groups_waiting(self) -> list[str]:
        inbox = select(AlertInboxRow.group_key).where(AlertInboxRow.processed_at.is_(None)).distinct()
        pending = select(IncidentRow.group_key, IncidentRow.pending).where(IncidentRow.pending.is_not(None))
        with self._read() as conn:
            keys = dict.fromkeys(str(key) for key in conn.execute(inbox).scalars())
            for key, value in conn.execute(pending):
                if value and not ThreadUpdate.model_validate(value).empty:  # JSON null is not NULL
                    keys[str(key)] = None
        return list(keys)

    def fold_inbox(
        self,
        incident: IncidentRecord,
        through: int,
        *,
        clear_report: bool = False,
        audit: Sequence[AuditEvent] = (),
    ) -> None:
        values = _incident_values(incident)
        if clear_report:
            values["report"] = None
        with self._write() as conn:
            for event in audit:
                append_in(conn, event)
            self._upsert_incident(conn, incident.group_key, values)
            conn.execute(
                update(AlertInboxRow)
                .where(
                    AlertInboxRow.group_key == incident.group_key,
                    AlertInboxRow.id <= through,
                    AlertInboxRow.processed_at.is_(None),
                )
                .values(processed_at=now())
            )

    def purge_inbox(self, before: datetime) -> int:
        with self._write() as conn:
            stmt = delete(AlertInboxRow).where(
                AlertInboxRow.processed_at.is_not(None), AlertInboxRow.received_at < as_utc(before)
            )
            return conn.execute(stmt).rowcount


def _incident_values(incident: IncidentRecord) -> dict[str, Any]:
    """Every column but the key and the report."""
    return {
        "channel": incident.channel,
        "thread_ts": incident.thread_ts,
        "status": incident.status,
        "alert": incident.alert.model_dump(mode="json", by_alias=True) if incident.alert else None,
        "started_at": incident.started_at,
        "resolved_at": incident.resolved_at,
        "fingerprints": list(incident.fingerprints),
        "pending": incident.pending.model_dump(mode="json") if incident.pending else None,
        "noticed_at": incident.noticed_at,
        "updated_at": now(),
    }


def _incident(row: Any) -> IncidentRecord:
    return IncidentRecord.model_validate({k: v for k, v in row.items() if k not in ("id", "updated_at")})
