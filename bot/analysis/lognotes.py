"""Turn error log lines into short, counted observations per workload (before vs after onset)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from bot.analysis.logtemplates import summarize
from bot.ports.logs import LogLine

ERROR_PATTERN = (
    r"(?i)(level=(error|fatal|panic|crit)|\"level\":\s*\"(error|fatal|panic)|\b(ERROR|FATAL|PANIC)\b"
    r"|exception|traceback|panic:)"
)


def workload_of(labels: dict[str, str], pod_to_workload: Callable[[str], str]) -> str | None:
    for key in ("app", "app_kubernetes_io_name", "service", "deployment", "container"):
        if labels.get(key):
            return labels[key]
    if labels.get("pod"):
        return pod_to_workload(labels["pod"])
    job = labels.get("job")
    return job.rsplit("/", 1)[-1] if job else None


def notes(
    lines: list[LogLine],
    onsets: dict[str, float],
    pod_to_workload: Callable[[str], str],
    known: set[str],
) -> dict[str, list[str]]:
    """For each workload with an onset, the error templates that appeared or grew after it."""
    by_workload: dict[str, list[LogLine]] = defaultdict(list)
    for ln in lines:
        wl = workload_of(ln.labels, pod_to_workload)
        if wl is not None and wl not in onsets and wl not in known:
            wl = pod_to_workload(wl)
        if wl is not None and wl in onsets:
            by_workload[wl].append(ln)
    out: dict[str, list[str]] = {}
    for wl, wl_lines in by_workload.items():
        summary = summarize(wl_lines, datetime.fromtimestamp(onsets[wl], UTC), max_templates=8)
        news = []
        for stat in summary.templates:
            # Steady background errors are not news: keep what is new or at least doubled.
            if stat.level != "error" or stat.after < 3 or (not stat.is_new and stat.after <= 2 * stat.before):
                continue
            news.append(summary.observation(stat))
            if len(news) == 3:
                break
        if news:
            out[wl] = news
    return out
