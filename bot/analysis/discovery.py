"""Discover which RED metrics a cluster exposes, and how they are labelled.

Nothing here assumes one convention: request counters and histograms are found by name shape,
the status-code label by its name and values, and the workload label by which label's values
match the workloads Kubernetes knows about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_SERVER_COUNTER = re.compile(
    r"^(?:.*_)?(?:http|grpc|rpc)_(?:server_)?(?:requests?|handled)(?:_handled)?_total$"
)
_DURATION_COUNT = re.compile(
    r"^(?:.*_)?(?:http|grpc|rpc)_(?:server_)?requests?(?:_duration|_latency)?(?:_seconds|_milliseconds|_ms)?_count$"
)
_CLIENT = re.compile(r"(?:^|_)client(?:_|$)")
_STATUS_PREFERENCE = (
    "code",
    "status_code",
    "http_response_status_code",
    "http_status_code",
    "status",
    "response_code",
    "http_status",
    "grpc_code",
)
_WORKLOAD_PREFERENCE = (
    "service",
    "app",
    "app_kubernetes_io_name",
    "deployment",
    "k8s_deployment_name",
    "service_name",
    "workload",
    "container",
    "job",
)
_PEER_PREFERENCE = (
    "peer",
    "server_address",
    "peer_service",
    "net_peer_name",
    "upstream",
    "destination_service",
    "destination",
    "target",
    "server",
    "callee",
    "host",
)
# Labels that never name a workload or a status code.
_IGNORED = frozenset({"__name__", "le", "quantile", "namespace", "instance", "method", "path", "route"})


@dataclass(frozen=True)
class RedMetric:
    """A request counter: its name, status label, and the label naming the serving workload."""

    name: str
    status_label: str | None
    workload_label: str | None  # None: map the ``pod`` label instead
    histogram: str | None = None  # the matching ``_bucket`` metric for latency quantiles
    duration_sum: str | None = None
    summary: str | None = None  # a summary's quantile gauge, for services that export one instead


@dataclass(frozen=True)
class ClientMetric:
    name: str
    caller_label: str
    peer_label: str
    status_label: str | None


def server_candidates(names: Iterable[str]) -> list[str]:
    """Server-side request counters, counters first, then histogram ``_count`` series."""
    names = list(names)
    counters = [n for n in names if _SERVER_COUNTER.match(n) and not _CLIENT.search(n)]
    counts = [n for n in names if _DURATION_COUNT.match(n) and not _CLIENT.search(n)]
    return sorted(counters) + sorted(counts)


def client_candidates(names: Iterable[str]) -> list[str]:
    out = []
    for n in names:
        if _CLIENT.search(n) and n.endswith(("_total", "_count")) and ("request" in n or "call" in n):
            out.append(n)
    return sorted(out, key=lambda n: (not n.endswith("_total"), n))


def histogram_for(count_name: str, names: Iterable[str]) -> str | None:
    """The ``_bucket`` metric that belongs with a request metric, if the cluster has one."""
    pool = set(names)
    if count_name.endswith("_count"):
        bucket = count_name[: -len("_count")] + "_bucket"
        return bucket if bucket in pool else None
    stem = count_name[: -len("_total")] if count_name.endswith("_total") else count_name
    stem = re.sub(r"_requests?$", "_request", stem)
    for suffix in ("_duration_seconds_bucket", "_latency_seconds_bucket", "_duration_bucket"):
        for cand in (stem + suffix, stem.replace("_request", "_requests") + suffix):
            if cand in pool:
                return cand
    buckets = sorted(n for n in pool if n.endswith("_bucket") and ("duration" in n or "latency" in n))
    server = [n for n in buckets if not _CLIENT.search(n)]
    return server[0] if server else None


def summary_for(count_name: str, names: Iterable[str]) -> str | None:
    """The summary (``{quantile}`` series named like the histogram without ``_bucket``) of a request
    metric: some services report latency as precomputed quantiles rather than buckets."""
    pool = set(names)
    bucket = histogram_for(count_name, pool | {_bucket_guess(count_name)})
    stem = bucket[: -len("_bucket")] if bucket else None
    if stem and stem in pool and f"{stem}_count" in pool:
        return stem
    return None


def _bucket_guess(count_name: str) -> str:
    stem = count_name[: -len("_total")] if count_name.endswith("_total") else count_name
    return re.sub(r"_requests?$", "_request", stem) + "_duration_seconds_bucket"


def status_label(label_sets: list[dict[str, str]]) -> str | None:
    """The label carrying an HTTP/gRPC status: a known name whose values look like codes."""
    keys = {k for ls in label_sets for k in ls}
    ordered = [k for k in _STATUS_PREFERENCE if k in keys]
    ordered += sorted(k for k in keys if k not in ordered and ("code" in k or "status" in k))
    for key in ordered:
        values = {ls.get(key, "") for ls in label_sets} - {""}
        if values and all(re.fullmatch(r"[1-5]\d\d|[1-5]xx|[A-Za-z_]+", v) for v in values):
            return key
    return None


def best_label(
    label_sets: list[dict[str, str]],
    workloads: set[str],
    preference: tuple[str, ...],
    exclude: Iterable[str] = (),
) -> str | None:
    """The label whose values best match known workload names (ties broken by preference)."""
    excluded = set(exclude) | _IGNORED
    keys = {k for ls in label_sets for k in ls} - excluded
    scored: list[tuple[float, int, str]] = []
    for key in keys:
        values = {ls.get(key, "") for ls in label_sets} - {""}
        if not values:
            continue
        normalized = {_strip_ns(v) for v in values}
        hits = len(normalized & workloads) if workloads else 0
        rank = preference.index(key) if key in preference else len(preference)
        if hits or (not workloads and key in preference):
            scored.append((hits / max(len(normalized), 1) + hits * 0.01, -rank, key))
    if not scored:
        return None
    scored.sort(reverse=True)
    return scored[0][2]


def workload_label(label_sets: list[dict[str, str]], workloads: set[str]) -> str | None:
    return best_label(label_sets, workloads, _WORKLOAD_PREFERENCE)


def caller_label(label_sets: list[dict[str, str]], workloads: set[str]) -> str | None:
    """The label naming the calling workload of a client metric (never the peer's label)."""
    return best_label(label_sets, workloads, _WORKLOAD_PREFERENCE, exclude=_PEER_PREFERENCE)


def peer_label(label_sets: list[dict[str, str]], workloads: set[str], caller: str) -> str | None:
    preferred = [k for k in _PEER_PREFERENCE if any(k in ls for ls in label_sets)]
    if preferred and not workloads:
        return preferred[0]
    return best_label(label_sets, workloads, _PEER_PREFERENCE, exclude=(caller, "job", "pod", "container"))


def normalize_workload_value(value: str) -> str:
    return _strip_ns(value)


def _strip_ns(value: str) -> str:
    """``shop/web`` (a Prometheus job) and ``web.shop.svc:8080`` (an address) name ``web``."""
    value = value.rsplit("/", 1)[-1]
    value = value.split(":", 1)[0]
    return value.split(".", 1)[0]
