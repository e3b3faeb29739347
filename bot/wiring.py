"""The composition root: the one place that builds adapters from Settings and wires use cases.

Commands and servers ask this module for what they need; nothing else constructs adapters.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
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
    from bot.adapters.git.source import GitAuth
    from bot.adapters.git.workclone import WorkingClone
    from bot.adapters.jobs.queue import ProcrastinateQueue
    from bot.adapters.store import SqlStore
    from bot.services.capacity_schedule import CapacityJob
    from bot.services.change_requests import ChangeRequests, KnownProposals
    from bot.services.doctor import Check
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


def git_auth(settings: Settings) -> GitAuth:
    """Credentials for the GitOps remote: GitHub's token or App installation token for HTTPS,
    the SSH key file for SSH. They reach git through its environment only."""
    from urllib.parse import urlsplit

    from bot.adapters.git.source import GitAuth
    from bot.adapters.github.client import github_auth, github_client

    password = None
    token = settings.github_token.get_secret_value() if settings.github_token else ""
    if token or settings.github_app_id is not None:
        auth = github_auth(settings)
        github_client(settings, auth=auth)  # an App's installation token is minted through it
        password = lambda: str(auth.token)  # noqa: E731  (read per command: App tokens expire)
    api_host = urlsplit(settings.github_api_url).hostname or ""
    # api.github.com serves github.com; GitHub Enterprise Server serves its API on its own host.
    hosts = {"github.com", api_host} if api_host == "api.github.com" else {api_host}
    return GitAuth(
        password=password,
        hosts=frozenset(hosts),
        ssh_key_file=settings.repo_ssh_key_file,
        ssh_known_hosts_file=settings.repo_ssh_known_hosts_file,
    )


def repository(settings: Settings, repo: str | Path | None = None) -> WorkingClone | None:
    """Tugboat's own working clone of the GitOps repository that ``repo`` names (default
    ``TUGBOAT_REPO``): a URL, a bare repository or a clone, all by one rule
    (``bot.adapters.git.source.resolve_source``); without one, ``github_repo`` on GitHub's host.
    None when no repository is configured."""
    from bot.adapters.git.source import auth_env, resolve_source
    from bot.adapters.git.workclone import WorkingClone

    value = _repo_setting(settings, repo)
    if not value:
        return None
    source = resolve_source(value)
    env = auth_env(git_auth(settings), source)
    return WorkingClone(source, Path(settings.data_dir), settings.repo_default_branch, env=env)


def _repo_setting(settings: Settings, repo: str | Path | None) -> str | None:
    """What names the repository: ``repo`` (a command's --repo), else ``TUGBOAT_REPO``, else
    ``https://github.com/<github_repo>.git`` (or the GitHub Enterprise Server host)."""
    from urllib.parse import urlsplit

    if repo is not None:
        return str(repo)
    if settings.repo or not settings.github_repo:
        return settings.repo
    host = urlsplit(settings.github_api_url).hostname or "api.github.com"
    return f"https://{'github.com' if host == 'api.github.com' else host}/{settings.github_repo}.git"


def checkout(settings: Settings, repo: str | Path | None = None, *, as_on_disk: bool = False) -> Path | None:
    """A directory holding the default branch's newest commit, fetched now; None without a
    repository. A directory that is not a git repository is read as it is on disk, and with
    ``as_on_disk`` so is a clone's work tree (``tugboat manifest`` plans edits of your files)."""
    from bot.adapters.git.source import plain_directory, work_tree

    value = _repo_setting(settings, repo)
    plain = plain_directory(value) if value else None
    if as_on_disk and value and plain is None:
        plain = work_tree(value)
    if plain is not None:
        return plain
    clone = repository(settings, repo)
    return clone.checkout() if clone is not None else None


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
    recording: Path | None = None,
) -> Investigator:
    """``repo`` is a checkout (from ``checkout``); without it, ``TUGBOAT_REPO`` is fetched now.
    ``recording`` replays recorded Prometheus answers instead of asking one (the demo)."""
    if recording is not None:
        from bot.adapters.prometheus.recording import ReplayAdapter

        transport = ReplayAdapter.load(recording)
    repo = repo or checkout(settings)
    return Investigator(
        metrics_source(settings, prometheus_url, transport),
        log_source(settings, logs_file, loki_url),
        git_history(repo, settings),
        repo,
        settings,
    )


def store(settings: Settings, url: str | None = None, *, must_exist: bool = False) -> SqlStore:
    """The configured store; with ``must_exist`` a SQLite file that does not exist yet is an
    error, not a new file (``tugboat audit`` reads the bot's database)."""
    from bot.adapters.store import SqlStore
    from bot.adapters.store.engine import parse_url

    url = url or settings.database_url
    parsed = parse_url(url)
    if must_exist and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not path.is_file():
            raise InvalidInput(
                f"no Tugboat database at {path.resolve()}; point database_url (TUGBOAT_DATABASE_URL "
                "or --database-url) at the bot's database"
            )
    return SqlStore.open(url)


def change_host(settings: Settings, *, remote: str | None = None) -> ChangeHost:
    """GitHub when a repository and credentials are configured, else plain git on the remote
    that ``remote`` (default ``TUGBOAT_REPO``) names, by the same rule as ``repository``."""
    from bot.adapters.git.changehost import PlainGitChangeHost
    from bot.adapters.github.client import github_configured

    if github_configured(settings):  # GitHub wins over a plain remote whenever it is configured
        from bot.adapters.github.host import GitHubChangeHost

        return GitHubChangeHost.from_settings(settings)
    clone = repository(settings, remote)
    if clone is None:
        raise InvalidInput("no GitOps repository configured: set TUGBOAT_REPO to a git URL or a repository")
    return PlainGitChangeHost(
        clone.source.url,
        clone.data_dir,
        default_branch=settings.repo_default_branch,
        merge_attempts=settings.repo_push_attempts,
        source=clone.source,
        env=clone.env,
    )


def job_queue(settings: Settings) -> ProcrastinateQueue:
    """The job queue: procrastinate on the store's PostgreSQL database, in memory on SQLite.
    Jobs are registered by the caller, then ``start()`` runs the worker."""
    from bot.adapters.jobs.queue import ProcrastinateQueue

    return ProcrastinateQueue(settings, [])


def workflow(
    settings: Settings,
    store: Store,
    host: ChangeHost,
    repo_path: Path | Callable[[], Path] | None = None,
) -> ProposalWorkflow:
    """``repo_path`` is the checkout the policy scan reads (``WorkingClone.checkout`` fetches it
    for each scan); without one the scan reads the diff only and says so."""
    from bot.adapters.kubeschema import KubernetesSchema
    from bot.services.proposals import ProposalWorkflow  # imported here: start-up time of `investigate`

    schema = KubernetesSchema(settings.kubernetes_version)
    return ProposalWorkflow(store, host, settings.policy, repo_path=repo_path, schema=schema)


def post_merge(
    settings: Settings,
    store: Store,
    chat: ChatNotifier,
    workflow: ProposalWorkflow,
    history: GitHistory | None,
    render: Any = None,
) -> PostMergeService | None:
    """The post-merge watch, hooked into ``workflow`` (``on_merged``); None without Prometheus
    or when ``verify_enabled`` is off. ``history`` is what reverts are computed on (it must
    see the merge: ``WorkingClone.history`` fetches first)."""
    metrics = metrics_source(settings)
    if metrics is None or not settings.verify_enabled:
        return None
    from bot.adapters.gitops_status import GitOpsStatus
    from bot.services.recovery import RecoveryWatcher
    from bot.services.verify import PostMergeService

    gitops = GitOpsStatus(metrics, settings)
    watcher = RecoveryWatcher(metrics, settings, clock=workflow.clock, gitops=gitops)
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
    checkout: Callable[[], Path] | None,
    render: Any = None,
) -> CapacityJob | None:
    """The capacity check that ``serve`` runs on ``capacity_cron``: proposals are posted to the
    incident channel with Approve/Reject; None without Prometheus, a repository (``checkout``
    fetches it), a channel, or a schedule."""
    if not (settings.capacity_cron and settings.prometheus_url and checkout and settings.slack_channel):
        return None
    from bot.adapters.slack import blocks
    from bot.adapters.slack.replies import finding_text
    from bot.ports.chat import Attachment
    from bot.services.capacity import run_capacity_job

    channel = settings.slack_channel
    metrics = metrics_source(settings)

    def notify(finding: Any, proposal: Proposal) -> None:
        text = finding_text(finding)
        body = [blocks.section(text), *blocks.proposal_blocks(proposal, with_buttons=True)]
        ts = chat.post_message(channel, text, body)
        if render is not None and finding.graph is not None:
            with tempfile.TemporaryDirectory(prefix="tugboat-capacity-") as tmp:
                paths = render([finding.graph], Path(tmp))
                chat.upload_files(channel, ts, [Attachment(filename=p.name, path=p) for p in paths])

    def job(now: datetime) -> Any:
        return run_capacity_job(
            settings, now, repo_dir=checkout(), metrics=metrics, workflow=workflow, notify=notify
        )

    return job


def change_requests(
    settings: Settings,
    store: Store,
    workflow: ProposalWorkflow | None,
    checkout: Callable[[], Path] | None,
    history: GitHistory | None,
    reports: KnownProposals | None,
) -> ChangeRequests:
    """Scale, limits, rollback and drafts asked for in chat; ``checkout`` fetches the GitOps
    repository's newest commit, whose manifests each request is planned on."""
    from bot.adapters.git.changes import describe
    from bot.adapters.manifests.workspace import ManifestRepo
    from bot.services.change_requests import ChangeRequests

    return ChangeRequests(
        settings.policy,
        store,
        workflow,
        workspace=(lambda: ManifestRepo(checkout())) if checkout is not None else None,
        history=history,
        changed_workloads=describe,
        reports=reports,
    )


def doctor_checks() -> dict[str, Check]:
    """The probes ``tugboat doctor`` runs, by the name it shows, with the adapters they test
    built here (bot/adapters/doctor)."""
    from functools import partial

    from bot.adapters.doctor.hosted import check_github, check_slack
    from bot.adapters.doctor.infra import (
        check_database,
        check_git,
        check_jobs,
        check_llm,
        check_loki,
        check_prometheus,
    )

    return {
        "Slack": check_slack,
        "GitHub": check_github,
        "Prometheus": partial(check_prometheus, source=metrics_source),
        "Loki": check_loki,
        "LLM": check_llm,
        "Database": check_database,
        "Job queue": check_jobs,
        "Git remote": partial(check_git, repository=repository),
    }
