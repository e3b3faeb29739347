"""The merge side of the proposal life cycle: the ``proposal.merge`` job, the checks just before a
merge and the merge pinned to the approved commit, comments and closes on the change host, the
resumption of stranded merges, and expiry.

A merge happens only for a proposal already APPROVED by ``ProposalWorkflow``; each step is a
conditional transition in the store, so a retried or resumed job acts exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.errors import ConflictError, InvalidInput, SourceUnavailable, Tampered, TugboatError
from bot.domain.policy import is_expired
from bot.domain.proposal import STATE_TEXT, Proposal, ProposalState, replaces
from bot.ports.changes import ChangeHost
from bot.ports.chat import ReplyTarget
from bot.ports.jobs import JobQueue, JobSpec
from bot.ports.merges import EndListener, MergeListener, Outcome
from bot.ports.store import Store
from bot.services import proposal_events as events
from bot.services.policy_scan import ManifestSchema, ScanResult, scan_merge
from bot.settings import ApprovalPolicy

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MERGE = "proposal.merge"
ON_HOST = "proposal.on_host"  # a comment on the PR, or closing it


def _age(proposal: Proposal) -> tuple[datetime, str]:
    """Which of two proposals is older: created first, then the lower id (a stable tie-break)."""
    return (proposal.created_at or datetime.min.replace(tzinfo=UTC), proposal.id)


@dataclass(frozen=True, eq=False)
class ProposalMerger:
    """Merges approved proposals and carries every change-host side effect of the life cycle.
    With a job queue (``jobs``) merges and the change host's side run as jobs; without one they
    run at once. ``listeners`` hear of each merge and of how each queued merge went;
    ``end_listeners`` of every proposal that ends (``end``, the one way one ends)."""

    store: Store
    host: ChangeHost
    policy: ApprovalPolicy
    clock: Clock
    schema: ManifestSchema | None
    jobs: JobQueue | None = None
    listeners: tuple[MergeListener, ...] = ()
    end_listeners: tuple[EndListener, ...] = ()

    def job_specs(self) -> list[JobSpec]:
        return [
            JobSpec(MERGE, self.merge_job, retries=6, retry_on=(SourceUnavailable,)),
            JobSpec(ON_HOST, self.on_host_job, retries=6, retry_on=(SourceUnavailable,)),
        ]

    # -- the merge job -------------------------------------------------------------------
    def queue_merge(self, proposal_id: str, reply_to: ReplyTarget | None) -> None:
        assert self.jobs is not None
        args = {"proposal_id": proposal_id, "context": reply_to.to_dict() if reply_to else {}}
        self.jobs.defer(MERGE, args, lock=f"proposal:{proposal_id}", queueing_lock=f"merge:{proposal_id}")

    def merge_job(self, proposal_id: str, context: dict[str, Any] | None = None) -> None:
        """The ``proposal.merge`` job; ``context`` is the ``ReplyTarget`` (as a dict) that the
        outcome is reported to. A no-op unless the proposal is still APPROVED, so a
        second run (a retry, a resumed merge) never merges twice. An unreachable host is retried
        (the clicker is told once); any other error fails the proposal, with its reason."""
        reply_to = ReplyTarget.from_dict(context)
        try:
            outcome = self.merge(proposal_id)
        except SourceUnavailable as exc:
            if self.listeners and self.store.claim_once(f"merge-waiting:{proposal_id}"):
                waiting = f"the merge is waiting: {exc}; Tugboat keeps trying"
                self._finished(Outcome(self.get(proposal_id), waiting, accepted=False), reply_to)
            raise
        except TugboatError as exc:
            outcome = self.fail_merge(self.get(proposal_id), str(exc))
        already_merged = not outcome.merged and outcome.proposal.state is ProposalState.MERGED
        if not already_merged:
            self._finished(outcome, reply_to)

    def _finished(self, outcome: Outcome, reply_to: ReplyTarget | None) -> None:
        for listener in self.listeners:
            listener.merge_finished(outcome, reply_to)

    def resume_merges(self) -> list[str]:
        """Queue the merge of approved proposals whose job was lost (a crash between the
        approval and the queueing); waiting or running merges are not queued twice."""
        stranded = [p.id for p in self.store.list_proposals([ProposalState.APPROVED])]
        if self.jobs is not None:
            for proposal_id in stranded:
                self.queue_merge(proposal_id, None)
        return stranded

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
                return self._tampered_outcome(proposal, found=current)
            versions = self.host.merge_preview(proposal, proposal.head_sha)
            scan = scan_merge(proposal, versions, self.policy, self.schema)
            if not scan.ok:
                self.audit_scan_refusal(proposal, "tugboat", scan, "merging")
                return self.fail_merge(proposal, scan.explain())
            result = self.host.merge(proposal, proposal.head_sha)
        except Tampered as exc:
            return self._tampered_outcome(proposal, found=self._head_or_none(proposal), detail=str(exc))
        except ConflictError as exc:
            return self.fail_merge(proposal, str(exc))
        if not result.merged:
            return self.fail_merge(proposal, result.message)
        merge = {"merge_sha": result.sha, "message": result.message}
        self.end(proposal, [ProposalState.APPROVED], ProposalState.MERGED, AuditKind.MERGED, "tugboat", merge)
        merged = self.get(proposal.id)
        for listener in self.listeners:
            try:
                listener.merged(merged, result.sha)
            except Exception:
                log.exception("a merge listener failed for proposal %s", proposal.id)
        return Outcome(merged, result.message, merged=True)

    def fail_merge(self, proposal: Proposal, reason: str) -> Outcome:
        refused = {"reason": reason}
        self.end(
            proposal,
            [ProposalState.APPROVED],
            ProposalState.FAILED,
            AuditKind.MERGE_REFUSED,
            "tugboat",
            refused,
        )
        return Outcome(self.get(proposal.id), f"merge refused: {reason}", accepted=False)

    def tampered(
        self,
        proposal: Proposal,
        noticed_by: str,
        found: str | None,
        detail: str = "",
        states: tuple[ProposalState, ...] = (ProposalState.OPEN, ProposalState.APPROVED),
    ) -> str:
        """End the proposal for good: something other than Tugboat's commit is on its branch.
        Never re-opened on foreign content; a fresh proposal must be drafted. Returns the
        sentence for people."""
        what, message = events.tampering(proposal, found, detail)
        seen = {"expected_head": proposal.head_sha, "found_head": found, "noticed_by": noticed_by}
        data = {**seen, "why": what}
        if self.end(proposal, states, ProposalState.TAMPERED, AuditKind.TAMPERED, "tugboat", data):
            self.on_host(proposal, comment=f"Tugboat closed this proposal: {message}", close="tampered")
        return message

    def sweep_heads(self) -> list[str]:
        """End as tampered every open proposal whose branch no longer holds the commit its
        approvers are shown (a scheduled job, so a foreign push is noticed, and its pull request
        closed, when it happens rather than at the next click). Only from OPEN: a proposal
        approved meanwhile is the merge's to check, which it does just before merging. A change
        host that cannot be reached is asked again next time. The host is asked once per sweep,
        however many proposals are open."""
        ended: list[str] = []
        open_ = [p for p in self.store.list_proposals([ProposalState.OPEN]) if p.head_sha and p.branch]
        if not open_:
            return ended
        try:
            heads = self.host.heads()
        except SourceUnavailable as exc:
            log.warning("could not read the proposal branches: %s", exc)
            return ended
        for proposal in open_:
            current = heads.get(proposal.branch or "")
            if current != proposal.head_sha:
                self.tampered(proposal, "tugboat", current, states=(ProposalState.OPEN,))
                ended.append(proposal.id)
        return ended

    def _tampered_outcome(self, proposal: Proposal, found: str | None, detail: str = "") -> Outcome:
        message = self.tampered(proposal, "tugboat", found, detail)
        return Outcome(self.get(proposal.id), message, accepted=False)

    def _head_or_none(self, proposal: Proposal) -> str | None:
        try:
            return self.host.head(proposal)
        except SourceUnavailable:
            return proposal.head_sha

    # -- on the change host --------------------------------------------------------------
    def on_host(self, proposal: Proposal, comment: str | None = None, close: str | None = None) -> None:
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

    # -- superseded ----------------------------------------------------------------------
    def supersede_older(self, newer: Proposal) -> list[str]:
        """End as superseded every undecided proposal that ``newer`` (just opened) replaces: one
        that changes the same manifest field(s) and was created before it (so two opened at once
        on two replicas do not end each other). Only from OPEN, or DRAFT (recorded, not opened
        yet: it can no longer be): an approved one is merging, and its merge is left alone. Each
        ends once (a conditional transition), audited, its pull request commented with the newer
        one and closed; its message loses its buttons (an end listener). Returns the ids ended."""
        undecided = [ProposalState.OPEN, ProposalState.DRAFT]
        ended: list[str] = []
        for older in self.store.list_proposals(undecided):
            if not replaces(newer, older) or _age(older) >= _age(newer):
                continue
            by = {"by": newer.id, "by_url": newer.url or newer.branch}
            if not self.end(older, undecided, ProposalState.SUPERSEDED, AuditKind.SUPERSEDED, "tugboat", by):
                continue
            ended.append(older.id)
            if older.branch:  # pushed: its pull request (or branch) goes
                where = newer.url or f"branch {newer.branch}"
                comment = f"Tugboat closed this proposal: the newer proposal {newer.id} ({where}) replaces it"
                self.on_host(older, comment=comment, close="superseded")
        return ended

    # -- expiry --------------------------------------------------------------------------
    def expire(self, proposal: Proposal, states: list[ProposalState]) -> bool:
        """Expire ``proposal`` if it is still in one of ``states`` (False when something else
        changed it first); its branch, if pushed, is closed."""
        if not self.end(proposal, states, ProposalState.EXPIRED, AuditKind.EXPIRED, "tugboat", {}):
            return False
        if proposal.branch:
            self.on_host(proposal, close="expired")
        return True

    def expire_due(self) -> list[str]:
        """Expire open proposals past their deadline (a scheduled job)."""
        now = self.clock()
        due = self.store.list_proposals([ProposalState.OPEN, ProposalState.DRAFT])
        states = [ProposalState.OPEN, ProposalState.DRAFT]
        return [p.id for p in due if is_expired(p, now) and self.expire(p, states)]

    # -- shared with the workflow --------------------------------------------------------
    def end(
        self,
        proposal: Proposal,
        from_states: Sequence[ProposalState],
        to_state: ProposalState,
        kind: AuditKind,
        actor: str,
        data: dict[str, Any],
    ) -> bool:
        """Move ``proposal`` to a state it never leaves, if it is still in one of ``from_states``:
        audited, then every end listener told, once. False when something else changed it first."""
        if not self.store.transition(proposal.id, from_states, to_state):
            return False
        self.audit(kind, proposal, actor, data)
        self.tell_ended(self.get(proposal.id))
        return True

    def tell_ended(self, ended: Proposal) -> None:
        """Every end listener hears that ``ended`` ended; a failing one never undoes it."""
        for listener in self.end_listeners:
            try:
                listener.ended(ended)
            except Exception:  # the end is recorded; only its chat message stays as it was
                log.exception("an end listener failed for proposal %s", ended.id)

    def get(self, proposal_id: str) -> Proposal:
        proposal = self.store.get_proposal(proposal_id)
        if proposal is None:
            raise InvalidInput(f"no proposal with id {proposal_id!r}")
        return proposal

    def audit(self, kind: AuditKind, proposal: Proposal, actor: str, data: dict[str, Any]) -> None:
        self.store.append_audit(
            AuditEvent(at=self.clock(), kind=kind.value, actor=actor, proposal_id=proposal.id, data=data)
        )

    def audit_scan_refusal(self, proposal: Proposal, actor: str, scan: ScanResult, when: str) -> None:
        self.store.append_audit(events.scan_refused(self.clock(), proposal, actor, scan, when))
