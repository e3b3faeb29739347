"""Audit events: an append-only, hash-chained trail."""

from __future__ import annotations

import hashlib
import json
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
    APPROVALS_VOIDED = "proposal.approvals_voided"
    MERGE_REFUSED = "proposal.merge_refused"
    MERGED = "proposal.merged"
    EXPIRED = "proposal.expired"
    VERIFIED = "proposal.verified"


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
