"""Pure verdicts over a head commit's statuses, check runs and reviews. Unknown means "no"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_CHECK_OK = {"success", "neutral", "skipped"}


def check_problems(statuses: Iterable[Any], check_runs: Iterable[Any], required: list[str]) -> str:
    """What is wrong with the head's checks, or "" when they pass.

    ``statuses`` are commit statuses (``context``, ``state``), ``check_runs`` check runs
    (``name``, ``status``, ``conclusion``). With ``required`` names, each must have reported
    and passed and the rest are ignored; without, every reported check must pass.
    """
    verdicts: dict[str, str] = {}
    for status in statuses:
        state = str(status.state)
        verdicts[str(status.context)] = "ok" if state == "success" else state
    for run in check_runs:
        verdict: str
        if run.status != "completed":
            verdict = str(run.status or "pending")
        else:
            conclusion = str(run.conclusion or "no conclusion")
            verdict = "ok" if conclusion in _CHECK_OK else conclusion
        # A failing duplicate name must not be hidden by a passing one.
        if verdicts.get(str(run.name), "ok") == "ok":
            verdicts[str(run.name)] = verdict
    names = required or sorted(verdicts)
    problems = []
    for name in names:
        found = verdicts.get(name)
        if found is None:
            problems.append(f"{name} (required, has not reported)")
        elif found != "ok":
            problems.append(f"{name} ({found})")
    return ", ".join(problems)


def review_problem(reviews: Iterable[Any], head: str) -> str:
    """Why GitHub reviews do not allow a merge at ``head``, or "" when they do.

    Each reviewer's latest deciding review counts. One approval of this exact commit is needed,
    and no standing request for changes.
    """
    latest: dict[str, Any] = {}
    for review in reviews:
        if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[str(review.user.login if review.user else "?")] = review
    if any(r.state == "CHANGES_REQUESTED" for r in latest.values()):
        return "has a GitHub review requesting changes"
    if not any(r.state == "APPROVED" and r.commit_id == head for r in latest.values()):
        return f"has no GitHub review approving {head[:12]} (policy.require_github_reviews is on)"
    return ""
