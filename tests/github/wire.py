"""GitHub REST v3 payloads in their real shapes (fields as api.github.com returns them).

The cassettes in tests/cassettes/github/ are written from these by ``make_cassettes.py``;
the bodies follow GitHub's documented examples (docs.github.com/rest) trimmed to the
fields a client reads, with consistent SHAs, numbers and URLs across one scenario.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

API = "https://api.github.com"
WEB = "https://github.com"
OWNER = "tugboat-test"
NAME = "gitops"
FULL = f"{OWNER}/{NAME}"
REPO_API = f"{API}/repos/{FULL}"
PR_NUMBER = 42
STAMP = "2026-11-25T10:00:00Z"
RESET = "1795600000"


def fake_sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def user(login: str = "tugboat-bot[bot]", ident: int = 149000001, kind: str = "Bot") -> dict[str, Any]:
    return {
        "login": login,
        "id": ident,
        "node_id": "BOT_kgDOCOz8aQ",
        "avatar_url": f"https://avatars.githubusercontent.com/in/{ident}?v=4",
        "url": f"{API}/users/{login}",
        "html_url": f"{WEB}/apps/{login.removesuffix('[bot]')}",
        "type": kind,
        "site_admin": False,
    }


def repo() -> dict[str, Any]:
    owner = user(OWNER, 190000001, "Organization")
    return {
        "id": 880000001,
        "node_id": "R_kgDONHCAAQ",
        "name": NAME,
        "full_name": FULL,
        "private": True,
        "owner": owner,
        "html_url": f"{WEB}/{FULL}",
        "description": "GitOps manifests",
        "fork": False,
        "url": REPO_API,
        "pulls_url": f"{REPO_API}/pulls{{/number}}",
        "git_refs_url": f"{REPO_API}/git/refs{{/sha}}",
        "created_at": "2026-01-05T09:00:00Z",
        "updated_at": STAMP,
        "pushed_at": STAMP,
        "default_branch": "main",
        "visibility": "private",
        "allow_squash_merge": True,
        "allow_merge_commit": True,
        "allow_rebase_merge": False,
        "delete_branch_on_merge": True,
        "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
    }


def ref(name: str, sha: str) -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{name}",
        "node_id": "REF_kwDONHCAAbByZWZzL2hlYWRzL21haW4",
        "url": f"{REPO_API}/git/refs/heads/{name}",
        "object": {"sha": sha, "type": "commit", "url": f"{REPO_API}/git/commits/{sha}"},
    }


def git_commit(sha: str, tree: str, parents: list[str], message: str) -> dict[str, Any]:
    person = {"name": "Tugboat", "email": "tugboat@users.noreply.github.com", "date": STAMP}
    return {
        "sha": sha,
        "node_id": "C_kwDONHCAAdoAKD" + sha[:12],
        "url": f"{REPO_API}/git/commits/{sha}",
        "html_url": f"{WEB}/{FULL}/commit/{sha}",
        "author": person,
        "committer": person,
        "tree": {"sha": tree, "url": f"{REPO_API}/git/trees/{tree}"},
        "message": message,
        "parents": [
            {"sha": p, "url": f"{REPO_API}/git/commits/{p}", "html_url": f"{WEB}/{FULL}/commit/{p}"}
            for p in parents
        ],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
    }


def contents(path: str, content: bytes, ref_sha: str) -> dict[str, Any]:
    sha = blob_sha(content)
    encoded = base64.b64encode(content).decode()
    # GitHub wraps the base64 at 60 characters with newlines.
    wrapped = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "size": len(content),
        "url": f"{REPO_API}/contents/{path}?ref={ref_sha}",
        "html_url": f"{WEB}/{FULL}/blob/{ref_sha}/{path}",
        "git_url": f"{REPO_API}/git/blobs/{sha}",
        "download_url": f"https://raw.githubusercontent.com/{FULL}/{ref_sha}/{path}?token=AAAA",
        "type": "file",
        "content": wrapped,
        "encoding": "base64",
        "_links": {
            "self": f"{REPO_API}/contents/{path}?ref={ref_sha}",
            "git": f"{REPO_API}/git/blobs/{sha}",
            "html": f"{WEB}/{FULL}/blob/{ref_sha}/{path}",
        },
    }


def blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def blob(sha: str) -> dict[str, Any]:
    return {"url": f"{REPO_API}/git/blobs/{sha}", "sha": sha}


def tree(sha: str, entries: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "sha": sha,
        "url": f"{REPO_API}/git/trees/{sha}",
        "tree": [
            {
                "path": p,
                "mode": "100644",
                "type": "blob",
                "size": 400,
                "sha": s,
                "url": f"{REPO_API}/git/blobs/{s}",
            }
            for p, s in entries
        ],
        "truncated": False,
    }


def _branch(label: str, ref_name: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{OWNER}:{ref_name}",
        "ref": ref_name,
        "sha": sha,
        "user": user(OWNER, 190000001, "Organization"),
        "repo": repo(),
    }


def pull(
    head_sha: str,
    branch: str,
    *,
    title: str = "[tugboat] Scale checkout to 6 replicas",
    state: str = "open",
    full: bool = True,
    mergeable_state: str = "clean",
    mergeable: bool | None = True,
    merged: bool = False,
    merge_commit_sha: str | None = None,
    base_sha: str = "",
) -> dict[str, Any]:
    url = f"{REPO_API}/pulls/{PR_NUMBER}"
    issue = f"{REPO_API}/issues/{PR_NUMBER}"
    data: dict[str, Any] = {
        "url": url,
        "id": 2100000042,
        "node_id": "PR_kwDONHCAAc59K2oq",
        "html_url": f"{WEB}/{FULL}/pull/{PR_NUMBER}",
        "diff_url": f"{WEB}/{FULL}/pull/{PR_NUMBER}.diff",
        "patch_url": f"{WEB}/{FULL}/pull/{PR_NUMBER}.patch",
        "issue_url": issue,
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "comments_url": f"{issue}/comments",
        "statuses_url": f"{REPO_API}/statuses/{head_sha}",
        "number": PR_NUMBER,
        "state": state,
        "locked": False,
        "title": title,
        "user": user(),
        "body": "### Scale checkout to 6 replicas\n\n…",
        "labels": [],
        "created_at": STAMP,
        "updated_at": STAMP,
        "closed_at": STAMP if state == "closed" else None,
        "merged_at": STAMP if merged else None,
        "merge_commit_sha": merge_commit_sha or fake_sha("test-merge-" + head_sha),
        "assignee": None,
        "requested_reviewers": [],
        "draft": False,
        "head": _branch("head", branch, head_sha),
        "base": _branch("base", "main", base_sha or fake_sha("base")),
        "author_association": "NONE",
        "auto_merge": None,
    }
    if full:
        data.update(
            {
                "merged": merged,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": mergeable_state,
                "merged_by": user() if merged else None,
                "comments": 0,
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": 1,
                "deletions": 1,
                "changed_files": 1,
            }
        )
    return data


def labels(names: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": 7100000000 + i,
            "node_id": f"LA_kwDONHCAAc8AAAABp{i}",
            "url": f"{REPO_API}/labels/{n}",
            "name": n,
            "color": "ededed",
            "default": False,
            "description": None,
        }
        for i, n in enumerate(names)
    ]


def comment(body: str, ident: int = 2500000001) -> dict[str, Any]:
    issue = f"{REPO_API}/issues/{PR_NUMBER}"
    return {
        "url": f"{REPO_API}/issues/comments/{ident}",
        "html_url": f"{WEB}/{FULL}/pull/{PR_NUMBER}#issuecomment-{ident}",
        "issue_url": issue,
        "id": ident,
        "node_id": "IC_kwDONHCAAc6VAAAB",
        "user": user(),
        "created_at": STAMP,
        "updated_at": STAMP,
        "author_association": "NONE",
        "body": body,
        "performed_via_github_app": None,
    }


def review(login: str, state: str, commit_id: str, ident: int = 2600000001) -> dict[str, Any]:
    return {
        "id": ident,
        "node_id": "PRR_kwDONHCAAc6AAAAB",
        "user": user(login, 5000001, "User"),
        "body": "",
        "state": state,
        "html_url": f"{WEB}/{FULL}/pull/{PR_NUMBER}#pullrequestreview-{ident}",
        "pull_request_url": f"{REPO_API}/pulls/{PR_NUMBER}",
        "author_association": "MEMBER",
        "submitted_at": STAMP,
        "commit_id": commit_id,
    }


def combined_status(sha: str, states: dict[str, str]) -> dict[str, Any]:
    statuses = [
        {
            "url": f"{REPO_API}/statuses/{sha}",
            "id": 31000000000 + i,
            "node_id": "SC_kwDONHCAAdgAAAAHOh",
            "state": state,
            "description": f"{context} {state}",
            "target_url": f"https://ci.example.com/{context}/{sha[:7]}",
            "context": context,
            "created_at": STAMP,
            "updated_at": STAMP,
        }
        for i, (context, state) in enumerate(states.items())
    ]
    overall = "success"
    if any(s in ("failure", "error") for s in states.values()):
        overall = "failure"
    elif any(s == "pending" for s in states.values()) or not states:
        overall = "pending"
    return {
        "state": overall,
        "statuses": statuses,
        "sha": sha,
        "total_count": len(statuses),
        "repository": repo(),
        "commit_url": f"{REPO_API}/commits/{sha}",
        "url": f"{REPO_API}/commits/{sha}/status",
    }


def check_runs(sha: str, runs: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
    return {
        "total_count": len(runs),
        "check_runs": [
            {
                "id": 33000000000 + i,
                "name": name,
                "node_id": "CR_kwDONHCAAc8AAAAHsg",
                "head_sha": sha,
                "external_id": "",
                "url": f"{API}/repos/{FULL}/check-runs/{33000000000 + i}",
                "html_url": f"{WEB}/{FULL}/runs/{33000000000 + i}",
                "details_url": f"{WEB}/{FULL}/actions/runs/1/job/{33000000000 + i}",
                "status": status,
                "conclusion": conclusion,
                "started_at": STAMP,
                "completed_at": STAMP if status == "completed" else None,
                "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
                "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
                "pull_requests": [],
            }
            for i, (name, (status, conclusion)) in enumerate(runs.items())
        ],
    }


def error(
    message: str, doc: str, errors: list[dict[str, Any]] | None = None, status: str = ""
) -> dict[str, Any]:
    data: dict[str, Any] = {"message": message, "documentation_url": f"https://docs.github.com/rest/{doc}"}
    if errors is not None:
        data["errors"] = errors
    if status:
        data["status"] = status
    return data


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))
