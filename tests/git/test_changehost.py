"""PlainGitChangeHost against a real bare remote in a temp directory."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.git.runner import redact
from bot.domain.errors import ConflictError, InvalidInput, SourceUnavailable, Tampered
from bot.domain.proposal import Action, Proposal
from tests.git.repos import Repo, bare_remote, deployment, run

IMG = "registry.example.com/shop/web"
PATH = "apps/web/deployment.yaml"


@pytest.fixture
def remote(tmp_path: Path) -> tuple[Path, Repo]:
    return bare_remote(tmp_path, {PATH: deployment("web", f"{IMG}:1.4.2"), "README.md": "# gitops\n"})


@pytest.fixture
def host(tmp_path: Path, remote: tuple[Path, Repo]) -> PlainGitChangeHost:
    return PlainGitChangeHost(str(remote[0]), tmp_path / "cache")


def _proposal(work: Repo, pid: str = "p1", replicas: int = 4) -> Proposal:
    """A scale proposal whose diff is computed the way a person would: edit, diff, undo."""
    (work.path / PATH).write_text(deployment("web", f"{IMG}:1.4.2", replicas=replicas))
    diff = work.git("diff")
    work.git("checkout", "--", PATH)
    return Proposal(
        id=pid, action=Action.SCALE, service="web", diff=diff, title="Scale web", rationale="CPU saturated."
    )


def _remote_git(remote: Path, *args: str) -> str:
    return run(remote, *args)


def test_open_pushes_one_commit_and_is_idempotent(
    host: PlainGitChangeHost, remote: tuple[Path, Repo]
) -> None:
    bare, work = remote
    proposal = _proposal(work)
    ref = host.open(proposal)
    assert ref.branch == "tugboat/p1" and ref.url is None
    assert host.head(proposal) == ref.head_sha
    assert _remote_git(bare, "rev-list", "--count", "main..tugboat/p1").strip() == "1"
    message = _remote_git(bare, "log", "-1", "--format=%an <%ae>%n%B", ref.head_sha)
    assert message.startswith(
        "Tugboat <tugboat@localhost>\nScale web\n\nCPU saturated.\n\nTugboat-Proposal: p1"
    )
    assert "replicas: 4" in _remote_git(bare, "show", f"{ref.head_sha}:{PATH}")

    again = host.open(proposal)
    assert again == ref
    work.commit("unrelated", {"README.md": "# gitops\n\nmore\n"})
    work.git("push", "-q", "origin", "main")
    assert host.open(proposal) == ref  # same change on an older base: still the same branch


def test_heads_reads_every_proposal_branch_at_once_and_only_those(
    host: PlainGitChangeHost, remote: tuple[Path, Repo]
) -> None:
    bare, work = remote
    first, second = host.open(_proposal(work, "p1", 4)), host.open(_proposal(work, "p2", 5))
    run(bare, "branch", "feature/other", "main")  # a person's branch is not a proposal
    assert host.heads() == {first.branch: first.head_sha, second.branch: second.head_sha}
    run(bare, "branch", "-D", second.branch)
    assert host.heads() == {first.branch: first.head_sha}  # gone, as ``head`` says with None


def test_open_refuses_a_diff_that_does_not_apply(host: PlainGitChangeHost, remote: tuple[Path, Repo]) -> None:
    _, work = remote
    proposal = _proposal(work)
    work.commit("web: scale by hand", {PATH: deployment("web", f"{IMG}:1.4.2", replicas=3)})
    work.git("push", "-q", "origin", "main")
    with pytest.raises(ConflictError, match=r"diff of proposal p1 does not apply to main at [0-9a-f]{12}"):
        host.open(proposal)
    assert host.head(proposal) is None
    with pytest.raises(InvalidInput, match="no diff"):
        host.open(Proposal(id="empty", action=Action.SCALE))
    with pytest.raises(InvalidInput, match="cannot be a branch name"):
        host.open(proposal.model_copy(update={"id": "../main"}))


def test_open_refuses_a_branch_with_other_content(
    host: PlainGitChangeHost, remote: tuple[Path, Repo]
) -> None:
    _, work = remote
    host.open(_proposal(work))
    with pytest.raises(ConflictError, match=r"already exists .* with other content"):
        host.open(_proposal(work, replicas=6))


def test_merge_after_approval(host: PlainGitChangeHost, remote: tuple[Path, Repo]) -> None:
    bare, work = remote
    proposal = _proposal(work)
    ref = host.open(proposal)
    old_main = _remote_git(bare, "rev-parse", "main").strip()
    result = host.merge(proposal, ref.head_sha)
    assert result.merged and result.sha == _remote_git(bare, "rev-parse", "main").strip()
    assert result.message == f"merged tugboat/p1 into main at {bare.name}"  # never a server path
    assert _remote_git(bare, "rev-parse", f"{result.sha}^1", f"{result.sha}^2").split() == [
        old_main,
        ref.head_sha,
    ]
    assert "replicas: 4" in _remote_git(bare, "show", f"main:{PATH}")
    assert "Tugboat-Proposal: p1" in _remote_git(bare, "log", "-1", "--format=%B", "main")
    again = host.merge(proposal, ref.head_sha[:10].upper())  # a retried merge finds the earlier one
    assert again.merged and again.sha == result.sha


def test_merge_refuses_when_branch_moved_after_approval(
    host: PlainGitChangeHost, remote: tuple[Path, Repo], tmp_path: Path
) -> None:
    bare, work = remote
    proposal = _proposal(work)
    ref = host.open(proposal)
    other = Repo.clone(bare, tmp_path / "other", branch="tugboat/p1")
    moved = other.commit("sneak in", {PATH: deployment("web", f"{IMG}:6.6.6", replicas=4)})
    other.git("push", "-q", "origin", "tugboat/p1")
    main_before = _remote_git(bare, "rev-parse", "main").strip()
    expected = (
        f"tugboat/p1 moved after it was shown: Tugboat made {ref.head_sha[:12]}, it is now {moved[:12]}"
    )
    with pytest.raises(Tampered, match=expected):
        host.merge(proposal, ref.head_sha)
    assert _remote_git(bare, "rev-parse", "main").strip() == main_before


def test_merge_retries_when_main_moves_concurrently(
    host: PlainGitChangeHost, remote: tuple[Path, Repo], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, work = remote
    proposal = _proposal(work)
    ref = host.open(proposal)
    fetch = host._fetch
    calls: list[str] = []

    def fetch_then_someone_pushes() -> None:
        fetch()
        if not calls:  # between our fetch and our push, another person lands a commit on main
            calls.append(work.commit("docs: race", {"README.md": "# gitops\n\nraced\n"}))
            work.git("push", "-q", "origin", "main")

    monkeypatch.setattr(host, "_fetch", fetch_then_someone_pushes)
    result = host.merge(proposal, ref.head_sha)
    assert result.merged and result.sha
    assert _remote_git(bare, "rev-parse", f"{result.sha}^1", f"{result.sha}^2").split() == [
        calls[0],
        ref.head_sha,
    ]
    assert "replicas: 4" in _remote_git(bare, "show", f"main:{PATH}")


def test_merge_gives_up_after_bounded_attempts(
    host: PlainGitChangeHost, remote: tuple[Path, Repo], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, work = remote
    proposal = _proposal(work)
    ref = host.open(proposal)
    fetch = host._fetch
    races: list[int] = []

    def always_raced() -> None:
        fetch()
        races.append(1)
        work.commit(f"race {len(races)}", {"README.md": f"# gitops\n\nrace {len(races)}\n"})
        work.git("push", "-q", "origin", "main")

    monkeypatch.setattr(host, "_fetch", always_raced)
    with pytest.raises(ConflictError, match="kept moving during 3 merge attempts"):
        host.merge(proposal, ref.head_sha)
    assert len(races) == 3
    assert "replicas: 2" in _remote_git(bare, "show", f"main:{PATH}")


def test_merge_conflict_and_closed_branch(host: PlainGitChangeHost, remote: tuple[Path, Repo]) -> None:
    _, work = remote
    proposal = _proposal(work)
    ref = host.open(proposal)
    work.commit("web: scale by hand", {PATH: deployment("web", f"{IMG}:1.4.2", replicas=3)})
    work.git("push", "-q", "origin", "main")
    with pytest.raises(
        ConflictError, match=f"tugboat/p1 no longer merges cleanly into main: conflicts in {PATH}"
    ):
        host.merge(proposal, ref.head_sha)
    host.close(proposal, "rejected")
    assert host.head(proposal) is None
    host.close(proposal, "rejected again")  # closing twice is harmless
    with pytest.raises(ConflictError, match="gone"):
        host.merge(proposal, ref.head_sha)
    host.comment(proposal, "plain git keeps no comments")


def test_concurrent_opens_share_one_branch(tmp_path: Path, remote: tuple[Path, Repo]) -> None:
    bare, work = remote
    proposals = [_proposal(work, "same"), _proposal(work, "other", replicas=5)]
    # Two hosts over one cache, like two worker processes on one machine.
    hosts = [PlainGitChangeHost(str(bare), tmp_path / "cache") for _ in range(4)]
    refs: list[str] = []
    errors: list[Exception] = []

    def open_one(i: int) -> None:
        try:
            refs.append(hosts[i].open(proposals[i % 2]).head_sha)
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(refs)) == 2
    assert _remote_git(bare, "rev-list", "--count", "main..tugboat/same").strip() == "1"


def test_errors_never_show_credentials(tmp_path: Path) -> None:
    assert redact("fatal: unable to access 'https://bot:s3cr3t@example.com/x.git/'") == (
        "fatal: unable to access 'https://***@example.com/x.git/'"
    )
    host = PlainGitChangeHost("http://bot:s3cr3t@127.0.0.1:9/gitops.git", tmp_path / "cache")
    proposal = Proposal(id="p9", action=Action.SCALE, diff="diff --git a/x b/x\n")
    with pytest.raises(SourceUnavailable) as info:
        host.open(proposal)
    assert "s3cr3t" not in str(info.value) and "http://***@127.0.0.1:9/gitops.git" in str(info.value)
    with pytest.raises(SourceUnavailable) as info:
        host.head(proposal)
    assert "s3cr3t" not in str(info.value)


def _open_in_process(remote: str, cache: str, proposal: Proposal) -> str:
    return PlainGitChangeHost(remote, Path(cache)).open(proposal).head_sha


def test_concurrent_processes_share_one_clone(tmp_path: Path, remote: tuple[Path, Repo]) -> None:
    bare, work = remote
    proposals = [_proposal(work, f"proc{i % 3}", replicas=3 + i % 3) for i in range(6)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=6, mp_context=context) as pool:
        heads = list(pool.map(_open_in_process, [str(bare)] * 6, [str(tmp_path / "cache")] * 6, proposals))
    assert heads[0:3] == heads[3:6] and len(set(heads)) == 3
    for i in range(3):
        assert _remote_git(bare, "rev-list", "--count", f"main..tugboat/proc{i}").strip() == "1"
    (clone,) = (tmp_path / "cache").glob("*.git")
    run(clone, "fsck", "--no-progress")  # the shared clone is intact
