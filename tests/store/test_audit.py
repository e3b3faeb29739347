"""The audit trail: the chain check itself, and tampering done straight in the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bot.adapters.store import SqlStore
from bot.domain.audit import GENESIS_HASH, AuditEvent, AuditKind, verify_trail

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def chain(n: int) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    prev = GENESIS_HASH
    for i in range(n):
        event = AuditEvent(at=T0 + timedelta(seconds=i), kind=AuditKind.APPROVED, data={"i": i}).sealed(prev)
        events.append(event.model_copy(update={"seq": i + 1}))
        prev = event.hash
    return events


def test_an_untouched_chain_verifies() -> None:
    events = chain(4)
    assert verify_trail(events) == []
    assert verify_trail(events, head=(4, events[-1].hash)) == []
    assert verify_trail([]) == []
    assert verify_trail([], head=(0, GENESIS_HASH)) == []


def test_edits_are_detected() -> None:
    events = chain(4)
    events[1] = events[1].model_copy(update={"data": {"i": 99}})
    assert verify_trail(events) == ["event #2 (approved) was altered: its content no longer matches its hash"]
    events = chain(4)
    events[2] = events[2].model_copy(update={"actor": "mallory"})
    assert any("#3" in p and "altered" in p for p in verify_trail(events))


def test_deletions_reorderings_and_insertions_are_detected() -> None:
    events = chain(5)
    problems = verify_trail([events[0], events[2], events[3], events[4]])
    assert any("#3" in p and "missing" in p for p in problems)
    assert any("#3" in p and "does not chain" in p for p in problems)

    swapped = [events[0], events[2], events[1], events[3], events[4]]
    assert any("out of order" in p for p in verify_trail(swapped))

    forged = AuditEvent(at=T0, kind=AuditKind.MERGED).sealed(events[1].hash).model_copy(update={"seq": 3})
    renumbered = [e.model_copy(update={"seq": e.seq + 1}) if e.seq and e.seq >= 3 else e for e in events]
    problems = verify_trail([*renumbered[:2], forged, *renumbered[2:]])
    assert any("#4" in p and ("does not chain" in p or "altered" in p) for p in problems)


def test_a_cut_off_tail_shows_only_against_the_head() -> None:
    events = chain(3)
    assert verify_trail(events[:2]) == []
    problems = verify_trail(events[:2], head=(3, events[-1].hash))
    assert problems and "ends at #2" in problems[0] and "#3" in problems[0]


# Tampering in a real database: the append-only triggers stop ordinary UPDATE/DELETE, so the
# "attacker" first removes them, as someone with DDL rights could; the chain still tells.


def tamper(store: SqlStore, *statements: str) -> None:
    with store.engine.begin() as conn:
        _drop_guard(conn)
        for statement in statements:
            conn.execute(text(statement))


def _drop_guard(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))


def filled(store: SqlStore, n: int = 4) -> list[AuditEvent]:
    return [
        store.append_audit(
            AuditEvent(
                at=T0 + timedelta(minutes=i),
                kind=AuditKind.APPROVED,
                actor=f"U{i}",
                proposal_id="p1",
                data={"i": i},
            )
        )
        for i in range(n)
    ]


def problems_in(store: SqlStore) -> list[str]:
    return verify_trail(store.audit_trail(), head=store.audit_head())


def test_the_database_refuses_updates_and_deletes(store: SqlStore) -> None:
    filled(store, 2)
    for statement in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(store.audit_trail()) == 2
    assert problems_in(store) == []


TAMPERING: dict[str, tuple[list[str], Callable[[list[str]], bool]]] = {
    "edited data": (
        ["UPDATE audit_events SET data = '{\"i\": 42}' WHERE seq = 2"],
        lambda ps: any("#2" in p and "altered" in p for p in ps),
    ),
    "edited actor": (
        ["UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"],
        lambda ps: any("#3" in p and "altered" in p for p in ps),
    ),
    "edited time": (
        ["UPDATE audit_events SET at = at + interval '1 hour' WHERE seq = 1"],
        lambda ps: any("#1" in p and "altered" in p for p in ps),
    ),
    "deleted middle": (
        ["DELETE FROM audit_events WHERE seq = 2"],
        lambda ps: any("#3" in p and "does not chain" in p for p in ps),
    ),
    "deleted last": (
        ["DELETE FROM audit_events WHERE seq = 4"],
        lambda ps: any("ends at #3" in p for p in ps),
    ),
    "reordered": (
        [
            "UPDATE audit_events SET seq = 100 WHERE seq = 2",
            "UPDATE audit_events SET seq = 2 WHERE seq = 3",
            "UPDATE audit_events SET seq = 3 WHERE seq = 100",
        ],
        lambda ps: any("does not chain" in p for p in ps),
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_in_the_database_is_detected(store: SqlStore, case: str) -> None:
    filled(store)
    assert problems_in(store) == []
    statements, detected = TAMPERING[case]
    if store.engine.dialect.name == "sqlite":  # SQLite spells date arithmetic differently
        statements = [s.replace("at + interval '1 hour'", "datetime(at, '+1 hour')") for s in statements]
    tamper(store, *statements)
    problems = problems_in(store)
    assert detected(problems), problems


def test_an_appended_forgery_is_detected(store: SqlStore) -> None:
    events = filled(store, 2)
    forged = AuditEvent(at=T0, kind=AuditKind.MERGED, actor="mallory").sealed(events[-1].hash)
    tamper(
        store,
        "INSERT INTO audit_events (seq, at, kind, actor, proposal_id, data, prev_hash, hash) "
        f"VALUES (3, '2026-03-14 09:00:00', 'proposal.merged', 'mallory', NULL, '{{}}', "
        f"'{forged.prev_hash}', '{forged.hash}')",
    )
    assert any("ends at #3" in p for p in problems_in(store))
