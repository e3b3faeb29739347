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
was recorded but its job never queued. That merge side, and every comment or close on the change
host, is ``ProposalMerger``'s (``proposal_merge``); this module decides.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.alert import now_utc
from bot.domain.approval import Approval, Decision, RefusalCode
from bot.domain.audit import AuditKind
from bot.domain.errors import ConflictError, InvalidInput, PolicyViolation
from bot.domain.policy import approval_refusal, in_change_window, is_expired, required_approvals
from bot.domain.proposal import ENDED_STATES, STATE_TEXT, Proposal, ProposalState
from bot.ports.changes import ChangeHost
from bot.ports.chat import Block, ReplyTarget
from bot.ports.jobs import JobQueue, JobSpec
from bot.ports.merges import EndListener, MergeListener, Outcome
from bot.ports.patch import ApplyDiff
from bot.ports.store import Store
from bot.services import proposal_events as events
from bot.services.policy_scan import ManifestSchema, scan_proposal
from bot.services.proposal_merge import MERGE, ON_HOST, Clock, ProposalMerger
from bot.settings import ApprovalPolicy

__all__ = ["MERGE", "ON_HOST", "Outcome", "ProposalWorkflow"]


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
        jobs: JobQueue | None = None,
        listeners: Sequence[MergeListener] = (),
        end_listeners: Sequence[EndListener] = (),
        apply_diff: ApplyDiff | None = None,
    ) -> None:
        """With ``jobs``, merges and the change host's side of decisions run as jobs, and each
        queued merge's outcome goes to ``listeners`` (e.g. the Slack message to update);
        ``listeners`` also hear of every merge, once (the post-merge watch); ``end_listeners`` of
        every proposal that ends, once (its chat message to update)."""
        self.store = store
        self.host = host
        self.policy = policy
        self.clock = clock
        self.group_members = group_members
        # The checkout the policy scan reads (never writes); a callable fetches it at each scan.
        self.repo_path = repo_path
        self.schema = schema
        self.jobs = jobs
        self.apply_diff = apply_diff  # applies a diff to the checkout's files in memory
        # Merging and the change host's side of every decision.
        self.merges = ProposalMerger(
            store, host, policy, clock, schema, jobs, tuple(listeners), tuple(end_listeners)
        )

    def job_specs(self) -> list[JobSpec]:
        return self.merges.job_specs()

    # -- the merge side, kept here for its callers ----------------------------------------
    def merge(self, proposal_id: str) -> Outcome:
        return self.merges.merge(proposal_id)

    def merge_job(self, proposal_id: str, context: dict[str, Any] | None = None) -> None:
        self.merges.merge_job(proposal_id, context)

    def on_host_job(self, proposal_id: str, comment: str | None = None, close: str | None = None) -> None:
        self.merges.on_host_job(proposal_id, comment, close)

    def resume_merges(self) -> list[str]:
        return self.merges.resume_merges()

    def expire_due(self) -> list[str]:
        return self.merges.expire_due()

    def sweep_heads(self) -> list[str]:
        return self.merges.sweep_heads()

    def get(self, proposal_id: str) -> Proposal:
        return self.merges.get(proposal_id)

    def posted(self, proposal_id: str, channel: str, ts: str, text: str, blocks: list[Block]) -> None:
        """The proposal's message with buttons is ``ts`` in ``channel``, and said ``text`` and
        ``blocks``: recorded, to be updated when the proposal ends. A proposal that ended before
        this (between the post and now) has its end listeners told now; they act once however
        often they are told."""
        self.store.set_proposal_message(proposal_id, channel, ts, text, blocks)
        proposal = self.get(proposal_id)
        if proposal.state in ENDED_STATES:
            self.merges.tell_ended(proposal)

    # -- creating and opening ----------------------------------------------------------
    def submit(self, proposal: Proposal, requested_by: str | None) -> Proposal:
        """Record a drafted proposal (not yet on the change host)."""
        if not proposal.is_change:
            raise InvalidInput("this proposal changes nothing, so there is nothing to open")
        repo = self.repo_path() if callable(self.repo_path) else self.repo_path
        scan = scan_proposal(proposal, self.policy, repo, self.schema, apply_diff=self.apply_diff)
        if not scan.ok:
            self.merges.audit_scan_refusal(proposal, requested_by or "tugboat", scan, "drafting")
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
        self.merges.audit(AuditKind.PROPOSAL_CREATED, proposal, requested_by or "tugboat", created)
        return proposal

    def open(self, proposal_id: str, actor: str = "tugboat") -> Proposal:
        """Push the change as a branch or PR and record the head commit approvers will see."""
        proposal = self.get(proposal_id)
        if proposal.state is ProposalState.OPEN:  # a retry: the host is idempotent, it is open
            self.merges.supersede_older(proposal)  # in case the first try stopped before this
            return proposal
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
            self.merges.audit(
                AuditKind.PROPOSAL_OPENED,
                proposal,
                actor,
                {"branch": ref.branch, "head_sha": ref.head_sha, "url": where},
            )
            # An older open proposal for the same field(s) is moot now: it ends as superseded.
            self.merges.supersede_older(self.get(proposal_id))
        return self.get(proposal_id)

    # -- deciding ------------------------------------------------------------------------
    def decide(
        self,
        proposal_id: str,
        user_id: str,
        decision: Decision,
        reason: str = "",
        reply_to: ReplyTarget | None = None,
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
        return self._approve(proposal, user_id, self.clock(), reply_to)

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
            return self._refuse(proposal, user_id, decision, RefusalCode.NOT_OPEN, self._not_open(proposal))
        if is_expired(proposal, self.clock()):
            self.merges.expire(proposal, [ProposalState.OPEN])
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

    def _tampered(self, proposal: Proposal, noticed_by: str, found: str | None) -> Outcome:
        """An approver's click found something other than Tugboat's commit on the branch."""
        message = self.merges.tampered(proposal, noticed_by, found)
        latest = self.get(proposal.id)
        return self._refuse(latest, noticed_by, Decision.APPROVE, RefusalCode.TAMPERED, message)

    def _reject(self, proposal: Proposal, user_id: str, reason: str) -> Outcome:
        rejected = {"reason": reason}
        if not self.merges.end(
            proposal, [ProposalState.OPEN], ProposalState.REJECTED, AuditKind.REJECTED, user_id, rejected
        ):
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
        comment = f"Rejected in Slack by <@{user_id}>: {reason or 'no reason given'}"
        self.merges.on_host(proposal, comment=comment, close=f"rejected by {user_id}")
        return Outcome(self.get(proposal.id), f"rejected by <@{user_id}>")

    def _approve(
        self, proposal: Proposal, user_id: str, now: datetime, reply_to: ReplyTarget | None
    ) -> Outcome:
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
        self.merges.audit(AuditKind.APPROVED, proposal, user_id, {"head_sha": proposal.head_sha})
        needed = required_approvals(proposal, self.policy)
        have = self.approvers_at_head(proposal)
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
        approvers = ", ".join(f"<@{u}>" for u in sorted(have))
        self.merges.on_host(proposal, comment=f"Approved in Slack by {approvers}")
        if self.jobs is None:
            return self.merge(proposal.id)
        self.merges.queue_merge(proposal.id, reply_to)
        return Outcome(self.get(proposal.id), f"approved by <@{user_id}>; merging", merging=True)

    def _lost_race(self, proposal: Proposal, user_id: str, decision: Decision) -> Outcome:
        """Another decision (a click on another replica) changed the proposal first."""
        latest = self.get(proposal.id)
        return self._refuse(latest, user_id, decision, RefusalCode.NOT_OPEN, self._not_open(latest))

    def _not_open(self, proposal: Proposal) -> str:
        """Why a decision on ``proposal`` does nothing; a superseded one names its replacement."""
        if proposal.state is ProposalState.SUPERSEDED:
            newer = events.replacement(self.store.audit_trail(proposal.id))
            return f"this change was replaced by a newer proposal, {newer}; decide on that one instead"
        return f"this change is {STATE_TEXT[proposal.state]}; nothing to do"

    def approvers_at_head(self, proposal: Proposal) -> set[str]:
        """Who approved the proposal's current head commit (approvals of older heads do not count)."""
        return {
            a.user_id
            for a in self.store.approvals(proposal.id)
            if a.decision is Decision.APPROVE and a.head_sha == proposal.head_sha
        }
