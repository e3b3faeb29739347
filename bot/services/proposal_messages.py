"""A proposal's chat message, once the proposal ends: its buttons go and one line says how it
ended ("Merged: <link>", "Not merged: <why>"), however it ended (a click elsewhere, the change
host, housekeeping, expiry).

Where the message is, and what it said, comes from the store (``ProposalWorkflow.posted``,
called wherever a proposal is posted with its buttons, or a message is given them): the edit
keeps what the message said (who asked, the capacity finding above the change, ...) and only
drops its buttons and adds the line. A proposal that ended before its message was recorded (a
click elsewhere, or housekeeping, between the post and the record) is queued at the record.

The update is the ``proposal.message_ended`` job, queued by ``ProposalMerger.end`` (an
``EndListener``): it runs on one replica, under the proposal's lock, and its done-marker makes
it act once however often it is queued or run. Slack errors are tried again a bounded number of
times; a message or channel that is gone counts as done. Each outcome is audited. A click on the
message itself shows the decision there already, and marks the step done (``shown``). A done
message's record is dropped, so the ended proposals still holding one are exactly the work left:
``resume`` (housekeeping) queues it again when its job was lost (a restart on SQLite, whose
queue is in memory).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.domain.alert import now_utc
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.errors import MessageGone, TugboatError
from bot.domain.proposal import ENDED_STATES, Proposal, ProposalState
from bot.ports.chat import ChatNotifier, MessageLayout
from bot.ports.jobs import JobQueue, JobSpec
from bot.ports.store import PostedMessage, Store
from bot.services import proposal_events as events

log = logging.getLogger(__name__)

MESSAGE_ENDED = "proposal.message_ended"
DONE = "proposal-message-ended:"
# A click that ends a proposal shows the outcome on its own message within moments (``shown``);
# the job waits this long first, so the two updates do not race for the last word.
CLICK_GRACE_S = 2.0
SLACK_USER = re.compile(r"[UW][A-Z0-9_]{2,}")  # a user id, shown as a mention


class ProposalMessages:
    def __init__(
        self,
        store: Store,
        chat: ChatNotifier,
        layout: MessageLayout,
        *,
        jobs: JobQueue | None = None,
        clock: Callable[[], datetime] = now_utc,
        attempts: int = 4,
        backoff_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Without ``jobs`` the update runs at once, where the proposal ended."""
        self.store, self.chat, self.layout, self.jobs, self.clock = store, chat, layout, jobs, clock
        self.attempts, self.backoff_s, self.sleep = max(1, attempts), backoff_s, sleep

    def job_specs(self) -> list[JobSpec]:
        return [JobSpec(MESSAGE_ENDED, self.update_job)]

    def shown(self, proposal_id: str, channel: str, ts: str | None) -> None:
        """A click on ``ts`` showed how the proposal ended there; if that is the recorded message,
        the job has nothing left to do."""
        if self.store.proposal_message(proposal_id) == PostedMessage(channel, ts or ""):
            self.store.claim_once(DONE + proposal_id)
            self.store.forget_proposal_message(proposal_id)

    def resume(self) -> int:
        """Queue the update of every ended proposal whose message still waits for it; how many.
        One already waiting is not queued twice."""
        waiting = self.store.messaged_proposals(ENDED_STATES)
        for proposal_id in waiting:
            proposal = self.store.get_proposal(proposal_id)
            if proposal is not None:
                self.ended(proposal)
        return len(waiting)

    # -- EndListener -------------------------------------------------------------------------
    def ended(self, proposal: Proposal) -> None:
        if self.jobs is None:
            self.update_job(proposal.id)
            return
        self.jobs.defer(
            MESSAGE_ENDED,
            {"proposal_id": proposal.id},
            lock=f"proposal:{proposal.id}",
            queueing_lock=f"message-ended:{proposal.id}",
            delay_s=CLICK_GRACE_S,
        )

    # -- the job -------------------------------------------------------------------------
    def update_job(self, proposal_id: str) -> None:
        """The ``proposal.message_ended`` job: a no-op once done, for a proposal that has not
        ended, or one with no recorded message."""
        if self.store.is_claimed(DONE + proposal_id):
            self.store.forget_proposal_message(proposal_id)
            return
        proposal = self.store.get_proposal(proposal_id)
        where = self.store.proposal_message(proposal_id)
        if proposal is None or proposal.state not in ENDED_STATES or where is None:
            return
        line = self.line(proposal)
        outcome = self._update(where, line, self.layout.ended_proposal(proposal, line, where.blocks))
        if self.store.claim_once(DONE + proposal_id):
            data = {"channel": where.channel, "ts": where.ts, "outcome": outcome, "line": line}
            event = AuditEvent(
                at=self.clock(), kind=AuditKind.MESSAGE_ENDED.value, proposal_id=proposal_id, data=data
            )
            self.store.append_audit(event)
        self.store.forget_proposal_message(proposal_id)

    def _update(self, where: PostedMessage, line: str, body: list[Any]) -> str:
        """ "updated", "gone" (the message or channel no longer exists) or "failed: <why>"."""
        attempt = 1
        while True:
            try:
                self.chat.update_message(where.channel, where.ts, line, body)
                return "updated"
            except MessageGone as exc:
                log.info("the message of an ended proposal is gone (%s); nothing to update", exc)
                return "gone"
            except TugboatError as exc:
                log.warning(
                    "updating an ended proposal's message, try %d of %d: %s", attempt, self.attempts, exc
                )
                if attempt >= self.attempts:
                    return f"failed: {exc}"
            self.sleep(self.backoff_s * 2 ** (attempt - 1))
            attempt += 1

    def line(self, proposal: Proposal) -> str:
        """How the proposal ended, in one line for people, from its audit trail."""
        trail = self.store.audit_trail(proposal.id)

        def last(kind: AuditKind) -> dict[str, Any]:
            return events.last(trail, kind)

        state = proposal.state
        if state is ProposalState.MERGED:
            sha = str(last(AuditKind.MERGED).get("merge_sha") or "")
            where = events.shown_place(proposal.url or "") or f"`{proposal.branch or proposal.id}`"
            return f"Merged: {where}" + (f" at `{sha[:10]}`" if sha else "")
        if state is ProposalState.REJECTED:
            rejected = last(AuditKind.REJECTED)
            actor = str(rejected.get("actor") or "")
            who = f"<@{actor}>" if SLACK_USER.fullmatch(actor) else self.layout.inert(actor or "someone")
            reason = str(rejected.get("reason") or "").strip()
            return f"Not merged: rejected by {who}" + (f": {self.layout.inert(reason)}" if reason else "")
        if state is ProposalState.TAMPERED:
            tampered = last(AuditKind.TAMPERED)
            if tampered and not tampered.get("found_head"):  # nothing left where its branch was
                return "Not merged: its branch or pull request was closed outside Tugboat"
            why = str(tampered.get("why") or "")
            return "Not merged: its branch was changed outside Tugboat" + (f" ({why})" if why else "")
        if state is ProposalState.FAILED:
            reason = str(last(AuditKind.MERGE_REFUSED).get("reason") or "")
            return "Not merged: the merge was refused" + (f" ({self.layout.inert(reason)})" if reason else "")
        if state is ProposalState.EXPIRED:
            return "Not merged: it expired before enough people approved it"
        return f"Not merged: replaced by a newer proposal, {events.replacement(trail)}"
