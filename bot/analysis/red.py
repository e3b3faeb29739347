"""RED metrics: which request metrics to read, the queries for them, and per-workload series.

A cluster may expose several request metrics at once (HTTP counters, OpenTelemetry histograms,
gRPC counters for some services). Each workload is read from the first metric that covers it,
so requests counted twice (a counter and a histogram of the same requests) are never summed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from bot.analysis import discovery as disc
from bot.analysis import queries as Q
from bot.analysis.fetched import Fetched

MAX_SERVER_METRICS = 4
RangeFn = Callable[[str, str, bool], list[tuple[dict[str, str], np.ndarray]]]


def server_candidates(names: Iterable[str]) -> list[str]:
    """HTTP before gRPC, counters before histogram counts."""
    found = disc.server_candidates(names)
    ordered = sorted(found, key=lambda n: ("grpc" in n or "rpc_" in n, n.endswith("_count"), n))
    return ordered[:MAX_SERVER_METRICS]


def pick_servers(
    servers: list[str], label_sets: dict[str, list[dict[str, str]]], known: set[str], names: set[str]
) -> list[disc.RedMetric]:
    picks = []
    for name in servers:
        sets = label_sets.get(name) or []
        if not sets:
            continue
        wl = disc.workload_label(sets, known)
        if wl is None and not any("pod" in ls for ls in sets):
            continue
        status = disc.status_label(sets)
        picks.append(
            disc.RedMetric(
                name=name,
                status_label=status,
                workload_label=wl,
                histogram=disc.histogram_for(name, names),
                summary=disc.summary_for(name, names),
            )
        )
    # Metrics that carry a status code first: without one there is no error ratio.
    return sorted(picks, key=lambda m: m.status_label is None)


def pick_client(
    clients: list[str], label_sets: dict[str, list[dict[str, str]]], known: set[str]
) -> disc.ClientMetric | None:
    for name in clients:
        sets = label_sets.get(name) or []
        caller = disc.caller_label(sets, known) if sets else None
        peer = disc.peer_label(sets, known, caller) if caller else None
        if caller and peer:
            return disc.ClientMetric(
                name=name, caller_label=caller, peer_label=peer, status_label=disc.status_label(sets)
            )
    return None


def error_regex(metric: str, status_label: str, label_sets: dict[str, list[dict[str, str]]]) -> str:
    """Which values of ``status_label`` count as errors, from the values ``metric`` carries."""
    return Q.error_regex_for({ls.get(status_label, "") for ls in label_sets.get(metric, [])} - {""})


def server_queries(
    m: disc.RedMetric,
    ns: str | None,
    group: tuple[str, ...],
    rate_s: float,
    label_sets: dict[str, list[dict[str, str]]],
    quantile: float = 0.99,
) -> dict[str, str]:
    """A request metric's queries per ``group``: ``rps``; ``err`` (errors/s) when it carries a
    status code; ``latency`` (the ``quantile``, in seconds) when it has a histogram."""
    out = {"rps": Q.request_rate(m.name, ns, group, rate_s)}
    if m.status_label:
        regex = error_regex(m.name, m.status_label, label_sets)
        out["err"] = Q.request_rate(m.name, ns, group, rate_s, m.status_label, regex)
    if m.histogram:
        out["latency"] = Q.latency_quantile(m.histogram, ns, group, rate_s, quantile)
    return out


def _suffix(i: int) -> str:
    return "" if i == 0 else f":{i}"


def jobs(
    run_range: RangeFn,
    ns: str | None,
    rate_s: float,
    picks: list[disc.RedMetric],
    client: disc.ClientMetric | None,
    label_sets: dict[str, list[dict[str, str]]],
) -> dict[str, Callable[[], Any]]:
    out: dict[str, Callable[[], Any]] = {}

    def add(key: str, promql: str, rate: bool = True) -> None:
        out[key] = lambda: run_range(key, promql, rate)  # rates warm up when a series begins

    for i, m in enumerate(picks):
        group = (m.workload_label or "pod",)
        for key, promql in server_queries(m, ns, group, rate_s, label_sets).items():
            add(f"{'p99' if key == 'latency' else key}{_suffix(i)}", promql)
        if m.summary:
            add(f"p99s{_suffix(i)}", Q.summary_quantile(m.summary, ns, group), False)
    if client:
        cgroup = (client.caller_label, client.peer_label)
        add("c_rps", Q.request_rate(client.name, ns, cgroup, rate_s))
        if client.status_label:
            regex = error_regex(client.name, client.status_label, label_sets)
            add("c_err", Q.request_rate(client.name, ns, cgroup, rate_s, client.status_label, regex))
    return out


def absorb(
    out: Fetched, picks: list[disc.RedMetric], client: disc.ClientMetric | None, res: dict[str, Any]
) -> None:
    covered: set[str] = set()
    for i, m in enumerate(picks):
        per: dict[str, dict[str, np.ndarray]] = {}
        for key, source in (("rps", "rps"), ("err", "err"), ("p99", "p99"), ("p99", "p99s")):
            for ls, arr in res.get(f"{source}{_suffix(i)}") or []:
                raw = ls.get(m.workload_label or "pod", "")
                if not raw:
                    continue
                name = (
                    disc.normalize_workload_value(raw)
                    if m.workload_label
                    else out.ownership.workload_of_pod(raw)
                )
                slot = per.setdefault(name, {})
                if key not in slot:
                    slot[key] = arr
                elif key == "p99":  # quantiles do not add up; the worst pod speaks for the workload
                    slot[key] = np.fmax(slot[key], arr)
                else:
                    slot[key] = np.nansum([slot[key], arr], axis=0)
        for name, slot in per.items():
            if name not in covered and "rps" in slot:
                out.red[name] = slot
        covered |= {n for n, slot in per.items() if "rps" in slot}
    if client:
        for key in ("c_rps", "c_err"):
            for ls, arr in res.get(key) or []:
                caller = disc.normalize_workload_value(ls.get(client.caller_label, ""))
                callee = disc.normalize_workload_value(ls.get(client.peer_label, ""))
                if caller and callee:
                    out.client.setdefault((caller, callee), {})[key[2:]] = arr
