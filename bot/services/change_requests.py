"""Changes people ask for in chat: ``scale``, ``limits``, ``rollback``, the draft of an
investigated fix, and the list of open proposals.

Each request is bounded by the approval policy (``policy.max_replicas``, ``max_cpu_cores``,
``max_memory_bytes``), planned on the GitOps repository's newest commit (or, for a rollback, on
its history) and opened for approval through ``ProposalWorkflow.submit`` + ``open``, exactly as
investigated fixes are. Refusals are ``TugboatError``s phrased for the asker; results are data
(``ChangeRequest``, ``OpenProposal``) that the chat adapter renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.domain.alert import now_utc
from bot.domain.approval import Decision
from bot.domain.errors import ConflictError, InvalidInput
from bot.domain.policy import required_approvals
from bot.domain.proposal import STATE_TEXT, Action, Proposal, ProposalState, new_proposal_id
from bot.domain.quantity import format_cpu, format_memory, parse_cpu, parse_memory
from bot.ports.chat import ReplyTarget
from bot.ports.gitrepo import Commit, GitHistory, WorkloadChange
from bot.ports.store import Store
from bot.ports.workspace import CurrentWorkspace, ManifestWorkspace
from bot.services.proposals import Outcome, ProposalWorkflow
from bot.settings import ApprovalPolicy

ROLLBACK_LOOKBACK = timedelta(days=30)
NO_REPOSITORY = "no GitOps repository is configured: set TUGBOAT_REPO to enable changes"


# The changes classifier: the workloads (of those named) a commit touched.
ChangedWorkloads = Callable[[Commit, list[str]], list[WorkloadChange]]


class KnownProposals(Protocol):
    """Proposals offered in investigation reports but not drafted yet (``IncidentService``)."""

    def proposal_from_reports(self, proposal_id: str) -> Proposal | None: ...


@dataclass(frozen=True)
class ChangeRequest:
    """A change opened for approval, and who asked for it (who may therefore not approve it)."""

    proposal: Proposal
    requested_by: str


@dataclass(frozen=True)
class OpenProposal:
    """An open proposal, the approvals it needs, and the people who approved its head commit."""

    proposal: Proposal
    needed: int
    approvers: list[str]


@dataclass(frozen=True)
class Status:
    proposals: list[OpenProposal]
    approvers: list[str]  # who may approve, by the policy
    approver_groups: list[str]


class ChangeRequests:
    def __init__(
        self,
        policy: ApprovalPolicy,
        store: Store,
        workflow: ProposalWorkflow | None,
        *,
        workspace: CurrentWorkspace | None = None,
        history: GitHistory | None = None,
        changed_workloads: ChangedWorkloads | None = None,
        reports: KnownProposals | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """``workspace`` opens the manifests at the repository's newest commit (fetched per call);
        ``history`` and ``changed_workloads`` find the commit a rollback reverts."""
        self.policy, self.store, self._workflow = policy, store, workflow
        self._workspace, self.history, self.changed_workloads = workspace, history, changed_workloads
        self.reports, self.clock = reports, clock

    @property
    def workflow(self) -> ProposalWorkflow:
        """The proposal workflow, or the refusal when no GitOps repository is configured."""
        if self._workflow is None:
            raise InvalidInput(NO_REPOSITORY)
        return self._workflow

    def require_repository(self) -> None:
        """Refuse at once when no GitOps repository is configured (before a click is claimed)."""
        if self._workflow is None:
            raise InvalidInput(NO_REPOSITORY)

    def workspace(self) -> ManifestWorkspace:
        if self._workspace is None:
            raise InvalidInput(NO_REPOSITORY)
        return self._workspace()

    # -- manual changes ------------------------------------------------------------------
    def scale(self, workload: str, replicas: int, user: str, request: str = "") -> ChangeRequest:
        """``request`` names the asking (one Slack command, say): asked again, the same proposal
        is opened, not a second one. The same for ``limits`` and ``rollback``."""
        limit = self.policy.max_replicas
        if replicas < 0:
            raise InvalidInput(f"replicas must be a whole number, got {replicas}")
        if replicas > limit:
            raise InvalidInput(
                f"{replicas} replicas is above the policy's maximum of {limit} (policy.max_replicas)"
            )
        what = f"{replicas} replicas"
        return self._planned(workload, "replicas", replicas, Action.SCALE, user, what, request)

    def limits(self, workload: str, resource: str, value: str, user: str, request: str = "") -> ChangeRequest:
        """``resource`` is ``cpu`` or ``memory``; ``value`` a Kubernetes quantity (``500m``, ``1Gi``)."""
        if resource == "cpu":
            cores = parse_cpu(value)
            if not 0 < cores <= self.policy.max_cpu_cores:
                raise InvalidInput(
                    f"a CPU limit must be above 0 and at most {self.policy.max_cpu_cores} cores"
                )
            what = f"CPU limit {format_cpu(cores)}"
            return self._planned(workload, "cpu", cores, Action.SET_CPU_LIMIT, user, what, request)
        if resource != "memory":
            raise InvalidInput(f"say cpu or memory, got {resource!r}")
        size = parse_memory(value)
        if not 0 < size <= self.policy.max_memory_bytes:
            raise InvalidInput(
                f"a memory limit must be above 0 and at most {format_memory(self.policy.max_memory_bytes)}"
            )
        what = f"memory limit {format_memory(size)}"
        return self._planned(workload, "memory", size, Action.SET_MEMORY_LIMIT, user, what, request)

    def rollback(self, workload: str, user: str, request: str = "") -> ChangeRequest:
        """Revert the newest commit that touched ``workload``, as the changes classifier sees it."""
        if self.history is None or self.changed_workloads is None:
            raise InvalidInput("no git history: set TUGBOAT_REPO to the GitOps repository")
        names = sorted({w.name for w in self.workspace().workloads()} | {workload})
        now = self.clock()
        for commit in self.history.commits(now - ROLLBACK_LOOKBACK, now):
            touched = self.changed_workloads(commit, names)
            if commit.is_merge or not any(c.workload == workload for c in touched):
                continue
            proposal = Proposal(
                id=_proposal_id(request),
                action=Action.REVERT,
                service=workload,
                commit=commit.sha,
                diff=self.history.revert_diff(commit.sha),
                title=f"revert {commit.sha[:8]} ({commit.subject}) for {workload}",
                rationale=f"rollback requested in Slack by <@{user}>",
                created_at=now,
            )
            return self._open(proposal, user, request)
        raise InvalidInput(f"no commit in the last {ROLLBACK_LOOKBACK.days} days changed {workload}")

    # -- investigated fixes ----------------------------------------------------------------
    def draft(self, proposal_id: str, user: str) -> ChangeRequest:
        """Open the fix an investigation report offered. Drafted once, even when clicked twice
        on two replicas; a proposal recorded but not opened (its host was down) is opened now."""
        workflow = self.workflow
        existing = self.store.get_proposal(proposal_id)
        if existing is None:
            if not self.store.claim_once(f"draft:{proposal_id}"):
                raise ConflictError("this change is already being drafted")
            offered = self.reports.proposal_from_reports(proposal_id) if self.reports else None
            if offered is None:
                raise InvalidInput("this proposal is no longer known; investigate again")
            existing = workflow.submit(offered, requested_by=user)
        elif existing.state is not ProposalState.DRAFT:
            raise ConflictError(f"this change is already {STATE_TEXT[existing.state]}")
        who = existing.requested_by or user
        return ChangeRequest(workflow.open(existing.id, actor=who), requested_by=who)

    # -- decisions: the workflow checks the approver policy and audits every refusal ----------
    def approve(
        self, proposal_id: str, user: str, shown_head: str | None, reply_to: ReplyTarget | None = None
    ) -> Outcome:
        """``user`` approves the commit they were shown; a queued merge reports to ``reply_to``."""
        return self.workflow.decide(
            proposal_id, user, Decision.APPROVE, reply_to=reply_to, shown_head=shown_head
        )

    def why_not_reject(self, proposal_id: str, user: str) -> str | None:
        """Why ``user`` may not reject the proposal (audited), or None: asked before a form
        asks them for the reason."""
        return self.workflow.refusal(proposal_id, user, Decision.REJECT)

    def reject(self, proposal_id: str, user: str, reason: str) -> Outcome:
        return self.workflow.decide(proposal_id, user, Decision.REJECT, reason.strip())

    # -- what is waiting -------------------------------------------------------------------
    def status(self) -> Status:
        workflow = self.workflow
        rows = [
            OpenProposal(p, required_approvals(p, workflow.policy), sorted(workflow.approvers_at_head(p)))
            for p in self.store.list_proposals([ProposalState.OPEN])
        ]
        return Status(rows, list(workflow.policy.approvers), list(workflow.policy.approver_groups))

    # -- the shared path -------------------------------------------------------------------
    def _planned(
        self, workload: str, field: str, value: Any, action: Action, user: str, what: str, request: str
    ) -> ChangeRequest:
        repo = self.workspace()
        found = repo.find(workload)
        planned = repo.plan(found, field, value)
        if not planned.diff.strip():
            raise InvalidInput(f"{found.resource} already has {what}; nothing to change")
        proposal = Proposal(
            id=_proposal_id(request),
            action=action,
            service=found.name,
            namespace=found.namespace,
            changes=planned.changes,
            diff=planned.diff,
            title=f"{what} for {found.name}",
            rationale=f"requested in Slack by <@{user}>. " + " ".join(planned.notes),
            created_at=self.clock(),
        )
        return self._open(proposal, user, request)

    def _open(self, proposal: Proposal, user: str, request: str = "") -> ChangeRequest:
        workflow = self.workflow
        # Asked again (a replayed command): what the first asking recorded is opened, if need be.
        known = self.store.get_proposal(proposal.id) if request else None
        submitted = known if known is not None else workflow.submit(proposal, requested_by=user)
        opened = workflow.open(submitted.id, actor=user)
        return ChangeRequest(opened, requested_by=user)


def _proposal_id(request: str) -> str:
    """A proposal id drawn from ``request`` (hex, like generated ids), or a fresh one."""
    return request[:12] if request else new_proposal_id()
