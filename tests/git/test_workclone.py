"""The repository setting in each form, Tugboat's own working clone, credentials that never
show, and pushes that lose races being fetched and retried, against real git repositories."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot import wiring
from bot.adapters.git.changehost import PlainGitChangeHost
from bot.adapters.git.runner import GitFailed, push_raced, push_refused
from bot.adapters.git.source import GitAuth, auth_env, plain_directory, resolve_source
from bot.adapters.git.workclone import WorkingClone
from bot.adapters.manifests.workspace import ManifestRepo
from bot.domain.errors import InvalidInput, SourceUnavailable
from bot.settings import Settings
from testkit.gitops import DEPLOYMENT, git, make_remote, scale_proposal

TOKEN = "ghs_s3cr3tT0ken"


def test_each_form_of_the_setting_names_one_remote(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    bare = resolve_source(str(remote.bare))
    assert (bare.url, bare.name, bare.checked_out) == (str(remote.bare), "remote.git", frozenset())
    # a clone stands for its upstream: merges land there, never in the user's working copy
    assert resolve_source(str(remote.work)).url == str(remote.bare)
    assert resolve_source(f"file://{remote.bare}").name == "remote.git"
    lone = tmp_path / "lone"
    git(tmp_path, "init", "-q", "-b", "main", str(lone))
    alone = resolve_source(str(lone))
    assert alone.url == str(lone) and alone.checked_out == {"main"}
    with pytest.raises(InvalidInput, match="'main' checked out and no remote"):
        alone.refuse_push_to("main")
    # a clone of a bundle fetches from the bundle; a clone whose remote is gone stands for itself
    bundle = tmp_path / "gitops.bundle"
    git(remote.bare, "bundle", "create", str(bundle), "main")
    from_bundle = tmp_path / "from-bundle"
    git(tmp_path, "clone", "-q", "-b", "main", str(bundle), str(from_bundle))
    assert resolve_source(str(from_bundle)).url == str(bundle)
    bundle.unlink()
    assert resolve_source(str(from_bundle)).url == str(from_bundle)
    https = resolve_source(f"https://x-access-token:{TOKEN}@github.example.com/org/gitops.git")
    assert https.url == "https://github.example.com/org/gitops.git" and https.password == TOKEN
    assert https.name == "github.example.com/org/gitops.git"
    assert resolve_source(f"https://{TOKEN}@github.example.com/org/gitops.git").password == TOKEN
    ssh = resolve_source("ssh://git@github.example.com:2222/org/gitops.git")
    assert ssh.url == "ssh://git@github.example.com:2222/org/gitops.git" and ssh.password is None
    assert (
        resolve_source("git@github.example.com:org/gitops.git").url == "git@github.example.com:org/gitops.git"
    )
    with pytest.raises(InvalidInput, match="not a git repository"):
        resolve_source(str(tmp_path))
    with pytest.raises(InvalidInput, match="does not exist") as info:
        resolve_source(str(tmp_path / "nowhere"))
    assert str(tmp_path) not in str(info.value)  # never a server path
    assert plain_directory(str(tmp_path)) == tmp_path.resolve()
    assert plain_directory(str(remote.work)) is None and plain_directory(str(remote.bare)) is None


def test_the_working_clone_fetches_before_each_use(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "git")
    clone = WorkingClone(resolve_source(str(remote.bare)), tmp_path / "data")
    first = clone.checkout()
    assert (first / "apps/checkout/deployment.yaml").read_text() == DEPLOYMENT
    assert first.is_relative_to(tmp_path / "data")
    (remote.work / "apps/checkout/deployment.yaml").write_text(
        DEPLOYMENT.replace("replicas: 3", "replicas: 4")
    )
    git(remote.work, "commit", "-qam", "scale by hand")
    git(remote.work, "push", "-q", "origin", "main")
    second = clone.checkout()
    assert second != first and first.is_dir()  # a reader of the older commit keeps its files
    assert "replicas: 4" in (second / "apps/checkout/deployment.yaml").read_text()
    assert clone.history(15.0).files() == ["apps/checkout/deployment.yaml"]
    for _ in range(4):  # old checkouts are pruned once nobody can be reading them
        git(remote.work, "commit", "-q", "--allow-empty", "-m", "tick")
        git(remote.work, "push", "-q", "origin", "main")
        clone.checkout()
    assert len(list((clone.root / "trees").iterdir())) == 6  # all handed out within 30 minutes
    for tree in (clone.root / "trees").iterdir():
        os.utime(tree, (tree.stat().st_atime - 3600, tree.stat().st_mtime - 3600))
    git(remote.work, "commit", "-q", "--allow-empty", "-m", "tock")
    git(remote.work, "push", "-q", "origin", "main")
    clone.checkout()
    assert len(list((clone.root / "trees").iterdir())) == 3
    # the remote is gone: an error, or the last commit fetched for a reader that prefers it
    moved = remote.bare.rename(remote.bare.with_name("moved.git"))
    with pytest.raises(SourceUnavailable, match=r"fetching remote\.git"):
        clone.checkout()
    assert clone.checkout(stale_ok=True).is_dir()
    moved.rename(remote.bare)
    # many threads at once: one clone, no error, everyone sees the same commit
    with ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda _: clone.checkout(), range(16)))
    assert len(seen) == 1


def test_a_missing_branch_is_a_clear_error(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "git")
    clone = WorkingClone(resolve_source(str(remote.bare)), tmp_path / "data", default_branch="production")
    with pytest.raises(SourceUnavailable, match="has no branch 'production'"):
        clone.checkout()


@contextmanager
def _basic_auth_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTPS-like git host on loopback that asks for credentials and records what it got."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            if auth is None:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
            else:
                seen.append(auth)
                self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/org/gitops.git", seen
    finally:
        server.shutdown()
        server.server_close()


def test_https_credentials_reach_git_and_never_a_message_a_log_or_a_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _basic_auth_server() as (url, seen):
        api = url.split("/org/")[0] + "/api/v3"  # GitHub Enterprise Server: the API on the git host
        settings = Settings(repo=url, github_token=TOKEN, github_api_url=api, data_dir=str(tmp_path / "data"))
        clone = wiring.repository(settings)
        assert clone is not None
        with pytest.raises(SourceUnavailable) as info:
            clone.checkout()
        # the GitHub token goes to GitHub's host only, never to another HTTPS remote
        elsewhere = wiring.repository(Settings(repo=url, github_token=TOKEN, data_dir=str(tmp_path / "d3")))
        assert elsewhere is not None and "TUGBOAT_GIT_PASSWORD" not in elsewhere.env()
        assert len(seen) == 1
        # a token written into the URL is moved out of it the same way
        inline = url.replace("http://", f"http://{TOKEN}@")
        with pytest.raises(SourceUnavailable) as inline_info:
            WorkingClone(
                resolve_source(inline), tmp_path / "data2", env=auth_env(GitAuth(), resolve_source(inline))
            ).checkout()
    expected = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert seen == [expected, expected]
    for text in (str(info.value), str(inline_info.value), caplog.text):
        assert TOKEN not in text
    assert "gitops.git" in str(info.value)
    for root in (tmp_path / "data", tmp_path / "data2"):
        for path in root.rglob("*"):
            assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path


def test_an_ssh_key_file_is_what_ssh_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "ssh-args"
    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {record}\nexit 255\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    key = tmp_path / "deploy key"
    key.write_text("not a real key\n")
    settings = Settings(
        repo="git@git.example.com:org/gitops.git", repo_ssh_key_file=str(key), data_dir=str(tmp_path / "d")
    )
    clone = wiring.repository(settings)
    assert clone is not None
    with pytest.raises(SourceUnavailable) as info:
        clone.checkout()
    args = record.read_text()
    assert f"-i {key}" in args and "IdentitiesOnly=yes" in args and "git@git.example.com" in args
    assert str(tmp_path) not in str(info.value)


def _failed(stderr: str) -> GitFailed:
    return GitFailed("git failed", 1, stderr)


def test_lost_push_races_are_told_apart_from_refusals() -> None:
    assert push_raced(_failed(" ! [rejected]        main -> main (fetch first)"))
    assert push_raced(_failed(" ! [rejected]        main -> main (stale info)"))
    assert push_raced(
        _failed(
            " ! [remote rejected] main -> main (cannot lock ref 'refs/heads/main': is at 1 but expected 2)"
        )
    )
    checked_out = _failed(" ! [remote rejected] main -> main (branch is currently checked out)")
    assert not push_raced(checked_out) and push_refused(checked_out)
    assert not push_raced(_failed("fatal: unable to access 'https://example.com/': Could not resolve host"))


def test_a_locked_ref_on_the_remote_is_retried_not_reported_unreachable(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "git")
    host = PlainGitChangeHost(str(remote.bare), tmp_path / "data", merge_attempts=5)
    proposal = scale_proposal(remote.work, 5)
    ref = host.open(proposal)
    lock = remote.bare / "refs" / "heads" / "main.lock"
    lock.write_text("")  # another push holds the ref right now
    timer = threading.Timer(0.3, lock.unlink)
    timer.start()
    try:
        result = host.merge(proposal, ref.head_sha)
    finally:
        timer.join()
    assert result.merged and "replicas: 5" in remote.show("apps/checkout/deployment.yaml")


def test_two_replicas_merging_at_once_both_land(tmp_path: Path) -> None:
    files = {
        "apps/checkout/deployment.yaml": DEPLOYMENT,
        "apps/cart/deployment.yaml": DEPLOYMENT.replace("checkout", "cart"),
    }
    remote = make_remote(tmp_path / "git", files)
    # Each replica has its own data directory (its own clones); the remote arbitrates.
    hosts = [PlainGitChangeHost(str(remote.bare), tmp_path / f"pod{i}", merge_attempts=8) for i in range(2)]
    planned = [ManifestRepo(remote.work).plan(name, "replicas", 7) for name in ("checkout", "cart")]
    proposals = [
        scale_proposal(remote.work, 7).model_copy(update={"id": f"p{i}", "diff": p.diff, "service": name})
        for i, (p, name) in enumerate(zip(planned, ("checkout", "cart"), strict=True))
    ]
    refs = [host.open(p) for host, p in zip(hosts, proposals, strict=True)]
    barrier = threading.Barrier(2)

    def merge(i: int) -> bool:
        barrier.wait()
        return hosts[i].merge(proposals[i], refs[i].head_sha).merged

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(merge, range(2))) == [True, True]
    for name in ("checkout", "cart"):
        assert "replicas: 7" in remote.show(f"apps/{name}/deployment.yaml")


def test_the_manifest_scan_reads_what_git_tracks(tmp_path: Path) -> None:
    remote = make_remote(
        tmp_path / "git", {"apps/checkout/deployment.yaml": DEPLOYMENT, ".gitignore": "rendered/\n"}
    )
    rendered = remote.work / "rendered"
    rendered.mkdir()
    (rendered / "ghost.yaml").write_text(DEPLOYMENT.replace("checkout", "ghost"))
    (remote.work / "apps" / "new.yaml").write_text(DEPLOYMENT.replace("checkout", "fresh"))  # untracked
    (remote.work / ".git" / "stray.yaml").write_text(DEPLOYMENT.replace("checkout", "stray"))
    names = {w.name for w in ManifestRepo(remote.work).workloads()}
    assert names == {"checkout", "fresh"}
    plain = tmp_path / "plain"  # not a git repository: files on disk, .git skipped
    (plain / ".git").mkdir(parents=True)
    (plain / ".git" / "x.yaml").write_text(DEPLOYMENT.replace("checkout", "stray"))
    (plain / "d.yaml").write_text(DEPLOYMENT)
    assert {w.name for w in ManifestRepo(plain).workloads()} == {"checkout"}
    with pytest.raises(InvalidInput) as info:
        ManifestRepo(remote.work).find("nosuch")
    assert str(tmp_path) not in str(info.value) and "in the GitOps repository" in str(info.value)


def test_a_merge_never_pushes_to_a_checked_out_branch(tmp_path: Path) -> None:
    """A clone without a remote is a remote for branches only: its checked-out branch is never
    pushed to, whether it is named by path or by file:// URL."""
    remote = make_remote(tmp_path / "git")
    lone = tmp_path / "lone"
    git(tmp_path, "clone", "-q", str(remote.bare), str(lone))
    git(lone, "remote", "remove", "origin")
    before = git(lone, "rev-parse", "HEAD")
    for setting in (str(lone), f"file://{lone}"):
        settings = Settings(repo=setting, data_dir=str(tmp_path / "data"))
        host = wiring.change_host(settings)
        proposal = scale_proposal(lone, 6).model_copy(update={"id": f"p{len(setting)}"})
        ref = host.open(proposal)  # a tugboat/ branch is not checked out: pushing it is fine
        with pytest.raises(InvalidInput, match="'main' checked out and no remote to push to"):
            host.merge(proposal, ref.head_sha)
    assert git(lone, "rev-parse", "HEAD") == before and git(lone, "status", "--porcelain") == ""


def test_cli_errors_never_show_a_server_path(tmp_path: Path) -> None:
    """The CLIs take the repository in every form too, and their errors name it, not its path."""
    from tests.manifests.test_cli import tugboat
    from tests.slack.conftest import alert_payload

    remote = make_remote(tmp_path / "git")
    args = ("manifest", "plan", str(remote.bare), "nope", "--field", "replicas", "--value", "3")
    out = tugboat(*args, cwd=tmp_path)
    assert out.returncode == 2 and "no workload named 'nope' in the GitOps repository" in out.stderr
    out = tugboat(
        *args[:2], f"file://{remote.bare}", "checkout", "--field", "replicas", "--value", "5", cwd=tmp_path
    )
    assert out.returncode == 0 and "+  replicas: 5" in out.stdout, out.stderr
    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps(alert_payload()))
    out = tugboat("investigate", "--alert", str(alert), "--repo", str(tmp_path / "gone.git"), cwd=tmp_path)
    assert out.returncode == 2 and "gone.git does not exist" in out.stderr
    for text in (out.stderr, out.stdout):
        assert str(tmp_path) not in text


def test_an_http_remote_with_a_token_fetches_opens_and_merges(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Over git's own smart-HTTP server with basic auth, as GitHub serves HTTPS: the token from
    the settings authenticates every fetch and push, and appears nowhere else."""
    from testkit.githttp import serving_git

    caplog.set_level(logging.DEBUG)
    remote = make_remote(tmp_path / "git")
    with serving_git(tmp_path / "git", "x-access-token", TOKEN) as server:
        url = f"{server.base_url}/remote.git"
        settings = Settings(
            repo=url,
            github_token=TOKEN,
            github_api_url=f"{server.base_url}/api/v3",
            data_dir=str(tmp_path / "data"),
        )
        clone = wiring.repository(settings)
        assert clone is not None
        tree = clone.checkout()
        assert (tree / "apps/checkout/deployment.yaml").read_text() == DEPLOYMENT
        host = wiring.change_host(settings)
        proposal = scale_proposal(tree, 6)
        ref = host.open(proposal)
        assert host.merge(proposal, ref.head_sha).merged
        assert "replicas: 6" in (clone.checkout() / "apps/checkout/deployment.yaml").read_text()
        wrong = Settings(
            repo=url,
            github_token="ghs_wrong",
            github_api_url=settings.github_api_url,
            data_dir=str(tmp_path / "d2"),
        )
        with pytest.raises(SourceUnavailable) as info:
            wiring.repository(wrong).checkout()  # type: ignore[union-attr]
    assert "replicas: 6" in remote.show("apps/checkout/deployment.yaml")
    assert server.authorizations and TOKEN not in str(info.value) and "ghs_wrong" not in str(info.value)
    assert TOKEN not in caplog.text
    for path in (tmp_path / "data").rglob("*"):
        assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path


def test_github_repo_alone_names_the_clone_url(tmp_path: Path) -> None:
    clone = wiring.repository(Settings(github_repo="acme/gitops", github_token=TOKEN, data_dir=str(tmp_path)))
    assert clone is not None and clone.source.url == "https://github.com/acme/gitops.git"
    assert clone.env()["TUGBOAT_GIT_PASSWORD"] == TOKEN  # github.com is GitHub's host
    ghes = Settings(
        github_repo="acme/gitops", github_api_url="https://ghe.example.com/api/v3", data_dir=str(tmp_path)
    )
    assert wiring.repository(ghes).source.url == "https://ghe.example.com/acme/gitops.git"  # type: ignore[union-attr]
    assert wiring.repository(Settings(data_dir=str(tmp_path))) is None


def test_a_github_app_token_is_made_per_command_and_its_failure_is_clear(tmp_path: Path) -> None:
    """Building the repository needs no network; each git command asks the App for its
    (cached, expiring) installation token, and a token that cannot be made is a clear error."""
    settings = Settings(
        repo="https://github.com/acme/gitops.git",
        github_app_id=1,
        github_app_private_key="-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----",
        github_installation_id=2,
        data_dir=str(tmp_path),
    )
    clone = wiring.repository(settings)
    assert clone is not None
    with pytest.raises(SourceUnavailable, match="no credentials for git") as info:
        clone.checkout()
    assert "not a key" not in str(info.value)
