"""What ``tugboat serve`` runs: the Slack app, the incident service, the proposal workflow, the
jobs and the HTTP app, built from Settings (the same path in production and in tests).

Each object is built complete, in the order its parts need: the Slack client, chat and store
first; then whoever hears of merges (the Slack reports, the post-merge watch); then the workflow
that tells them; then everything that uses the workflow.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import wiring  # its functions by name, so a test may replace one (e.g. the job queue)
from bot.domain.alert import AlertGroup, now_utc
from bot.domain.errors import InvalidInput
from bot.ports.chat import ChatNotifier
from bot.ports.gitrepo import GitHistory
from bot.ports.jobs import JobQueue, JobSpec
from bot.ports.merges import MergeListener
from bot.ports.store import Store
from bot.services.incidents import IncidentService, InvestigateFn
from bot.services.investigate import Investigation, Investigator
from bot.services.proposal_messages import ProposalMessages
from bot.settings import Settings
from bot.wiring.llm import AssistantPerQuestion

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient
    from starlette.applications import Starlette

    from bot.adapters.http.slack_edge import SlackEdge
    from bot.adapters.jobs.queue import ProcrastinateQueue
    from bot.adapters.slack.deps import SlackDeps
    from bot.adapters.slack.journal import SlackJournal
    from bot.adapters.slack.socket_mode import CheckedSocketModeHandler, SocketIntake
    from bot.services.proposals import ProposalWorkflow

log = logging.getLogger(__name__)
SLACK_WORKERS = 4  # Slack calls, git and decisions; few, so acks keep the interpreter (GIL) to themselves


@dataclass
class Runtime:
    deps: SlackDeps
    bolt: App | None
    http: Starlette
    client: WebClient
    executor: ThreadPoolExecutor
    jobs: ProcrastinateQueue
    edge: SlackEdge | None  # HTTP mode: acknowledged requests it still has to hand to Bolt
    journal: SlackJournal | None = None  # acknowledged requests until their work is done
    socket: SocketIntake | None = None  # with an app token: Socket Mode's envelopes into Bolt
    # Run first on shutdown, e.g. closing the Socket Mode connection so no new work arrives.
    stop_intake: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop taking requests, finish in-flight Slack work and running jobs, then stop."""
        while self.stop_intake:
            self.stop_intake.pop()()
        if self.socket is not None:  # its queued dispatches hand their work to the pool first
            self.socket.close()
        if self.edge is not None:
            self.edge.close()
        _drain(self.executor, self.deps.incidents)
        if self.journal is not None:  # after the drain: the listeners' work marks requests done
            self.journal.close()
        self.jobs.stop()


def socket_mode_handler(runtime: Runtime, settings: Settings) -> CheckedSocketModeHandler:
    """The WebSocket Slack sends Socket Mode requests over, for ``runtime``'s Bolt app."""
    from bot.adapters.slack.socket_mode import CheckedSocketModeHandler

    if runtime.bolt is None or runtime.socket is None or settings.slack_app_token is None:
        raise InvalidInput("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-...)")
    token = settings.slack_app_token.get_secret_value()
    return CheckedSocketModeHandler(runtime.bolt, token, runtime.socket)


def build_runtime(
    settings: Settings,
    *,
    socket_mode: bool = False,
    store: Store | None = None,
    investigate: InvestigateFn | None = None,
    clock: Callable[[], datetime] = now_utc,
) -> Runtime:
    """``clock`` is what chat commands read as now (a test's fixed moment).

    The repository is ``TUGBOAT_REPO`` (any form, see ``wiring.repository``): Tugboat's own
    clone of it under ``data_dir`` is fetched before each investigation, command and merge."""
    from bot.adapters.http.server import create_app
    from bot.adapters.http.slack_edge import QuietGate, SlackEdge
    from bot.adapters.slack.app import build_app, web_client
    from bot.adapters.slack.decisions import SlackDecisions
    from bot.adapters.slack.deps import SlackDeps
    from bot.adapters.slack.journal import SlackJournal
    from bot.adapters.slack.layout import BlockKitLayout
    from bot.adapters.slack.notifier import SlackNotifier, UserGroups
    from bot.adapters.slack.pool import ListenerPool
    from bot.adapters.slack.socket_mode import SocketIntake

    client = web_client(settings)
    journal = _journal(settings, SlackJournal)  # both transports journal what they acknowledge
    chat = SlackNotifier(client)
    store = store or wiring.store(settings)
    clone = wiring.repository(settings)
    checkout = clone.checkout if clone is not None else None
    history = clone.history(settings.git_budget_s) if clone is not None else None

    kinds = wiring.cause_kinds(settings)  # a threshold that does not fit stops the start, not an alert

    def investigator() -> Investigator:
        # Evidence from the last fetched commit beats none when the remote is briefly unreachable.
        repo = clone.checkout(stale_ok=True) if clone else None
        return wiring.investigator(settings, repo=repo, kinds=kinds)

    jobs = wiring.job_queue(settings)
    render = _renderer()
    # Whoever hears of merges is built before the workflow that tells them.
    # Ended proposals' messages lose their buttons (a job); a click's own update says it first.
    messages = ProposalMessages(store, chat, BlockKitLayout(), jobs=jobs)
    decisions = SlackDecisions(chat, store, messages=messages)
    proposals: ProposalWorkflow | None = None
    if clone is not None:
        watch = wiring.merge_watch(settings, store, chat)
        listeners: list[MergeListener] = [decisions, *([watch] if watch else [])]
        proposals = wiring.workflow(
            settings,
            store,
            wiring.change_host(settings),
            repo_path=clone.checkout,
            jobs=jobs,  # merges and PR comments run as jobs
            group_members=UserGroups(client, settings.policy.approver_groups),
            listeners=listeners,
            end_listeners=[messages],
        )
    incidents = IncidentService(
        store,
        chat,
        investigate if investigate is not None else _investigate_with(investigator, settings),
        settings,
        jobs,
        layout=BlockKitLayout(),
        workflow=proposals,
        render=render,
        update_interval_s=settings.slack_update_interval_s,
    )
    deps = SlackDeps(
        settings=settings,
        store=store,
        chat=chat,
        incidents=incidents,
        change_requests=wiring.change_requests(settings, store, proposals, checkout, history, incidents),
        decisions=decisions,
        workflow=proposals,
        assistant=AssistantPerQuestion(settings, investigator),
        workspace=wiring.current_workspace(checkout),
        metrics=wiring.metrics_source(settings),
        clock=clock,
    )
    # Lazy Slack work (decisions, merges, answers) runs here, apart from the ack path.
    executor = ListenerPool(max_workers=SLACK_WORKERS, thread_name_prefix="tugboat-slack")
    try:
        bolt = build_app(deps, client, executor, socket_mode=socket_mode)
    except Exception:
        executor.shutdown(wait=False)
        incidents.close()
        raise
    token = settings.alertmanager_token.get_secret_value() if settings.alertmanager_token else None
    if not token:
        log.warning(
            "the Alertmanager webhook accepts requests from anyone who can reach it: "
            "set TUGBOAT_ALERTMANAGER_TOKEN (docs/operations.md, Request limits)"
        )
    edge = None if socket_mode else SlackEdge(bolt, settings, journal=journal, listeners=executor)
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    # Built with a token even in HTTP mode: it replays what a Socket Mode process left unfinished.
    socket = None
    if app_token:  # acknowledged first, dispatched after a lull as over HTTP (``QuietGate``)
        socket = SocketIntake(
            bolt,
            app_token,
            max_text_chars=settings.slack_max_text_chars,
            journal=journal,
            listeners=executor,
            gate=QuietGate(),
        )
    http = create_app(
        store=store,
        incidents=incidents,
        slack_events=edge,
        alertmanager_token=token,
        alertmanager_max_body=settings.alertmanager_max_body_bytes,
        max_json_depth=settings.http_max_json_depth,
        on_shutdown=lambda: runtime.close(),  # uvicorn's graceful stop
        jobs_running=lambda: jobs.running,
    )
    runtime = Runtime(deps, bolt, http, client, executor, jobs, edge, journal, socket)
    specs = _job_specs(settings, store, chat, incidents, proposals, history, checkout, render, messages, jobs)
    for spec in specs:
        jobs.register(spec)
    jobs.start()
    resumed = incidents.resume()
    if resumed:
        log.info("posting %d stored incident(s) that have no Slack thread yet", resumed)
    _replay(settings, store, journal, edge, socket)
    return runtime


def _replay(
    settings: Settings,
    store: Store,
    journal: SlackJournal,
    edge: SlackEdge | None,
    socket: SocketIntake | None,
) -> None:
    """What killed processes acknowledged and never finished, each through its transport's path
    (before Socket Mode connects: old work first)."""
    from bot.adapters.slack.journal import HTTP, SOCKET_MODE
    from bot.adapters.slack.replay import ReplayPath, replay

    paths: dict[str, ReplayPath] = {}
    if edge is not None:
        paths[HTTP] = edge
    if socket is not None:
        paths[SOCKET_MODE] = socket
    replay(paths, journal, journal.adopt(), settings.slack_replay_max_age_s, store)


def journal_dir(settings: Settings) -> Path:
    """``slack_journal_dir``, or ``slack-journal`` under ``data_dir``."""
    return Path(settings.slack_journal_dir or Path(settings.data_dir) / "slack-journal")


def _journal(settings: Settings, journal: type[SlackJournal]) -> SlackJournal:
    where = journal_dir(settings)
    try:
        return journal(where, settings.slack_journal_max_bytes)
    except OSError as exc:
        raise InvalidInput(
            f"cannot keep the Slack request journal in {where}: {exc.strerror or exc}; "
            "point slack_journal_dir (TUGBOAT_SLACK_JOURNAL_DIR) at a writable directory"
        ) from None


def asgi_app() -> Starlette:
    """For ``uvicorn --factory`` worker processes (``tugboat serve --workers N``): HTTP mode,
    settings from the environment. Processes share the work through the PostgreSQL job queue."""
    from bot.observability.logging import configure_logging

    settings = Settings()
    configure_logging(settings)
    runtime = build_runtime(settings)
    settle_heap()
    return runtime.http


def settle_heap() -> None:
    """Call once the server is built. Everything loaded so far (Bolt, pydantic, langchain,
    matplotlib...) lives for the whole process; frozen, the collector stops rescanning it, which
    took a full collection from ~230 ms to ~4 ms mid-traffic (bench/bench_slack_ack.py) — a pause
    every in-flight acknowledgement would otherwise wait out."""
    gc.collect()
    gc.freeze()


def _drain(executor: ThreadPoolExecutor, incidents: IncidentService) -> None:
    """Slack work first (it may hand work to the incident pool), then the incident pool."""
    executor.shutdown(wait=True)
    incidents.close()


def _job_specs(
    settings: Settings,
    store: Store,
    chat: ChatNotifier,
    incidents: IncidentService,
    proposals: ProposalWorkflow | None,
    history: GitHistory | None,
    checkout: Callable[[], Any] | None,
    render: Any,
    messages: ProposalMessages,
    jobs: JobQueue,
) -> list[JobSpec]:
    """Everything ``serve`` runs in the background, as jobs on the queue (bot/adapters/jobs)."""
    from bot.services.capacity_schedule import capacity_job_spec
    from bot.services.housekeeping import housekeeping_spec

    cron = settings.housekeeping_cron
    specs = [*incidents.job_specs(), housekeeping_spec(store, proposals, cron, messages)]
    # Early warnings, before any alert fires (bot/services/anomaly_watch.py); no repository needed.
    watch = wiring.anomaly_watch(settings, store, chat, render, jobs)
    if watch:
        specs += watch.job_specs()
    if proposals is None:
        return specs
    specs += [*proposals.job_specs(), *messages.job_specs()]
    # The verdicts of the watches the merge watch starts (bot/services/verify.py).
    verdicts = wiring.post_merge(settings, store, chat, proposals, history, render)
    if verdicts:
        specs += verdicts.job_specs()
    # Capacity forecasts ahead of the peak (bot/services/capacity_schedule.py).
    capacity = wiring.capacity_check(settings, chat, proposals, checkout, render)
    if capacity:
        specs.append(capacity_job_spec(capacity, settings.capacity_cron))
    return specs


def _investigate_with(investigator: Callable[[], Investigator], settings: Settings) -> InvestigateFn:
    def run(group: AlertGroup, at: datetime) -> Investigation:
        result = investigator().investigate(group, at)
        if settings.llm_configured:  # the model explains in plain words; causes and proposal stay
            from bot.services.narrate import narrate

            return replace(result, report=narrate(result.report, wiring.assistant(settings)))
        return result

    return run


def _renderer() -> Any:
    from bot.adapters.graphs import render_all  # here: matplotlib is slow to import

    return render_all
