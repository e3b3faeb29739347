"""Every cassette of the GitHub tests by name, and the ordered HTTP exchanges it holds: opening
(``opening``), merging (``merging``), and here the pull request lookup's rate limits and
retries, closing, and a whole approve-and-merge workflow.

``python -m tests.github.scenarios`` writes tests/cassettes/github/*.yaml from these (the
hand-written wire format); ``TUGBOAT_GITHUB_RECORD=1`` re-records the re-recordable ones from
the real API instead (tests/github/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from tests.github import wire as w
from tests.github.exchanges import (
    BRANCH,
    CASSETTES,
    HEAD,
    MOVED,
    PULLS_QUERY,
    exchange,
    find_pull,
    full_pull,
    listed,
)
from tests.github.merging import MERGED_200, MERGING, checks_ok, merge_answer, merge_preview, merge_with
from tests.github.opening import OPENING, open_fresh

OTHER_ID, FORK_ID = "c0ffee000001", "f0f0f0000002"


def open_pull(number: int, branch: str, head: str, *, fork: bool = False) -> dict[str, Any]:
    """A pull request as ``GET /pulls`` lists it; ``fork``: from someone's fork of the repository."""
    data = w.pull(head, branch, full=False, base_sha=w.fake_sha("base"))
    data.update({"number": number, "url": f"{w.REPO_API}/pulls/{number}"})
    data["html_url"] = f"{w.WEB}/{w.FULL}/pull/{number}"
    if fork:
        data["head"]["repo"] = {**w.repo(), "id": 880000077, "full_name": "someone/gitops", "fork": True}
    return data


def heads_paginated() -> list[dict[str, Any]]:
    """Every open pull request, two pages: Tugboat's, a person's, one from a fork, Tugboat's."""
    page2 = f"{w.REPO_API}/pulls?state=open&page=2"
    return [
        exchange(
            "GET",
            "/pulls",
            200,
            [
                open_pull(w.PR_NUMBER, BRANCH, HEAD),
                open_pull(7, "docs/readme", w.fake_sha("docs")),
                open_pull(44, f"tugboat/{FORK_ID}", w.fake_sha("fork"), fork=True),
            ],
            query="state=open",
            headers={"Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'},
        ),
        exchange(
            "GET", "/pulls", 200, [open_pull(43, f"tugboat/{OTHER_ID}", MOVED)], query="state=open&page=2"
        ),
    ]


SCENARIOS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    **OPENING,
    **MERGING,
    "head_rate_limited": lambda: [
        exchange(
            "GET",
            "/pulls",
            403,
            w.error(
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                "If you reach out to GitHub Support for help, please include the request ID C0DE:2B7F.",
                "rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            ),
            query=PULLS_QUERY,
            headers={"Retry-After": "1", "X-RateLimit-Remaining": "4986"},
        ),
        find_pull(listed()),
    ],
    "head_rate_limited_too_long": lambda: [
        exchange(
            "GET",
            "/pulls",
            429,
            w.error(
                "API rate limit exceeded for installation ID 52000001.",
                "rest/overview/rate-limits-for-the-rest-api",
            ),
            query=PULLS_QUERY,
            headers={"Retry-After": "3600", "X-RateLimit-Remaining": "0"},
        ),
    ],
    "head_502_then_ok": lambda: [
        exchange("GET", "/pulls", 502, None, query=PULLS_QUERY),
        find_pull(listed()),
    ],
    "heads_paginated": heads_paginated,
    "close": lambda: [
        find_pull(listed()),
        exchange(
            "POST",
            f"/issues/{w.PR_NUMBER}/comments",
            201,
            w.comment("Closed by Tugboat: expired"),
            sent={"body": "Closed by Tugboat: expired"},
        ),
        exchange(
            "PATCH",
            f"/pulls/{w.PR_NUMBER}",
            200,
            full_pull(state="closed", mergeable_state="unknown"),
            sent={"state": "closed"},
        ),
        exchange("GET", f"/git/ref/heads/{BRANCH}", 200, w.ref(BRANCH, HEAD)),
        exchange("DELETE", f"/git/refs/heads/{BRANCH}", 204, None),
    ],
    "workflow_approve": lambda: [
        *open_fresh(),
        find_pull(listed()),  # the click: is the PR head still the commit shown?
        find_pull(listed()),
        exchange(
            "POST", f"/issues/{w.PR_NUMBER}/comments", 201, w.comment("Approved in Slack by <@U_ALICE>")
        ),
        find_pull(listed()),  # just before the merge: the head once more...
        *merge_preview(),  # ...its change is exactly the diff, and the files after the merge
        *merge_with(*checks_ok(), merge_answer(200, MERGED_200)),
    ],
}


def write_all() -> None:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    for name, build in SCENARIOS.items():
        document = {"interactions": build(), "version": 1}
        (CASSETTES / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


if __name__ == "__main__":
    write_all()
