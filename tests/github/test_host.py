"""GitHubChangeHost against cassettes of GitHub's REST API: idempotent open, pinned merges."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pytest

from bot.adapters.github.client import RateLimitWaitTooLong
from bot.adapters.github.host import GitHubChangeHost
from bot.domain.errors import ConflictError, Tampered
from bot.settings import ApprovalPolicy
from tests.github import exchanges as sc
from tests.github.conftest import RECORDING, github_cassette, record_target, recordable_proposal

Host = Callable[..., GitHubChangeHost]
MERGE_PATH = f"/pulls/{sc.w.PR_NUMBER}/merge"


def test_open_is_idempotent_and_builds_the_commit_from_the_diff(gh_host: Host) -> None:
    host, proposal = gh_host(**record_target()), recordable_proposal()
    with github_cassette("open_twice", rerecordable=True) as (cassette, sent):
        first = host.open(proposal)
        again = host.open(proposal)  # a retry after a crash: finds the PR, checks its content
        assert cassette.all_played
    assert first == again and first.branch == f"tugboat/{proposal.id}"
    assert sent.count("POST", "/pulls") == 1 and sent.count("POST", "/git/refs") == 1
    (blob,) = [json.loads(b) for b in sent.bodies("POST", "/git/blobs")]
    assert base64.b64decode(blob["content"]) == sc.NEW  # the diff applied to the base contents
    (commit,) = [json.loads(b) for b in sent.bodies("POST", "/git/commits")]
    assert f"Tugboat-Proposal: {proposal.id}" in commit["message"] and len(commit["parents"]) == 1
    (ref,) = [json.loads(b) for b in sent.bodies("POST", "/git/refs")]
    assert ref == {"ref": f"refs/heads/{first.branch}", "sha": first.head_sha}
    (pr,) = [json.loads(b) for b in sent.bodies("POST", "/pulls")]
    assert pr["head"] == first.branch and pr["base"] == "main"
    assert "Drafted by Tugboat" in pr["body"] and "replicas" in pr["body"]
    assert [json.loads(b) for b in sent.bodies("POST", "/labels")] == [["tugboat", "scale"]]
    if not RECORDING:  # the hand-written exchange's fixed values
        assert first.head_sha == sc.HEAD and commit["parents"] == [sc.BASE]
        assert first.url == f"https://github.com/{sc.w.FULL}/pull/{sc.w.PR_NUMBER}"


def test_a_lost_pull_request_answer_finds_the_one_it_made(gh_host: Host) -> None:
    with github_cassette("open_pull_502_then_exists") as (cassette, sent):
        ref = gh_host().open(sc.proposal())
        assert cassette.all_played  # 502, then 422 "already exists", then the lookup
    assert ref.head_sha == sc.HEAD and ref.url and ref.url.endswith("/pull/42")
    assert sent.count("POST", "/pulls") == 1  # one logical create; urllib3 retried below it


def test_losing_the_branch_race_reuses_the_winners_identical_commit(gh_host: Host) -> None:
    with github_cassette("open_ref_race") as (cassette, sent):
        ref = gh_host().open(sc.proposal())
        assert cassette.all_played
    assert ref.head_sha == sc.HEAD and sent.count("POST", "/pulls") == 1


def test_a_branch_with_other_content_is_never_reused(gh_host: Host) -> None:
    with (
        github_cassette("open_branch_with_other_content") as (cassette, sent),
        pytest.raises(ConflictError) as err,
    ):
        gh_host().open(sc.proposal())
    assert "already exists on tugboat-test/gitops with other content" in str(err.value)
    assert cassette.all_played and not [m for m, _, _ in sent.requests if m != "GET"]  # nothing written


def test_merge_at_the_approved_head(gh_host: Host) -> None:
    with github_cassette("merge_clean") as (cassette, sent):
        result = gh_host().merge(sc.proposal(), sc.HEAD)
        assert cassette.all_played
    assert result.merged and result.sha == sc.MERGE
    (body,) = [json.loads(b) for b in sent.bodies("PUT", MERGE_PATH)]
    assert body["sha"] == sc.HEAD and body["merge_method"] == "squash"  # GitHub re-checks the head


def test_merge_refuses_when_the_head_moved(gh_host: Host) -> None:
    with github_cassette("merge_head_moved") as (_, sent), pytest.raises(Tampered) as err:
        gh_host().merge(sc.proposal(), sc.HEAD)
    assert f"#42 moved after it was shown: Tugboat made {sc.HEAD[:12]}" in str(err.value)
    assert sent.count("PUT", MERGE_PATH) == 0


@pytest.mark.parametrize(
    ("cassette", "allowed", "expected"),
    [
        ("merge_dirty", ["clean"], "'dirty' (it has merge conflicts"),
        ("merge_dirty", ["clean", "dirty"], "'dirty'"),  # never mergeable, whatever is configured
        ("merge_blocked", ["clean", "unstable"], "'blocked' (a branch rule is not met"),
        ("merge_unknown", ["clean"], "'unknown' (GitHub has not finished"),
    ],
)
def test_merge_refuses_unmergeable_states(
    gh_host: Host, cassette: str, allowed: list[str], expected: str
) -> None:
    host = gh_host(policy=ApprovalPolicy(approvers=["U_ALICE"], allowed_mergeable_states=allowed))
    host.mergeable_polls = 2
    with github_cassette(cassette) as (played, sent):
        result = host.merge(sc.proposal(), sc.HEAD)
        assert played.all_played
    assert not result.merged and expected in result.message
    assert sent.count("PUT", MERGE_PATH) == 0


def test_merge_refuses_when_checks_fail_or_run(gh_host: Host) -> None:
    with github_cassette("merge_checks_failing") as (_, sent):
        result = gh_host().merge(sc.proposal(), sc.HEAD)
    assert not result.merged
    assert "ci/kubeconform (failure)" in result.message and "e2e (in_progress)" in result.message
    assert sent.count("PUT", MERGE_PATH) == 0


def test_required_github_reviews_must_approve_the_exact_head(gh_host: Host) -> None:
    host = gh_host(policy=ApprovalPolicy(approvers=["U_ALICE"], require_github_reviews=True))
    with github_cassette("merge_reviews") as (played, sent):
        stale = host.merge(sc.proposal(), sc.HEAD)  # the only approval is of an older commit
        assert not stale.merged and "has no GitHub review approving 1a954628a960" in stale.message
        assert sent.count("PUT", MERGE_PATH) == 0
        assert host.merge(sc.proposal(), sc.HEAD).merged  # approved at this head
        assert played.all_played and sent.count("PUT", MERGE_PATH) == 1


@pytest.mark.parametrize(
    ("cassette", "expected"),
    [
        ("merge_405", "GitHub says #42 is not mergeable (405): Pull Request is not mergeable"),
        (
            "merge_422",
            "GitHub rejected the merge of #42 (422 validation failed): Validation Failed; "
            "PullRequest merge_method invalid",
        ),
    ],
)
def test_merge_refusals_are_clear(gh_host: Host, cassette: str, expected: str) -> None:
    with github_cassette(cassette) as (played, sent):
        result = gh_host().merge(sc.proposal(), sc.HEAD)
        assert played.all_played
    assert not result.merged and result.message == expected
    assert sent.count("PUT", MERGE_PATH) == 1


def test_merge_409_means_the_head_moved(gh_host: Host) -> None:
    with github_cassette("merge_409"), pytest.raises(Tampered) as err:
        gh_host().merge(sc.proposal(), sc.HEAD)
    assert "GitHub refused to merge #42 because its head is no longer" in str(err.value)
    assert "Head branch was modified" in str(err.value)


def test_the_merge_preview_checks_the_head_commit_against_the_diff(gh_host: Host) -> None:
    with github_cassette("merge_preview_foreign_content") as (played, _), pytest.raises(Tampered) as err:
        gh_host().merge_preview(sc.proposal(), sc.HEAD)
    assert played.all_played
    assert "#42 at" in str(err.value) and "not the diff that was shown" in str(err.value)


def test_a_merge_whose_answer_was_lost_is_recognised(gh_host: Host) -> None:
    # 502 on the PUT (it did merge), urllib3 retries the PUT, GitHub says 405: the PR shows merged.
    with github_cassette("merge_502_then_405_already_merged") as (played, _):
        result = gh_host().merge(sc.proposal(), sc.HEAD)
        assert played.all_played
    assert result.merged and result.sha == sc.MERGE and "already merged" in result.message


def test_secondary_rate_limit_waits_for_retry_after(gh_host: Host) -> None:
    with github_cassette("head_rate_limited") as (played, _):
        started = time.monotonic()
        assert gh_host().head(sc.proposal()) == sc.HEAD
        assert played.all_played and played.play_count == 2
    assert 0.9 <= time.monotonic() - started < 10  # Retry-After: 1 was honoured


def test_a_rate_limit_longer_than_the_cap_fails_fast(gh_host: Host) -> None:
    with github_cassette("head_rate_limited_too_long"), pytest.raises(RateLimitWaitTooLong) as err:
        started = time.monotonic()
        gh_host().head(sc.proposal())
    assert time.monotonic() - started < 5
    assert "wait 3600 s" in str(err.value)


def test_5xx_is_retried(gh_host: Host) -> None:
    with github_cassette("head_502_then_ok") as (played, _):
        assert gh_host().head(sc.proposal()) == sc.HEAD
        assert played.all_played


def test_close_comments_closes_and_deletes_the_branch(gh_host: Host) -> None:
    with github_cassette("close", rerecordable=True) as (played, sent):
        gh_host(**record_target()).close(recordable_proposal(), "expired")
        assert played.all_played
    assert [json.loads(b) for method, _, b in sent.requests if method == "PATCH"] == [{"state": "closed"}]
    assert sent.count("DELETE", f"/git/refs/heads/tugboat/{recordable_proposal().id}") == 1


def test_heads_lists_every_open_proposal_branch_in_one_paginated_ask(gh_host: Host) -> None:
    from tests.github.scenarios import OTHER_ID

    host = gh_host()
    with github_cassette("heads_paginated") as (cassette, sent):
        heads = host.heads()
        assert cassette.all_played
    # a person's branch and a fork's tugboat/ branch are not Tugboat's proposals
    assert heads == {sc.BRANCH: sc.HEAD, f"tugboat/{OTHER_ID}": sc.MOVED}
    assert sent.count("GET", "/pulls") == 2  # both pages of one listing
