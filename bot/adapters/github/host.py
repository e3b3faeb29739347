"""ChangeHost on GitHub: a proposal is a pull request from ``tugboat/<id>``; merges are pinned.

Same semantics as the plain-git host: one deterministic branch per proposal, an idempotent
``open`` (a retry finds the branch or PR it made before and checks it carries exactly this
change), and a merge only at the approved head. On top of GitHub's own ``sha`` guard on the
merge call, the host re-reads the PR and refuses unless the head is the approved commit,
``mergeable_state`` is allowed, the head's checks pass and (optionally) GitHub reviews are met.
Anything it cannot classify refuses the merge: it fails closed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from github import Github, GithubException
from github.PullRequest import PullRequest
from github.Repository import Repository

from bot.adapters.git.changehost import BRANCH_PREFIX, TRAILER, PlainGitChangeHost
from bot.adapters.git.patch import apply_diff
from bot.adapters.github import body as pr_text
from bot.adapters.github.branches import Branches
from bot.adapters.github.checks import check_problems, review_problem
from bot.adapters.github.errors import github_errors, message_of
from bot.domain.errors import ConflictError, InvalidInput, Tampered
from bot.domain.proposal import Proposal
from bot.domain.report import InvestigationReport
from bot.ports.changes import ChangeRef, FileVersions, MergeResult
from bot.settings import ApprovalPolicy, Settings

log = logging.getLogger(__name__)

# States GitHub reports that can never be merged, whatever the configuration allows.
_NEVER_MERGEABLE = {"dirty", "unknown", "draft"}
_STATE_HELP = {
    "dirty": "it has merge conflicts with the base branch",
    "blocked": "a branch rule is not met (required reviews or checks); see docs/github.md",
    "behind": "the branch is behind its base and the repository requires it to be up to date",
    "unstable": "some checks are failing or pending",
    "draft": "it is a draft",
    "unknown": "GitHub has not finished computing whether it can merge",
    "has_hooks": "pre-receive hooks must run",
}


class GitHubChangeHost:
    def __init__(
        self,
        gh: Github,
        repo: str,
        policy: ApprovalPolicy,
        *,
        merge_method: str = "squash",
        prometheus_url: str | None = None,
        grafana_url: str | None = None,
        report_for: Callable[[Proposal], InvestigationReport | None] | None = None,
        mergeable_polls: int = 3,
        poll_wait_s: float = 2.0,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
            raise InvalidInput(f"github_repo {repo!r} is not owner/name")
        self.gh = gh
        self.full_name = repo
        self.owner = repo.split("/", 1)[0]
        self.policy = policy
        self.merge_method = merge_method
        self.prometheus_url, self.grafana_url = prometheus_url, grafana_url
        self.report_for = report_for
        self.mergeable_polls = max(1, mergeable_polls)
        self.poll_wait_s = poll_wait_s
        self.repo: Repository = gh.get_repo(repo)  # no request: the client is lazy
        self.branches = Branches(self.repo, repo)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GitHubChangeHost:
        from bot.adapters.github.client import github_client

        if not settings.github_repo:
            raise InvalidInput("github_repo is not set (TUGBOAT_GITHUB_REPO=owner/name)")
        return cls(
            github_client(settings),
            settings.github_repo,
            settings.policy,
            merge_method=settings.github_merge_method,
            prometheus_url=settings.prometheus_url,
            grafana_url=settings.grafana_url,
            **kwargs,
        )

    # -- ChangeHost ------------------------------------------------------------------------
    def open(self, proposal: Proposal) -> ChangeRef:
        branch = PlainGitChangeHost.branch(proposal)
        if not proposal.diff.strip():
            raise InvalidInput(f"proposal {proposal.id} has no diff; there is nothing to open")
        with github_errors(f"opening {branch} on {self.full_name}"):
            pr = self._find_pull(branch)
            if pr is not None:
                if pr.state != "open":  # list items carry merged_at, not merged
                    raise ConflictError(
                        f"{branch} already had pull request #{pr.number}, now "
                        f"{'merged' if pr.merged_at else 'closed'}; ask for a fresh proposal"
                    )
                self.branches.verify(proposal, branch, pr.head.sha)
                return ChangeRef(branch=branch, head_sha=pr.head.sha, url=pr.html_url)
            head = self.branches.head(branch)
            if head is not None:
                self.branches.verify(proposal, branch, head)  # a previous attempt stopped before the PR
            else:
                head = self.branches.push(proposal, branch)
            pr = self._create_pull(proposal, branch)
            if pr.head.sha != head:
                raise ConflictError(f"{branch} moved while its pull request was opened; try again")
            self._label(pr, pr_text.pr_labels(proposal))
            return ChangeRef(branch=branch, head_sha=head, url=pr.html_url)

    def head(self, proposal: Proposal) -> str | None:
        branch = PlainGitChangeHost.branch(proposal)
        with github_errors(f"reading the head of {branch} on {self.full_name}"):
            pr = self._find_pull(branch)
            if pr is None or pr.state != "open":
                return None
            return str(pr.head.sha)

    def heads(self) -> dict[str, str]:
        """One paginated listing of the open pull requests, rather than a lookup per proposal:
        ``head`` reads a branch's open PR, so a PR closed or merged on GitHub counts as gone
        even when its branch is left behind (which a listing of the branches would miss)."""
        found: dict[str, tuple[int, str]] = {}
        with github_errors(f"listing the open pull requests on {self.full_name}"):
            for pr in self.repo.get_pulls(state="open"):
                ref, source = str(pr.head.ref), pr.head.repo
                ours = source is not None and source.full_name.lower() == self.full_name.lower()
                if not (ours and ref.startswith(BRANCH_PREFIX)) or pr.number < found.get(ref, (0, ""))[0]:
                    continue
                found[ref] = (pr.number, str(pr.head.sha))  # as ``_find_pull``: the newest open one
        return {ref: sha for ref, (_, sha) in found.items()}

    def merge_preview(self, proposal: Proposal, approved_sha: str) -> FileVersions:
        """The PR's head must be the approved commit and Tugboat's one commit carrying exactly the
        diff; the files after a merge are the default branch's with the diff applied (what a
        squash merge writes when it merges cleanly)."""
        branch = PlainGitChangeHost.branch(proposal)
        with github_errors(f"checking {branch} on {self.full_name} before merging"):
            pr = self._find_pull(branch)
            if pr is None or pr.state != "open":
                raise Tampered(
                    f"{branch} has no open pull request on {self.full_name}: it was closed outside Tugboat"
                )
            head = str(pr.head.sha)
            if not _same(head, approved_sha.strip().lower()):
                raise _moved(pr.number, approved_sha, head)
            try:
                self.branches.verify(proposal, branch, head)
            except ConflictError:
                raise Tampered(
                    f"#{pr.number} at {head[:12]} is not the commit Tugboat made: its change against "
                    "its parent is not the diff that was shown"
                ) from None
            before = self.branches.originals(proposal, self.branches.default_head())
            try:
                after = apply_diff(proposal.diff, before)
            except ConflictError:
                raise ConflictError(
                    f"#{pr.number} no longer merges cleanly: {self.branches.default()} changed the same lines"
                ) from None
            return {path: (before.get(path), content) for path, content in after.items()}

    def merge(self, proposal: Proposal, approved_sha: str) -> MergeResult:
        branch = PlainGitChangeHost.branch(proposal)
        approved = approved_sha.strip().lower()
        with github_errors(f"merging {branch} on {self.full_name}"):
            found = self._find_pull(branch)
            if found is None:
                raise ConflictError(f"{branch} has no pull request on {self.full_name}; it was closed")
            number = found.number
            for attempt in range(self.mergeable_polls):
                pr = self.repo.get_pull(number)  # fresh: never trust an earlier read
                head = str(pr.head.sha)
                if pr.head.ref != branch:
                    raise ConflictError(f"pull request #{number} no longer comes from {branch}")
                if pr.merged:
                    if _same(head, approved):
                        return MergeResult(True, pr.merge_commit_sha, f"#{number} was already merged")
                    raise ConflictError(f"#{number} was merged outside Tugboat at {head[:12]}")
                if pr.state != "open":
                    raise ConflictError(f"#{number} was closed on GitHub; nothing was merged")
                if not _same(head, approved):
                    raise _moved(number, approved, head)
                state = str(pr.mergeable_state or "unknown")
                if state != "unknown" and pr.mergeable is not None:
                    break
                if attempt + 1 < self.mergeable_polls:
                    time.sleep(self.poll_wait_s)  # GitHub computes mergeability in the background
            if pr.mergeable is not True:  # None: still computing; False: conflicts
                state = "unknown" if pr.mergeable is None else "dirty"
            if state in _NEVER_MERGEABLE or state not in self.policy.allowed_mergeable_states:
                why = _STATE_HELP.get(state, "Tugboat does not know this state, so it refuses")
                return MergeResult(
                    False, message=f"#{number} cannot merge: mergeable_state is {state!r} ({why})"
                )
            commit = self.repo.get_commit(head)
            problems = check_problems(
                commit.get_combined_status().statuses, commit.get_check_runs(), self.policy.required_checks
            )
            if problems:
                return MergeResult(
                    False, message=f"#{number} checks are not passing at {head[:12]}: {problems}"
                )
            if self.policy.require_github_reviews:
                refusal = review_problem(pr.get_reviews(), head)
                if refusal:
                    return MergeResult(False, message=f"#{number} {refusal}")
            return self._merge_pinned(proposal, pr, head)

    def close(self, proposal: Proposal, reason: str) -> None:
        branch = PlainGitChangeHost.branch(proposal)
        with github_errors(f"closing {branch} on {self.full_name}"):
            pr = self._find_pull(branch)
            if pr is not None and pr.state == "open":
                pr.create_issue_comment(f"Closed by Tugboat: {pr_text.inert(reason)}")
                pr.edit(state="closed")
            try:
                ref = self.repo.get_git_ref(f"heads/{branch}")
                ref.complete()  # its API url (git/refs/...) is the one DELETE accepts
                ref.delete()
            except GithubException as exc:
                if exc.status not in (404, 422):  # already gone
                    raise

    def comment(self, proposal: Proposal, text: str) -> None:
        branch = PlainGitChangeHost.branch(proposal)
        with github_errors(f"commenting on {branch} on {self.full_name}"):
            pr = self._find_pull(branch)
            if pr is not None:
                pr.create_issue_comment(pr_text.inert(text))

    # -- opening -------------------------------------------------------------------------
    def _find_pull(self, branch: str) -> PullRequest | None:
        """The PR from ``branch``, preferring an open one. The head filter needs ``owner:``."""
        pulls = [
            p
            for p in self.repo.get_pulls(state="all", head=f"{self.owner}:{branch}")
            if p.head.ref == branch and p.base.repo.full_name.lower() == self.full_name.lower()
        ]
        pulls.sort(key=lambda p: (p.state != "open", -p.number))
        return pulls[0] if pulls else None

    def _create_pull(self, proposal: Proposal, branch: str) -> PullRequest:
        report = self.report_for(proposal) if self.report_for else None
        body = pr_text.pr_body(
            proposal, report, prometheus_url=self.prometheus_url, grafana_url=self.grafana_url
        )
        try:
            return self.repo.create_pull(
                base=self.branches.default(),
                head=branch,
                title=pr_text.pr_title(proposal),
                body=body,
                draft=False,
            )
        except GithubException as exc:
            if exc.status != 422 or "already exists" not in message_of(exc):
                raise
            existing = self._find_pull(branch)  # a retried POST whose first answer was lost
            if existing is None or existing.state != "open":
                raise
            return existing

    def _label(self, pr: PullRequest, labels: Iterable[str]) -> None:
        try:
            pr.add_to_labels(*labels)
        except GithubException as exc:  # labels help triage; they never gate anything
            log.warning("could not label #%s: %s", pr.number, message_of(exc))

    # -- merging -------------------------------------------------------------------------
    def _merge_pinned(self, proposal: Proposal, pr: PullRequest, head: str) -> MergeResult:
        number = pr.number
        try:
            status = pr.merge(
                sha=head,  # GitHub refuses (409) if the head is no longer this commit
                merge_method=self.merge_method,
                commit_title=f"{pr_text.pr_title(proposal)} (#{number})",
                commit_message=f"Approved head: {head}\n\n{TRAILER}: {proposal.id}",
            )
        except GithubException as exc:
            detail = message_of(exc)
            if exc.status == 409:
                raise Tampered(
                    f"GitHub refused to merge #{number} because its head is no longer {head[:12]} ({detail})"
                ) from None
            if exc.status == 405:
                latest = self.repo.get_pull(number)  # a retried merge whose first answer was lost?
                if latest.merged and _same(str(latest.head.sha), head):
                    return MergeResult(True, latest.merge_commit_sha, f"#{number} was already merged")
                return MergeResult(False, message=f"GitHub says #{number} is not mergeable (405): {detail}")
            if exc.status == 422:
                return MergeResult(
                    False, message=f"GitHub rejected the merge of #{number} (422 validation failed): {detail}"
                )
            raise
        if not status.merged:
            return MergeResult(False, message=f"GitHub did not merge #{number}: {status.message}")
        return MergeResult(
            True, status.sha, f"merged #{number} ({self.merge_method}) into {pr.base.ref} at {head[:12]}"
        )


def _moved(number: int, approved: str, head: str) -> Tampered:
    return Tampered(
        f"#{number} moved after it was shown: Tugboat made {approved[:12]}, it is now {head[:12]}"
    )


def _same(head: str, approved: str) -> bool:
    return len(approved) >= 7 and head.lower().startswith(approved)
