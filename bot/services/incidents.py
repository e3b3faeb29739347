"""Alert intake: one Alertmanager group becomes one chat thread, investigated in the background.

``receive`` stores the notification in the inbox and returns (the webhook answers 200 then);
an exact duplicate (Alertmanager retries, an HA pair, two bot replicas) is refused by the
inbox's unique key. Everything else happens in jobs (``JobQueue``), one group at a time on any
replica: ``incident.deliver`` folds the group's stored notifications into its incident and tells
the thread (the parent message, "N more alerts", the resolution), coalescing a storm into a few
updates; ``incident.investigate`` posts the report (bot/services/incident_report.py). What the
thread has not been told yet is stored with the incident, so a refused job, a crash or a Slack
outage delays an update but never loses it: ``incident.sweep`` queues the delivery of every
group with something waiting. Each message is a step of its own (``ChatSteps``): a job run again
after a crash finds what the earlier run posted instead of posting it twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.domain.alert import AlertGroup, now_utc
from bot.domain.errors import TugboatError
from bot.domain.proposal import Proposal
from bot.ports.chat import ChatNotifier, MessageLayout
from bot.ports.jobs import JobQueue, JobSpec, every
from bot.ports.store import IncidentRecord, Store, ThreadUpdate
from bot.services import trail
from bot.services.alert_keys import human_duration, notification_key
from bot.services.chat_steps import ChatSteps
from bot.services.incident_report import (
    IncidentReports,
    InvestigateFn,
    RenderFn,
    posted_key,
    started_of,
)
from bot.services.incident_updates import Receipt, combine, fold, urgent
from bot.services.intake import DeliveryDispatcher
from bot.services.proposals import ProposalWorkflow
from bot.settings import Settings

log = logging.getLogger(__name__)

DELIVER = "incident.deliver"
INVESTIGATE = "incident.investigate"
SWEEP = "incident.sweep"
KEEP_INBOX = timedelta(days=7)  # as long as dedup keys: Alertmanager's repeats are far shorter
FOLD_BATCH = 500

__all__ = ["DELIVER", "INVESTIGATE", "SWEEP", "IncidentService", "InvestigateFn", "Receipt", "RenderFn"]


class IncidentService:
    def __init__(
        self,
        store: Store,
        chat: ChatNotifier,
        investigate: InvestigateFn,
        settings: Settings,
        jobs: JobQueue,
        *,
        layout: MessageLayout,
        workflow: ProposalWorkflow | None = None,
        render: RenderFn | None = None,
        update_interval_s: float = 5.0,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.store, self.chat, self.settings, self.jobs = store, chat, settings, jobs
        self.layout, self.update_interval_s, self.clock = layout, update_interval_s, clock
        self.steps = ChatSteps(store, chat, upload_attempts=settings.slack_upload_attempts)
        self.reports = IncidentReports(
            store, chat, investigate, settings, self.steps,
            layout=layout, clock=clock, workflow=workflow, render=render,
        )  # fmt: skip
        self._dispatcher = DeliveryDispatcher(self._defer_delivery)
        self._closing = threading.Event()

    def job_specs(self) -> list[JobSpec]:
        return [
            # Slack unreachable or rate limiting beyond the client's own waits: try again later
            # (after the retries, the update is still stored: the sweep queues it again).
            JobSpec(DELIVER, self.deliver, retries=6, retry_on=(TugboatError,)),
            JobSpec(INVESTIGATE, self.reports.run, retries=3, retry_on=(TugboatError,)),
            JobSpec(SWEEP, self._sweep_job, cron=every(self.settings.jobs_sweep_s)),
        ]

    # -- intake ---------------------------------------------------------------------------
    def receive(self, group: AlertGroup) -> Receipt:
        """Store the notification; its delivery is queued in the background."""
        stored = self.store.add_to_inbox(group, notification_key(group), self.clock())
        if stored:
            self._dispatcher.nudge(group.group_key)
        return Receipt(group.group_key, duplicate=not stored)

    def investigate_now(self, group: AlertGroup, channel: str, requested_by: str, request: str = "") -> None:
        """An investigation a person asked for: a thread of its own in ``channel``. The same
        ``request`` (one Slack command, replayed) is stored once."""
        dedup = f"request:{request or uuid.uuid4().hex}"
        self.store.add_to_inbox(group, dedup, self.clock(), channel=channel, requested_by=requested_by)
        self._dispatcher.nudge(group.group_key)

    def route(self, group: AlertGroup) -> str | None:
        return self.settings.channel_for({**group.common_labels, **group.primary.labels})

    def _defer_delivery(self, key: str, delay_s: float = 0.0) -> None:
        # One delivery per group at a time, on any replica (lock), and at most one waiting: it
        # folds in everything stored by the time it runs (queueing lock).
        self.jobs.defer(
            DELIVER, {"key": key}, lock=f"incident:{key}", queueing_lock=f"deliver:{key}", delay_s=delay_s
        )

    def sweep(self) -> int:
        """Queue the delivery of every group with something waiting; returns how many."""
        keys = self.store.groups_waiting()
        for key in keys:
            self._dispatcher.nudge(key)
        self.store.purge_inbox(self.clock() - KEEP_INBOX)
        return len(keys)

    def _sweep_job(self, at: datetime) -> None:
        waiting = self.sweep()
        if waiting:
            log.info("sweep: %d alert group(s) with thread updates waiting", waiting)

    def resume(self) -> int:
        """After a restart: deliver whatever was stored and not yet told, and investigate every
        open thread whose report was not posted, whatever its age (as of the alert's time)."""
        firing = self.store.list_incidents(["firing"])
        for incident in firing:
            if incident.thread_ts is None and incident.alert and (incident.pending or ThreadUpdate()).empty:
                self.store.set_incident_pending(incident.group_key, ThreadUpdate(first=True))
        waiting = self.sweep()
        old = self.clock() - KEEP_INBOX  # older done-markers are purged; a stored report is posted
        for incident in firing:
            if not (incident.thread_ts and incident.channel):
                continue
            if incident.report is not None and incident.started_at and incident.started_at < old:
                continue
            if self.store.is_claimed(posted_key(incident.group_key, started_of(incident))):
                continue
            try:
                self._queue_investigation(incident, incident.channel, incident.thread_ts)
            except TugboatError as exc:  # starting up matters more; the next start tries again
                log.warning("could not queue the investigation of %s: %s", incident.group_key, exc)
        return waiting

    # -- delivery (the incident.deliver job) ------------------------------------------------
    def deliver(self, key: str, **queued_by_older_version: Any) -> None:
        """Fold the group's stored notifications into its incident, then tell the thread."""
        record = self.store.get_incident(key)
        if record is not None and record.alert is not None and queued_by_older_version:
            record = self._adopt_older_update(record, queued_by_older_version)
        if record is not None and record.pending is not None and record.pending.delivering:
            record = self._post(record)  # a run cut short began this update: finish it as it was
        while items := self.store.inbox(key, FOLD_BATCH):
            refired = False
            for item in items:
                folded = fold(record, item, self.route)
                record, refired = folded.incident, refired or folded.refired
            assert record is not None
            audit = [trail.alert_received_event(i.alert, i.received_at) for i in items if not i.requested_by]
            self.store.fold_inbox(record, items[-1].id, clear_report=refired, audit=audit)
            if len(items) < FOLD_BATCH:
                break
        if record is None or record.pending is None or record.pending.empty:
            return
        wait = self._coalescing_wait(record.pending)
        if wait > 0:  # a storm settles into one update per interval
            self._defer_delivery(key, delay_s=wait)
            return
        self._post(record)

    def _adopt_older_update(self, record: IncidentRecord, args: dict[str, Any]) -> IncidentRecord:
        """A job queued before an upgrade (a rolling update) carried its update in its
        arguments, not in the incident: store it there, so it is posted like any other."""
        fields = {name: args[name] for name in ThreadUpdate.model_fields if name in args}
        older = ThreadUpdate.model_validate({**fields, "through": 0, "delivering": False, "posted_at": None})
        assert record.alert is not None
        pending = combine(record.pending or ThreadUpdate(), older, record.alert)
        self.store.set_incident_pending(record.group_key, pending)
        return record.model_copy(update={"pending": pending})

    def _coalescing_wait(self, pending: ThreadUpdate) -> float:
        if urgent(pending) or pending.posted_at is None:
            return 0.0
        return self.update_interval_s - (self.clock() - pending.posted_at).total_seconds()

    def _post(self, record: IncidentRecord) -> IncidentRecord:
        """Post the incident's pending update; each message is a step of its own."""
        key, pending, group = record.group_key, record.pending, record.alert
        assert pending is not None and group is not None
        channel = record.channel or self.route(group)
        if not channel:
            log.warning("no Slack channel for %s: set slack_channel or a slack_routes entry", group.title)
            self.store.set_incident_pending(key, None)
            return record.model_copy(update={"pending": None})
        if not pending.delivering:
            self.store.set_incident_pending(key, pending.model_copy(update={"delivering": True}))
        new_thread = record.thread_ts is None
        thread = record.thread_ts or self._open_thread(key, channel, group, pending.requested_by)
        record = record.model_copy(update={"channel": channel, "thread_ts": thread})
        step = f"{key}:{pending.through}"
        if not new_thread and pending.refired:
            self.steps.post(
                f"refired:{step}",
                channel,
                f"Firing again: {self.layout.inert(group.title)}",
                self.layout.refired_reply(group),
                thread,
            )
        # A new parent shows the alerts of the payload it was posted with; the others folded
        # into this update are counted here, even when the group resolved meanwhile.
        shown = len(group.alerts) if pending.first else 0  # the parent says "N firing" of them all
        more = pending.new_firing - shown
        if more > 0:
            text = f"{more} more alert(s) in {self.layout.inert(group.title)}"
            blocks = self.layout.alert_update(group, more, len(record.fingerprints))
            self.steps.post(f"more:{step}", channel, text, blocks, thread)
        if record.status == "resolved" and (pending.resolved or new_thread):
            self._resolve(record, channel, thread, group, step)
        elif new_thread or pending.first or pending.refired:
            # ``first`` rather than "posted the parent just now": a retried first delivery still
            # queues the investigation (a job that is already done does nothing).
            self._queue_investigation(record, channel, thread)
        cleared = ThreadUpdate(posted_at=self.clock())
        self.store.set_incident_pending(key, cleared)
        return record.model_copy(update={"pending": cleared})

    def _open_thread(self, key: str, channel: str, group: AlertGroup, requested_by: str | None) -> str:
        """Post the parent message, or find the one an interrupted run posted, and record it."""
        parent = self.layout.incident_parent(group)
        if requested_by:
            parent.append(self.layout.context(f"requested by <@{requested_by}>"))
        ts = self.steps.find_or_post(
            f"parent:{key}", channel, f"{self.layout.inert(group.title)} ({group.status})", parent
        )
        self.store.set_incident_thread(key, channel, ts)
        return ts

    def _resolve(
        self, record: IncidentRecord, channel: str, thread: str, group: AlertGroup, step: str
    ) -> None:
        started, ended = record.started_at, record.resolved_at or self.clock()
        duration = human_duration((ended - started).total_seconds()) if started else "an unknown time"
        self.chat.update_message(
            channel,
            thread,
            f"Resolved: {self.layout.inert(group.title)}",
            self.layout.incident_parent(group, resolved_after=duration),
        )
        self.steps.post(
            f"resolved:{step}",
            channel,
            f"Resolved after {duration}",
            self.layout.resolved_reply(duration),
            thread,
        )

    def _queue_investigation(self, record: IncidentRecord, channel: str, thread: str) -> None:
        key = record.group_key
        at = record.noticed_at or record.started_at or self.clock()  # as of the alert's time
        args = {
            "key": key,
            "channel": channel,
            "thread": thread,
            "started": started_of(record),
            "at": at.isoformat(),
        }
        self.jobs.defer(INVESTIGATE, args, lock=f"investigate:{key}", queueing_lock=f"investigate:{key}")

    def post_proposal(self, channel: str, thread: str | None, proposal: Proposal) -> None:
        self.reports.post_proposal(channel, thread, proposal)

    # -- lookups for conversations and buttons ---------------------------------------------
    def by_thread(self, channel: str, thread_ts: str) -> IncidentRecord | None:
        return next(
            (i for i in self.store.list_incidents() if i.channel == channel and i.thread_ts == thread_ts),
            None,
        )

    def proposal_from_reports(self, proposal_id: str) -> Proposal | None:
        for incident in reversed(self.store.list_incidents()):
            if incident.report and incident.report.proposal and incident.report.proposal.id == proposal_id:
                return incident.report.proposal
        return None

    def latest(self, channel: str | None = None, alertname: str | None = None) -> IncidentRecord | None:
        for incident in reversed(self.store.list_incidents()):
            if channel and incident.channel != channel:
                continue
            if alertname and (incident.alert is None or incident.alert.primary.name != alertname):
                continue
            return incident
        return None

    # -- life cycle ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return not self._closing.is_set()

    def close(self) -> None:
        """Stop taking work and queue the deliveries still being handed to the queue."""
        self._closing.set()
        self._dispatcher.close()
