"""Causes the changes and the logs support on their own, for when the metrics are missing.

Without metrics no symptom can be measured, so no hypothesis clears its bar; yet a commit
minutes before a workload's error lines multiplied is still the best lead a person has. Such a
lead is ranked as a bad release with a deliberately low score (at most ``CAP``), and its
evidence says that the metrics that would confirm it were not seen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from bot.analysis import fmt, lognotes
from bot.analysis.context import Context
from bot.analysis.hypotheses import Candidate
from bot.analysis.logtemplates import new_error_templates, summarize
from bot.domain.report import CauseKind, Evidence
from bot.ports.gitrepo import WorkloadChange
from bot.ports.logs import LogLine

AFTER_S = 30 * 60  # error lines this soon after a change count for it
MIN_NEW_LINES = 5
RISE = 3.0  # the error rate after the change, against the rate before, to count as a rise
CAP = 0.45  # a lead without metrics never scores like a measured cause
CHANGE_ONLY = 0.12  # a recent change with no log evidence either way


def without_metrics(
    ctx: Context, lines: list[LogLine], workload_of_pod: Callable[[str], str], window_start: float
) -> list[Candidate]:
    """A hedged bad-release candidate for each recent change, scored by the error lines that
    followed it in the changed workload's logs."""
    by_workload: dict[str, list[LogLine]] = defaultdict(list)
    for line in lines:
        name = lognotes.workload_of(line.labels, workload_of_pod)
        if name:
            by_workload[name].append(line)
    out = []
    for change in ctx.changes:
        t = change.at.timestamp()
        if t > ctx.at:
            continue
        cand = _with_logs(ctx, change, by_workload.get(change.workload, []), max(window_start, t - AFTER_S))
        if cand is None and ctx.at - t <= 90 * 60:
            cand = Candidate(
                CauseKind.BAD_DEPLOY,
                change.workload,
                CHANGE_ONLY * ctx.relevance(change.workload),
                None,
                change,
                [_commit_evidence(change, None), _hedge()],
            )
        if cand is not None:
            out.append(cand)
    return out


def _with_logs(ctx: Context, change: WorkloadChange, lines: list[LogLine], since: float) -> Candidate | None:
    t = change.at.timestamp()
    until = min(t + AFTER_S, ctx.at)
    before = [ln for ln in lines if since <= ln.ts.timestamp() < t]
    after = [ln for ln in lines if t <= ln.ts.timestamp() <= until]
    before_rate = len(before) / max(t - since, 60.0)
    after_rate = len(after) / max(until - t, 60.0)
    if len(after) < MIN_NEW_LINES or after_rate < RISE * max(before_rate, 1 / 3600):
        return None
    onset = min(ln.ts.timestamp() for ln in after)
    lag = onset - t
    score = (
        0.3 + (0.1 if lag <= 10 * 60 else 0.0) + (0.05 if change.kinds & {"image", "env", "config"} else 0.0)
    )
    evidence = [
        _commit_evidence(change, onset),
        Evidence(
            source="logs",
            observation=f"{len(after)} error lines from {change.workload} in the {fmt.minutes(until - t)} "
            f"after the commit, {len(before)} in the {fmt.minutes(t - since)} before",
        ),
    ]
    summary = summarize(before + after, datetime.fromtimestamp(t, UTC), max_templates=8)
    evidence += [
        Evidence(source="logs", observation=summary.observation(s)) for s in new_error_templates(summary)[:2]
    ]
    evidence.append(_hedge())
    return Candidate(
        CauseKind.BAD_DEPLOY,
        change.workload,
        min(score, CAP) * ctx.relevance(change.workload),
        onset,
        change,
        evidence,
    )


def _commit_evidence(change: WorkloadChange, onset: float | None) -> Evidence:
    text = f"commit {change.sha[:8]} '{change.subject}' changed {change.workload}: {change.summary}"
    if onset is not None:
        text += (
            f", {fmt.minutes(onset - change.at.timestamp())} before its error lines rose at {fmt.hhmm(onset)}"
        )
    else:
        text += f" at {fmt.hhmm(change.at.timestamp())}"
    return Evidence(source="git", commit=change.sha, observation=text)


def _hedge() -> Evidence:
    return Evidence(
        source="analysis",
        observation="the metrics were missing, so errors, latency, CPU and memory could not confirm this: "
        "treat it as a lead",
    )
