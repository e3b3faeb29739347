"""The composition root: the one place that builds adapters from Settings and wires use cases.

Commands and servers ask this module for what they need; nothing else constructs adapters.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from requests.adapters import BaseAdapter

from bot.domain.errors import InvalidInput
from bot.domain.proposal import Proposal
from bot.ports.changes import ChangeHost
from bot.ports.chat import ChatNotifier
from bot.ports.gitrepo import GitHistory
from bot.ports.logs import LogSource
from bot.ports.metrics import MetricsSource
from bot.ports.store import Store
from bot.services.investigate import Investigator
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.adapters.jobs.queue import ProcrastinateQueue
    from bot.services.capacity_schedule import CapacityJob
    from bot.services.proposals import ProposalWorkflow
    from bot.services.verify import PostMergeService


def metrics_source(
    settings: Settings, url: str | None = None, transport: BaseAdapter | None = None
) -> MetricsSource | None:
    from bot.adapters.prometheus import PrometheusMetrics

    url = url or settings.prometheus_url
    if not url:
        return None
    return PrometheusMetrics(
        url,
        timeout_s=settings.prometheus_timeout_s,
        headers=settings.prometheus_headers,
        transport=transport,
        budget_s=settings.prometheus_budget_s,
    )


def log_source(
    settings: Settings, logs_file: Path | None = None, loki_url: str | None = None
) -> LogSource | None:
    """A JSON Lines file when given, else Loki when configured, else no logs."""
    if logs_file is not None:
        from bot.adapters.logs import JsonlLogSource

        return JsonlLogSource(logs_file)
    url = loki_url or settings.loki_url
    if url:
        from bot.adapters.logs import LokiLogSource

        return LokiLogSource(url, timeout_s=settings.loki_timeout_s, budget_s=settings.loki_budget_s)
    return None


def git_history(repo: Path | None, settings: Settings | None = None) -> GitHistory | None:
    if repo is None:
        return None
    from bot.adapters.git.history import LocalGitHistory

    return LocalGitHistory(repo, budget_s=settings.git_budget_s) if settings else LocalGitHistory(repo)


def investigator(
    settings: Settings,
    *,
    prometheus_url: str | None = None,
    logs_file: Path | None = None,
    loki_url: str | None = None,
    repo: Path | None = None,
    transport: BaseAdapter | None = None,
) -> Investigator:
    repo = repo or (Path(settings.repo) if settings.repo and Path(settings.repo).is_dir() else None)
    if repo is not None and not repo.is_dir():
        raise InvalidInput(
            f"--repo (or TUGBOAT_REPO) {repo} is not a directory; pass a clone of the GitOps repository"
        )
    return Investigator(
        metrics_source(settings, prometheus_url, transport),
        log_source(settings, logs_file, loki_url),
        git_history(repo, settings),
        repo,
        settings,
    )


def store(settings: Settings, url: str | None = None) -> Store:
    from bot.adapters.store import SqlStore

    return SqlStore.open(url or settings.database_url)


def change_host(settings: Settings, cache_dir: Path, remote: str | None = None) -> ChangeHost:
    """GitHub when a repository and credentials are configured, else plain git on ``repo``."""
    from bot.adapters.git.changehost import PlainGitChangeHost
    from bot.adapters.github.client import github_configured

    if github_configured(settings):  # GitHub wins over a plain remote whenever it is configured
        from bot.adapters.github.host import GitHubChangeHost

        return GitHubChangeHost.from_settings(settings)
    remote = remote or settings.repo
    if not remote:
        raise InvalidInput("no GitOps repository configured: set TUGBOAT_REPO to a path or git URL")
    return PlainGitChangeHost(remote, cache_dir, default_branch=settings.repo_default_branch)


def job_queue(settings: Settings) -> ProcrastinateQueue:
    """The job queue: procrastinate on the store's PostgreSQL database, in memory on SQLite.
    Jobs are registered by the caller, then ``start()`` runs the worker."""
    from bot.adapters.jobs.queue import ProcrastinateQueue

    return ProcrastinateQueue(settings, [])


def workflow(settings: Settings, store: Store, host: ChangeHost) -> ProposalWorkflow:
    from bot.adapters.kubeschema import KubernetesSchema
    from bot.services.proposals import ProposalWorkflow  # imported here: start-up time of `investigate`

    checkout = Path(settings.repo) if settings.repo and Path(settings.repo).is_dir() else None
    if checkout is not None and (checkout / "HEAD").is_file() and (checkout / "objects").is_dir():
        checkout = None  # a bare repository has no files to scan: the scan says it read the diff only
    schema = KubernetesSchema(settings.kubernetes_version)
    return ProposalWorkflow(store, host, settings.policy, repo_path=checkout, schema=schema)


def post_merge(
    settings: Settings,
    store: Store,
    chat: ChatNotifier,
    workflow: ProposalWorkflow,
    repo: Path | None,
    render: Any = None,
) -> PostMergeService | None:
    """The post-merge watch, hooked into ``workflow`` (``on_merged``); None without Prometheus
    or when ``verify_enabled`` is off. ``repo`` is the checkout reverts are computed on."""
    metrics = metrics_source(settings)
    if metrics is None or not settings.verify_enabled:
        return None
    from bot.adapters.gitops_status import GitOpsStatus
    from bot.services.recovery import RecoveryWatcher
    from bot.services.verify import PostMergeService

    gitops = GitOpsStatus(metrics, settings)
    watcher = RecoveryWatcher(metrics, settings, clock=workflow.clock, gitops=gitops)
    history = git_history(repo)
    from bot.adapters.slack.layout import BlockKitLayout

    service = PostMergeService(
        store,
        chat,
        workflow,
        watcher,
        history,
        settings,
        layout=BlockKitLayout(),
        clock=workflow.clock,
        render=render,
        gitops=gitops,
    )
    workflow.on_merged = service.after_merge
    return service


def capacity_check(
    settings: Settings,
    chat: ChatNotifier,
    workflow: ProposalWorkflow,
    repo: Path | None,
    render: Any = None,
) -> CapacityJob | None:
    """The capacity check that ``serve`` runs on ``capacity_cron``: proposals are posted to the
    incident channel with Approve/Reject; None without Prometheus, a checkout, a channel, or a
    schedule."""
    if not (settings.capacity_cron and settings.prometheus_url and repo and settings.slack_channel):
        return None
    from bot.adapters.slack import blocks
    from bot.ports.chat import Attachment
    from bot.services.capacity import finding_text, run_capacity_job

    channel = settings.slack_channel

    def notify(finding: Any, proposal: Proposal) -> None:
        text = finding_text(finding)
        body = [blocks.section(text), *blocks.proposal_blocks(proposal, with_buttons=True)]
        ts = chat.post_message(channel, text, body)
        if render is not None and finding.graph is not None:
            with tempfile.TemporaryDirectory(prefix="tugboat-capacity-") as tmp:
                paths = render([finding.graph], Path(tmp))
                chat.upload_files(channel, ts, [Attachment(filename=p.name, path=p) for p in paths])

    def job(now: datetime) -> Any:
        return run_capacity_job(settings, now, repo_dir=repo, workflow=workflow, notify=notify)

    return job
