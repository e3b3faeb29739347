"""The proposal the GitHub tests open and merge, and the ordered HTTP exchanges of each cassette.

``python -m tests.github.scenarios`` writes tests/cassettes/github/*.yaml from these (the
hand-written wire format); ``TUGBOAT_GITHUB_RECORD=1`` re-records the re-recordable ones from
the real API instead (tests/github/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from bot.adapters.git.patch import apply_diff
from bot.domain.proposal import Action, FieldChange, Proposal
from testkit.gitops import DEPLOYMENT
from tests.github import wire as w

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "github"
PROPOSAL_ID = "a1b2c3d4e5f6"
BRANCH = f"tugboat/{PROPOSAL_ID}"
PATH = "apps/checkout/deployment.yaml"
DIFF = (
    f"diff --git a/{PATH} b/{PATH}\n--- a/{PATH}\n+++ b/{PATH}\n@@ -4,7 +4,7 @@\n"
    "   name: checkout\n   namespace: shop\n spec:\n-  replicas: 3  # owned by on-call\n"
    "+  replicas: 6  # owned by on-call\n   template:\n     spec:\n       containers:\n"
)
OLD = DEPLOYMENT.encode()
NEW = apply_diff(DIFF, {PATH: OLD})[PATH] or b""
BASE = w.fake_sha("base")
BASE_TREE = w.fake_sha("base-tree")
NEW_TREE = w.fake_sha("new-tree")
HEAD = w.fake_sha("head")
MOVED = w.fake_sha("someone-else")
MERGE = w.fake_sha("merge")
MESSAGE = f"Scale checkout to 6 replicas\n\nTugboat-Proposal: {PROPOSAL_ID}\n"


def proposal(proposal_id: str = PROPOSAL_ID) -> Proposal:
    change = FieldChange(file=PATH, field="replicas", from_=3, to=6, resource="Deployment/checkout")
    return Proposal(
        id=proposal_id,
        action=Action.SCALE,
        service="checkout",
        namespace="shop",
        changes=[change],
        diff=DIFF,
        title="Scale checkout to 6 replicas",
        rationale="checkout p99 latency 2.4 s at 3 replicas; CPU saturated",
    )


# -- one exchange ----------------------------------------------------------------------------
def exchange(
    method: str,
    path: str,
    status: int,
    body: Any,
    *,
    query: str = "",
    sent: Any = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    uri = f"{w.REPO_API}{path}" + (f"?{query}" if query else "")
    request_headers = {"Accept": ["*/*"], "User-Agent": ["tugboat"], "Connection": ["keep-alive"]}
    if sent is not None:
        request_headers["Content-Type"] = ["application/json"]
    text = "" if body is None else w.dumps(body)
    response_headers = {
        "Server": ["github.com"],
        "Date": ["Wed, 25 Nov 2026 10:00:00 GMT"],
        "Content-Type": ["application/json; charset=utf-8"] if text else ["text/plain"],
        "X-GitHub-Media-Type": ["github.v3; format=json"],
        "X-GitHub-Api-Version-Selected": ["2022-11-28"],
        "X-RateLimit-Limit": ["5000"],
        "X-RateLimit-Remaining": ["4987"],
        "X-RateLimit-Reset": [w.RESET],
        "X-RateLimit-Used": ["13"],
        "X-RateLimit-Resource": ["core"],
        "X-GitHub-Request-Id": ["C0DE:2B7F:1A2B3C:1B2C3D:6745A0F0"],
        "Content-Length": [str(len(text.encode()))],
    }
    for name, value in (headers or {}).items():
        response_headers[name] = [value]
    return {
        "request": {
            "body": None if sent is None else w.dumps(sent),
            "headers": request_headers,
            "method": method,
            "uri": uri,
        },
        "response": {
            "body": {"string": text},
            "headers": response_headers,
            "status": {"code": status, "message": HTTPStatus(status).phrase},
        },
    }


PULLS_QUERY = f"state=all&head={quote(w.OWNER + ':' + BRANCH, safe='')}"
NOT_FOUND = w.error("Not Found", "git/refs#get-a-reference", status="404")


def find_pull(*pulls: dict[str, Any]) -> dict[str, Any]:
    return exchange("GET", "/pulls", 200, list(pulls), query=PULLS_QUERY)


def listed(**kwargs: Any) -> dict[str, Any]:
    return w.pull(HEAD, BRANCH, full=False, base_sha=BASE, **kwargs)


def full_pull(**kwargs: Any) -> dict[str, Any]:
    return w.pull(kwargs.pop("head", HEAD), BRANCH, base_sha=BASE, **kwargs)


# -- scenarios -------------------------------------------------------------------------------
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


def verify_existing(head: str = HEAD) -> list[dict[str, Any]]:
    return [
        exchange("GET", f"/git/commits/{head}", 200, w.git_commit(head, NEW_TREE, [BASE], MESSAGE)),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, OLD, BASE), query=f"ref={BASE}"),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, NEW, head), query=f"ref={head}"),
    ]


def merge_preview() -> list[dict[str, Any]]:
    """The PR, its head commit checked against the diff, then the touched file on main."""
    return [
        find_pull(listed()),
        *verify_existing(),
        exchange("GET", "/git/ref/heads/main", 200, w.ref("main", BASE)),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, OLD, BASE), query=f"ref={BASE}"),
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


SCENARIOS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "open_twice": open_twice,
    "open_pull_502_then_exists": open_pull_502_then_exists,
    "open_ref_race": open_ref_race,
    "open_branch_with_other_content": open_branch_with_other_content,
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


def write_all() -> None:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    for name, build in SCENARIOS.items():
        document = {"interactions": build(), "version": 1}
        (CASSETTES / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


if __name__ == "__main__":
    write_all()
