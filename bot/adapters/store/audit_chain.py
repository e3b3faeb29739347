"""Appending to the hash-chained audit trail inside a write transaction (the store's own, or one
that also writes what the event records)."""

from __future__ import annotations

import json

from sqlalchemy import Connection, insert, select, update

from bot.adapters.store.schema import AuditEventRow, AuditHeadRow, as_utc
from bot.domain.audit import AuditEvent
from bot.domain.errors import InvalidInput

HEAD_ID = 1


def append_in(conn: Connection, event: AuditEvent) -> AuditEvent:
    """Chain ``event`` onto the trail in ``conn``'s transaction; returns it sealed."""
    # Normalise first so that what is hashed is exactly what a read gives back: UTC time,
    # and data as JSON makes it (tuples become lists, datetimes strings, as canonical() does).
    try:
        data = json.loads(json.dumps(event.data, default=str, allow_nan=False))
    except ValueError as exc:
        raise InvalidInput(f"audit event {event.kind!r} has data that is not JSON: {exc}") from None
    normal = event.model_copy(update={"at": as_utc(event.at), "data": data})
    # Lock the head row (SQLite: the whole database is already ours since BEGIN IMMEDIATE),
    # so concurrent appends queue here and each chains onto the one before.
    head = conn.execute(
        select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID).with_for_update()
    ).one()
    sealed = normal.sealed(head.hash).model_copy(update={"seq": head.seq + 1})
    conn.execute(
        insert(AuditEventRow).values(
            seq=sealed.seq,
            at=sealed.at,
            kind=sealed.kind,
            actor=sealed.actor,
            proposal_id=sealed.proposal_id,
            data=sealed.data,
            prev_hash=sealed.prev_hash,
            hash=sealed.hash,
        )
    )
    conn.execute(
        update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID).values(seq=sealed.seq, hash=sealed.hash)
    )
    return sealed
