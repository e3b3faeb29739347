"""A proposal's branch on GitHub, through the Git Data API: the one commit on the default branch's
head that carries exactly the proposal's diff (blob → tree → commit → ref), and the check that an
existing branch is that commit. Pull requests are the host's (``host.py``)."""

from __future__ import annotations

import base64

from github import GithubException, InputGitTreeElement, UnknownObjectException
from github.Repository import Repository

from bot.adapters.git.changehost import TRAILER
from bot.adapters.git.patch import apply_diff, blob_sha
from bot.adapters.github import body as pr_text
from bot.domain.diff import touched_files
from bot.domain.errors import ConflictError, InvalidInput
from bot.domain.proposal import Proposal


class Branches:
    def __init__(self, repo: Repository, full_name: str) -> None:
        self.repo = repo
        self.full_name = full_name
        self._default_branch: str | None = None

    def default(self) -> str:
        """The default branch's name, read once."""
        if self._default_branch is None:
            self._default_branch = str(self.repo.default_branch)
        return self._default_branch

    def default_head(self) -> str:
        return str(self.repo.get_git_ref(f"heads/{self.default()}").object.sha)

    def head(self, branch: str) -> str | None:
        try:
            return str(self.repo.get_git_ref(f"heads/{branch}").object.sha)
        except UnknownObjectException:
            return None

    def originals(self, proposal: Proposal, ref: str) -> dict[str, bytes | None]:
        """The files the proposal's diff touches, as they are at ``ref``."""
        paths = {p for f in touched_files(proposal.diff) for p in (f.old, f.new) if p}
        return {path: self._read(path, ref) for path in sorted(paths)}

    def push(self, proposal: Proposal, branch: str) -> str:
        """Create ``branch`` at one new commit applying the diff to the default branch's head."""
        base = self.repo.get_git_commit(self.default_head())
        changed = apply_diff(proposal.diff, self.originals(proposal, base.sha))
        elements = []
        for path, content in changed.items():
            if content is None:
                elements.append(InputGitTreeElement(path, "100644", "blob", sha=None))
                continue
            blob = self.repo.create_git_blob(base64.b64encode(content).decode(), "base64")
            elements.append(InputGitTreeElement(path, "100644", "blob", sha=blob.sha))
        tree = self.repo.create_git_tree(elements, base_tree=base.tree)
        if tree.sha == base.tree.sha:
            raise ConflictError(
                f"proposal {proposal.id} changes nothing: {self.default()} already has this change"
            )
        commit = self.repo.create_git_commit(_message(proposal), tree, [base])
        try:
            self.repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
        except GithubException as exc:
            if exc.status != 422:
                raise
            existing = self.head(branch)  # another opener won the race
            if existing is None:
                raise
            self.verify(proposal, branch, existing)
            return existing
        return str(commit.sha)

    def verify(self, proposal: Proposal, branch: str, head: str) -> None:
        """``head`` must be one commit that applies exactly this proposal's diff to its parent."""
        commit = self.repo.get_git_commit(head)
        parents = commit.parents
        same = len(parents) == 1 and f"{TRAILER}: {proposal.id}" in commit.message
        if same:
            try:
                expected = apply_diff(proposal.diff, self.originals(proposal, parents[0].sha))
            except ConflictError:
                same = False
            else:
                for path, content in expected.items():
                    actual = self._read(path, head)
                    if (actual is None) != (content is None) or (
                        actual is not None and content is not None and blob_sha(actual) != blob_sha(content)
                    ):
                        same = False
                        break
        if not same:
            raise ConflictError(
                f"{branch} already exists on {self.full_name} with other content (head {head[:12]}); "
                "close the proposal or delete the branch before opening it again"
            )

    def _read(self, path: str, ref: str) -> bytes | None:
        try:
            found = self.repo.get_contents(path, ref=ref)
        except UnknownObjectException:
            return None
        if isinstance(found, list) or found.type != "file":
            raise InvalidInput(f"{path} is not a regular file at {ref[:12]}; proposals only edit files")
        if found.encoding == "base64" and found.content is not None:
            return bytes(found.decoded_content)
        blob = self.repo.get_git_blob(found.sha)  # over 1 MB the contents API omits the bytes
        return base64.b64decode(blob.content)


def _message(proposal: Proposal) -> str:
    title = pr_text.pr_title(proposal).removeprefix("[tugboat] ")
    return f"{title}\n\n{TRAILER}: {proposal.id}\n"
