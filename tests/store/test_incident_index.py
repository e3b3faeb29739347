"""Reading only the firing incidents (the anomaly watch, each run) is a search of the status
index on SQLite and PostgreSQL, not a scan of every incident ever stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text

from bot.adapters.store import SqlStore
from bot.domain.alert import parse_alert_group
from bot.ports.store import IncidentRecord
from tests.slack.conftest import alert_payload


def test_the_firing_incidents_are_read_through_the_status_index(store: SqlStore) -> None:
    group = parse_alert_group(alert_payload())
    for i in range(40):
        status = "firing" if i % 10 == 0 else "resolved"
        store.upsert_incident(IncidentRecord(group_key=f"{group.group_key}-{i}", alert=group, status=status))
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM incidents" in statement:
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        firing = store.list_incidents(["firing"])
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(firing) == 4 and {r.status for r in firing} == {"firing"}
    [(statement, parameters)] = seen
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        if store.engine.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
        else:  # a tiny table is cheaper to scan: ask whether the index can answer it at all
            conn.execute(text("SET enable_seqscan = off"))
            with raw.cursor() as cursor:
                cursor.execute(f"EXPLAIN {statement}", parameters)
                plan = " ".join(str(row[0]) for row in cursor.fetchall())
    assert "ix_incidents_status" in plan, plan
