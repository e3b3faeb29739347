"""Where changes go: the change host (GitHub or plain git), the proposal workflow, the
post-merge watch, the capacity check and chat change requests."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.domain.alert import now_utc
from bot.domain.errors import InvalidInput
from bot.domain.proposal import Proposal
from bot.ports.changes import ChangeHost
from bot.ports.chat import ChatNotifier
from bot.ports.gitops import GitOpsSync
from bot.ports.gitrepo import GitHistory
from bot.ports.jobs import JobQueue
from bot.ports.merges import EndListener, MergeListener
from bot.ports.metrics import MetricsSource
from bot.ports.store import Store
from bot.settings import Settings
from bot.wiring.repository import repository
from bot.wiring.sources import metrics_source
from bot.wiring.workspace import changes_classifier, current_workspace

if TYPE_CHECKING:
    from bot.services.capacity_schedule import CapacityJob
    from bot.services.change_requests import ChangeRequests, KnownProposals
    from bot.services.merge_watch import MergeWatch
    from bot.services.proposals import ProposalWorkflow
    from bot.services.verify import PostMergeService


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


def workflow(
    settings: Settings,
    store: Store,
    host: ChangeHost,
    repo_path: Path | Callable[[], Path] | None = None,
    *,
    jobs: JobQueue | None = None,
    group_members: Callable[[], Collection[str]] = lambda: (),
    listeners: Sequence[MergeListener] = (),
    end_listeners: Sequence[EndListener] = (),
    clock: Callable[[], datetime] = now_utc,
) -> ProposalWorkflow:
    """``repo_path`` is the checkout the policy scan reads (``WorkingClone.checkout`` fetches it
    for each scan); without one the scan reads the diff only and says so. With ``jobs`` merges
    run as jobs; ``listeners`` hear of merges (``merge_watch``, the chat tool's reports) and
    ``end_listeners`` of every proposal that ends (its message to update)."""
    from bot.adapters.git.patch import apply_diff
    from bot.adapters.kubeschema import KubernetesSchema
    from bot.services.proposals import ProposalWorkflow  # imported here: start-up time of `investigate`

    schema = KubernetesSchema(settings.kubernetes_version)
    return ProposalWorkflow(
        store,
        host,
        settings.policy,
        clock=clock,
        group_members=group_members,
        repo_path=repo_path,
        schema=schema,
        apply_diff=apply_diff,
        jobs=jobs,
        listeners=listeners,
        end_listeners=end_listeners,
    )


def merge_watch(
    settings: Settings, store: Store, chat: ChatNotifier, clock: Callable[[], datetime] = now_utc
) -> MergeWatch | None:
    """What announces each merge in its incident's thread and starts the post-merge watch: a
    listener for ``workflow``. None without Prometheus or when ``verify_enabled`` is off."""
    metrics = _verify_metrics(settings)
    if metrics is None:
        return None
    from bot.adapters.slack.layout import BlockKitLayout
    from bot.services.merge_watch import MergeWatch

    return MergeWatch(store, chat, BlockKitLayout(), settings, clock=clock, gitops=_gitops(metrics, settings))


def post_merge(
    settings: Settings,
    store: Store,
    chat: ChatNotifier,
    workflow: ProposalWorkflow,
    history: GitHistory | None,
    render: Any = None,
) -> PostMergeService | None:
    """The verdicts of the watches ``merge_watch`` starts (a job), with reverts opened through
    ``workflow``; None without Prometheus or when ``verify_enabled`` is off. ``history`` is what
    reverts are computed on (it must see the merge: ``WorkingClone.history`` fetches first)."""
    metrics = _verify_metrics(settings)
    if metrics is None:
        return None
    from bot.adapters.slack.layout import BlockKitLayout
    from bot.services.recovery import RecoveryWatcher
    from bot.services.verify import PostMergeService

    gitops = _gitops(metrics, settings)
    watcher = RecoveryWatcher(metrics, settings, clock=workflow.clock, gitops=gitops)
    return PostMergeService(
        store,
        chat,
        workflow,
        watcher,
        history,
        settings,
        layout=BlockKitLayout(),
        clock=workflow.clock,
        render=render,
    )


def _verify_metrics(settings: Settings) -> MetricsSource | None:
    return metrics_source(settings) if settings.verify_enabled else None


def _gitops(metrics: MetricsSource, settings: Settings) -> GitOpsSync:
    from bot.adapters.gitops_status import GitOpsStatus

    return GitOpsStatus(metrics, settings)


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
        workflow.posted(proposal.id, channel, ts, text, body)
        if render is not None and finding.graph is not None:
            with tempfile.TemporaryDirectory(prefix="tugboat-capacity-") as tmp:
                paths = render([finding.graph], Path(tmp))
                chat.upload_files(channel, ts, [Attachment(filename=p.name, path=p) for p in paths])

    opened = current_workspace(checkout)

    def job(now: datetime) -> Any:
        return run_capacity_job(
            settings, now, workspace=opened, metrics=metrics, workflow=workflow, notify=notify
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
    from bot.services.change_requests import ChangeRequests

    return ChangeRequests(
        settings.policy,
        store,
        workflow,
        workspace=current_workspace(checkout),
        history=history,
        changed_workloads=changes_classifier(),
        reports=reports,
    )
