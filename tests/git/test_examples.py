"""Classification and revert diffs on the six example scenario repositories (../shared)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.git.changes import describe
from bot.adapters.git.history import LocalGitHistory
from tests.git.repos import Repo, write_tree_after_apply, write_tree_after_revert

pytestmark = pytest.mark.shared

EXAMPLES = [
    "example-00-traffic_surge",
    "example-01-cpu_limit",
    "example-02-memory_limit",
    "example-03-bad_deploy",
    "example-04-transient",
    "example-05-bad_deploy-downstream",
]
WHOLE_HISTORY = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _clone(shared_dir: Path, name: str, tmp_path: Path) -> tuple[Repo, dict[str, object]]:
    scenario = shared_dir / "scenarios" / "examples" / name
    repo = Repo.clone(scenario / "repo.bundle", tmp_path / "repo")
    return repo, json.loads((scenario / "expected.json").read_text())


def _workloads(history: LocalGitHistory) -> list[str]:
    """Workload names from the layout (``apps/<svc>/`` or ``base/<svc>/``), not from the answers."""
    return sorted({p.split("/")[1] for p in history.files() if p.startswith(("apps/", "base/"))})


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_commit_is_classified(shared_dir: Path, tmp_path: Path, name: str) -> None:
    repo, _ = _clone(shared_dir, name, tmp_path)
    history = LocalGitHistory(repo.path)
    workloads = _workloads(history)
    commits = history.commits(*WHOLE_HISTORY)
    assert len(commits) > 5
    for commit in commits:
        changes = describe(commit, workloads)
        touched = [(c.workload, set(c.kinds)) for c in changes]
        subject = commit.subject
        if subject.startswith("docs:") or subject.endswith(": refresh configuration"):
            assert touched == [], subject
        elif match := re.fullmatch(r"(\S+): enable debug logging", subject):
            assert touched == [(match[1], {"env"})], subject
            assert changes[0].summary == "env LOG_LEVEL info -> debug"
        elif match := re.fullmatch(r"(\S+): release (\S+)", subject):
            assert touched == [(match[1], {"image"})], subject
            assert changes[0].summary.endswith(f" -> {match[2]}"), changes[0].summary
        elif subject == "Initial GitOps layout":
            assert [w for w, _ in touched] == workloads
        else:
            pytest.fail(f"unexpected commit subject in {name}: {subject}")


@pytest.mark.parametrize("name", [n for n in EXAMPLES if "bad_deploy" in n])
def test_revert_of_the_bad_deploy_equals_git_revert(shared_dir: Path, tmp_path: Path, name: str) -> None:
    repo, expected = _clone(shared_dir, name, tmp_path)
    remediation = expected["remediation"]
    assert isinstance(remediation, dict)
    sha = remediation["commit"]
    history = LocalGitHistory(repo.path)
    (commit,) = [c for c in history.commits(*WHOLE_HISTORY) if c.sha == sha]
    (change,) = describe(commit, _workloads(history))
    assert change.workload == remediation["service"] and change.kinds == {"image"}
    diff = history.revert_diff(sha)
    assert diff and write_tree_after_apply(repo, diff) == write_tree_after_revert(repo, sha)


@pytest.mark.parametrize("name", EXAMPLES)
def test_revert_of_each_manifest_commit_equals_git_revert(
    shared_dir: Path, tmp_path: Path, name: str
) -> None:
    repo, _ = _clone(shared_dir, name, tmp_path)
    history = LocalGitHistory(repo.path)
    commits = [c for c in history.commits(*WHOLE_HISTORY) if c.parents and describe(c, _workloads(history))]
    assert commits
    for commit in commits:
        diff = history.revert_diff(commit.sha)
        assert write_tree_after_apply(repo, diff) == write_tree_after_revert(repo, commit.sha), commit.subject
