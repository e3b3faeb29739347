"""Durable state: proposals, approvals, the audit trail, Slack incidents and processed keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from bot.domain.alert import AlertGroup
from bot.domain.approval import Approval
from bot.domain.audit import AuditEvent
from bot.domain.proposal import Proposal, ProposalState
from bot.domain.report import InvestigationReport


class ThreadUpdate(BaseModel):
    """What happened to an alert group that its thread has not been told yet."""

    new_firing: int = 0  # alerts that joined the group
    resolved: bool = False
    refired: bool = False
    first: bool = False  # the group has no parent message yet, or someone asked for a thread
    requested_by: str | None = None
    through: int = 0  # the last inbox item folded in: names this update's messages
    delivering: bool = False  # posting began; a run cut short finishes this update first
    posted_at: datetime | None = None  # the thread's last update, for coalescing

    @property
    def empty(self) -> bool:
        return not (self.new_firing or self.resolved or self.refired or self.first)


@dataclass(frozen=True)
class InboxItem:
    """One stored notification (or a person's request) waiting to be folded into its incident."""

    id: int
    group_key: str
    alert: AlertGroup
    received_at: datetime
    channel: str | None = None  # where a person asked for the thread
    requested_by: str | None = None


@dataclass(frozen=True)
class PostedMessage:
    """A chat message as its channel and timestamp (Slack's id for it), and, where known, what it
    said (its fallback text and blocks: not part of which message it is)."""

    channel: str
    ts: str
    text: str = field(default="", compare=False)
    blocks: list[dict[str, Any]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PendingWarning:
    """An early warning claimed and not posted yet (nor given up)."""

    series_key: str
    warned_at: datetime  # the run that claimed it
    post: dict[str, Any]  # what to post, as the anomaly watch wrote it
    tries: int  # rounds of posting it that failed
    leased_until: datetime | None = None  # set when taken: the holder's proof in finish/release


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
    pending: ThreadUpdate | None = None
    noticed_at: datetime | None = None  # when Tugboat received this firing: investigations' "as of"


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

    def set_proposal_message(
        self,
        proposal_id: str,
        channel: str,
        ts: str,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record the message that shows the proposal's buttons, and what it said (replacing an
        earlier one)."""
        ...

    def proposal_message(self, proposal_id: str) -> PostedMessage | None:
        """The message ``set_proposal_message`` recorded, with what it said, or None."""
        ...

    def forget_proposal_message(self, proposal_id: str) -> None:
        """Drop the record: the message needs nothing more (it shows how the proposal ended)."""
        ...

    def messaged_proposals(self, states: Iterable[ProposalState]) -> list[str]:
        """The ids of the proposals in ``states`` that have a recorded message."""
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

    def set_incident_thread(self, group_key: str, channel: str, thread_ts: str) -> None:
        """Record the thread's parent message (only these two columns)."""
        ...

    def set_incident_pending(self, group_key: str, pending: ThreadUpdate | None) -> None: ...

    def set_incident_report(
        self, group_key: str, started_at: datetime | None, report: InvestigationReport
    ) -> bool:
        """Store the report of the firing that started at ``started_at``; False (nothing stored)
        when the group has fired again since."""
        ...

    # The alert inbox: webhooks stored at once, folded into incidents by a job.

    def add_to_inbox(
        self,
        group: AlertGroup,
        dedup_key: str,
        received_at: datetime,
        *,
        channel: str | None = None,
        requested_by: str | None = None,
    ) -> bool:
        """Store a notification; False when one with ``dedup_key`` was stored before."""
        ...

    def inbox(self, group_key: str, limit: int = 500) -> list[InboxItem]:
        """The group's items not folded in yet, oldest first."""
        ...

    def groups_waiting(self) -> list[str]:
        """Groups with inbox items not folded in yet, or a thread update not posted yet."""
        ...

    def fold_inbox(
        self,
        incident: IncidentRecord,
        through: int,
        *,
        clear_report: bool = False,
        audit: Sequence[AuditEvent] = (),
    ) -> None:
        """In one transaction: append ``audit``, write the incident's alert state (everything
        but the report, which the investigation writes, unless ``clear_report``: a new firing)
        and mark its items up to ``through`` folded in."""
        ...

    def purge_inbox(self, before: datetime) -> int:
        """Forget folded items received before ``before``; returns how many."""
        ...

    def claim_once(self, key: str) -> bool:
        """True the first time ``key`` is claimed, by any replica; False ever after.

        For Slack event retries and double-clicked buttons: act only when this returns True.
        """
        ...

    def claim_for(self, key: str, owner: str) -> bool:
        """True when ``key`` is claimed now by ``owner`` or was claimed by that same ``owner``
        before, on any replica; False when someone else holds it.

        For Slack deliveries: the owner names the delivery's journal entry, which a replay of it
        from the journal keeps, so the replay acts in place of its own attempt and of no other.
        """
        ...

    def is_claimed(self, key: str) -> bool:
        """Whether ``key`` was claimed (a done-marker that does not claim it)."""
        ...

    def claimed_at(self, key: str) -> datetime | None:
        """When ``key`` was claimed, or None."""
        ...

    def purge_processed_keys(self, before: datetime) -> int:
        """Forget keys claimed before ``before``; returns how many."""
        ...

    def claim_warning(
        self,
        series_key: str,
        at: datetime,
        row_at: datetime,
        cooldown_s: float,
        audit: AuditEvent,
        post: dict[str, Any],
    ) -> bool:
        """True when no warning of ``series_key`` was claimed in the ``cooldown_s`` before ``at``
        by any replica: this one is recorded, with ``audit``, in one transaction, pending with
        ``post`` (what to post). Claim before posting; False means another run already warned of
        this episode."""
        ...

    def pending_warnings(self) -> list[PendingWarning]:
        """Warnings claimed and neither posted nor given up, oldest first."""
        ...

    def take_warning(
        self, series_key: str, warned_at: datetime, now: datetime, lease_s: float
    ) -> PendingWarning | None:
        """Take the post of the warning claimed at ``warned_at`` for ``lease_s``: no other replica
        takes it meanwhile. None when it is no longer pending (posted, given up, replaced by a
        newer claim) or another replica holds an unexpired lease on it."""
        ...

    def release_warning(self, taken: PendingWarning) -> bool:
        """A round of posting ``taken`` failed: one more try counted, the lease given back; it
        stays pending. False when the lease was lost (expired and taken by another replica)."""
        ...

    def finish_warning(self, taken: PendingWarning, audit: AuditEvent) -> bool:
        """``taken`` is done (posted, or given up): no longer pending, and ``audit`` appended, in
        one transaction. False (nothing written) when the lease was lost."""
        ...
