"""The ``incident.investigate`` job: investigate an alert group and post what was found, step by
step, in its thread.

The steps are the report, each graph, and the proposal; each has its own done-marker
(``ChatSteps``), so a run cut short (a replica dying, Slack failing) repeats none of them. A
graph whose upload keeps failing is noted in the thread and the proposal still follows. The
investigation reads the data as of the time the alert was received, so a run after a restart,
however late, gives the report the alert would have had.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.domain.alert import AlertGroup
from bot.domain.errors import TugboatError
from bot.domain.graph import GraphSpec
from bot.domain.proposal import Proposal
from bot.domain.report import InvestigationReport
from bot.observability.metrics import INVESTIGATION_SECONDS, INVESTIGATIONS
from bot.ports.chat import Attachment, ChatNotifier, MessageLayout
from bot.ports.store import IncidentRecord, Store
from bot.services import trail
from bot.services.chat_steps import ChatSteps
from bot.services.investigate import Investigation
from bot.services.proposals import ProposalWorkflow
from bot.settings import Settings

log = logging.getLogger(__name__)

InvestigateFn = Callable[[AlertGroup, datetime], Investigation]
RenderFn = Callable[[list[GraphSpec], Path], list[Path]]


def posted_key(key: str, started: str | None) -> str:
    """The done-marker of a firing's whole investigation."""
    return f"investigation-posted:{key}:{started}"


def started_of(record: IncidentRecord) -> str | None:
    return record.started_at.isoformat() if record.started_at else None


class IncidentReports:
    def __init__(
        self,
        store: Store,
        chat: ChatNotifier,
        investigate: InvestigateFn,
        settings: Settings,
        steps: ChatSteps,
        *,
        layout: MessageLayout,
        clock: Callable[[], datetime],
        workflow: ProposalWorkflow | None = None,
        render: RenderFn | None = None,
    ) -> None:
        self.store, self.chat, self.investigate_fn, self.settings = store, chat, investigate, settings
        self.steps, self.layout, self.clock, self.workflow, self.render = (
            steps,
            layout,
            clock,
            workflow,
            render,
        )

    def run(self, key: str, channel: str, thread: str, started: str | None, at: str | None = None) -> None:
        """The job. ``at``: the time the investigation reads the data as of (else now)."""
        record = self.store.get_incident(key)
        if record is None or record.alert is None:
            return
        if started != started_of(record):
            return  # the group fired again since: that firing has its own job
        done = posted_key(key, started)
        if self.store.is_claimed(done):
            return
        group, step = record.alert, f"{key}:{started}"
        as_of = min(datetime.fromisoformat(at), self.clock()) if at else self.clock()
        t0 = time.monotonic()
        try:
            result = self.investigate_fn(group, as_of)
        except Exception as exc:  # the thread says so; the alert itself is already posted
            INVESTIGATIONS.labels(outcome="failed").inc()
            reason = str(exc) if isinstance(exc, TugboatError) else type(exc).__name__
            log.warning("investigation failed for %s: %s", group.title, reason)
            self.steps.post(f"failed:{step}", channel, f"Investigation failed: {reason}", thread_ts=thread)
            self.store.claim_once(done)  # said in the thread; a new firing investigates again
            return
        INVESTIGATIONS.labels(outcome="ok").inc()
        INVESTIGATION_SECONDS.observe(time.monotonic() - t0)
        report = self._report_of_this_firing(record, result.report)
        with tempfile.TemporaryDirectory(prefix="tugboat-graphs-") as tmp:
            paths = self._render(result.graphs, Path(tmp))
            if report is not record.report:  # first run: record it before it is posted
                report = report.model_copy(update={"graphs": [p.name for p in paths]})
                self.store.set_incident_report(key, record.started_at, report)
                trail.investigation_done(self.store, group, report, self.clock())
            self.steps.post(
                f"report:{step}",
                channel,
                self.layout.inert(report.summary),  # maybe the model's words
                self.layout.investigation(report),
                thread,
            )
            for path in paths:  # one step each: one failing upload costs only its own graph
                self.steps.upload(
                    f"graph:{step}:{path.name}",
                    channel,
                    thread,
                    [Attachment(path.name, path=path, title=path.stem)],
                    comment="Evidence graph",
                    failure_note=(
                        f"Evidence graph could not be uploaded: {path.stem} "
                        f"({self.steps.upload_attempts} attempts failed). "
                        "The report above lists its evidence."
                    ),
                )
        if report.proposal is not None and report.proposal.is_change:
            self.post_proposal(channel, thread, report.proposal, step=f"proposal:{step}")
        self.store.claim_once(done)

    def _report_of_this_firing(
        self, record: IncidentRecord, fresh: InvestigationReport
    ) -> InvestigationReport:
        """A run after an interrupted one posts the report that was stored (its proposal is the
        one the thread may already show), not a second one."""
        stored = record.report
        if stored is not None and stored.at == fresh.at and stored.alert_name == fresh.alert_name:
            return stored
        return fresh

    def _render(self, specs: list[GraphSpec], directory: Path) -> list[Path]:
        if not specs or self.render is None:
            return []
        try:
            return self.render(specs, directory)
        except Exception as exc:  # a graph that cannot be drawn is not worth losing the report
            log.warning("graph rendering failed: %s", exc)
            return []

    def post_proposal(
        self, channel: str, thread: str | None, proposal: Proposal, *, step: str | None = None
    ) -> None:
        """The change in the thread: opened with Approve/Reject (auto-draft), else a Draft PR button."""
        step = step or f"proposal:{proposal.id}"
        if self.steps.done(step):
            return
        opened: Proposal | None = None
        if self.settings.auto_draft and self.workflow is not None:
            try:
                existing = self.store.get_proposal(proposal.id)
                opened = existing if existing and existing.head_sha else None
                opened = opened or self.workflow.open(self.workflow.submit(proposal, None).id)
            except TugboatError as exc:
                self.steps.post(
                    f"{step}:refused", channel, f"Could not open the change: {exc}", thread_ts=thread
                )
        body = (
            self.layout.proposal(opened, with_buttons=True)
            if opened
            else self.layout.proposal(proposal, with_buttons=False, draft_button=self.workflow is not None)
        )
        posting = f"{step}:message"
        if not self.steps.done(posting):
            text = f"Proposed change: {self.layout.inert(proposal.title)}"
            ts = self.steps.find_or_post(posting, channel, text, body, thread)
            if opened and self.workflow is not None:  # its buttons: to update when it ends
                self.workflow.posted(opened.id, channel, ts, text, body)
            self.steps.finish(posting)
        if len(proposal.diff) > self.layout.long_diff:  # the message shows it cut; attach it whole
            diff = Attachment(f"proposal-{proposal.id}.diff", content=proposal.diff)
            self.steps.upload(
                f"{step}:diff",
                channel,
                thread,
                [diff],
                comment="The full diff",
                failure_note="The full diff could not be uploaded; the branch has it.",
            )
        self.steps.finish(step)
