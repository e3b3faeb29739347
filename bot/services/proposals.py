"""The proposal life cycle: draft -> open -> approved -> merged, with every step audited.

Only a person's decision that passes the approver policy, for the exact head commit they were
shown, moves a proposal towards a merge. A proposal branch holds Tugboat's one commit and nothing
else: anything else found there ends the proposal as tampered, and it never merges. Just before
a merge, the branch's change must still be exactly the diff shown and the policy scan runs on the
files as the merge will leave them. Every refused decision is audited.

Each state change is a conditional transition in the store, so double clicks, retries and
several bot replicas still act exactly once. With a job queue (``jobs``), the merge after the
deciding approval is the ``proposal.merge`` job: retried while the change host is unreachable,
run again by another replica if this one dies, and resumed by ``housekeeping`` if the approval
was recorded but its job never queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.alert import now_utc
from bot.domain.approval import Approval, Decision, RefusalCode
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.errors import (
    ConflictError,
    InvalidInput,
    PolicyViolation,
    SourceUnavailable,
    Tampered,
    TugboatError,
)
from bot.domain.policy import approval_refusal, in_change_window, is_expired, required_approvals
from bot.domain.proposal import STATE_TEXT, Proposal, ProposalState
from bot.ports.changes import ChangeHost
from bot.ports.jobs import JobQueue, JobSpec
from bot.ports.store import Store
from bot.services import proposal_events as events
from bot.services.policy_scan import ManifestSchema, ScanResult, scan_merge, scan_proposal
from bot.settings import ApprovalPolicy

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MERGE = "proposal.merge"
ON_HOST = "proposal.on_host"  # a comment on the PR, or closing it


@dataclass(frozen=True)
class Outcome:
    """What a decision led to, phrased for the person who clicked."""

    proposal: Proposal
    message: str
    merged: bool = False
    accepted: bool = True  # False when the decision was refused
    merging: bool = False  # approved; the merge is queued (``on_merge_result`` tells how it went)


class ProposalWorkflow:
    def __init__(
        self,
        store: Store,
        host: ChangeHost,
        policy: ApprovalPolicy,
        clock: Clock = now_utc,
        group_members: Callable[[], Collection[str]] = lambda: (),
        repo_path: Path | Callable[[], Path] | None = None,
        schema: ManifestSchema | None = None,
    ) -> None:
        self.store = store
        self.host = host
        self.policy = policy
        self.clock = clock
        self.group_members = group_members
        # The checkout the policy scan reads (never writes); a callable fetches it at each scan.
        self.repo_path = repo_path
        self.schema = schema
        # Told of each merge, once (PostMergeService.merged); its failure never undoes the merge.
        self.on_merged: Callable[[Proposal, str | None], Any] | None = None
        # Set by the composition root: merges then run as jobs, and their outcome is reported
        # with the context the decision came with (e.g. the Slack message to update).
        self.jobs: JobQueue | None = None
        self.on_merge_result: Callable[[Outcome, dict[str, Any]], Any] | None = None

    def job_specs(self) -> list[JobSpec]:
        return [
            JobSpec(MERGE, self.merge_job, retries=6, retry_on=(SourceUnavailable,)),
            JobSpec(ON_HOST, self.on_host_job, retries=6, retry_on=(SourceUnavailable,)),
        ]

    # -- creating and opening ----------------------------------------------------------
    def submit(self, proposal: Proposal, requested_by: str | None) -> Proposal:
        """Record a drafted proposal (not yet on the change host)."""
        if not proposal.is_change:
            raise InvalidInput("this proposal changes nothing, so there is nothing to open")
        repo = self.repo_path() if callable(self.repo_path) else self.repo_path
        scan = scan_proposal(proposal, self.policy, repo, self.schema)
        if not scan.ok:
            self._audit_scan_refusal(proposal, requested_by or "tugboat", scan, "drafting")
            raise PolicyViolation(scan.explain())
        now = self.clock()
        proposal = proposal.model_copy(
            update={
                "requested_by": requested_by,
                "state": ProposalState.DRAFT,
                "created_at": now,
                "expires_at": now + timedelta(hours=self.policy.expiry_hours),
            }
        )
        self.store.save_proposal(proposal)
        created = {**events.summary(proposal), "scan_notes": list(scan.notes)}
        self._audit(AuditKind.PROPOSAL_CREATED, proposal, requested_by or "tugboat", created)
        return proposal

    def open(self, proposal_id: str, actor: str = "tugboat") -> Proposal:
        """Push the change as a branch or PR and record the head commit approvers will see."""
        proposal = self.get(proposal_id)
        if proposal.state is ProposalState.OPEN:
            return proposal  # a retry: the host is idempotent and the proposal already open
        if proposal.state is not ProposalState.DRAFT:
            raise ConflictError(
                f"proposal {proposal_id} is {STATE_TEXT[proposal.state]}; it cannot be opened"
            )
        ref = self.host.open(proposal)
        proposal = proposal.model_copy(
            update={"branch": ref.branch, "head_sha": ref.head_sha, "url": ref.url}
        )
        self.store.save_proposal(proposal)
        if self.store.transition(proposal.id, [ProposalState.DRAFT], ProposalState.OPEN):
            where = ref.url or ref.branch
            self._audit(
                AuditKind.PROPOSAL_OPENED,
                proposal,
                actor,
                {"branch": ref.branch, "head_sha": ref.head_sha, "url": where},
            )
        return self.get(proposal_id)

    # -- deciding ------------------------------------------------------------------------
    def decide(
        self,
        proposal_id: str,
        user_id: str,
        decision: Decision,
        reason: str = "",
        context: dict[str, Any] | None = None,
        *,
        shown_head: str | None = None,
    ) -> Outcome:
        """Record ``user_id``'s decision. An approval counts only for ``shown_head``, the commit
        the approver was shown (the proposal's head when the caller showed nothing else), and
        only while the branch still holds it. Every refusal is audited."""
        checked = self._check_decider(proposal_id, user_id, decision)
        if isinstance(checked, Outcome):
            return checked
        proposal = checked
        if decision is Decision.REJECT:
            return self._reject(proposal, user_id, reason)
        shown = ((proposal.head_sha or "") if shown_head is None else shown_head).strip().lower()
        if not proposal.head_sha or shown != proposal.head_sha:
            why = (
                f"this button is for commit {shown[:12] or '(none)'}, but the proposal is for "
                f"{(proposal.head_sha or '')[:12]}; use the buttons of the proposal's own message"
            )
            return self._refuse(proposal, user_id, decision, RefusalCode.HEAD_MISMATCH, why, shown)
        current = self.host.head(proposal)
        if current != proposal.head_sha:
            return self._tampered(proposal, user_id, found=current)
        return self._approve(proposal, user_id, self.clock(), context or {})

    def refusal(self, proposal_id: str, user_id: str, decision: Decision) -> str | None:
        """Why ``user_id`` may not decide on the proposal now (audited), or None when they may:
        asked before showing a form, such as the reason for a rejection."""
        checked = self._check_decider(proposal_id, user_id, decision)
        return checked.message if isinstance(checked, Outcome) else None

    def _check_decider(self, proposal_id: str, user_id: str, decision: Decision) -> Proposal | Outcome:
        """The open proposal ``user_id`` may decide on, or the audited refusal."""
        proposal = self.store.get_proposal(proposal_id)
        if proposal is None:
            refused = events.decision_refused(
                self.clock(), proposal_id, user_id, decision, RefusalCode.UNKNOWN_PROPOSAL, "no such proposal"
            )
            self.store.append_audit(refused)
            raise InvalidInput(f"no proposal with id {proposal_id!r}; it may have been drafted elsewhere")
        if proposal.state is not ProposalState.OPEN:
            why = f"this change is {STATE_TEXT[proposal.state]}; nothing to do"
            return self._refuse(proposal, user_id, decision, RefusalCode.NOT_OPEN, why)
        if is_expired(proposal, self.clock()):
            if self.store.transition(proposal.id, [ProposalState.OPEN], ProposalState.EXPIRED):
                self._audit(AuditKind.EXPIRED, proposal, "tugboat", {})
                self._on_host(proposal, close="expired")
            why = "this proposal has expired; ask for a fresh one"
            return self._refuse(self.get(proposal_id), user_id, decision, RefusalCode.EXPIRED, why)
        refusal = approval_refusal(user_id, proposal, self.policy, self.group_members())
        if refusal:
            return self._refuse(proposal, user_id, decision, refusal.code, refusal.message)
        return proposal

    def _refuse(
        self,
        proposal: Proposal,
        user_id: str,
        decision: Decision,
        code: RefusalCode,
        message: str,
        shown_head: str | None = None,
    ) -> Outcome:
        self.store.append_audit(
            events.decision_refused(
                self.clock(),
                proposal.id,
                user_id,
                decision,
                code,
                message,
                head_sha=proposal.head_sha,
                shown_head=shown_head,
            )
        )
        return Outcome(proposal, message, accepted=False)

    def _tampered(self, proposal: Proposal, noticed_by: str, found: str | None, detail: str = "") -> Outcome:
        """Something other than Tugboat's commit is on the branch: the proposal ends here, for good.
        Never re-opened on foreign content; a fresh proposal must be drafted."""
        what, message = events.tampering(proposal, found, detail)
        if self.store.transition(
            proposal.id, [ProposalState.OPEN, ProposalState.APPROVED], ProposalState.TAMPERED
        ):
            seen = {"expected_head": proposal.head_sha, "found_head": found, "noticed_by": noticed_by}
            self._audit(AuditKind.TAMPERED, proposal, "tugboat", {**seen, "why": what})
            self._on_host(proposal, comment=f"Tugboat closed this proposal: {message}", close="tampered")
        latest = self.get(proposal.id)
        if noticed_by == "tugboat":
            return Outcome(latest, message, accepted=False)
        return self._refuse(latest, noticed_by, Decision.APPROVE, RefusalCode.TAMPERED, message)

    def _reject(self, proposal: Proposal, user_id: str, reason: str) -> Outcome:
        if not self.store.transition(proposal.id, [ProposalState.OPEN], ProposalState.REJECTED):
            return self._lost_race(proposal, user_id, Decision.REJECT)
        self.store.add_approval(
            Approval(
                proposal_id=proposal.id,
                user_id=user_id,
                decision=Decision.REJECT,
                head_sha=proposal.head_sha,
                reason=reason,
                at=self.clock(),
            )
        )
        self._audit(AuditKind.REJECTED, proposal, user_id, {"reason": reason})
        comment = f"Rejected in Slack by <@{user_id}>: {reason or 'no reason given'}"
        self._on_host(proposal, comment=comment, close=f"rejected by {user_id}")
        return Outcome(self.get(proposal.id), f"rejected by <@{user_id}>")

    def _approve(self, proposal: Proposal, user_id: str, now: datetime, context: dict[str, Any]) -> Outcome:
        approval = Approval(
            proposal_id=proposal.id,
            user_id=user_id,
            decision=Decision.APPROVE,
            head_sha=proposal.head_sha,
            at=now,
        )
        if not self.store.add_approval(approval):
            return self._refuse(
                proposal,
                user_id,
                Decision.APPROVE,
                RefusalCode.ALREADY_APPROVED,
                "you already approved this change",
            )
        self._audit(AuditKind.APPROVED, proposal, user_id, {"head_sha": proposal.head_sha})
        needed = required_approvals(proposal, self.policy)
        have = self._approvers_at_head(proposal)
        if len(have) < needed:
            return Outcome(proposal, f"approved by <@{user_id}> ({len(have)} of {needed} approvals)")
        if not in_change_window(self.policy, now):
            return Outcome(
                proposal,
                "approved, but outside the change window; it merges when the "
                "window opens and someone approves again",
                accepted=True,
            )
        if not self.store.transition(proposal.id, [ProposalState.OPEN], ProposalState.APPROVED):
            return self._lost_race(proposal, user_id, Decision.APPROVE)
        self._on_host(proposal, comment="Approved in Slack by " + ", ".join(f"<@{u}>" for u in sorted(have)))
        if self.jobs is None:
            return self.merge(proposal.id)
        self._queue_merge(proposal.id, context)
        return Outcome(self.get(proposal.id), f"approved by <@{user_id}>; merging", merging=True)

    def _lost_race(self, proposal: Proposal, user_id: str, decision: Decision) -> Outcome:
        """Another decision (a click on another replica) changed the proposal first."""
        latest = self.get(proposal.id)
        message = f"this change is {STATE_TEXT[latest.state]}; nothing to do"
        return self._refuse(latest, user_id, decision, RefusalCode.NOT_OPEN, message)

    def _queue_merge(self, proposal_id: str, context: dict[str, Any]) -> None:
        assert self.jobs is not None
        args = {"proposal_id": proposal_id, "context": context}
        self.jobs.defer(MERGE, args, lock=f"proposal:{proposal_id}", queueing_lock=f"merge:{proposal_id}")

    def merge_job(self, proposal_id: str, context: dict[str, Any] | None = None) -> None:
        """The ``proposal.merge`` job. A no-op unless the proposal is still APPROVED, so a
        second run (a retry, a resumed merge) never merges twice. An unreachable host is retried
        (the clicker is told once); any other error fails the proposal, with its reason."""
        try:
            outcome = self.merge(proposal_id)
        except SourceUnavailable as exc:
            if self.on_merge_result is not None and self.store.claim_once(f"merge-waiting:{proposal_id}"):
                waiting = f"the merge is waiting: {exc}; Tugboat keeps trying"
                self.on_merge_result(Outcome(self.get(proposal_id), waiting, accepted=False), context or {})
            raise
        except TugboatError as exc:
            outcome = self._fail_merge(self.get(proposal_id), str(exc))
        already_merged = not outcome.merged and outcome.proposal.state is ProposalState.MERGED
        if self.on_merge_result is not None and not already_merged:
            self.on_merge_result(outcome, context or {})

    def _on_host(self, proposal: Proposal, comment: str | None = None, close: str | None = None) -> None:
        """Tell the change host about a decision: queued when there is a queue, so an unreachable
        host is retried; the decision itself is already recorded. Same lock as the merge, so
        "approved by" is commented before the merge runs."""
        if self.jobs is None:
            self.on_host_job(proposal.id, comment, close)
            return
        args = {"proposal_id": proposal.id, "comment": comment, "close": close}
        self.jobs.defer(ON_HOST, args, lock=f"proposal:{proposal.id}")

    def on_host_job(self, proposal_id: str, comment: str | None = None, close: str | None = None) -> None:
        """The ``proposal.on_host`` job (a retry after a comment went through comments again)."""
        proposal = self.get(proposal_id)
        if comment:
            self.host.comment(proposal, comment)
        if close:
            self.host.close(proposal, close)

    def _fail_merge(self, proposal: Proposal, reason: str) -> Outcome:
        self._audit(AuditKind.MERGE_REFUSED, proposal, "tugboat", {"reason": reason})
        self.store.transition(proposal.id, [ProposalState.APPROVED], ProposalState.FAILED)
        return Outcome(self.get(proposal.id), f"merge refused: {reason}", accepted=False)

    def resume_merges(self) -> list[str]:
        """Queue the merge of approved proposals whose job was lost (a crash between the
        approval and the queueing); waiting or running merges are not queued twice."""
        stranded = [p.id for p in self.store.list_proposals([ProposalState.APPROVED])]
        if self.jobs is not None:
            for proposal_id in stranded:
                self._queue_merge(proposal_id, {})
        return stranded

    def _approvers_at_head(self, proposal: Proposal) -> set[str]:
        return {
            a.user_id
            for a in self.store.approvals(proposal.id)
            if a.decision is Decision.APPROVE and a.head_sha == proposal.head_sha
        }

    # -- merging -------------------------------------------------------------------------
    def merge(self, proposal_id: str) -> Outcome:
        """Merge an approved proposal, checked once more just before: the branch still holds the
        approved commit and nothing else, its change is exactly the diff shown, and the policy
        scan passes on the files as the merge will leave them. The merge is pinned to that commit.

        Safe to call again after a crash: only a proposal in APPROVED state is merged.
        """
        proposal = self.get(proposal_id)
        if proposal.state is not ProposalState.APPROVED or not proposal.head_sha:
            return Outcome(
                proposal, f"not merging: this change is {STATE_TEXT[proposal.state]}", accepted=False
            )
        try:
            current = self.host.head(proposal)
            if current != proposal.head_sha:
                return self._tampered(proposal, "tugboat", found=current)
            versions = self.host.merge_preview(proposal, proposal.head_sha)
            scan = scan_merge(proposal, versions, self.policy, self.schema)
            if not scan.ok:
                self._audit_scan_refusal(proposal, "tugboat", scan, "merging")
                return self._fail_merge(proposal, scan.explain())
            result = self.host.merge(proposal, proposal.head_sha)
        except Tampered as exc:
            return self._tampered(proposal, "tugboat", found=self._head_or_none(proposal), detail=str(exc))
        except ConflictError as exc:
            return self._fail_merge(proposal, str(exc))
        if not result.merged:
            return self._fail_merge(proposal, result.message)
        self.store.transition(proposal.id, [ProposalState.APPROVED], ProposalState.MERGED)
        self._audit(
            AuditKind.MERGED, proposal, "tugboat", {"merge_sha": result.sha, "message": result.message}
        )
        merged = self.get(proposal.id)
        if self.on_merged is not None:
            try:
                self.on_merged(merged, result.sha)
            except Exception:
                log.exception("the post-merge hook failed for proposal %s", proposal.id)
        return Outcome(merged, result.message, merged=True)

    def _head_or_none(self, proposal: Proposal) -> str | None:
        try:
            return self.host.head(proposal)
        except SourceUnavailable:
            return proposal.head_sha

    def _audit_scan_refusal(self, proposal: Proposal, actor: str, scan: ScanResult, when: str) -> None:
        self.store.append_audit(events.scan_refused(self.clock(), proposal, actor, scan, when))

    def expire_due(self) -> list[str]:
        """Expire open proposals past their deadline (a scheduled job)."""
        now = self.clock()
        expired = []
        for proposal in self.store.list_proposals([ProposalState.OPEN, ProposalState.DRAFT]):
            if is_expired(proposal, now) and self.store.transition(
                proposal.id, [ProposalState.OPEN, ProposalState.DRAFT], ProposalState.EXPIRED
            ):
                self._audit(AuditKind.EXPIRED, proposal, "tugboat", {})
                if proposal.branch:
                    self._on_host(proposal, close="expired")
                expired.append(proposal.id)
        return expired

    # -- helpers -------------------------------------------------------------------------
    def get(self, proposal_id: str) -> Proposal:
        proposal = self.store.get_proposal(proposal_id)
        if proposal is None:
            raise InvalidInput(f"no proposal with id {proposal_id!r}")
        return proposal

    def _audit(self, kind: AuditKind, proposal: Proposal, actor: str, data: dict[str, Any]) -> None:
        self.store.append_audit(
            AuditEvent(at=self.clock(), kind=kind.value, actor=actor, proposal_id=proposal.id, data=data)
        )
