"""The merge gates over statuses, check runs and reviews (pure verdicts)."""

from __future__ import annotations

from types import SimpleNamespace as Data

from bot.adapters.github.checks import check_problems, review_problem

HEAD = "1a954628a960aaef81d7b2d4521929579f3541e6"


def status(context: str, state: str) -> Data:
    return Data(context=context, state=state)


def run(name: str, state: str, conclusion: str | None = None) -> Data:
    return Data(name=name, status=state, conclusion=conclusion)


def review(login: str, state: str, commit: str = HEAD) -> Data:
    return Data(user=Data(login=login), state=state, commit_id=commit)


def test_every_reported_check_must_pass_when_none_are_named() -> None:
    assert check_problems([status("ci", "success")], [run("lint", "completed", "skipped")], []) == ""
    assert check_problems([], [run("e2e", "queued")], []) == "e2e (queued)"
    assert check_problems([status("ci", "error")], [], []) == "ci (error)"
    # a re-run that passed does not hide a failing run of the same name
    runs = [run("e2e", "completed", "failure"), run("e2e", "completed", "success")]
    assert check_problems([], runs, []) == "e2e (failure)"


def test_named_checks_must_report_and_pass_others_are_ignored() -> None:
    runs = [run("kubeconform", "completed", "success"), run("flaky", "completed", "failure")]
    assert check_problems([], runs, ["kubeconform"]) == ""
    assert check_problems([], runs, ["kubeconform", "e2e"]) == "e2e (required, has not reported)"


def test_reviews_must_approve_this_exact_commit() -> None:
    assert review_problem([review("ann", "APPROVED")], HEAD) == ""
    assert "no GitHub review approving" in review_problem([review("ann", "APPROVED", "0" * 40)], HEAD)
    assert "no GitHub review approving" in review_problem([review("ann", "COMMENTED")], HEAD)
    later_change = [review("ann", "APPROVED"), review("bob", "CHANGES_REQUESTED")]
    assert review_problem(later_change, HEAD) == "has a GitHub review requesting changes"
    superseded = [review("bob", "CHANGES_REQUESTED"), review("bob", "APPROVED")]
    assert review_problem(superseded, HEAD) == ""


def test_rate_limit_reset_is_honoured_and_capped() -> None:
    import time

    import pytest
    from urllib3.response import HTTPResponse

    from bot.adapters.github.client import RateLimitWaitTooLong, retry_policy
    from bot.settings import Settings

    retry = retry_policy(Settings(github_max_wait_s=30))

    def answer(status: int, headers: dict[str, str]) -> HTTPResponse:
        return HTTPResponse(body=b"{}", status=status, headers=headers, preload_content=True)

    soon = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 5)}
    wait = retry.get_retry_after(answer(429, soon))
    assert wait is not None and 3 <= wait <= 6
    assert retry.get_retry_after(answer(403, {"Retry-After": "2"})) == 2
    assert retry.get_retry_after(answer(502, {})) is None  # plain backoff for 5xx
    later = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3600)}
    with pytest.raises(RateLimitWaitTooLong, match="longer than github_max_wait_s"):
        retry.get_retry_after(answer(403, later))
