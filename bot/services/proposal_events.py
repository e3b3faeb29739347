"""The audit events and sentences of refusals in the proposal life cycle: a decision that did not
count, a scan that refused, a branch found tampered. Pure: the workflow stores and shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.approval import Decision, RefusalCode
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.proposal import Proposal
from bot.services.policy_scan import SCAN_REFUSED, ScanResult


def last(trail: list[AuditEvent], kind: AuditKind) -> dict[str, Any]:
    """The data of the newest ``kind`` event in ``trail``, with its ``actor``; {} when none."""
    found = next((e for e in reversed(trail) if e.kind == kind.value), None)
    return {**found.data, "actor": found.actor} if found is not None else {}


def replacement(trail: list[AuditEvent]) -> str:
    """The newer proposal that replaced a superseded one, as people read it: its pull request
    (or branch) and id."""
    by = last(trail, AuditKind.SUPERSEDED)
    return f"{shown_place(str(by.get('by_url') or ''))} (`{by.get('by') or 'unknown'}`)".lstrip()


def shown_place(where: str) -> str:
    """A proposal's pull request as an explicit chat link (``<url>``, so it links even where
    bare text does not), or its branch as code; "" for neither."""
    if where.startswith(("https://", "http://")):
        return f"<{where}>"
    return f"branch `{where}`" if where else ""


def summary(proposal: Proposal) -> dict[str, Any]:
    return {
        "action": proposal.action.value,
        "service": proposal.service,
        "namespace": proposal.namespace,
        "changes": [c.public() for c in proposal.changes],
        "commit": proposal.commit,
    }


def decision_refused(
    at: datetime,
    proposal_id: str,
    user_id: str,
    decision: Decision,
    code: RefusalCode,
    why: str,
    *,
    head_sha: str | None = None,
    shown_head: str | None = None,
) -> AuditEvent:
    """A decision that did not count: who, on what, and why (``why`` as the clicker read it)."""
    data: dict[str, Any] = {"decision": decision.value, "refusal": code.value, "why": why}
    if head_sha is not None:
        data["head_sha"] = head_sha
    if shown_head is not None:
        data["shown_head"] = shown_head
    kind = AuditKind.DECISION_REFUSED.value
    return AuditEvent(at=at, kind=kind, actor=user_id, proposal_id=proposal_id[:64] or None, data=data)


def scan_refused(at: datetime, proposal: Proposal, actor: str, scan: ScanResult, when: str) -> AuditEvent:
    """``when``: "drafting" (before anything is pushed) or "merging" (just before the merge)."""
    data = {**summary(proposal), "when": when, "reasons": list(scan.reasons), "notes": list(scan.notes)}
    return AuditEvent(at=at, kind=SCAN_REFUSED, actor=actor, proposal_id=proposal.id, data=data)


def tampering(proposal: Proposal, found: str | None, detail: str = "") -> tuple[str, str]:
    """(what was found, the sentence for people) about a branch changed outside Tugboat."""
    if not found:
        what = "its branch was deleted, or its pull request closed or merged"
    elif found != proposal.head_sha:
        what = f"its branch now holds {found[:12]}, not Tugboat's {(proposal.head_sha or '')[:12]}"
    else:
        what = detail or "its branch's change is not the diff that was shown"
    message = (
        f"this proposal was closed because its branch was changed outside Tugboat ({what}); "
        "nothing was merged. Ask for a fresh proposal."
    )
    return what, message
