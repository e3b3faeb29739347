"""The approver policy as pure decisions: who may approve, how many, and when.

Everything here fails closed: no configured approvers means nobody can approve.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from fnmatch import fnmatch

from bot.domain.approval import Refusal, RefusalCode
from bot.domain.proposal import Proposal
from bot.settings import ApprovalPolicy


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
