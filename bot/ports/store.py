"""Durable state: proposals, approvals and the audit trail."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from bot.domain.approval import Approval
from bot.domain.audit import AuditEvent
from bot.domain.proposal import Proposal, ProposalState


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
