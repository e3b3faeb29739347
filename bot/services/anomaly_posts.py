"""Posting the anomaly watch's warnings: durable, and once across replicas.

A warning is claimed in the store as pending, with what to post (``Store.claim_warning``). Its
post is the ``anomaly.post`` job: the replica running it takes a lease on the warning (no other
replica posts it meanwhile), posts it as a chat step (``notify``, through ``ChatSteps``: a try
after one that may have posted looks for the marked message before posting again), and marks it
posted with an audit event. A failed try gives the lease back and counts; the job is tried again
a few times within seconds, and every later run of the watch queues each warning still pending
again (a job lost with its replica too, or with the in-memory queue on SQLite), until the
cooldown since its claim is over, or an alert fires for its workload: then it is given up,
audited (``anomaly.not_posted``). A replica that dies holding the lease holds it LEASE_S.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.domain.alert import now_utc
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.errors import TugboatError
from bot.ports.jobs import JobQueue, JobSpec
from bot.ports.store import PendingWarning, Store
from bot.services.anomaly_warning import AnomalyWarning

log = logging.getLogger(__name__)

POST_JOB = "anomaly.post"
ACTOR = "tugboat:anomaly"
LEASE_S = 600.0  # longer than any one try (Slack's timeouts and rate-limit waits)
JOB_RETRIES = 2  # a failed post is tried again after 2 s and 4 s, then at the next run

# ``notify(warning, step)`` posts ``warning`` once as the chat step ``step`` (the composition
# root's Slack post); it raises TugboatError when the post failed.
Notify = Callable[[AnomalyWarning, str], None]
Alerting = Callable[[str, str], bool]  # (namespace, workload): an alert about it is firing


class PostFailed(TugboatError):
    """A warning's post failed this time; it stays pending and is tried again."""


class WarningPosts:
    def __init__(
        self,
        store: Store,
        notify: Notify,
        *,
        jobs: JobQueue | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """Without ``jobs`` a warning is posted at once, in the run that claimed it."""
        self.store, self.notify, self.jobs, self.clock = store, notify, jobs, clock

    def job_specs(self) -> list[JobSpec]:
        return [JobSpec(POST_JOB, self._job, retries=JOB_RETRIES, retry_on=(PostFailed,))]

    def post_later(self, series_key: str, warned_at: datetime) -> str | None:
        """Queue the post of a pending warning (post it now without a queue). Without a queue,
        why it failed, else None. One already queued is not queued twice."""
        if self.jobs is None:
            return self.post(series_key, warned_at)
        self.jobs.defer(
            POST_JOB,
            {"series_key": series_key, "warned_at": warned_at.isoformat()},
            lock=f"anomaly:{series_key}",
            queueing_lock=f"anomaly-post:{series_key}",
        )
        return None

    def resume(self, at: datetime, cooldown_s: float, alerting: Alerting) -> list[str]:
        """At the run scheduled for ``at``: give up the pending warnings claimed ``cooldown_s`` or
        more before it, and those whose workload an alert fires for now; queue the others'
        posts again. What was given up, and why, for people."""
        notes = []
        for pending in self.store.pending_warnings():
            warning = AnomalyWarning.from_post(pending.post)
            why = None
            if (at - pending.warned_at).total_seconds() >= cooldown_s:
                why = "its post kept failing until the cooldown was over"
            elif alerting(warning.namespace, warning.workload):
                why = "an alert fires for it now"
            if why is None:
                self.post_later(pending.series_key, pending.warned_at)
            elif self._give_up(pending, warning, why):
                notes.append(f"{warning.described}: not posted, {why}")
        return notes

    def post(self, series_key: str, warned_at: datetime) -> str | None:
        """Post the warning claimed at ``warned_at``, unless it is no longer pending or another
        replica is posting it. None when done (or not this replica's to do), else why it failed."""
        taken = self.store.take_warning(series_key, warned_at, self.clock(), LEASE_S)
        if taken is None:
            return None
        warning = AnomalyWarning.from_post(taken.post)
        step = f"anomaly:{series_key}:{warned_at.isoformat()}"
        try:
            self.notify(warning, step)
        except TugboatError as exc:
            self.store.release_warning(taken)
            log.warning(
                "early warning for %s not posted (try %d): %s", warning.described, taken.tries + 1, exc
            )
            return str(exc)
        self.store.finish_warning(taken, self._event(AuditKind.ANOMALY_POSTED, taken, warning))
        return None

    def _job(self, series_key: str, warned_at: str) -> None:
        failed = self.post(series_key, datetime.fromisoformat(warned_at))
        if failed is not None:
            raise PostFailed(failed)

    def _give_up(self, pending: PendingWarning, warning: AnomalyWarning, why: str) -> bool:
        taken = self.store.take_warning(pending.series_key, pending.warned_at, self.clock(), LEASE_S)
        if taken is None:  # posted meanwhile, or being posted
            return False
        event = self._event(AuditKind.ANOMALY_NOT_POSTED, taken, warning, why=why)
        if self.store.finish_warning(taken, event):
            log.warning("early warning for %s given up: %s", warning.described, why)
            return True
        return False

    def _event(
        self, kind: AuditKind, taken: PendingWarning, warning: AnomalyWarning, **extra: str
    ) -> AuditEvent:
        data = {
            "workload": warning.workload,
            "namespace": warning.namespace,
            "metric": warning.measure.words,
            "warned_at": taken.warned_at.isoformat(),
            "failed_tries": taken.tries,
            **extra,
        }
        return AuditEvent(at=self.clock(), kind=kind.value, actor=ACTOR, data=data)
