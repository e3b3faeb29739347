"""Manual changes asked for in Slack, drafted through the same path as investigated fixes:
``ManifestRepo.plan`` (or the git history for a rollback), then ``ProposalWorkflow.submit``+``open``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.adapters.slack.deps import SlackDeps
from bot.domain.approval import Decision
from bot.domain.errors import InvalidInput
from bot.domain.policy import required_approvals
from bot.domain.proposal import Action, Proposal, ProposalState
from bot.services.proposals import ProposalWorkflow

ROLLBACK_LOOKBACK = timedelta(days=30)


def _workflow(deps: SlackDeps) -> ProposalWorkflow:
    if deps.workflow is None:
        raise InvalidInput("no GitOps repository is configured: set TUGBOAT_REPO to enable changes")
    return deps.workflow


def _repo(deps: SlackDeps) -> Path:
    if deps.checkout is None:
        raise InvalidInput("no GitOps repository is configured: set TUGBOAT_REPO to enable changes")
    return deps.checkout()


def _open(deps: SlackDeps, proposal: Proposal, user: str) -> Proposal:
    workflow = _workflow(deps)
    return workflow.open(workflow.submit(proposal, requested_by=user).id, actor=user)


def _planned(
    deps: SlackDeps, workload: str, field: str, value: Any, action: Action, user: str, what: str
) -> Proposal:
    from bot.adapters.manifests.workspace import ManifestRepo

    repo = ManifestRepo(_repo(deps))
    found = repo.find(workload)
    planned = repo.plan(found, field, value)
    if not planned.diff.strip():
        raise InvalidInput(f"{found.resource} already has {what}; nothing to change")
    proposal = Proposal(
        action=action,
        service=found.name,
        namespace=found.namespace,
        changes=planned.changes,
        diff=planned.diff,
        title=f"{what} for {found.name}",
        rationale=f"requested in Slack by <@{user}>. " + " ".join(planned.notes),
        created_at=deps.clock(),
    )
    return _open(deps, proposal, user)


def scale(deps: SlackDeps, workload: str, replicas: int, user: str) -> Proposal:
    limit = deps.settings.policy.max_replicas
    if replicas > limit:
        raise InvalidInput(
            f"{replicas} replicas is above the policy's maximum of {limit} (policy.max_replicas)"
        )
    return _planned(deps, workload, "replicas", replicas, Action.SCALE, user, f"{replicas} replicas")


def limits(deps: SlackDeps, workload: str, resource: str, value: str, user: str) -> Proposal:
    from bot.domain.quantity import format_cpu, format_memory, parse_cpu, parse_memory

    policy = deps.settings.policy
    if resource == "cpu":
        cores = parse_cpu(value)
        if not 0 < cores <= policy.max_cpu_cores:
            raise InvalidInput(f"a CPU limit must be above 0 and at most {policy.max_cpu_cores} cores")
        return _planned(
            deps, workload, "cpu", cores, Action.SET_CPU_LIMIT, user, f"CPU limit {format_cpu(cores)}"
        )
    size = parse_memory(value)
    if not 0 < size <= policy.max_memory_bytes:
        raise InvalidInput(
            f"a memory limit must be above 0 and at most {format_memory(policy.max_memory_bytes)}"
        )
    what = f"memory limit {format_memory(size)}"
    return _planned(deps, workload, "memory", size, Action.SET_MEMORY_LIMIT, user, what)


def rollback(deps: SlackDeps, workload: str, user: str) -> Proposal:
    """Revert the newest commit that touched ``workload``, as the changes classifier sees it."""
    from bot.adapters.git.changes import describe
    from bot.adapters.manifests.workspace import ManifestRepo

    if deps.history is None:
        raise InvalidInput("no git history: set TUGBOAT_REPO to the GitOps repository")
    names = sorted({w.name for w in ManifestRepo(_repo(deps)).workloads()} | {workload})
    now = deps.clock()
    for commit in deps.history.commits(now - ROLLBACK_LOOKBACK, now):
        if commit.is_merge or not any(c.workload == workload for c in describe(commit, names)):
            continue
        diff = deps.history.revert_diff(commit.sha)
        proposal = Proposal(
            action=Action.REVERT,
            service=workload,
            commit=commit.sha,
            diff=diff,
            title=f"revert {commit.sha[:8]} ({commit.subject}) for {workload}",
            rationale=f"rollback requested in Slack by <@{user}>",
            created_at=now,
        )
        return _open(deps, proposal, user)
    raise InvalidInput(f"no commit in the last {ROLLBACK_LOOKBACK.days} days changed {workload}")


def open_proposals(deps: SlackDeps) -> list[tuple[Proposal, int, list[str]]]:
    """Each open proposal with the approvals it needs and the people who approved its head."""
    workflow = _workflow(deps)
    rows = []
    for p in deps.store.list_proposals([ProposalState.OPEN]):
        approvers = [
            a.user_id
            for a in deps.store.approvals(p.id)
            if a.decision is Decision.APPROVE and a.head_sha == p.head_sha
        ]
        rows.append((p, required_approvals(p, workflow.policy), approvers))
    return rows
