"""GitHistory over a local clone of the GitOps repository, through the git CLI."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bot.adapters.git.runner import DEFAULT_TIMEOUT_S, GitFailed, git, git_bytes
from bot.domain.deadline import Deadline, soonest
from bot.domain.errors import ConflictError, InvalidInput
from bot.ports.gitrepo import Commit, FileChange

MAX_FILE_BYTES = 1024 * 1024
MAX_FILES_PER_COMMIT = 50
_NULL_SHA = "0" * 40
_SUBMODULE_MODE = "160000"
# Never run the user's hooks, and never let a user's log or diff settings change what we parse.
SAFE_CONFIG = ("core.hooksPath=/dev/null", "log.showSignature=false", "diff.noprefix=false")
# ``git revert --no-commit`` wants an identity on some setups even though it makes no commit.
_IDENTITY = ("user.name=Tugboat", "user.email=tugboat@localhost")
_DIFF_FLAGS = (
    "--binary",
    "--no-renames",
    "--no-ext-diff",
    "--no-color",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)
# git reads "@<seconds>" as a timestamp only from nine digits on (1973-03-03).
_GIT_MIN_TIMESTAMP = 100_000_000
_LOG_FORMAT = "%x1e%H%x1f%P%x1f%at%x1f%ct%x1f%an%x1f%s"
_RawEntry = tuple[str, str, str, str]  # old blob, new blob, new mode (or old mode if deleted), path


class LocalGitHistory:
    """Reads history from ``path`` (a clone); never modifies its working tree or index."""

    def __init__(
        self,
        path: Path | str,
        *,
        rev: str = "HEAD",
        max_file_bytes: int = MAX_FILE_BYTES,
        max_files_per_commit: int = MAX_FILES_PER_COMMIT,
        budget_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """``budget_s`` (``git_budget_s``) bounds one call: a ``commits`` or a ``revert_diff``
        with every git command it runs, or one read or diff."""
        self.path = Path(path)
        self.budget_s = budget_s
        self.rev = rev
        self.max_file_bytes = max_file_bytes
        self.max_files_per_commit = max_files_per_commit
        if not self.path.is_dir():
            raise InvalidInput(f"repository {self.path.name} does not exist; pass a clone of the GitOps repo")
        try:
            self._git(["rev-parse", "--git-dir"])
        except GitFailed:
            raise InvalidInput(
                f"{self.path.name} is not a git repository; pass a clone of the GitOps repository"
            ) from None

    # -- GitHistory ------------------------------------------------------------------------
    def commits(
        self, since: datetime, until: datetime, max_count: int = 200, deadline: Deadline | None = None
    ) -> list[Commit]:
        """First-parent commits of ``rev`` that landed (committer time) in [since, until].

        Merge commits are diffed against their first parent, so a merged branch counts once,
        at the time it landed.
        """
        budget = soonest(self.budget_s, "reading the commit history", deadline)
        window = [f"--since={_git_time(since)}", f"--until={_git_time(until)}"]
        if max_count <= 0 or _unix(until) < _GIT_MIN_TIMESTAMP or self._head(budget) is None:
            return []
        if _unix(since) < _GIT_MIN_TIMESTAMP:
            window = window[1:]  # no lower bound is needed before git could have existed
        out = self._git(
            [
                "log",
                "-z",
                "--first-parent",
                "--diff-merges=first-parent",
                "--no-renames",
                "--raw",
                "--no-abbrev",
                f"--format={_LOG_FORMAT}",
                *window,
                f"--max-count={max_count}",
                self.rev,
                "--",
            ],
            what="reading the commit log",
            budget=budget,
        )
        parsed = [_parse_record(rec) for rec in out.split("\x1e") if rec.strip("\0\n")]
        blobs: set[str] = set()
        for _, entries in parsed:
            for old, new, _, _ in entries[: self.max_files_per_commit]:
                blobs.update(sha for sha in (old, new) if sha != _NULL_SHA)
        texts, skipped = self._blob_texts(blobs, budget)
        return [self._commit(header, entries, texts, skipped) for header, entries in parsed]

    def read(self, path: str, rev: str = "HEAD") -> str | None:
        commit = self._resolve(rev)
        try:
            raw = git_bytes(
                ["cat-file", "blob", f"{commit}:{_clean(path)}"],
                self.path,
                config=SAFE_CONFIG,
                timeout_s=self.budget_s,
            )
        except GitFailed:
            return None
        return raw.decode("utf-8", errors="replace")

    def files(self, rev: str = "HEAD") -> list[str]:
        commit = self._resolve(rev)
        out = self._git(["ls-tree", "-r", "-z", "--name-only", commit], what=f"listing files at {rev}")
        return [p for p in out.split("\0") if p]

    def commit_diff(self, sha: str) -> str:
        commit = self._resolve(sha)
        return self._git(
            ["show", "--format=", "--diff-merges=first-parent", *_DIFF_FLAGS, commit],
            what=f"showing commit {commit[:12]}",
        )

    def revert_diff(self, sha: str) -> str:
        """Exactly what ``git revert --no-commit <sha>`` changes on HEAD, as a patch for ``git apply``.

        Computed in a throwaway clone, so the user's checkout, index and in-progress
        operations are untouched. A merge commit is reverted against its first parent
        (``-m 1``). An empty string means the revert changes nothing (already reverted).
        """
        budget = Deadline(self.budget_s, "preparing a revert")
        commit = self._resolve(sha)
        head = self._head(budget)
        if head is None:
            raise InvalidInput("the GitOps repository has no commits; nothing to revert onto")
        parents = self._git(["rev-list", "--parents", "-n", "1", commit], budget=budget).split()[1:]
        if not parents:
            raise InvalidInput(
                f"commit {commit[:12]} is the repository's first commit; it cannot be reverted"
            )
        # A throwaway clone that borrows this repository's objects (--shared): nothing is
        # written to the repository itself, so a read-only checkout (a git-sync volume) works.
        with tempfile.TemporaryDirectory(prefix="tugboat-revert-") as tmp:
            scratch = Path(tmp) / "repo"
            clone = ["clone", "--quiet", "--shared", "--no-checkout", str(self.path.resolve()), str(scratch)]
            self._git(clone, what="preparing a revert", budget=budget)
            self._git(["checkout", "--quiet", "--detach", head], budget=budget, cwd=scratch)
            return self._revert_in(scratch, commit, merge=len(parents) > 1, budget=budget)

    # -- internals -------------------------------------------------------------------------
    def _revert_in(self, worktree: Path, commit: str, *, merge: bool, budget: Deadline) -> str:
        args = ["revert", "--no-commit", *(["-m", "1"] if merge else []), commit]
        try:
            git(args, worktree, config=(*SAFE_CONFIG, *_IDENTITY), timeout_s=_seconds_left(budget))
        except GitFailed as exc:
            unmerged = ["diff", "--name-only", "--diff-filter=U"]
            conflicted = self._git(unmerged, budget=budget, cwd=worktree).split()
            subject = self._git(["log", "-1", "--format=%s", commit], budget=budget).strip()
            last = exc.stderr.splitlines()[-1:] or ["git revert failed"]
            where = f"conflicts in {', '.join(conflicted)}" if conflicted else last[0]
            raise ConflictError(
                f"reverting {commit[:12]} ({subject!r}) does not apply cleanly on HEAD: {where}. "
                "Later commits changed the same lines; write the fix by hand or revert those commits too."
            ) from None
        return self._git(["diff", "--cached", *_DIFF_FLAGS, "HEAD"], budget=budget, cwd=worktree)

    def _commit(
        self, header: list[str], entries: list[_RawEntry], texts: dict[str, str], skipped: dict[str, str]
    ) -> Commit:
        sha, parents, author_ts, commit_ts, author, subject = header
        files = [
            _file_change(path, old, new, mode, texts, skipped)
            for old, new, mode, path in entries[: self.max_files_per_commit]
        ]
        return Commit(
            sha=sha,
            at=datetime.fromtimestamp(int(author_ts), UTC),
            author=author,
            subject=subject,
            files=tuple(files),
            committed_at=datetime.fromtimestamp(int(commit_ts), UTC),
            parents=tuple(parents.split()),
            files_omitted=max(0, len(entries) - self.max_files_per_commit),
        )

    def _blob_texts(self, blobs: set[str], budget: Deadline) -> tuple[dict[str, str], dict[str, str]]:
        """Texts of the small, non-binary blobs, and why each other blob was skipped."""
        texts: dict[str, str] = {}
        skipped: dict[str, str] = {}
        if not blobs:
            return texts, skipped
        ordered = sorted(blobs)
        check = self._git(["cat-file", "--batch-check"], input="\n".join(ordered) + "\n", budget=budget)
        wanted: list[str] = []
        for line in check.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "blob" and int(parts[2]) <= self.max_file_bytes:
                wanted.append(parts[0])
            elif len(parts) == 3:
                skipped[parts[0]] = f"larger than {_size(self.max_file_bytes)}"
        raw = git_bytes(
            ["cat-file", "--batch"],
            self.path,
            input="\n".join(wanted) + "\n",
            config=SAFE_CONFIG,
            timeout_s=_seconds_left(budget),
        )
        pos = 0
        while pos < len(raw):
            end = raw.index(b"\n", pos)
            sha, _, size = raw[pos:end].decode().split()
            body = raw[end + 1 : end + 1 + int(size)]
            pos = end + 1 + int(size) + 1
            if b"\0" in body[:8000]:
                skipped[sha] = "binary"
            else:
                texts[sha] = body.decode("utf-8", errors="replace")
        return texts, skipped

    def _head(self, budget: Deadline | None = None) -> str | None:
        try:
            head = self._git(["rev-parse", "--verify", "-q", f"{self.rev}^{{commit}}"], budget=budget)
            return head.strip() or None
        except GitFailed:
            return None

    def _resolve(self, rev: str) -> str:
        try:
            return self._git(["rev-parse", "--verify", "-q", f"{rev}^{{commit}}"]).strip()
        except GitFailed:
            raise InvalidInput(
                f"{rev!r} is not a commit in the GitOps repository; check the sha or branch name"
            ) from None

    def _git(
        self,
        args: list[str],
        *,
        input: str | None = None,
        what: str | None = None,
        budget: Deadline | None = None,
        cwd: Path | None = None,
    ) -> str:
        """``git`` in the repository (or ``cwd``), within ``budget`` or else ``budget_s``."""
        timeout = _seconds_left(budget) if budget is not None else self.budget_s
        return git(args, cwd or self.path, input=input, config=SAFE_CONFIG, what=what, timeout_s=timeout)


def _seconds_left(budget: Deadline) -> float:
    """What remains of the budget; a sliver when it is spent, so git ends at once with a timeout."""
    return max(budget.remaining(), 0.01)


def _file_change(
    path: str, old: str, new: str, mode: str, texts: dict[str, str], skipped: dict[str, str]
) -> FileChange:
    if mode == _SUBMODULE_MODE:
        return FileChange(path, None, None, skipped="submodule")
    for sha in (old, new):
        if sha != _NULL_SHA and sha not in texts:
            return FileChange(path, None, None, skipped=skipped.get(sha, "unreadable"))
    return FileChange(path, texts.get(old), texts.get(new))


def _parse_record(record: str) -> tuple[list[str], list[_RawEntry]]:
    header, _, rest = record.partition("\0")
    fields = header.split("\x1f")
    tokens = rest.lstrip("\n").split("\0")
    entries: list[_RawEntry] = []
    for meta, path in zip(tokens[0::2], tokens[1::2], strict=False):
        parts = meta.lstrip(":").split()
        if len(parts) < 5:
            continue
        old_mode, new_mode, old, new = parts[:4]
        entries.append((old, new, new_mode if new != _NULL_SHA else old_mode, path))
    return fields, entries


def _size(n: int) -> str:
    return f"{n / 1024**2:g} MiB" if n >= 1024**2 else f"{n / 1024:g} KiB" if n >= 1024 else f"{n} bytes"


def _unix(moment: datetime) -> int:
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _git_time(moment: datetime) -> str:
    """``@<unix seconds>`` for git's date options: its calendar parser rejects years after 2099."""
    return f"@{_unix(moment)}"


def _clean(path: str) -> str:
    return path.removeprefix("./").lstrip("/")
