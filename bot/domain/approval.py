"""A person's decision on a proposal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Approval(BaseModel):
    proposal_id: str
    user_id: str  # Slack user ID, or "cli:<name>" for terminal approvals
    decision: Decision
    head_sha: str | None = None  # the commit the person saw; it counts for that commit only
    reason: str = ""
    at: datetime


class RefusalCode(StrEnum):
    """Why a decision did not count; stored in the audit trail, never shown as such."""

    NO_APPROVERS = "no_approvers"
    NOT_APPROVER = "not_approver"
    SELF_APPROVAL = "self_approval"
    EXPIRED = "expired"
    UNKNOWN_PROPOSAL = "unknown_proposal"
    NOT_OPEN = "not_open"  # already decided, merged or closed
    ALREADY_APPROVED = "already_approved"
    HEAD_MISMATCH = "head_mismatch"  # the click names another commit than the branch holds
    TAMPERED = "tampered"


@dataclass(frozen=True)
class Refusal:
    code: RefusalCode
    message: str  # for the person who clicked
