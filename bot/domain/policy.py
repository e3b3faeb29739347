"""The approver policy, as configured (the ``policy`` section of the settings) and as pure
decisions: who may approve, how many, and when.

Everything here fails closed: no configured approvers means nobody can approve.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from fnmatch import fnmatch

from pydantic import BaseModel, Field

from bot.domain.approval import Refusal, RefusalCode
from bot.domain.proposal import Proposal


class PolicyRule(BaseModel):
    """Extra requirements for proposals whose namespace or file path matches."""

    namespace: str | None = None  # glob, e.g. "prod*"
    path: str | None = None  # glob over repository paths, e.g. "overlays/production/*"
    required_approvals: int = Field(default=2, ge=1)


class ChangeWindow(BaseModel):
    """Merges allowed only inside a window: days 0=Monday..6=Sunday, hours in UTC."""

    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    start_hour: int = Field(default=0, ge=0, le=23)
    end_hour: int = Field(default=24, ge=1, le=24)


class ApprovalPolicy(BaseModel):
    approvers: list[str] = Field(default_factory=list, description="Slack user IDs allowed to approve")
    approver_groups: list[str] = Field(default_factory=list, description="Slack user group IDs or handles")
    required_approvals: int = Field(
        default=1, ge=1, description="approvals needed before a merge (rules may ask for more)"
    )
    allow_self_approval: bool = Field(
        default=False, description="may the person who requested a change approve it"
    )
    rules: list[PolicyRule] = Field(
        default_factory=list, description="stricter rules by namespace or path glob, e.g. prod* needs 2"
    )
    change_windows: list[ChangeWindow] = Field(
        default_factory=list, description="merges only inside these windows (UTC); empty: any time"
    )
    expiry_hours: float = Field(default=24.0, gt=0, description="a proposal not decided by then expires")
    require_github_reviews: bool = Field(
        default=False, description="also require GitHub's own reviews (else the App bypasses them)"
    )
    max_replica_factor: float = Field(
        default=4.0, gt=1, description="a proposal may multiply replicas by at most this"
    )
    max_replicas: int = Field(default=100, ge=1, description="upper bound on any replica count")
    max_cpu_cores: float = Field(default=32.0, gt=0, description="upper bound on any CPU request or limit")
    max_memory_bytes: int = Field(
        default=64 * 1024**3, gt=0, description="upper bound on any memory request or limit"
    )
    allowed_mergeable_states: list[str] = Field(
        default_factory=lambda: ["clean"],
        description="GitHub mergeable states a merge accepts (clean; unstable if allowed)",
    )
    required_checks: list[str] = Field(
        default_factory=list,
        description="check-run or status names that must pass before a merge; empty: every reported check",
    )


def required_approvals(proposal: Proposal, policy: ApprovalPolicy) -> int:
    """The strictest of the default and every rule matching the proposal's namespace or files."""
    needed = policy.required_approvals
    files = [c.file for c in proposal.changes]
    for rule in policy.rules:
        ns_match = rule.namespace is not None and fnmatch(proposal.namespace or "", rule.namespace)
        path_match = rule.path is not None and any(fnmatch(f, rule.path) for f in files)
        if ns_match or path_match:
            needed = max(needed, rule.required_approvals)
    return needed


def approval_refusal(
    user_id: str,
    proposal: Proposal,
    policy: ApprovalPolicy,
    group_members: Collection[str] = (),
) -> Refusal | None:
    """Why ``user_id`` may not decide on ``proposal``, or None when they may.

    ``group_members`` are the user IDs of the policy's approver groups, resolved by the caller
    (through the Slack API, cached) because resolving them is I/O.
    """
    if not policy.approvers and not policy.approver_groups:
        return Refusal(
            RefusalCode.NO_APPROVERS,
            "no approvers are configured (policy.approvers / policy.approver_groups)",
        )
    if user_id not in policy.approvers and user_id not in group_members:
        return Refusal(RefusalCode.NOT_APPROVER, f"<@{user_id}> is not an approver for this change")
    if not policy.allow_self_approval and proposal.requested_by and user_id == proposal.requested_by:
        return Refusal(
            RefusalCode.SELF_APPROVAL, "you requested this change, so someone else must approve it"
        )
    return None


def in_change_window(policy: ApprovalPolicy, now: datetime) -> bool:
    """True when merging is allowed now (no windows configured means always)."""
    if not policy.change_windows:
        return True
    return any(
        now.weekday() in w.days and w.start_hour <= now.hour < w.end_hour for w in policy.change_windows
    )


def is_expired(proposal: Proposal, now: datetime) -> bool:
    return proposal.expires_at is not None and now >= proposal.expires_at
