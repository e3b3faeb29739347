"""LocalGitHistory against real repositories built in temp directories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.git.history import LocalGitHistory
from bot.domain.errors import ConflictError, InvalidInput
from tests.git.repos import Repo, deployment, write_tree_after_apply, write_tree_after_revert

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
IMG = "registry.example.com/shop/web"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo.init(tmp_path / "gitops")
    repo.commit(
        "Initial layout",
        {"README.md": "# gitops\n", "apps/web/deployment.yaml": deployment("web", f"{IMG}:1.4.2")},
        at=T0,
    )
    repo.commit(
        "web: release 1.5.0",
        {"apps/web/deployment.yaml": deployment("web", f"{IMG}:1.5.0")},
        at=T0 + timedelta(hours=1),
    )
    repo.commit(
        "docs: on-call pointer",
        {"README.md": "# gitops\n\nOn-call: see runbooks.\n"},
        at=T0 + timedelta(hours=2),
    )
    repo.commit(
        "web: raise memory",
        {"apps/web/deployment.yaml": deployment("web", f"{IMG}:1.5.0", memory="512Mi")},
        at=T0 + timedelta(hours=3),
    )
    return repo


def test_commits_newest_first_with_file_texts(repo: Repo) -> None:
    history = LocalGitHistory(repo.path)
    commits = history.commits(T0 + timedelta(minutes=30), T0 + timedelta(hours=5))
    assert [c.subject for c in commits] == [
        "web: raise memory",
        "docs: on-call pointer",
        "web: release 1.5.0",
    ]
    release = commits[2]
    assert release.at == T0 + timedelta(hours=1)
    assert release.committed_at == release.at
    assert release.author == "Dev"
    assert release.sha == repo.head("HEAD~2")
    (change,) = release.files
    assert change.path == "apps/web/deployment.yaml"
    assert change.old_text is not None and f"{IMG}:1.4.2" in change.old_text
    assert change.new_text is not None and f"{IMG}:1.5.0" in change.new_text


def test_commits_window_and_count_bounds(repo: Repo) -> None:
    history = LocalGitHistory(repo.path)
    assert [c.subject for c in history.commits(T0, T0 + timedelta(minutes=90))] == [
        "web: release 1.5.0",
        "Initial layout",
    ]
    assert len(history.commits(T0, T0 + timedelta(days=1), max_count=2)) == 2
    assert history.commits(T0 - timedelta(days=2), T0 - timedelta(days=1)) == []
    initial = history.commits(T0, T0)[0]
    added = {f.path: f for f in initial.files}
    assert added["README.md"].old_text is None and added["README.md"].new_text == "# gitops\n"


def test_large_binary_and_many_files_are_bounded(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "r")
    files: dict[str, str | None] = {f"apps/svc{i}/config.yaml": f"n: {i}\n" for i in range(5)}
    files["a-big.yaml"] = "x: " + "y" * 5000 + "\n"
    repo.commit("many files", files, at=T0)
    (repo.path / "logo.bin").write_bytes(b"\x89PNG\0\0binary")
    repo.commit("binary", {}, at=T0 + timedelta(minutes=1))
    history = LocalGitHistory(repo.path, max_file_bytes=1000, max_files_per_commit=4)
    binary, many = history.commits(T0, T0 + timedelta(hours=1))
    assert binary.files[0].skipped == "binary" and binary.files[0].new_text is None
    assert len(many.files) == 4 and many.files_omitted == 2
    big = next(f for f in many.files if f.path == "a-big.yaml")
    assert big.skipped and "larger than" in big.skipped and big.new_text is None


def test_merge_commits_count_once_against_first_parent(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(
        "web: scale",
        {"apps/web/deployment.yaml": deployment("web", f"{IMG}:1.5.0", memory="512Mi", replicas=4)},
        at=T0 + timedelta(hours=4),
    )
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    commits = LocalGitHistory(repo.path).commits(
        T0 + timedelta(hours=3, minutes=30), datetime.now(UTC) + timedelta(days=1)
    )
    assert [c.subject for c in commits] == ["Merge feature"]
    assert commits[0].is_merge
    (change,) = commits[0].files
    assert change.old_text and "replicas: 2" in change.old_text
    assert change.new_text and "replicas: 4" in change.new_text


def test_read_and_files(repo: Repo, tmp_path: Path) -> None:
    history = LocalGitHistory(repo.path)
    assert history.files() == ["README.md", "apps/web/deployment.yaml"]
    assert history.read("README.md", "HEAD~3") == "# gitops\n"
    assert "512Mi" in (history.read("./apps/web/deployment.yaml") or "")
    assert history.read("apps/missing.yaml") is None
    with pytest.raises(InvalidInput, match="not a commit"):
        history.read("README.md", "no-such-branch")
    with pytest.raises(InvalidInput, match="not a git repository"):
        (tmp_path / "plain").mkdir()
        LocalGitHistory(tmp_path / "plain")


def test_commit_diff_is_the_commit_patch(repo: Repo) -> None:
    diff = LocalGitHistory(repo.path).commit_diff(repo.head("HEAD~2"))
    assert diff.startswith("diff --git a/apps/web/deployment.yaml b/apps/web/deployment.yaml")
    assert _changed(diff) == [f"-        image: {IMG}:1.4.2", f"+        image: {IMG}:1.5.0"]


def test_revert_diff_equals_git_revert_and_leaves_checkout_alone(repo: Repo) -> None:
    release = repo.head("HEAD~2")  # later commits changed other lines of the same file
    (repo.path / "README.md").write_text("local edit, not committed\n")
    history = LocalGitHistory(repo.path)
    diff = history.revert_diff(release)
    assert _changed(diff) == [f"-        image: {IMG}:1.5.0", f"+        image: {IMG}:1.4.2"]
    assert repo.read("README.md") == "local edit, not committed\n"
    assert len(repo.git("worktree", "list").splitlines()) == 1
    assert not (repo.path / ".git" / "REVERT_HEAD").exists()
    repo.git("checkout", "--", "README.md")
    assert write_tree_after_apply(repo, diff) == write_tree_after_revert(repo, release)


def test_revert_diff_of_a_merge_reverts_against_first_parent(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(
        "web: scale",
        {"apps/web/deployment.yaml": deployment("web", f"{IMG}:1.5.0", memory="512Mi", replicas=4)},
    )
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    merge = repo.head()
    diff = LocalGitHistory(repo.path).revert_diff(merge)
    assert "-  replicas: 4" in diff and "+  replicas: 2" in diff
    base = repo.head()
    repo.git("revert", "--no-commit", "-m", "1", merge)
    theirs = repo.git("write-tree").strip()
    repo.git("reset", "-q", "--hard", base)
    assert write_tree_after_apply(repo, diff) == theirs


def test_revert_diff_conflict_is_a_clear_error(repo: Repo) -> None:
    release = repo.head("HEAD~2")
    repo.commit(
        "web: release 1.6.0", {"apps/web/deployment.yaml": deployment("web", f"{IMG}:1.6.0", memory="512Mi")}
    )
    with pytest.raises(
        ConflictError, match=r"does not apply cleanly on HEAD: conflicts in apps/web/deployment.yaml"
    ):
        LocalGitHistory(repo.path).revert_diff(release)
    assert len(repo.git("worktree", "list").splitlines()) == 1
    with pytest.raises(InvalidInput, match="first commit"):
        LocalGitHistory(repo.path).revert_diff(repo.head("HEAD~4"))
    with pytest.raises(InvalidInput, match="not a commit"):
        LocalGitHistory(repo.path).revert_diff("deadbeef")


def test_reverts_reads_and_diffs_run_within_the_configured_budget(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every git command a revert, a read or a diff runs is bounded by ``budget_s`` (the
    ``git_budget_s`` setting), the revert's commands by what is left of one budget."""
    from bot.adapters.git import history as module

    timeouts: list[float] = []

    def recording(run: Any) -> Any:
        def wrapped(*args: Any, timeout_s: float = 999.0, **kwargs: Any) -> Any:
            timeouts.append(timeout_s)
            return run(*args, timeout_s=timeout_s, **kwargs)

        return wrapped

    monkeypatch.setattr(module, "git", recording(module.git))
    monkeypatch.setattr(module, "git_bytes", recording(module.git_bytes))
    history = LocalGitHistory(repo.path, budget_s=7.0)
    timeouts.clear()
    release = repo.head("HEAD~2")
    assert history.revert_diff(release)
    reverting = list(timeouts)
    assert history.commit_diff(release) and history.read("README.md") and history.files()
    assert len(reverting) >= 5 and all(0 < t <= 7.0 for t in timeouts)
    assert reverting == sorted(reverting, reverse=True)  # one budget, spent as the revert goes


def _changed(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_open_ended_windows_beyond_git_calendar_limits(repo: Repo) -> None:
    # git's date parser rejects years after 2099; the adapter must still honour such bounds.
    wide = LocalGitHistory(repo.path).commits(
        datetime(1960, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
    )
    assert len(wide) == 4
    naive = LocalGitHistory(repo.path).commits(datetime(2026, 11, 20, 12, 59), datetime(2026, 11, 20, 13, 0))
    assert [c.subject for c in naive] == ["web: release 1.5.0"]  # naive datetimes are UTC


def test_empty_repository(tmp_path: Path) -> None:
    empty = Repo.init(tmp_path / "empty")
    history = LocalGitHistory(empty.path)
    assert history.commits(T0, T0 + timedelta(days=1)) == []
    with pytest.raises(InvalidInput):
        history.revert_diff("HEAD")


def test_revert_diff_works_on_a_read_only_repository(repo: Repo) -> None:
    release = repo.head("HEAD~2")
    before = sorted(str(p.relative_to(repo.path)) for p in (repo.path / ".git").rglob("*"))
    modes = {p: p.stat().st_mode for p in [repo.path, *repo.path.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)  # like a read-only git-sync volume
    try:
        diff = LocalGitHistory(repo.path).revert_diff(release)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    repo.git("update-index", "-q", "--refresh")  # chmod changed ctimes; git apply --index checks stat
    assert sorted(str(p.relative_to(repo.path)) for p in (repo.path / ".git").rglob("*")) == before
    assert write_tree_after_apply(repo, diff) == write_tree_after_revert(repo, release)
