"""After the merge: decide whether the fix worked, and say so in the incident thread.

``MergeWatch`` (bot/services/merge_watch.py) announces each merge and records the watch in the
audit trail. ``tick`` is the periodic job ``proposal.watch`` (every ``verify_interval_s``, on one
replica) and, once ``RecoveryWatcher`` decides, posts "recovered" with a graph, or "not
recovered" with a revert of the merge commit opened through ``ProposalWorkflow`` (the same
approval path as any change), then records ``proposal.verified``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.alert import now_utc
from bot.domain.audit import AuditKind
from bot.domain.errors import TugboatError
from bot.domain.graph import GraphSpec
from bot.domain.proposal import Action, Proposal, ProposalState
from bot.ports.chat import Attachment, ChatNotifier, MessageLayout
from bot.ports.gitrepo import GitHistory
from bot.ports.jobs import JobSpec, every
from bot.ports.store import IncidentRecord, Store
from bot.services.merge_watch import WATCHING, Watch, record, say, watch_of
from bot.services.proposals import ProposalWorkflow
from bot.services.recovery import RecoveryWatcher, Signals, Verdict, service_of
from bot.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["WATCHING", "WATCH_JOB", "PostMergeService", "Watch"]
WATCH_JOB = "proposal.watch"
REVERT_REQUESTER = "tugboat"
RenderFn = Callable[[list[GraphSpec], Path], list[Path]]


class PostMergeService:
    def __init__(
        self,
        store: Store,
        notifier: ChatNotifier,
        workflow: ProposalWorkflow,
        watcher: RecoveryWatcher,
        history: GitHistory | None,
        settings: Settings,
        *,
        layout: MessageLayout,
        clock: Callable[[], datetime] = now_utc,
        render: RenderFn | None = None,
    ) -> None:
        self.store, self.chat, self.workflow, self.watcher = store, notifier, workflow, watcher
        self.layout = layout
        self.history, self.settings, self.clock = history, settings, clock
        self.render = render

    def job_specs(self) -> list[JobSpec]:
        return [JobSpec(WATCH_JOB, self._tick_job, cron=every(self.settings.verify_interval_s))]

    def _tick_job(self, at: datetime) -> None:
        self.tick()  # now, not ``at``: a late run judges what Prometheus shows now

    # -- the scheduled check --------------------------------------------------------------------
    def due(self, now: datetime | None = None) -> list[Watch]:
        """Watches without a verdict yet. Only recent merges are read: a merge happens at most
        ``expiry_hours`` after the proposal was created, and a watch ends ``window`` after it."""
        now = now or self.clock()
        horizon = now - timedelta(
            hours=self.workflow.policy.expiry_hours + 24, minutes=self.settings.verify_window_minutes
        )
        out: list[Watch] = []
        for proposal in self.store.list_proposals([ProposalState.MERGED]):
            if proposal.created_at is not None and proposal.created_at < horizon:
                continue
            trail = self.store.audit_trail(proposal.id)
            if any(e.kind == AuditKind.VERIFIED.value for e in trail):
                continue
            started = [e for e in trail if e.kind == WATCHING]
            if started:
                out.append(watch_of(proposal, started[-1].data))
        return out

    def tick(self, now: datetime | None = None) -> list[tuple[Watch, Verdict]]:
        """Check every due watch; post and record the ones that reached a verdict."""
        now = now or self.clock()
        decided: list[tuple[Watch, Verdict]] = []
        for watch in self.due(now):
            incident = self.store.get_incident(watch.incident_key)
            if incident is None:
                log.warning("incident %s of proposal %s is gone", watch.incident_key, watch.proposal.id)
                continue
            try:
                signals = watch.signals or Signals.of(incident)
                verdict = self.watcher.evaluate(signals, watch.merged_at, now)
            except TugboatError as exc:  # Prometheus away: the next tick tries again
                log.warning("recovery check of proposal %s failed: %s", watch.proposal.id, exc)
                continue
            except Exception:  # one broken watch must not stop the others
                log.exception("recovery check of proposal %s failed", watch.proposal.id)
                continue
            if verdict.status == "pending" or not self.store.claim_once(
                f"verify-verdict:{watch.proposal.id}"
            ):
                continue
            self._conclude(watch, incident, verdict)
            decided.append((watch, verdict))
        return decided

    def _conclude(self, watch: Watch, incident: IncidentRecord, verdict: Verdict) -> None:
        data: dict[str, Any] = {
            "incident": watch.incident_key,
            "merge_sha": watch.merge_sha,
            **verdict.public(),
        }
        try:
            if verdict.status == "recovered":
                self._post_recovered(watch, verdict)
            else:
                data.update(self._post_not_recovered(watch, incident, verdict))
        except Exception as exc:  # the verdict is recorded even when the thread could not be told
            log.exception("posting the verdict of proposal %s failed", watch.proposal.id)
            data["post_error"] = str(exc) if isinstance(exc, TugboatError) else type(exc).__name__
        finally:
            record(self.store, self.clock(), AuditKind.VERIFIED.value, watch.proposal, data)

    def _post_recovered(self, watch: Watch, verdict: Verdict) -> None:
        minutes = _minutes(self.clock() - watch.merged_at)
        text = f":white_check_mark: Recovered {minutes} after the merge: {verdict.observation}"
        say(self.chat, self.layout, watch, text, verdict.sync)
        if verdict.graph is None or self.render is None:
            return
        with tempfile.TemporaryDirectory(prefix="tugboat-verify-") as tmp:
            paths = self.render([verdict.graph], Path(tmp))
            files = [Attachment(p.name, path=p, title=p.stem) for p in paths]
            if files:
                self.chat.upload_files(watch.channel, watch.thread_ts, files, "After the merge")

    def _post_not_recovered(self, watch: Watch, incident: IncidentRecord, verdict: Verdict) -> dict[str, Any]:
        text = (
            f":x: Not recovered {self.settings.verify_window_minutes} min after the merge: "
            f"{verdict.observation}"
        )
        say(self.chat, self.layout, watch, text, verdict.sync)
        if not verdict.details.get("signals"):  # no evidence either way: a revert is not indicated
            note = "Nothing could be checked, so no revert is proposed (`/tugboat rollback` proposes one)."
            self.chat.post_message(watch.channel, note, thread_ts=watch.thread_ts)
            return {"revert_error": "no signal to verify against"}
        try:
            revert = self._revert(watch, incident, verdict)
        except TugboatError as exc:
            self.chat.post_message(
                watch.channel, f"Could not propose a revert: {exc}", thread_ts=watch.thread_ts
            )
            return {"revert_error": str(exc)}
        # The revert's title quotes the reverted commit's subject: untrusted text.
        text = f"Proposed change: {self.layout.inert(revert.title)}"
        body = self.layout.proposal(revert, with_buttons=True)
        ts = self.chat.post_message(watch.channel, text, body, watch.thread_ts)
        self.workflow.posted(revert.id, watch.channel, ts, text, body)
        if len(revert.diff) > self.layout.long_diff:
            diff = Attachment(f"proposal-{revert.id}.diff", content=revert.diff)
            self.chat.upload_files(watch.channel, watch.thread_ts, [diff], "The full diff")
        return {"revert_proposal": revert.id}

    def _revert(self, watch: Watch, incident: IncidentRecord, verdict: Verdict) -> Proposal:
        """The revert of the merge commit, submitted and opened like any other change."""
        if self.history is None:
            raise TugboatError("no checkout of the GitOps repository is configured (TUGBOAT_REPO)")
        if not watch.merge_sha:
            raise TugboatError("the merge commit is not recorded, so there is nothing to revert")
        try:
            diff = self.history.revert_diff(watch.merge_sha)
        except TugboatError as exc:
            raise TugboatError(
                f"{exc} (the default branch of the GitOps repository no longer holds the merge)"
            ) from None
        if not diff.strip():
            raise TugboatError(f"{watch.merge_sha[:10]} is already reverted on the default branch")
        original = watch.proposal
        service, namespace = service_of(incident)
        changes = [
            c.model_copy(update={"from_": c.to, "to": c.from_})
            for c in original.changes
            if f"b/{c.file}" in diff
        ]
        revert = Proposal(
            action=Action.REVERT,
            service=original.service or service,
            namespace=original.namespace or namespace,
            commit=watch.merge_sha,
            changes=changes,
            diff=diff,
            title=f"revert {original.title or original.id}",
            rationale=f"Not recovered after the merge of {original.id}: {verdict.observation}",
        )
        submitted = self.workflow.submit(revert, requested_by=REVERT_REQUESTER)
        return self.workflow.open(submitted.id, actor=REVERT_REQUESTER)


def _minutes(delta: timedelta) -> str:
    return f"{max(0, round(delta.total_seconds() / 60))} min"
