"""A week of a small cluster for the anomaly watch, as OpenMetrics to backfill into a real
Prometheus: calm workloads with a daily rhythm, and three with a jump in the last minutes
(checkout's CPU use, ledger's requests; search's error ratio and latency, as when a dependency
of it fails). Requests are counted per status code; catalog and search have a latency
histogram. Scraped every two minutes, so a 5-minute rate always has two samples to work with."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.capacity.synth import DAY, START, daily

SCRAPE = 120
AT = START + 8 * DAY + 14 * 3600 + 10 * 60  # 14:10 UTC, on the 10-minute schedule
BEGIN = AT - 7 * DAY - 3600  # the watch's default lookback, and an hour for the first rates
JUMP = AT - 7 * 60  # the jump starts inside the last run interval, between two rows
SHOUTY = "<!channel>"  # a namespace label that would ping everyone, were it markup


def calm(t: float) -> float:
    return 0.4 + 0.8 * daily(t)


Shape = Callable[[float], float]


def jump_at(when: float) -> Shape:
    """The calm load, four times higher from ``when`` on."""
    return lambda t: calm(t) * (4.0 if t >= when else 1.0)


def usual_errors(t: float) -> float:
    return 0.01


def usual_latency(t: float) -> float:
    return 0.04 + 0.02 * daily(t)


def failing_from(when: float, usual: Shape, factor: float) -> Shape:
    return lambda t: usual(t) * (factor if t >= when else 1.0)


@dataclass(frozen=True)
class Workload:
    name: str
    namespace: str
    cores: Shape  # total over the pods
    requests: Shape  # requests/s over the pods, in units of 250/s
    pods: int = 3
    errors: Shape = usual_errors  # the share of requests answered 500
    latency: Shape | None = None  # mean seconds per request (exponentially distributed): a histogram


BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0)
WORKLOADS = (
    Workload("catalog", "shop", calm, calm, latency=usual_latency),
    Workload("checkout", "payments", jump_at(JUMP), calm),  # a busy loop: CPU, not traffic
    Workload("ledger", SHOUTY, calm, jump_at(JUMP), pods=2),  # a flood of requests it serves cheaply
    Workload(
        "search",
        "shop",
        calm,
        calm,
        pods=2,
        errors=failing_from(JUMP, usual_errors, 15.0),
        latency=failing_from(JUMP, usual_latency, 6.0),
    ),
)


def write(path: Path, workloads: tuple[Workload, ...] = WORKLOADS, begin: int = BEGIN, end: int = AT) -> Path:
    """Samples every SCRAPE seconds from ``begin`` to ``end`` (unix seconds)."""
    rng = random.Random(7)
    rng_red = random.Random(11)  # errors and latency: CPU use and requests stay as they were
    families: dict[tuple[str, str], dict[str, list[str]]] = {}

    def add(sample: str, labels: dict[str, str], t: int, v: float) -> None:
        kind = "counter" if sample.endswith("_total") else "gauge"
        text = ",".join(f'{k}="{value}"' for k, value in sorted(labels.items()))
        family = families.setdefault((sample.removesuffix("_total"), kind), {})
        family.setdefault(f"{sample}{{{text}}}", []).append(f"{v:.10g} {t}")

    for w in workloads:
        ns, rs = w.namespace, f"{w.name}-7c9d8f6b5d"
        pods = [f"{rs}-{chr(97 + i) * 5}" for i in range(w.pods)]
        cpu, requests, errors = dict.fromkeys(pods, 0.0), dict.fromkeys(pods, 0.0), dict.fromkeys(pods, 0.0)
        below = {pod: [0.0] * len(BUCKETS) for pod in pods}
        for t in range(begin, end + 1, SCRAPE):
            add("kube_deployment_spec_replicas", {"namespace": ns, "deployment": w.name}, t, w.pods)
            owner = {"namespace": ns, "replicaset": rs, "owner_kind": "Deployment", "owner_name": w.name}
            add("kube_replicaset_owner", owner, t, 1)
            cores, rps = w.cores(t), w.requests(t) * 250
            for pod in pods:
                owner = {"namespace": ns, "pod": pod, "owner_kind": "ReplicaSet", "owner_name": rs}
                add("kube_pod_owner", owner, t, 1)
                cpu[pod] += cores / w.pods * (1 + rng.uniform(-0.05, 0.05)) * SCRAPE
                served = rps / w.pods * (1 + rng.uniform(-0.05, 0.05)) * SCRAPE
                requests[pod] += served
                errors[pod] += served * w.errors(t) * (1 + rng_red.uniform(-0.2, 0.2))
                if w.latency is not None:
                    mean = w.latency(t) * (1 + rng_red.uniform(-0.05, 0.05))
                    for i, le in enumerate(BUCKETS):
                        below[pod][i] += served * (1 - math.exp(-le / mean))
                container = {"namespace": ns, "pod": pod, "container": w.name}
                add("container_cpu_usage_seconds_total", container, t, cpu[pod])
                where = {"namespace": ns, "service": w.name, "pod": pod}
                add("http_requests_total", {**where, "code": "200"}, t, round(requests[pod] - errors[pod]))
                add("http_requests_total", {**where, "code": "500"}, t, round(errors[pod]))
                for le, count in zip((*BUCKETS, math.inf), (*below[pod], requests[pod]), strict=True):
                    if w.latency is not None:
                        bucket = {**where, "le": "+Inf" if le == math.inf else f"{le:g}"}
                        add("http_request_duration_seconds_bucket", bucket, t, round(count))
    lines: list[str] = []
    for (family, kind), series in families.items():
        lines.append(f"# TYPE {family} {kind}")
        for name, samples in series.items():
            lines += [f"{name} {s}" for s in samples]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return path
