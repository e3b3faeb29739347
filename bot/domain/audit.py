"""Audit events: an append-only, hash-chained trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

GENESIS_HASH = "0" * 64


class AuditKind(StrEnum):
    ALERT_RECEIVED = "alert.received"
    INVESTIGATION = "investigation.completed"
    MODEL_CALL = "model.call"
    PROPOSAL_CREATED = "proposal.created"
    PROPOSAL_OPENED = "proposal.opened"
    APPROVED = "proposal.approved"
    REJECTED = "proposal.rejected"
    APPROVALS_VOIDED = "proposal.approvals_voided"  # older trails: a moved head voided approvals
    DECISION_REFUSED = "proposal.decision_refused"  # a click that did not count, and why
    TAMPERED = "proposal.tampered"  # foreign content on the proposal's branch: it ends here
    MERGE_REFUSED = "proposal.merge_refused"
    MERGED = "proposal.merged"
    EXPIRED = "proposal.expired"
    SUPERSEDED = "proposal.superseded"  # a newer proposal changes the same field(s): it ends here
    VERIFIED = "proposal.verified"
    MESSAGE_ENDED = "proposal.message_ended"  # its chat message lost its buttons: the proposal ended
    SLACK_REQUEST_SKIPPED = "slack.request_skipped"  # acknowledged, never finished, too old to replay
    ANOMALY_WARNED = "anomaly.warned"  # an early warning claimed for posting (the anomaly watch)
    ANOMALY_POSTED = "anomaly.posted"  # that warning is out in the channel
    ANOMALY_NOT_POSTED = (
        "anomaly.not_posted"  # that warning was given up: its posts kept failing, or too late
    )


# The events as people read them in a trail.
AUDIT_WORDS = {
    AuditKind.ALERT_RECEIVED: "alert received",
    AuditKind.INVESTIGATION: "investigation completed",
    AuditKind.MODEL_CALL: "model called",
    AuditKind.PROPOSAL_CREATED: "proposal created",
    AuditKind.PROPOSAL_OPENED: "proposal opened",
    AuditKind.APPROVED: "approved",
    AuditKind.REJECTED: "rejected",
    AuditKind.APPROVALS_VOIDED: "approvals voided",
    AuditKind.DECISION_REFUSED: "decision refused",
    AuditKind.TAMPERED: "branch tampered with",
    AuditKind.MERGE_REFUSED: "merge refused",
    AuditKind.MERGED: "merged",
    AuditKind.EXPIRED: "expired",
    AuditKind.SUPERSEDED: "replaced by a newer proposal",
    AuditKind.VERIFIED: "verified after merge",
    AuditKind.MESSAGE_ENDED: "chat message updated: the proposal ended",
    AuditKind.SLACK_REQUEST_SKIPPED: "Slack request skipped (too old to replay)",
    AuditKind.ANOMALY_WARNED: "early warning: a metric left its usual range",
    AuditKind.ANOMALY_POSTED: "early warning posted",
    AuditKind.ANOMALY_NOT_POSTED: "early warning given up, not posted",
}


def event_words(kind: str) -> str:
    """``proposal opened`` for ``proposal.opened``; a kind this version does not know, spelled out."""
    try:
        return AUDIT_WORDS[AuditKind(kind)]
    except ValueError:
        return kind.replace(".", " ").replace("_", " ")


class AuditEvent(BaseModel):
    seq: int | None = None
    at: datetime
    kind: str
    actor: str = "tugboat"
    proposal_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    def canonical(self) -> bytes:
        """The bytes the hash covers: everything but the hash itself and the storage sequence."""
        body = {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "proposal_id": self.proposal_id,
            "data": self.data,
            "prev_hash": self.prev_hash,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    def sealed(self, prev_hash: str) -> AuditEvent:
        """A copy chained after ``prev_hash``, with its own hash filled in."""
        event = self.model_copy(update={"prev_hash": prev_hash, "hash": ""})
        return event.model_copy(update={"hash": event.compute_hash()})


def verify_trail(events: Sequence[AuditEvent], head: tuple[int, str] | None = None) -> list[str]:
    """Problems found in a whole trail, oldest first; an empty list means it is intact.

    Each event's hash must match its content (an edit shows), and each must name the hash of
    the one before it (a deletion, insertion or reordering shows). ``head`` is the ``(seq, hash)``
    the store recorded for its last append: without it, dropping the newest events would go
    unnoticed. Pass the full trail: a per-proposal slice is not a chain.
    """
    problems: list[str] = []
    prev_hash, prev_seq = GENESIS_HASH, 0
    for position, event in enumerate(events, start=1):
        label = f"event #{event.seq if event.seq is not None else position} ({event_words(event.kind)})"
        if event.seq is not None:
            if event.seq <= prev_seq:
                problems.append(f"{label} is out of order: it follows #{prev_seq}")
            elif event.seq != prev_seq + 1:
                problems.append(
                    f"{label} follows #{prev_seq}: events {prev_seq + 1}..{event.seq - 1} are missing"
                )
            prev_seq = event.seq
        else:
            prev_seq = position
        if event.prev_hash != prev_hash:
            problems.append(
                f"{label} does not chain to the event before it (prev_hash {event.prev_hash[:12]}…)"
            )
        if event.compute_hash() != event.hash:
            problems.append(f"{label} was altered: its content no longer matches its hash")
        prev_hash = event.hash
    if head is not None:
        head_seq, head_hash = head
        if head_seq != prev_seq or head_hash != prev_hash:
            problems.append(
                f"the trail ends at #{prev_seq} but the store recorded #{head_seq} as its last event: "
                "events were removed from the end or the head record was altered"
            )
    return problems
