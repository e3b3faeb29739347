"""Alert intake: one Alertmanager group becomes one chat thread, investigated in the background.

``receive`` persists the notification before it returns (the webhook answers 200 only then) and
drops exact duplicates through ``store.claim_once`` (Alertmanager retries, an HA pair, two bot
replicas). Per group, chat updates are coalesced in memory for a few seconds, so a storm of
alerts yields one parent message and a few thread replies, not one per alert. The updates and
the investigations themselves are jobs on the queue (``JobQueue``): they run on one replica,
are retried while Slack is unreachable, and run again elsewhere if the replica dies.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.domain.alert import AlertGroup, now_utc
from bot.domain.errors import TugboatError
from bot.domain.graph import GraphSpec
from bot.domain.proposal import Proposal
from bot.observability.metrics import INVESTIGATION_SECONDS, INVESTIGATIONS
from bot.ports.chat import Attachment, ChatNotifier, MessageLayout
from bot.ports.jobs import JobQueue, JobSpec
from bot.ports.store import IncidentRecord, Store
from bot.services import trail
from bot.services.alert_keys import fingerprints, human_duration, notification_key
from bot.services.incident_updates import PendingUpdate, Receipt
from bot.services.investigate import Investigation
from bot.services.proposals import ProposalWorkflow
from bot.settings import Settings

log = logging.getLogger(__name__)

InvestigateFn = Callable[[AlertGroup, datetime], Investigation]
RenderFn = Callable[[list[GraphSpec], Path], list[Path]]
DELIVER = "incident.deliver"
INVESTIGATE = "incident.investigate"
RESUME_INVESTIGATIONS = timedelta(hours=6)
COALESCING_THREADS = 4  # they only wait out the coalescing window, then queue a job


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
        self.store, self.chat, self.investigate_fn = store, chat, investigate
        self.settings, self.jobs, self.workflow, self.render = settings, jobs, workflow, render
        self.layout = layout
        self.update_interval_s = update_interval_s
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=COALESCING_THREADS, thread_name_prefix="tugboat-coalesce")
        self._lock = threading.Lock()
        self._group_locks: dict[str, threading.Lock] = {}
        self._pending: dict[str, PendingUpdate] = {}
        self._scheduled: set[str] = set()
        self._closing = threading.Event()

    def job_specs(self) -> list[JobSpec]:
        return [
            # Slack unreachable or rate limiting beyond the client's own waits: try again later.
            JobSpec(DELIVER, self.deliver, retries=6, retry_on=(TugboatError,)),
            JobSpec(INVESTIGATE, self.investigate, retries=3, retry_on=(TugboatError,)),
        ]

    # -- intake ---------------------------------------------------------------------------
    def receive(self, group: AlertGroup) -> Receipt:
        """Persist the notification, then schedule its chat update unless it is a duplicate."""
        key = group.group_key
        with self._group_lock(key):
            before = self.store.get_incident(key)
            record, pending = self._merge(before, group)
            self.store.upsert_incident(record)
        # Claimed after the write: a crash in between leaves a retry that is not a duplicate.
        if not self.store.claim_once(notification_key(group)):
            return Receipt(key, duplicate=True)
        trail.alert_received(self.store, group, self.clock())
        self._schedule(key, pending)
        return Receipt(key, duplicate=False)

    def resume(self) -> int:
        """After a restart: post the threads of stored firing incidents that never got one, and
        queue the investigation of threads that have no report yet."""
        firing = self.store.list_incidents(["firing"])
        waiting = [i for i in firing if i.thread_ts is None and i.alert]
        for incident in waiting:
            assert incident.alert is not None
            self._schedule(incident.group_key, PendingUpdate(incident.alert, first=True))
        # Recent threads without a report: their investigation was lost with an in-memory queue
        # (a job that is done, or waiting in PostgreSQL, makes this a no-op). An older one would
        # read metrics long after the fact, so it is left alone.
        recent = self.clock() - RESUME_INVESTIGATIONS
        for incident in firing:
            fresh = incident.started_at is not None and incident.started_at >= recent
            if fresh and incident.thread_ts and incident.channel and incident.report is None:
                self._queue_investigation(incident.group_key, incident.channel, incident.thread_ts, incident)
        return len(waiting)

    def investigate_now(self, group: AlertGroup, channel: str, requested_by: str) -> None:
        """An investigation a person asked for: a thread of its own in ``channel``."""
        record = IncidentRecord(
            group_key=group.group_key,
            channel=channel,
            status="firing",
            alert=group,
            started_at=self.clock(),
            fingerprints=fingerprints(group),
        )
        with self._group_lock(group.group_key):
            self.store.upsert_incident(record)
        self._schedule(group.group_key, PendingUpdate(group, first=True, requested_by=requested_by))

    def route(self, group: AlertGroup) -> str | None:
        labels = {**group.common_labels, **group.primary.labels}
        for route in self.settings.slack_routes:
            if labels.get(route.label) == route.value:
                return route.channel
        return self.settings.slack_channel

    def _merge(
        self, record: IncidentRecord | None, group: AlertGroup
    ) -> tuple[IncidentRecord, PendingUpdate]:
        fps = fingerprints(group)
        firing = {fp for fp, a in zip(fps, group.alerts, strict=True) if a.status == "firing"}
        now = self.clock()
        if record is None:
            record = IncidentRecord(
                group_key=group.group_key,
                channel=self.route(group),
                status=group.status,
                alert=group,
                started_at=group.started_at or now,
                resolved_at=now if group.status == "resolved" else None,
                fingerprints=fps,
            )
            return record, PendingUpdate(
                group, new_firing=len(firing), resolved=group.status == "resolved", first=True
            )
        known = set(record.fingerprints)
        pending = PendingUpdate(group, new_firing=len(firing - known))
        update: dict[str, object] = {
            "alert": group,
            "fingerprints": [*record.fingerprints, *(f for f in fps if f not in known)],
        }
        if group.status == "resolved" and record.status != "resolved":
            ends = [a.ends_at for a in group.alerts if a.ends_at]
            update.update(status="resolved", resolved_at=max(ends) if ends else now)
            pending.resolved = True
        elif group.status == "firing" and record.status == "resolved":
            update.update(status="firing", resolved_at=None, started_at=group.started_at or now, report=None)
            pending.refired = True
        return record.model_copy(update=update), pending

    # -- background delivery --------------------------------------------------------------
    def _group_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._group_locks.setdefault(key, threading.Lock())

    def _schedule(self, key: str, pending: PendingUpdate) -> None:
        with self._lock:
            current = self._pending.get(key)
            if current is None:
                self._pending[key] = pending
            else:  # coalesce: one chat update covers everything that happened meanwhile
                current.group = pending.group
                current.new_firing += pending.new_firing
                current.resolved = (
                    current.resolved or pending.resolved
                ) and pending.group.status == "resolved"
                current.refired = current.refired or pending.refired
                current.first = current.first or pending.first
            if key in self._scheduled:
                return
            self._scheduled.add(key)
        self._pool.submit(self._drain, key)

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                pending = self._pending.get(key)
                if pending is None:
                    self._scheduled.discard(key)
                    return
                wait = (
                    0.0
                    if pending.first or pending.resolved
                    else self.update_interval_s - (time.monotonic() - pending.since)
                )
            if wait > 0 and not self._closing.is_set():
                self._closing.wait(wait)  # let a storm settle into one update
            with self._lock:
                pending = self._pending.pop(key)
            try:  # one job per group at a time, on any replica: updates stay in order
                self.jobs.defer(DELIVER, pending.job_args(key), lock=f"incident:{key}")
            except Exception:  # one group's failure must not stop the others
                log.exception("queueing the chat update for alert group failed")

    def deliver(self, key: str, **pending: Any) -> None:
        """The ``incident.deliver`` job: post what happened to the group since its last update."""
        self._deliver(key, PendingUpdate.from_job(**pending))

    def _deliver(self, key: str, pending: PendingUpdate) -> None:
        record = self.store.get_incident(key)
        if record is None:
            return
        group = pending.group
        channel = record.channel or self.route(group)
        if not channel:
            log.warning("no Slack channel for %s: set slack_channel or a slack_routes entry", group.title)
            return
        new_thread = record.thread_ts is None
        if new_thread:
            record = self._open_thread(key, channel, group, pending.requested_by)
            if record is None or record.thread_ts is None:
                return
        thread = record.thread_ts
        assert thread is not None
        if not new_thread and pending.refired:
            self.chat.post_message(
                channel,
                f"Firing again: {self.layout.inert(group.title)}",
                self.layout.refired_reply(group),
                thread,
            )
        elif group.status == "firing":
            # A new parent shows only the latest payload's alerts; alerts that arrived while it
            # was being posted were coalesced into this update and are counted here instead.
            shown = sum(1 for a in group.alerts if a.status == "firing") if pending.first else 0
            more = pending.new_firing - shown
            if more > 0:
                total = len(record.fingerprints)
                self.chat.post_message(
                    channel,
                    f"{more} more alert(s) in {self.layout.inert(group.title)}",
                    self.layout.alert_update(group, more, total),
                    thread,
                )
        if record.status == "resolved" and (pending.resolved or new_thread):
            self._resolve(record, channel, thread, group)
            return
        # ``first`` rather than "posted the parent just now": a retried first delivery still
        # queues the investigation (a job that is already done does nothing).
        if new_thread or pending.first or pending.refired:
            self._queue_investigation(key, channel, thread, record)

    def _queue_investigation(self, key: str, channel: str, thread: str, record: IncidentRecord) -> None:
        started = record.started_at.isoformat() if record.started_at else None
        args = {"key": key, "channel": channel, "thread": thread, "started": started}
        self.jobs.defer(INVESTIGATE, args, lock=f"investigate:{key}", queueing_lock=f"investigate:{key}")

    def _open_thread(
        self, key: str, channel: str, group: AlertGroup, requested_by: str | None
    ) -> IncidentRecord | None:
        """Post the parent message. Deliveries of a group hold the job lock ``incident:<key>``,
        so no other replica is posting it meanwhile; a failed post raises and the job is retried."""
        parent = self.layout.incident_parent(group)
        if requested_by:
            parent.append(self.layout.context(f"requested by <@{requested_by}>"))
        ts = self.chat.post_message(channel, f"{self.layout.inert(group.title)} ({group.status})", parent)
        with self._group_lock(key):
            record = self.store.get_incident(key)
            if record is None:
                return None
            record = record.model_copy(update={"channel": channel, "thread_ts": ts})
            self.store.upsert_incident(record)
        return record

    def _resolve(self, record: IncidentRecord, channel: str, thread: str, group: AlertGroup) -> None:
        started, ended = record.started_at, record.resolved_at or self.clock()
        duration = human_duration((ended - started).total_seconds()) if started else "an unknown time"
        self.chat.update_message(
            channel,
            thread,
            f"Resolved: {self.layout.inert(group.title)}",
            self.layout.incident_parent(group, resolved_after=duration),
        )
        self.chat.post_message(
            channel, f"Resolved after {duration}", self.layout.resolved_reply(duration), thread
        )

    # -- investigation --------------------------------------------------------------------
    def investigate(self, key: str, channel: str, thread: str, started: str | None) -> None:
        """The ``incident.investigate`` job. A run cut short (a replica dying, Slack failing) is
        run again in full: the report is stored before it is posted (so follow-up questions see
        it at once), and only the ``posted`` key, taken after posting, says the job is done."""
        record = self.store.get_incident(key)
        if record is None or record.alert is None:
            return
        if started != (record.started_at.isoformat() if record.started_at else None):
            return  # the group fired again since: that firing has its own job
        posted = f"investigation-posted:{key}:{started}"
        if self.store.is_claimed(posted):
            return
        group = record.alert
        t0 = time.monotonic()
        try:
            result = self.investigate_fn(group, self.clock())
        except Exception as exc:  # the thread says so; the alert itself is already posted
            INVESTIGATIONS.labels(outcome="failed").inc()
            reason = str(exc) if isinstance(exc, TugboatError) else type(exc).__name__
            log.warning("investigation failed for %s: %s", group.title, reason)
            self.chat.post_message(channel, f"Investigation failed: {reason}", thread_ts=thread)
            self.store.claim_once(posted)  # said in the thread; a new firing investigates again
            return
        INVESTIGATIONS.labels(outcome="ok").inc()
        INVESTIGATION_SECONDS.observe(time.monotonic() - t0)
        report = result.report
        trail.investigation_done(self.store, group, report, self.clock())
        with tempfile.TemporaryDirectory(prefix="tugboat-graphs-") as tmp:
            paths = self._render(result.graphs, Path(tmp))
            report = report.model_copy(update={"graphs": [p.name for p in paths]})
            with self._group_lock(key):
                record = self.store.get_incident(key)
                if record is not None:
                    self.store.upsert_incident(record.model_copy(update={"report": report}))
            text = self.layout.inert(report.summary)  # maybe the model's words
            self.chat.post_message(channel, text, self.layout.investigation(report), thread)
            if paths:
                self.chat.upload_files(
                    channel,
                    thread,
                    [Attachment(p.name, path=p, title=p.stem) for p in paths],
                    "Evidence graphs",
                )
        if report.proposal is not None and report.proposal.is_change:
            self.post_proposal(channel, thread, report.proposal)
        self.store.claim_once(posted)

    def _render(self, specs: list[GraphSpec], directory: Path) -> list[Path]:
        if not specs or self.render is None:
            return []
        try:
            return self.render(specs, directory)
        except Exception as exc:  # a graph that cannot be drawn is not worth losing the report
            log.warning("graph rendering failed: %s", exc)
            return []

    def post_proposal(self, channel: str, thread: str | None, proposal: Proposal) -> None:
        """The change in the thread: opened with Approve/Reject (auto-draft), else a Draft PR button."""
        opened: Proposal | None = None
        if self.settings.auto_draft and self.workflow is not None:
            try:
                opened = self.workflow.open(self.workflow.submit(proposal, None).id)
            except TugboatError as exc:
                self.chat.post_message(channel, f"Could not open the change: {exc}", thread_ts=thread)
        body = (
            self.layout.proposal(opened, with_buttons=True)
            if opened
            else self.layout.proposal(proposal, with_buttons=False, draft_button=self.workflow is not None)
        )
        self.chat.post_message(channel, f"Proposed change: {self.layout.inert(proposal.title)}", body, thread)
        if len(proposal.diff) > self.layout.long_diff:  # the message shows it cut; attach it whole
            diff = Attachment(f"proposal-{proposal.id}.diff", content=proposal.diff)
            self.chat.upload_files(channel, thread, [diff], "The full diff")

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
        """Stop taking work and queue what is being coalesced (the waits end at once)."""
        self._closing.set()
        self._pool.shutdown(wait=True)
