"""``SqlStore``: the Store port on SQLAlchemy 2, for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, null, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.store.audit_chain import HEAD_ID, append_in
from bot.adapters.store.engine import make_engine, parse_url, reachable
from bot.adapters.store.incident_tables import IncidentTables
from bot.adapters.store.migrate import upgrade
from bot.adapters.store.schema import (
    AnomalyWarningRow,
    ApprovalRow,
    AuditEventRow,
    AuditHeadRow,
    ProcessedKeyRow,
    ProposalMessageRow,
    ProposalRow,
    as_utc,
)
from bot.adapters.store.tables import ROWCOUNT, now
from bot.domain.approval import Approval, Decision
from bot.domain.audit import AuditEvent
from bot.domain.errors import InvalidInput
from bot.domain.proposal import FieldChange, Proposal, ProposalState
from bot.ports.store import PendingWarning, PostedMessage


class SqlStore(IncidentTables):
    """Every method is one short transaction; safe to share between threads and replicas."""

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> SqlStore:
        """Connect and, unless told not to, upgrade the schema to the newest revision."""
        engine = make_engine(url)
        with reachable(parse_url(url)):
            if migrate:
                upgrade(engine)
            else:
                with engine.connect():
                    pass
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Proposals

    def save_proposal(self, proposal: Proposal) -> None:
        values = _proposal_values(proposal)
        with self._write() as conn:
            stmt = self._insert(conn, ProposalRow).values(
                id=proposal.id, state=proposal.state.value, **values
            )
            conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))

    def get_proposal(self, proposal_id: str) -> Proposal | None:
        with self._read() as conn:
            row = conn.execute(select(ProposalRow.__table__).where(ProposalRow.id == proposal_id)).first()
        return _proposal(row._mapping) if row else None

    def list_proposals(self, states: Iterable[ProposalState] | None = None) -> list[Proposal]:
        query = select(ProposalRow.__table__).order_by(
            ProposalRow.created_at.asc().nulls_first(), ProposalRow.id
        )
        if states is not None:
            query = query.where(ProposalRow.state.in_([ProposalState(s).value for s in states]))
        with self._read() as conn:
            return [_proposal(row._mapping) for row in conn.execute(query)]

    def transition(
        self, proposal_id: str, from_states: Sequence[ProposalState], to_state: ProposalState
    ) -> bool:
        # One conditional UPDATE: concurrent callers are serialised on the row by the database,
        # and only the first still sees a matching state.
        stmt = (
            update(ProposalRow)
            .where(ProposalRow.id == proposal_id, ProposalRow.state.in_([s.value for s in from_states]))
            .values(state=to_state.value, updated_at=now())
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount == 1

    def set_proposal_message(
        self, proposal_id: str, channel: str, ts: str, text: str = "", blocks: list[Any] | None = None
    ) -> None:
        values = {"channel": channel, "ts": ts, "posted_at": now(), "text": text, "blocks": blocks}
        try:
            with self._write() as conn:
                stmt = self._insert(conn, ProposalMessageRow).values(proposal_id=proposal_id, **values)
                conn.execute(stmt.on_conflict_do_update(index_elements=["proposal_id"], set_=values))
        except IntegrityError:  # the proposal's foreign key
            raise InvalidInput(f"cannot record a message for unknown proposal {proposal_id}") from None

    def proposal_message(self, proposal_id: str) -> PostedMessage | None:
        row_ = ProposalMessageRow
        query = select(row_.channel, row_.ts, row_.text, row_.blocks).where(row_.proposal_id == proposal_id)
        with self._read() as conn:
            row = conn.execute(query).first()
        return PostedMessage(row.channel, row.ts, row.text or "", row.blocks) if row else None

    def forget_proposal_message(self, proposal_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(ProposalMessageRow).where(ProposalMessageRow.proposal_id == proposal_id))

    def messaged_proposals(self, states: Iterable[ProposalState]) -> list[str]:
        query = (
            select(ProposalMessageRow.proposal_id)
            .join(ProposalRow, ProposalRow.id == ProposalMessageRow.proposal_id)
            .where(ProposalRow.state.in_([ProposalState(s).value for s in states]))
            .order_by(ProposalMessageRow.posted_at)
        )
        with self._read() as conn:
            return [str(r.proposal_id) for r in conn.execute(query)]

    # Approvals

    def add_approval(self, approval: Approval) -> bool:
        values = {
            "proposal_id": approval.proposal_id,
            "user_id": approval.user_id,
            "decision": approval.decision.value,
            "head_sha": approval.head_sha or "",
            "reason": approval.reason,
            "at": approval.at,
        }
        try:
            with self._write() as conn:
                stmt = self._insert(conn, ApprovalRow).values(**values).on_conflict_do_nothing()
                return conn.execute(stmt, execution_options=ROWCOUNT).rowcount == 1
        except IntegrityError:  # the only constraint left is the proposal's foreign key
            raise InvalidInput(
                f"cannot record a decision on unknown proposal {approval.proposal_id}"
            ) from None

    def approvals(self, proposal_id: str) -> list[Approval]:
        query = (
            select(ApprovalRow.__table__)
            .where(ApprovalRow.proposal_id == proposal_id)
            .order_by(ApprovalRow.at, ApprovalRow.id)
        )
        with self._read() as conn:
            return [
                Approval(
                    proposal_id=r.proposal_id,
                    user_id=r.user_id,
                    decision=Decision(r.decision),
                    head_sha=r.head_sha or None,
                    reason=r.reason,
                    at=r.at,
                )
                for r in conn.execute(query)
            ]

    def void_approvals(self, proposal_id: str) -> int:
        with self._write() as conn:
            return conn.execute(delete(ApprovalRow).where(ApprovalRow.proposal_id == proposal_id)).rowcount

    # Audit trail

    def append_audit(self, event: AuditEvent) -> AuditEvent:
        with self._write() as conn:
            return append_in(conn, event)

    def audit_trail(self, proposal_id: str | None = None) -> list[AuditEvent]:
        query = select(AuditEventRow.__table__).order_by(AuditEventRow.seq)
        if proposal_id is not None:
            query = query.where(AuditEventRow.proposal_id == proposal_id)
        with self._read() as conn:
            return [AuditEvent.model_validate(dict(row._mapping)) for row in conn.execute(query)]

    def audit_head(self) -> tuple[int, str]:
        with self._read() as conn:
            head = conn.execute(
                select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID)
            ).one()
        return int(head.seq), str(head.hash)

    # Processed keys (deduplication)

    def claim_once(self, key: str) -> bool:
        with self._write() as conn:
            stmt = self._insert(conn, ProcessedKeyRow).values(key=key, created_at=now())
            return conn.execute(stmt.on_conflict_do_nothing(), execution_options=ROWCOUNT).rowcount == 1

    def claim_for(self, key: str, owner: str) -> bool:
        # The owner of a row never changes once inserted, so reading it after a lost insert races
        # with nothing.
        with self._write() as conn:
            stmt = self._insert(conn, ProcessedKeyRow).values(key=key, created_at=now(), owner=owner[:128])
            if conn.execute(stmt.on_conflict_do_nothing(), execution_options=ROWCOUNT).rowcount == 1:
                return True
            found = conn.execute(select(ProcessedKeyRow.owner).where(ProcessedKeyRow.key == key))
            return found.scalar_one_or_none() == owner[:128]

    def is_claimed(self, key: str) -> bool:
        with self._read() as conn:
            found = conn.execute(select(ProcessedKeyRow.key).where(ProcessedKeyRow.key == key)).first()
        return found is not None

    def claimed_at(self, key: str) -> datetime | None:
        with self._read() as conn:
            found = conn.execute(
                select(ProcessedKeyRow.created_at).where(ProcessedKeyRow.key == key)
            ).scalar_one_or_none()
        return as_utc(found) if found is not None else None

    def purge_processed_keys(self, before: datetime) -> int:
        with self._write() as conn:
            stmt = delete(ProcessedKeyRow).where(ProcessedKeyRow.created_at < as_utc(before))
            return conn.execute(stmt).rowcount

    # Early warnings (the anomaly watch)

    def claim_warning(
        self,
        series_key: str,
        at: datetime,
        row_at: datetime,
        cooldown_s: float,
        audit: AuditEvent,
        post: dict[str, Any],
    ) -> bool:
        # One conditional upsert: racing replicas are serialised on the row's key, and only the
        # first finds no warning within the cooldown (the others' WHERE no longer holds).
        values = {
            "warned_at": as_utc(at),
            "row_at": as_utc(row_at),
            "pending": post,
            "tries": 0,
            "leased_until": None,
        }
        due = AnomalyWarningRow.warned_at <= as_utc(at) - timedelta(seconds=cooldown_s)
        with self._write() as conn:
            stmt = self._insert(conn, AnomalyWarningRow).values(series_key=series_key, **values)
            stmt = stmt.on_conflict_do_update(index_elements=["series_key"], set_=values, where=due)
            if conn.execute(stmt, execution_options=ROWCOUNT).rowcount != 1:
                return False
            append_in(conn, audit)
            return True

    def pending_warnings(self) -> list[PendingWarning]:
        query = (
            select(AnomalyWarningRow.__table__)
            .where(AnomalyWarningRow.pending.is_not(None))
            .order_by(AnomalyWarningRow.warned_at, AnomalyWarningRow.series_key)
        )
        with self._read() as conn:
            return [_pending(row._mapping) for row in conn.execute(query)]

    def take_warning(
        self, series_key: str, warned_at: datetime, now: datetime, lease_s: float
    ) -> PendingWarning | None:
        lease = as_utc(now) + timedelta(seconds=lease_s)
        free = or_(AnomalyWarningRow.leased_until.is_(None), AnomalyWarningRow.leased_until <= as_utc(now))
        stmt = (
            update(AnomalyWarningRow)
            .where(_pending_row(series_key, warned_at), free)
            .values(leased_until=lease)
        )
        with self._write() as conn:
            if conn.execute(stmt).rowcount != 1:
                return None
            row = conn.execute(
                select(AnomalyWarningRow.__table__).where(AnomalyWarningRow.series_key == series_key)
            ).one()
            return _pending(row._mapping)

    def release_warning(self, taken: PendingWarning) -> bool:
        stmt = (
            update(AnomalyWarningRow)
            .where(_held(taken))
            .values(tries=AnomalyWarningRow.tries + 1, leased_until=None)
        )
        with self._write() as conn:
            return conn.execute(stmt).rowcount == 1

    def finish_warning(self, taken: PendingWarning, audit: AuditEvent) -> bool:
        done = {"pending": null(), "leased_until": None}  # SQL NULL, not JSON null: no longer pending
        stmt = update(AnomalyWarningRow).where(_held(taken)).values(**done)
        with self._write() as conn:
            if conn.execute(stmt).rowcount != 1:
                return False
            append_in(conn, audit)
            return True


def _pending_row(series_key: str, warned_at: datetime) -> Any:
    """The row of this claim, while it is pending (a newer claim has another ``warned_at``)."""
    return (
        (AnomalyWarningRow.series_key == series_key)
        & (AnomalyWarningRow.warned_at == as_utc(warned_at))
        & AnomalyWarningRow.pending.is_not(None)
    )


def _held(taken: PendingWarning) -> Any:
    """The row of ``taken`` while its taker's lease is the one recorded."""
    if taken.leased_until is None:
        raise ValueError("only a taken warning (take_warning) can be released or finished")
    return _pending_row(taken.series_key, taken.warned_at) & (
        AnomalyWarningRow.leased_until == as_utc(taken.leased_until)
    )


def _pending(row: Any) -> PendingWarning:
    return PendingWarning(
        series_key=row["series_key"],
        warned_at=row["warned_at"],
        post=dict(row["pending"]),
        tries=int(row["tries"]),
        leased_until=row["leased_until"],
    )


def _proposal_values(p: Proposal) -> dict[str, Any]:
    """Every column but ``state`` and the key."""
    return {
        "action": p.action.value,
        "service": p.service,
        "namespace": p.namespace,
        "commit": p.commit,
        "changes": [c.model_dump(mode="json", by_alias=True) for c in p.changes],
        "diff": p.diff,
        "title": p.title,
        "rationale": p.rationale,
        "requested_by": p.requested_by,
        "branch": p.branch,
        "head_sha": p.head_sha,
        "url": p.url,
        "created_at": p.created_at,
        "expires_at": p.expires_at,
        "updated_at": now(),
    }


def _proposal(row: Any) -> Proposal:
    data = {k: v for k, v in row.items() if k != "updated_at"}
    data["changes"] = [FieldChange.model_validate(c) for c in data["changes"]]
    return Proposal.model_validate(data)
