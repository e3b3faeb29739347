"""A person's decision on a proposal."""

from __future__ import annotations

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
    head_sha: str | None = None  # the commit the person saw; voided if the branch moves
    reason: str = ""
    at: datetime
