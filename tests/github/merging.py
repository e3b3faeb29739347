"""Merging a proposal's pull request: the head and mergeability checks, the CI checks and
reviews, and each way GitHub refuses or half-answers a merge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.github import wire as w
from tests.github.exchanges import (
    BASE,
    HEAD,
    MERGE,
    MESSAGE,
    MOVED,
    NEW,
    NEW_TREE,
    OLD,
    PATH,
    exchange,
    find_pull,
    full_pull,
    listed,
    verify_existing,
)


def merge_preview() -> list[dict[str, Any]]:
    """The PR, its head commit checked against the diff, then the touched file on main."""
    return [
        find_pull(listed()),
        *verify_existing(),
        exchange("GET", "/git/ref/heads/main", 200, w.ref("main", BASE)),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, OLD, BASE), query=f"ref={BASE}"),
    ]


def checks_ok() -> list[dict[str, Any]]:
    return [
        exchange(
            "GET", f"/commits/{HEAD}/status", 200, w.combined_status(HEAD, {"ci/kubeconform": "success"})
        ),
        exchange(
            "GET",
            f"/commits/{HEAD}/check-runs",
            200,
            w.check_runs(HEAD, {"validate": ("completed", "success")}),
        ),
    ]


def merge_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    sent = {"commit_title": "…", "commit_message": "…", "merge_method": "squash", "sha": HEAD}
    return exchange("PUT", f"/pulls/{w.PR_NUMBER}/merge", status, body, sent=sent)


MERGED_200 = {"sha": MERGE, "merged": True, "message": "Pull Request successfully merged"}


def merge_with(*tail: dict[str, Any], pull: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [find_pull(listed()), exchange("GET", f"/pulls/{w.PR_NUMBER}", 200, pull or full_pull()), *tail]


def merge_refusal(status: int, message: str, doc: str) -> list[dict[str, Any]]:
    answer = merge_answer(status, w.error(message, doc, status=str(status)))
    after = [exchange("GET", f"/pulls/{w.PR_NUMBER}", 200, full_pull())] if status == 405 else []
    return merge_with(*checks_ok(), answer, *after)


MERGING: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "merge_clean": lambda: merge_with(*checks_ok(), merge_answer(200, MERGED_200)),
    "merge_head_moved": lambda: merge_with(pull=full_pull(head=MOVED)),
    "merge_dirty": lambda: merge_with(pull=full_pull(mergeable=False, mergeable_state="dirty")),
    "merge_blocked": lambda: merge_with(pull=full_pull(mergeable_state="blocked")),
    "merge_unknown": lambda: [
        *merge_with(pull=full_pull(mergeable=None, mergeable_state="unknown")),
        exchange("GET", f"/pulls/{w.PR_NUMBER}", 200, full_pull(mergeable=None, mergeable_state="unknown")),
    ],
    "merge_checks_failing": lambda: merge_with(
        exchange(
            "GET", f"/commits/{HEAD}/status", 200, w.combined_status(HEAD, {"ci/kubeconform": "failure"})
        ),
        exchange(
            "GET",
            f"/commits/{HEAD}/check-runs",
            200,
            w.check_runs(HEAD, {"validate": ("completed", "success"), "e2e": ("in_progress", None)}),
        ),
    ),
    "merge_reviews": lambda: [
        *merge_with(
            *checks_ok(),
            exchange("GET", f"/pulls/{w.PR_NUMBER}/reviews", 200, [w.review("ann", "APPROVED", BASE)]),
        ),
        *merge_with(
            *checks_ok(),
            exchange("GET", f"/pulls/{w.PR_NUMBER}/reviews", 200, [w.review("ann", "APPROVED", HEAD)]),
            merge_answer(200, MERGED_200),
        ),
    ],
    "merge_405": lambda: merge_refusal(
        405, "Pull Request is not mergeable", "pulls/pulls#merge-a-pull-request"
    ),
    "merge_409": lambda: merge_refusal(
        409, "Head branch was modified. Review and try the merge again.", "pulls/pulls#merge-a-pull-request"
    ),
    "merge_422": lambda: merge_with(
        *checks_ok(),
        merge_answer(
            422,
            w.error(
                "Validation Failed",
                "pulls/pulls#merge-a-pull-request",
                [{"resource": "PullRequest", "field": "merge_method", "code": "invalid"}],
                status="422",
            ),
        ),
    ),
    "merge_502_then_405_already_merged": lambda: merge_with(
        *checks_ok(),
        exchange("PUT", f"/pulls/{w.PR_NUMBER}/merge", 502, None),
        merge_answer(405, w.error("Pull Request is not mergeable", "pulls/pulls#merge-a-pull-request")),
        exchange(
            "GET",
            f"/pulls/{w.PR_NUMBER}",
            200,
            full_pull(merged=True, state="closed", merge_commit_sha=MERGE),
        ),
    ),
    "merge_preview_foreign_content": lambda: [
        find_pull(listed()),
        exchange("GET", f"/git/commits/{HEAD}", 200, w.git_commit(HEAD, NEW_TREE, [BASE], MESSAGE)),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, OLD, BASE), query=f"ref={BASE}"),
        exchange(
            "GET",
            f"/contents/{PATH}",
            200,
            w.contents(PATH, NEW.replace(b"replicas: 6", b"replicas: 0"), HEAD),
            query=f"ref={HEAD}",
        ),
    ],
}
