"""The proposal the GitHub tests open and merge, and how one recorded HTTP exchange is written:
the pieces every cassette (``tests.github.scenarios``) is built from."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


def verify_existing(head: str = HEAD) -> list[dict[str, Any]]:
    return [
        exchange("GET", f"/git/commits/{head}", 200, w.git_commit(head, NEW_TREE, [BASE], MESSAGE)),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, OLD, BASE), query=f"ref={BASE}"),
        exchange("GET", f"/contents/{PATH}", 200, w.contents(PATH, NEW, head), query=f"ref={head}"),
    ]
