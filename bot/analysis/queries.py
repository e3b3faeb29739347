"""PromQL for an investigation, built from typed parts (label values are always quoted)."""

from __future__ import annotations

from bot.ports.promql import Matcher, aggregate, histogram_quantile, metric_name, over_range, selector

GRPC_ERRORS = "Unknown|Internal|Unavailable|DeadlineExceeded|DataLoss|ResourceExhausted"
HTTP_5XX = "5.."

_NOT_EMPTY = Matcher("container", "", "!=")
_NOT_PAUSE = Matcher("container", "POD", "!=")


def ns_matcher(namespace: str | None) -> Matcher | None:
    return Matcher("namespace", namespace) if namespace else None


def per_container_rate(metric: str, namespace: str | None, window_s: float) -> str:
    sel = selector(metric, ns_matcher(namespace), _NOT_EMPTY, _NOT_PAUSE)
    return aggregate("sum", over_range("rate", sel, window_s), ("pod", "container"))


def per_container_max(metric: str, namespace: str | None, *extra: Matcher) -> str:
    sel = selector(metric, ns_matcher(namespace), _NOT_EMPTY, _NOT_PAUSE, *extra)
    return aggregate("max", sel, ("pod", "container"))


def per_container_limits(namespace: str | None, family: str = "limits") -> str:
    """kube-state-metrics' CPU and memory ``limits`` (or ``requests``) per container."""
    sel = selector(
        f"kube_pod_container_resource_{family}",
        ns_matcher(namespace),
        Matcher("resource", "cpu|memory", "=~"),
    )
    return aggregate("max", sel, ("pod", "container", "resource"))


def node_allocatable() -> str:
    """What each node offers pods (kube-state-metrics), CPU in cores and memory in bytes."""
    sel = selector("kube_node_status_allocatable", Matcher("resource", "cpu|memory", "=~"))
    return aggregate("max", sel, ("node", "resource"))


def machine_cores() -> str:
    return aggregate("max", selector("machine_cpu_cores"), ("node",))


def per_container_reason(metric: str, namespace: str | None) -> str:
    sel = selector(metric, ns_matcher(namespace))
    return aggregate("max", sel, ("pod", "container", "reason"))


def series_count(metric: str, namespace: str | None) -> str:
    """How many of the namespace's series of ``metric`` exist at each step (how far back they go)."""
    return aggregate("count", selector(metric, ns_matcher(namespace)))


def over_window(metric: str, namespace: str | None, labels: tuple[str, ...], window_s: float) -> str:
    """Every label set seen in the window, evaluated once at the end (owners, images, HPAs)."""
    sel = selector(metric, ns_matcher(namespace))
    return aggregate("max", over_range("max_over_time", sel, window_s), labels)


def by_label_max(metric: str, namespace: str | None, label: str) -> str:
    sel = selector(metric, ns_matcher(namespace))
    return aggregate("max", sel, (label,))


def request_rate(
    metric: str,
    namespace: str | None,
    group: tuple[str, ...],
    window_s: float,
    status_label: str | None = None,
    error_regex: str | None = None,
) -> str:
    errors = Matcher(status_label, error_regex, "=~") if status_label and error_regex else None
    sel = selector(metric, ns_matcher(namespace), errors)
    return aggregate("sum", over_range("rate", sel, window_s), group)


def latency_quantile(
    bucket_metric: str, namespace: str | None, group: tuple[str, ...], window_s: float, q: float = 0.99
) -> str:
    sel = selector(bucket_metric, ns_matcher(namespace))
    return histogram_quantile(q, aggregate("sum", over_range("rate", sel, window_s), ("le", *group)))


def summary_quantile(metric: str, namespace: str | None, group: tuple[str, ...]) -> str:
    """The highest of a summary's tail quantiles (0.99, else 0.95 or 0.9) per workload."""
    sel = selector(metric, ns_matcher(namespace), Matcher("quantile", "0.99|0.95|0.9", "=~"))
    return aggregate("max", sel, group)


def series_match(metric: str, namespace: str | None) -> str:
    return selector(metric_name(metric), ns_matcher(namespace))


def error_regex_for(values: set[str]) -> str:
    """5xx for HTTP codes, the server-fault codes for gRPC status names."""
    if any(v[:1].isdigit() for v in values):
        return HTTP_5XX
    return GRPC_ERRORS
