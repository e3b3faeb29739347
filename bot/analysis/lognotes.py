"""Turn error log lines into short, counted observations per workload (before vs after onset)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable

from bot.analysis import fmt
from bot.ports.logs import LogLine

ERROR_PATTERN = (
    r"(?i)(level=(error|fatal|panic|crit)|\"level\":\s*\"(error|fatal|panic)|\b(ERROR|FATAL|PANIC)\b"
    r"|exception|traceback|panic:)"
)
_VARIABLE = re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b|\d+(\.\d+)?")
_KV_MSG = re.compile(r'msg="([^"]*)"')


def template(line: str) -> str:
    """A line with its variable parts (numbers, ids) masked; the msg field when there is one."""
    match = _KV_MSG.search(line)
    core = match.group(1) if match else line
    return _VARIABLE.sub("N", core.strip())[:120]


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
    before: dict[str, Counter[str]] = defaultdict(Counter)
    after: dict[str, Counter[str]] = defaultdict(Counter)
    first_after: dict[tuple[str, str], float] = {}
    for ln in lines:
        wl = workload_of(ln.labels, pod_to_workload)
        if wl not in onsets and wl is not None and wl not in known:
            wl = pod_to_workload(wl)
        if wl is None or wl not in onsets:
            continue
        tpl = template(ln.line)
        ts = ln.ts.timestamp()
        if ts >= onsets[wl]:
            after[wl][tpl] += 1
            first_after.setdefault((wl, tpl), ts)
        else:
            before[wl][tpl] += 1
    out: dict[str, list[str]] = {}
    for wl, counts in after.items():
        items = []
        for tpl, n in counts.most_common():
            prior = before[wl].get(tpl, 0)
            if n < 3 or n <= 2 * prior:
                continue  # steady background errors are not news
            since = fmt.hhmm(first_after[(wl, tpl)])
            was = "none before" if prior == 0 else f"{prior} before"
            items.append(f"{n} '{tpl}' error lines from {wl} since {since}, {was}")
            if len(items) == 3:
                break
        if items:
            out[wl] = items
    return out
