"""Opening a proposal's pull request over the GitHub API: a fresh one, and the retries and races
that must find what an earlier attempt made instead of opening a second one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.github import wire as w
from tests.github.exchanges import (
    BASE,
    BASE_TREE,
    BRANCH,
    HEAD,
    MESSAGE,
    MOVED,
    NEW,
    NEW_TREE,
    NOT_FOUND,
    OLD,
    PATH,
    exchange,
    find_pull,
    listed,
    verify_existing,
)


def open_fresh(pull_answers: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    new_blob = w.blob_sha(NEW)
    created_pull = w.pull(HEAD, BRANCH, base_sha=BASE, mergeable=None, mergeable_state="unknown")
    pr_request = {
        "title": "[tugboat] Scale checkout to 6 replicas",
        "body": "…",
        "base": "main",
        "head": BRANCH,
    }
    return [
        find_pull(),
        exchange("GET", f"/git/ref/heads/{BRANCH}", 404, NOT_FOUND),
        exchange("GET", "", 200, w.repo()),
        exchange("GET", "/git/ref/heads/main", 200, w.ref("main", BASE)),
        exchange(
            "GET",
            f"/git/commits/{BASE}",
            200,
            w.git_commit(BASE, BASE_TREE, [w.fake_sha("root")], "initial layout"),
        ),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, OLD, BASE), query=f"ref={BASE}"),
        exchange("POST", "/git/blobs", 201, w.blob(new_blob), sent={"content": "…", "encoding": "base64"}),
        exchange(
            "POST",
            "/git/trees",
            201,
            w.tree(NEW_TREE, [(PATH, new_blob)]),
            sent={
                "tree": [{"path": PATH, "mode": "100644", "type": "blob", "sha": new_blob}],
                "base_tree": BASE_TREE,
            },
        ),
        exchange(
            "POST",
            "/git/commits",
            201,
            w.git_commit(HEAD, NEW_TREE, [BASE], MESSAGE),
            sent={"message": MESSAGE, "tree": NEW_TREE, "parents": [BASE]},
        ),
        exchange(
            "POST", "/git/refs", 201, w.ref(BRANCH, HEAD), sent={"ref": f"refs/heads/{BRANCH}", "sha": HEAD}
        ),
        *(pull_answers or [exchange("POST", "/pulls", 201, created_pull, sent=pr_request)]),
        exchange(
            "POST",
            f"/issues/{w.PR_NUMBER}/labels",
            200,
            w.labels(["tugboat", "scale"]),
            sent=["tugboat", "scale"],
        ),
    ]


def open_twice() -> list[dict[str, Any]]:
    return [*open_fresh(), find_pull(listed()), *verify_existing()]


def open_pull_502_then_exists() -> list[dict[str, Any]]:
    """POST /pulls answers 502 (it did create the PR); the retry is told it already exists."""
    bad_gateway = exchange("POST", "/pulls", 502, None, headers={"Content-Type": "text/html"})
    bad_gateway["response"]["body"]["string"] = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    exists = w.error(
        "Validation Failed",
        "pulls/pulls#create-a-pull-request",
        [
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": f"A pull request already exists for {w.OWNER}:{BRANCH}.",
            }
        ],
        status="422",
    )
    return open_fresh([bad_gateway, exchange("POST", "/pulls", 422, exists), find_pull(listed())])


def open_ref_race() -> list[dict[str, Any]]:
    """Another replica created the branch first (422); its commit carries the same change."""
    fresh = open_fresh()
    at = next(i for i, x in enumerate(fresh) if x["request"]["uri"].endswith("/git/refs"))
    exists = w.error("Reference already exists", "git/refs#create-a-reference", status="422")
    raced = [
        exchange("POST", "/git/refs", 422, exists),
        exchange("GET", f"/git/ref/heads/{BRANCH}", 200, w.ref(BRANCH, HEAD)),
        *verify_existing(),
    ]
    return [*fresh[:at], *raced, *fresh[at + 1 :]]


def open_branch_with_other_content() -> list[dict[str, Any]]:
    other = NEW.replace(b"replicas: 6", b"replicas: 0")
    return [
        find_pull(),
        exchange("GET", f"/git/ref/heads/{BRANCH}", 200, w.ref(BRANCH, MOVED)),
        exchange("GET", f"/git/commits/{MOVED}", 200, w.git_commit(MOVED, NEW_TREE, [BASE], MESSAGE)),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, OLD, BASE), query=f"ref={BASE}"),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, other, MOVED), query=f"ref={MOVED}"),
    ]


OPENING: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "open_twice": open_twice,
    "open_pull_502_then_exists": open_pull_502_then_exists,
    "open_ref_race": open_ref_race,
    "open_branch_with_other_content": open_branch_with_other_content,
}
