"""The deterministic summary paragraph and the graphs of the decisive series."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np

from bot.analysis import fmt
from bot.analysis.context import Context
from bot.analysis.hypotheses import Candidate
from bot.analysis.kinds import kind, label
from bot.analysis.sizing import RemediationIntent
from bot.domain.graph import GraphSpec, Threshold
from bot.domain.proposal import Action
from bot.domain.report import CauseKind
from bot.domain.series import Series

_SOURCES = ("metrics", "logs", "changes")


def missing_sentence(missing: Mapping[str, str]) -> str:
    """``Metrics were missing (Prometheus at ... timed out after 10.0 s).`` for the sources that
    did not answer, in the order metrics, logs, changes."""
    names = [n for n in _SOURCES if n in missing]
    if not names:
        return ""
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    why = missing[names[0]] if len(names) == 1 else "; ".join(f"{n}: {missing[n]}" for n in names)
    return f"{joined[:1].upper()}{joined[1:]} were missing ({why})."


def summary(
    alert_name: str,
    ctx: Context,
    ranked: list[Candidate],
    intent: RemediationIntent | None,
    missing: Mapping[str, str] | None = None,
) -> str:
    """The report's first paragraph. When a source is ``missing`` (name -> why), the first
    sentence says so and the cause is worded as the lead it is."""
    missing = missing or {}
    first = missing_sentence(missing)
    text = _summary(alert_name, ctx, ranked, intent, missing)
    return f"{first} {text}" if first else text


def _summary(
    alert_name: str,
    ctx: Context,
    ranked: list[Candidate],
    intent: RemediationIntent | None,
    missing: Mapping[str, str],
) -> str:
    where = f" in {ctx.namespace}" if ctx.namespace else ""
    about = f" on {ctx.alert_workload}" if ctx.alert_workload else ""
    if not ranked:
        left = [n for n in _SOURCES if n not in missing]
        seen = ", ".join(left[:-1]) + " and " + left[-1] if len(left) > 1 else (left[0] if left else "")
        return (
            f"{alert_name}{about}{where}: no root cause stands out in the {seen or 'evidence'} "
            f"of the last {fmt.minutes(ctx.at - float(ctx.grid[0]))}; no change is proposed."
        )
    top = ranked[0]
    likely = "may be caused by" if "metrics" in missing else "is most likely caused by"
    text = f"{alert_name}{about}{where} {likely} {kind(top.kind).sentence(top)}"
    if top.onset is not None and top.kind is not CauseKind.TRANSIENT:
        text += f", starting around {fmt.hhmm(top.onset)}"
    text += "."
    if "metrics" in missing:
        text += " Without metrics this is a lead to check, not a confirmed cause."
    if top.workload != ctx.alert_workload and ctx.alert_workload:
        text += (
            f" {ctx.alert_workload} is affected through its calls to {top.workload}."
            if top.workload in (ctx.hops_from_alert())
            else ""
        )
    if top.evidence:
        text += " " + top.evidence[0].observation[:1].upper() + top.evidence[0].observation[1:] + "."
    if ctx.alert_cleared and top.kind is not CauseKind.TRANSIENT:
        text += f" The alert condition no longer holds at {fmt.hhmm(ctx.at)}."
    if len(ranked) > 1:
        others = ", ".join(f"{label(c.kind)} in {c.workload}" for c in ranked[1:3])
        text += f" Less likely: {others}."
    if intent is not None:
        if intent.action is Action.NONE:
            text += " No change is proposed."
        else:
            text += f" Proposed: {intent.rationale}."
    return text


def _series(name: str, ctx: Context, values: np.ndarray | None, label: str) -> Series | None:
    if values is None or not np.isfinite(values).any():
        return None
    return Series(labels={"__name__": name, "workload": label}, timestamps=ctx.grid, values=values)


def graphs(ctx: Context, top: Candidate | None) -> list[GraphSpec]:
    """One or two panels that show why the top cause was chosen."""
    if top is None:
        return []
    sig = ctx.signals.get(top.workload)
    if sig is None:
        return []
    at = ctx.at
    out: list[GraphSpec] = []

    def add(
        key: str, title: str, unit: str, series_key: str, thresholds: list[Threshold] | None = None
    ) -> None:
        s = _series(series_key, ctx, sig.series.get(series_key), sig.name)
        if s is not None:
            onset = datetime.fromtimestamp(top.onset, UTC) if top.onset is not None else None
            when = datetime.fromtimestamp(at, UTC)
            out.append(GraphSpec(f"{sig.name}-{key}", title, unit, [s], onset, when, thresholds or []))

    if top.kind in (CauseKind.TRAFFIC_SURGE, CauseKind.CPU_LIMIT):
        limit = sig.series.get("cpu_limit")
        lim_now = (
            float(limit[np.isfinite(limit)][-1]) if limit is not None and np.isfinite(limit).any() else None
        )
        add(
            "cpu",
            f"{sig.name} CPU usage (all pods)",
            "cores",
            "cpu",
            [Threshold(lim_now, f"CPU limit {lim_now:g} cores")] if lim_now else [],
        )
        add(
            "rps" if top.kind is CauseKind.TRAFFIC_SURGE else "throttling",
            f"{sig.name} "
            + ("request rate" if top.kind is CauseKind.TRAFFIC_SURGE else "throttled CFS periods"),
            "req/s" if top.kind is CauseKind.TRAFFIC_SURGE else "ratio",
            "rps" if top.kind is CauseKind.TRAFFIC_SURGE else "thr",
        )
    elif top.kind is CauseKind.MEMORY_LIMIT:
        lim = sig.mem_limit_per_pod
        add(
            "memory",
            f"{sig.name} working set (max over pods)",
            "bytes",
            "mem",
            [Threshold(lim, f"memory limit {fmt.nbytes(lim)}")] if lim else [],
        )
    else:
        if sig.has("err_ratio") and sig.shift("err_ratio").elevated:
            add("errors", f"{sig.name} error ratio", "ratio", "err_ratio")
        if sig.has("p99") and (sig.shift("p99").elevated or not out):
            add("latency", f"{sig.name} p99 latency", "s", "p99")
    return out
