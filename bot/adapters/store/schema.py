"""The tables, as typed SQLAlchemy models. Migrations in ``migrations/versions`` create them;
this module is what the store queries against (and what ``alembic check`` compares to)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

HASH_LEN = 64
ID_LEN = 64


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on every backend.

    SQLite keeps no offset and PostgreSQL answers in the session's time zone; normalising both
    ways makes ``isoformat()`` identical after a round trip, which the audit hashes rely on.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


def as_utc(value: datetime) -> datetime:
    """A naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class ProposalRow(Base):
    __tablename__ = "proposals"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    action: Mapped[str] = mapped_column(String(32))
    service: Mapped[str | None] = mapped_column(String(255))
    namespace: Mapped[str | None] = mapped_column(String(255))
    commit: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[list[Any]]
    diff: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32), index=True)
    requested_by: Mapped[str | None] = mapped_column(String(255))
    branch: Mapped[str | None] = mapped_column(String(255))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ApprovalRow(Base):
    __tablename__ = "approvals"
    # head_sha is stored as "" for "no head" so that the unique key also covers that case
    # (NULLs never collide in a unique constraint).
    __table_args__ = (UniqueConstraint("proposal_id", "user_id", "head_sha", name="uq_approvals_decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("proposals.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(16))
    head_sha: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class ProposalMessageRow(Base):
    """The one Slack message per proposal that carries its buttons (the latest one posted)."""

    __tablename__ = "proposal_messages"

    proposal_id: Mapped[str] = mapped_column(String(ID_LEN), ForeignKey("proposals.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(64))
    posted_at: Mapped[datetime]
    # What the message said, so its edit once the proposal ends keeps it (None: recorded before
    # Tugboat kept it; the edit is rebuilt from the proposal).
    text: Mapped[str | None] = mapped_column(Text)
    blocks: Mapped[list[Any] | None]


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    # Assigned from audit_head under its lock, so the sequence has no gaps to explain.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    proposal_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True)
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    hash: Mapped[str] = mapped_column(String(HASH_LEN), unique=True)


class AuditHeadRow(Base):
    """A single row: the last event appended. Locking it serialises appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(HASH_LEN))


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_key: Mapped[str] = mapped_column(Text, unique=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True)
    alert: Mapped[dict[str, Any] | None]
    report: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    fingerprints: Mapped[list[Any]]
    pending: Mapped[dict[str, Any] | None]  # the thread update not yet posted (ThreadUpdate)
    noticed_at: Mapped[datetime | None]  # when this firing was first received
    updated_at: Mapped[datetime]


class AlertInboxRow(Base):
    """Webhooks as they arrived, until the group's ``incident.deliver`` job folds them in."""

    __tablename__ = "alert_inbox"
    __table_args__ = (Index("ix_alert_inbox_waiting", "processed_at", "group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_key: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(String(512), unique=True)
    alert: Mapped[dict[str, Any]]
    channel: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class ProcessedKeyRow(Base):
    __tablename__ = "processed_keys"
    __table_args__ = (Index("ix_processed_keys_created_at", "created_at"),)

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    created_at: Mapped[datetime]
    # Who claimed it (``Store.claim_for``): a Slack delivery's journal entry; None for the rest.
    owner: Mapped[str | None] = mapped_column(String(128))


class AnomalyWarningRow(Base):
    """The newest early warning of each series (workload and metric): claimed by one replica
    before it is posted; another is due only after the cooldown. ``pending`` holds what to post
    until the post is out or given up (NULL then)."""

    __tablename__ = "anomaly_warnings"

    series_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    warned_at: Mapped[datetime]  # the run that claimed it
    row_at: Mapped[datetime]  # the anomalous row it warned of
    pending: Mapped[dict[str, Any] | None]
    tries: Mapped[int] = mapped_column(Integer, server_default="0")  # rounds of posting that failed
    leased_until: Mapped[datetime | None]  # a replica is posting it until then
