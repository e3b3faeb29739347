"""ChangeHost over plain git: proposals are branches on any remote git can push to.

All work happens in a private bare clone under ``cache_dir`` with plumbing commands
(``read-tree``, ``apply --cached``, ``commit-tree``, ``merge-tree``), so there is no working
tree to get dirty. A file lock serialises operations on the clone across threads and
processes on one machine; the remote itself arbitrates between machines (pushes that
lose a race are rejected and retried or reported).

A merge is a compare-and-swap: one atomic push moves the default branch only if it is still
the commit the merge was built on *and* the proposal's branch is still the approved commit.
Anything on a proposal branch other than Tugboat's one commit is tampering (``Tampered``).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from bot.adapters.git.history import SAFE_CONFIG
from bot.adapters.git.runner import (
    GitFailed,
    git,
    git_bytes,
    push_raced,
    push_refused,
    race_pause,
)
from bot.adapters.git.source import RepoSource, display_name
from bot.adapters.git.workclone import repo_lock
from bot.domain.errors import ConflictError, InvalidInput, SourceUnavailable, Tampered
from bot.domain.proposal import Proposal, action_words
from bot.ports.changes import ChangeRef, FileVersions, MergeResult

BRANCH_PREFIX = "tugboat/"
TRAILER = "Tugboat-Proposal"
_TRACKING = "refs/remotes/origin/"


class PlainGitChangeHost:
    def __init__(
        self,
        remote: str,
        cache_dir: Path,
        default_branch: str = "main",
        author: tuple[str, str] = ("Tugboat", "tugboat@localhost"),
        merge_attempts: int = 3,
        source: RepoSource | None = None,
        env: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        local = Path(remote).expanduser()
        # A relative local path must keep meaning the same place when git runs inside the clone.
        self.remote = str(local.resolve()) if "://" not in remote and local.exists() else remote
        self.source = source or RepoSource(url=self.remote, name=display_name(self.remote))
        # Credentials for the remote, made per command (App tokens expire), never on a command line.
        self.env: Callable[[], Mapping[str, str]] = env or dict
        self.default_branch = default_branch
        self.author = author
        self.merge_attempts = max(1, merge_attempts)
        digest = hashlib.sha256(self.remote.encode()).hexdigest()[:16]
        self.cache_dir = Path(cache_dir)
        self.clone = self.cache_dir / f"changehost-{digest}.git"
        self._where = self.source.name

    # -- ChangeHost ------------------------------------------------------------------------
    def open(self, proposal: Proposal) -> ChangeRef:
        branch = self.branch(proposal)
        if not proposal.diff.strip():
            raise InvalidInput(f"proposal {proposal.id} has no diff; there is nothing to open")
        with self._locked():
            self._fetch()
            existing = self._ref(_TRACKING + branch)
            if existing is not None:
                return self._reuse(proposal, branch, existing)
            base = self._base()
            tree = self._apply(base, proposal.diff, proposal.id)
            if tree == self._tree(base):
                raise ConflictError(
                    f"proposal {proposal.id} changes nothing: {self.default_branch} already has this change"
                )
            sha = self._commit(tree, [base], _message(proposal))
            try:
                # An empty lease means "only if the branch does not exist": never overwrite.
                lease = f"--force-with-lease=refs/heads/{branch}:"
                push = ["push", "--quiet", lease, self.remote, f"{sha}:refs/heads/{branch}"]
                self._git(push, what=f"pushing {branch}")
            except GitFailed as exc:
                if not _rejected(exc):
                    raise
                self._fetch()  # another opener won the race; theirs is fine if it is the same change
                existing = self._ref(_TRACKING + branch)
                if existing is None:
                    raise
                return self._reuse(proposal, branch, existing)
            self._git(["update-ref", _TRACKING + branch, sha])
            return ChangeRef(branch=branch, head_sha=sha)

    def head(self, proposal: Proposal) -> str | None:
        branch = self.branch(proposal)
        args = ["ls-remote", "--heads", self.remote, f"refs/heads/{branch}"]
        what = f"reading the head of {branch} at {self._where}"
        out = git(args, config=SAFE_CONFIG, what=what, env=self.env())
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def heads(self) -> dict[str, str]:
        args = ["ls-remote", "--heads", self.remote, f"refs/heads/{BRANCH_PREFIX}*"]
        what = f"listing the proposal branches at {self._where}"
        out = git(args, config=SAFE_CONFIG, what=what, env=self.env())
        found = (line.partition("\t") for line in out.splitlines())
        return {
            ref.removeprefix("refs/heads/"): sha for sha, _, ref in found if ref.startswith("refs/heads/")
        }

    def merge_preview(self, proposal: Proposal, approved_sha: str) -> FileVersions:
        branch = self.branch(proposal)
        with self._locked():
            self._fetch()
            head = self._pinned_head(branch, approved_sha)
            if not self._carries_exactly(proposal, head):
                raise Tampered(
                    f"{branch} at {head[:12]} is not the commit Tugboat made: its change against its "
                    "parent is not the diff that was shown"
                )
            base = self._base()
            tree = self._merge_tree(base, head, branch)
            out = self._git(["diff-tree", "-r", "-z", "--name-only", "--no-renames", base, tree])
            return {
                path: (self._blob(base, path), self._blob(tree, path)) for path in out.split("\0") if path
            }

    def merge(self, proposal: Proposal, approved_sha: str) -> MergeResult:
        """Merge ``approved_sha`` (a full sha, or an unambiguous prefix of 7+ digits) with --no-ff."""
        branch = self.branch(proposal)
        with self._locked():
            for attempt in range(self.merge_attempts):
                if attempt:
                    race_pause(attempt)  # lost a race: let the other push finish, then fetch
                self._fetch()
                head = self._pinned_head(branch, approved_sha)
                base = self._base()
                if self._is_ancestor(head, base):
                    merged = self._merge_commit_of(head, base) or base
                    return MergeResult(
                        True, merged, f"{branch} was already merged into {self.default_branch}"
                    )
                tree = self._merge_tree(base, head, branch)
                message = (
                    f"Merge {branch} into {self.default_branch}: {_title(proposal)}\n\n"
                    f"Approved head: {head}\n\n{TRAILER}: {proposal.id}\n"
                )
                sha = self._commit(tree, [base, head], message)
                self.source.refuse_push_to(self.default_branch)
                try:
                    self._git(
                        self._pinned_push(sha, base, branch, head), what=f"pushing the merge of {branch}"
                    )
                except GitFailed as exc:
                    if _rejected(exc):
                        continue  # a ref moved under us: the next fetch tells which one
                    if push_refused(exc):
                        raise ConflictError(
                            f"{self._where} refused the merge: {_short(exc.stderr)}"
                        ) from None
                    raise
                self._git(["update-ref", _TRACKING + self.default_branch, sha])
                return MergeResult(
                    merged=True,
                    sha=sha,
                    message=f"merged {branch} into {self.default_branch} at {self._where}",
                )
        raise ConflictError(
            f"{self.default_branch} at {self._where} kept moving during {self.merge_attempts} merge "
            "attempts; nothing was merged. Try the merge again."
        )

    def _pinned_push(self, merge: str, base: str, branch: str, head: str) -> list[str]:
        """One atomic push: the default branch moves to ``merge`` only if it is still ``base``
        and ``branch`` is still ``head`` (pushed onto itself, so a no-op that carries a lease)."""
        main = f"refs/heads/{self.default_branch}"
        return [
            "push",
            "--quiet",
            "--atomic",
            f"--force-with-lease={main}:{base}",
            f"--force-with-lease=refs/heads/{branch}:{head}",
            self.remote,
            f"{merge}:{main}",
            f"{head}:refs/heads/{branch}",
        ]

    def _pinned_head(self, branch: str, approved_sha: str) -> str:
        """The branch's head (fetched), which must be ``approved_sha``."""
        approved = approved_sha.strip().lower()
        head = self._ref(_TRACKING + branch)
        if head is None:
            raise Tampered(f"{branch} is gone from {self._where}: it was deleted outside Tugboat")
        if len(approved) < 7 or not head.startswith(approved):
            raise Tampered(
                f"{branch} moved after it was shown: Tugboat made {approved[:12]}, it is now {head[:12]}"
            )
        return head

    def close(self, proposal: Proposal, reason: str) -> None:
        branch = self.branch(proposal)
        if self.head(proposal) is None:
            return
        with self._locked():
            try:
                self._git(
                    ["push", "--quiet", self.remote, f":refs/heads/{branch}"], what=f"deleting {branch}"
                )
            except GitFailed as exc:
                if "remote ref does not exist" not in exc.stderr:
                    raise
            with contextlib.suppress(GitFailed):
                self._git(["update-ref", "-d", _TRACKING + branch])

    def comment(self, proposal: Proposal, text: str) -> None:
        """Plain git has nowhere for reviewers to read comments."""

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def branch(proposal: Proposal) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", proposal.id) or ".." in proposal.id:
            raise InvalidInput(f"proposal id {proposal.id!r} cannot be a branch name; use letters and digits")
        return BRANCH_PREFIX + proposal.id

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # The one lock per repository, shared with the working clone (threads and processes).
        with repo_lock(self.cache_dir, self.remote):
            if not (self.clone / "HEAD").exists():
                git(["init", "--quiet", "--bare", str(self.clone)], config=SAFE_CONFIG)
            yield

    def _fetch(self) -> None:
        default, branches = self.default_branch, BRANCH_PREFIX + "*"
        refspecs = [
            f"+refs/heads/{default}:{_TRACKING}{default}",
            f"+refs/heads/{branches}:{_TRACKING}{branches}",
        ]
        fetch = ["fetch", "--quiet", "--prune", "--no-tags", self.remote, *refspecs]
        self._git(fetch, what=f"fetching from {self._where}")

    def _base(self) -> str:
        base = self._ref(_TRACKING + self.default_branch)
        if base is None:
            raise SourceUnavailable(
                f"{self._where} has no branch {self.default_branch!r}; "
                "set the default branch to one that exists"
            )
        return base

    def _carries_exactly(self, proposal: Proposal, commit: str) -> bool:
        """True when ``commit`` has one parent and its tree is that parent's with the proposal's
        diff applied: the branch's change against its base is the diff shown, byte for byte."""
        parents = self._git(["rev-list", "--parents", "-n", "1", commit]).split()[1:]
        if len(parents) != 1:
            return False
        try:
            return self._apply(parents[0], proposal.diff, proposal.id) == self._tree(commit)
        except ConflictError:
            return False

    def _reuse(self, proposal: Proposal, branch: str, existing: str) -> ChangeRef:
        """The existing branch if it carries exactly this proposal's change, else a conflict."""
        if not self._carries_exactly(proposal, existing):
            raise ConflictError(
                f"{branch} already exists at {self._where} with other content (head {existing[:12]}); "
                "close the proposal or delete the branch before opening it again"
            )
        return ChangeRef(branch=branch, head_sha=existing)

    def _apply(self, base: str, diff: str, proposal_id: str) -> str:
        """The tree of ``base`` with ``diff`` applied (in the clone's own index, under the lock)."""
        self._git(["read-tree", base])
        try:
            self._git(
                ["apply", "--cached", "--whitespace=nowarn", "-"],
                input=diff if diff.endswith("\n") else diff + "\n",
            )
        except GitFailed as exc:
            raise ConflictError(
                f"the diff of proposal {proposal_id} does not apply to {self.default_branch} at {base[:12]}: "
                f"{_short(exc.stderr)}. The files changed since it was computed; investigate again."
            ) from None
        return self._git(["write-tree"]).strip()

    def _merge_tree(self, base: str, head: str, branch: str) -> str:
        try:
            return self._git(
                ["merge-tree", "--write-tree", "--name-only", "--no-messages", base, head]
            ).split()[0]
        except GitFailed as exc:
            if exc.returncode != 1:
                raise
            files = ", ".join(exc.stdout.split()[1:]) or "unknown files"
            raise ConflictError(
                f"{branch} no longer merges cleanly into {self.default_branch}: conflicts in {files}"
            ) from None

    def _merge_commit_of(self, head: str, base: str) -> str | None:
        out = self._git(["log", "--merges", "--first-parent", "--format=%H %P", "-n", "500", base])
        for line in out.splitlines():
            sha, *parents = line.split()
            if head in parents[1:]:
                return sha
        return None

    def _commit(self, tree: str, parents: list[str], message: str) -> str:
        name, email = self.author
        args = ["commit-tree", "--no-gpg-sign", tree]
        for parent in parents:
            args += ["-p", parent]
        identity = (f"user.name={name}", f"user.email={email}")
        return git(args, self.clone, input=message, config=(*SAFE_CONFIG, *identity)).strip()

    def _is_ancestor(self, commit: str, of: str) -> bool:
        try:
            self._git(["merge-base", "--is-ancestor", commit, of])
            return True
        except GitFailed as exc:
            if exc.returncode == 1:
                return False
            raise

    def _blob(self, tree: str, path: str) -> bytes | None:
        try:
            return git_bytes(["cat-file", "blob", f"{tree}:{path}"], self.clone, config=SAFE_CONFIG)
        except GitFailed:
            return None  # not in that tree

    def _tree(self, commit: str) -> str:
        return self._git(["rev-parse", f"{commit}^{{tree}}"]).strip()

    def _ref(self, ref: str) -> str | None:
        try:
            return self._git(["rev-parse", "--verify", "-q", f"{ref}^{{commit}}"]).strip() or None
        except GitFailed:
            return None

    def _git(self, args: list[str], *, input: str | None = None, what: str | None = None) -> str:
        return git(args, self.clone, input=input, config=SAFE_CONFIG, what=what, env=self.env())


def _title(proposal: Proposal) -> str:
    lines = proposal.title.strip().splitlines()
    return lines[0][:100] if lines else action_words(proposal.action, proposal.service)


def _message(proposal: Proposal) -> str:
    body = proposal.rationale.strip()
    return f"{_title(proposal)}\n\n" + (f"{body}\n\n" if body else "") + f"{TRAILER}: {proposal.id}\n"


def _rejected(exc: GitFailed) -> bool:
    """A push refused because the ref moved (retryable), as opposed to refused by the server."""
    return push_raced(exc)


def _short(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " / ".join(lines[-3:]) or "git apply failed"
