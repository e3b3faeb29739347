"""Tugboat's own working clone of the GitOps repository, under the data directory.

Each use fetches the default branch first and gets a checkout of exactly that commit: a
directory per commit (a ``git worktree``), so a reader never sees files change under it while
another thread fetches a newer commit. Git work on one repository is serialised by a lock per
repository (``repo_lock``), shared by threads and by processes on this machine; across
replicas each pod has its own clone and the remote arbitrates pushes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from bot.adapters.git.history import SAFE_CONFIG, LocalGitHistory
from bot.adapters.git.runner import GitFailed, git
from bot.adapters.git.source import RepoSource
from bot.domain.deadline import Deadline
from bot.domain.errors import SourceUnavailable
from bot.ports.gitrepo import Commit

log = logging.getLogger(__name__)
KEEP_CHECKOUTS = 3  # the current commit's and two before it, for readers still using them
KEEP_IN_USE_S = 30 * 60  # and any handed out this recently (an investigation may still read it)
_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def repo_key(url: str) -> str:
    """A directory name for the repository at ``url``: readable part and a digest."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))
    return f"{slug.strip('-')[:40] or 'repo'}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


@contextlib.contextmanager
def repo_lock(data_dir: Path, url: str) -> Iterator[None]:
    """The lock on Tugboat's git work for the repository at ``url``: exclusive across the
    threads of this process and the processes sharing ``data_dir``."""
    path = Path(data_dir) / "locks" / f"{repo_key(url)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCKS_GUARD:
        local = _THREAD_LOCKS.setdefault(path, threading.Lock())
    with local, open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class WorkingClone:
    def __init__(
        self,
        source: RepoSource,
        data_dir: Path,
        default_branch: str = "main",
        env: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.source, self.default_branch = source, default_branch
        self.data_dir = Path(data_dir).resolve()  # git runs in other directories
        self.root = self.data_dir / "repos" / repo_key(source.url)
        self.git_dir = self.root / "clone.git"
        # Credentials for the remote, made per command (App tokens expire), never on a command line.
        self.env: Callable[[], Mapping[str, str]] = env or dict
        self._tracking = f"refs/remotes/origin/{default_branch}"
        self._fetched_at = 0.0  # monotonic start of the last fetch, to coalesce waiting callers

    def checkout(self, *, stale_ok: bool = False) -> Path:
        """Fetch, then the directory holding the default branch's newest commit (read only).
        ``stale_ok``: when the fetch fails, the last commit fetched (said in the log) rather than
        an error, for readers that are better served by it (an investigation's evidence)."""
        asked = time.monotonic()
        with repo_lock(self.data_dir, self.source.url):
            if self._fetched_at < asked or self._head() is None:
                self._fetched_at = time.monotonic()
                try:
                    self._fetch()
                except SourceUnavailable as exc:
                    if not stale_ok or self._head() is None:
                        raise
                    log.warning("reading the last fetched commit of %s: %s", self.source.name, exc)
            sha = self._head()
            if sha is None:
                raise SourceUnavailable(
                    f"the GitOps repository {self.source.name} has no branch {self.default_branch!r}; "
                    "set TUGBOAT_REPO_DEFAULT_BRANCH to the branch GitOps deploys from"
                )
            return self._tree(sha)

    def history(self, budget_s: float) -> FreshHistory:
        """``budget_s`` bounds each history read (``git_budget_s``)."""
        return FreshHistory(self, budget_s)

    # -- internals -------------------------------------------------------------------------
    def _fetch(self) -> None:
        if not (self.git_dir / "HEAD").is_file():
            shutil.rmtree(self.git_dir, ignore_errors=True)  # a clone interrupted half-way
            self.root.mkdir(parents=True, exist_ok=True)
            self._git(["init", "--quiet", "--bare", str(self.git_dir)], cwd=self.root)
        refspec = f"+refs/heads/{self.default_branch}:{self._tracking}"
        fetch = ["fetch", "--quiet", "--prune", "--no-tags", self.source.url, refspec]
        try:
            self._git(fetch, env=self.env(), what=f"fetching {self.source.name}")
        except GitFailed as exc:
            if "couldn't find remote ref" in exc.stderr:
                return  # no such branch: checkout() says so
            raise

    def _head(self) -> str | None:
        if not (self.git_dir / "HEAD").is_file():
            return None
        try:
            return self._git(["rev-parse", "--verify", "-q", f"{self._tracking}^{{commit}}"]).strip() or None
        except GitFailed:
            return None

    def _tree(self, sha: str) -> Path:
        trees = self.root / "trees"
        tree = trees / sha
        if not (tree / ".git").is_file():
            shutil.rmtree(tree, ignore_errors=True)
            self._git(["worktree", "prune"])
            trees.mkdir(parents=True, exist_ok=True)
            self._git(["worktree", "add", "--quiet", "--detach", "--force", str(tree), sha])
        tree.touch()  # the newest checkouts are kept
        old = sorted((p for p in trees.iterdir() if p != tree), key=lambda p: p.stat().st_mtime)
        recent = time.time() - KEEP_IN_USE_S
        for stale in old[: max(0, len(old) - (KEEP_CHECKOUTS - 1))]:
            if stale.stat().st_mtime < recent:
                shutil.rmtree(stale, ignore_errors=True)
        if old:
            self._git(["worktree", "prune"])
        return tree

    def _git(
        self,
        args: list[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        what: str | None = None,
    ) -> str:
        return git(args, cwd or self.git_dir, config=SAFE_CONFIG, env=env, what=what)


class FreshHistory:
    """GitHistory of the working clone that fetches before each use (e.g. to see a merge that
    Tugboat has just pushed)."""

    def __init__(self, clone: WorkingClone, budget_s: float) -> None:
        self.clone = clone
        self.budget_s = budget_s

    def _now(self) -> LocalGitHistory:
        return LocalGitHistory(self.clone.checkout(), budget_s=self.budget_s)

    def commits(
        self, since: datetime, until: datetime, max_count: int = 200, deadline: Deadline | None = None
    ) -> list[Commit]:
        return self._now().commits(since, until, max_count, deadline)

    def read(self, path: str, rev: str = "HEAD") -> str | None:
        return self._now().read(path, rev)

    def files(self, rev: str = "HEAD") -> list[str]:
        return self._now().files(rev)

    def commit_diff(self, sha: str) -> str:
        return self._now().commit_diff(sha)

    def revert_diff(self, sha: str) -> str:
        return self._now().revert_diff(sha)
