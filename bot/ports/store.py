"""Durable state: proposals, approvals, the audit trail, Slack incidents and processed keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from bot.domain.alert import AlertGroup
from bot.domain.approval import Approval
from bot.domain.audit import AuditEvent
from bot.domain.proposal import Proposal, ProposalState
from bot.domain.report import InvestigationReport


class IncidentRecord(BaseModel):
    """One alert group as the Slack layer tracks it: where its thread is and what we found."""

    group_key: str  # Alertmanager's groupKey: one incident (and one Slack thread) per group
    channel: str | None = None
    thread_ts: str | None = None  # the Slack thread's parent message
    status: str = "firing"  # free-form for the Slack layer, e.g. firing, investigating, resolved
    alert: AlertGroup | None = None
    report: InvestigationReport | None = None
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    fingerprints: list[str] = Field(default_factory=list)  # alerts seen in this group


class Store(Protocol):
    def save_proposal(self, proposal: Proposal) -> None:
        """Insert or update everything but the state (state changes go through transition)."""
        ...

    def get_proposal(self, proposal_id: str) -> Proposal | None: ...

    def list_proposals(self, states: Iterable[ProposalState] | None = None) -> list[Proposal]: ...

    def transition(
        self, proposal_id: str, from_states: Sequence[ProposalState], to_state: ProposalState
    ) -> bool:
        """Atomically move a proposal from one of ``from_states`` to ``to_state``.

        Returns False when the proposal was not in ``from_states`` (someone else acted first).
        This is the single place that makes each decision happen exactly once.
        """
        ...

    def add_approval(self, approval: Approval) -> bool:
        """Record a decision; False if this user already decided on this proposal at this head."""
        ...

    def approvals(self, proposal_id: str) -> list[Approval]: ...

    def void_approvals(self, proposal_id: str) -> int:
        """Discard the approvals of a proposal (its branch moved); returns how many."""
        ...

    def append_audit(self, event: AuditEvent) -> AuditEvent:
        """Chain and persist an event; returns it sealed with seq, prev_hash and hash."""
        ...

    def audit_trail(self, proposal_id: str | None = None) -> list[AuditEvent]: ...

    def audit_head(self) -> tuple[int, str]:
        """The ``(seq, hash)`` of the last event appended, as recorded apart from the events.

        ``verify_trail(audit_trail(), head=audit_head())`` then also notices a cut-off tail.
        """
        ...

    def get_incident(self, group_key: str) -> IncidentRecord | None: ...

    def upsert_incident(self, incident: IncidentRecord) -> None:
        """Insert, or replace the fields of, the incident with this ``group_key``.

        A ``channel`` or ``thread_ts`` of None keeps the stored value: once a thread exists, an
        update from a replica that has not seen it yet cannot lose it.
        """
        ...

    def list_incidents(self, statuses: Iterable[str] | None = None) -> list[IncidentRecord]: ...

    def claim_once(self, key: str) -> bool:
        """True the first time ``key`` is claimed, by any replica; False ever after.

        For Slack event retries and double-clicked buttons: act only when this returns True.
        """
        ...

    def is_claimed(self, key: str) -> bool:
        """Whether ``key`` was claimed (a done-marker that does not claim it)."""
        ...

    def purge_processed_keys(self, before: datetime) -> int:
        """Forget keys claimed before ``before``; returns how many."""
        ...
