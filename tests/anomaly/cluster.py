"""A week of a small cluster for the anomaly watch, as OpenMetrics to backfill into a real
Prometheus: calm workloads with a daily rhythm, and two whose CPU use and requests jump in the
last minutes (checkout's CPU use, ledger's requests). Scraped every two minutes, so a 5-minute
rate always has two samples to work with."""

from __future__ import annotations

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


@dataclass(frozen=True)
class Workload:
    name: str
    namespace: str
    cores: Shape  # total over the pods
    requests: Shape  # requests/s over the pods, in units of 250/s
    pods: int = 3


WORKLOADS = (
    Workload("catalog", "shop", calm, calm),
    Workload("checkout", "payments", jump_at(JUMP), calm),  # a busy loop: CPU, not traffic
    Workload("ledger", SHOUTY, calm, jump_at(JUMP), pods=2),  # a flood of requests it serves cheaply
)


def write(path: Path, workloads: tuple[Workload, ...] = WORKLOADS, begin: int = BEGIN, end: int = AT) -> Path:
    """Samples every SCRAPE seconds from ``begin`` to ``end`` (unix seconds)."""
    rng = random.Random(7)
    families: dict[tuple[str, str], dict[str, list[str]]] = {}

    def add(sample: str, labels: dict[str, str], t: int, v: float) -> None:
        kind = "counter" if sample.endswith("_total") else "gauge"
        text = ",".join(f'{k}="{value}"' for k, value in sorted(labels.items()))
        family = families.setdefault((sample.removesuffix("_total"), kind), {})
        family.setdefault(f"{sample}{{{text}}}", []).append(f"{v:.10g} {t}")

    for w in workloads:
        ns, rs = w.namespace, f"{w.name}-7c9d8f6b5d"
        pods = [f"{rs}-{chr(97 + i) * 5}" for i in range(w.pods)]
        cpu, requests = dict.fromkeys(pods, 0.0), dict.fromkeys(pods, 0.0)
        for t in range(begin, end + 1, SCRAPE):
            add("kube_deployment_spec_replicas", {"namespace": ns, "deployment": w.name}, t, w.pods)
            owner = {"namespace": ns, "replicaset": rs, "owner_kind": "Deployment", "owner_name": w.name}
            add("kube_replicaset_owner", owner, t, 1)
            cores, rps = w.cores(t), w.requests(t) * 250
            for pod in pods:
                owner = {"namespace": ns, "pod": pod, "owner_kind": "ReplicaSet", "owner_name": rs}
                add("kube_pod_owner", owner, t, 1)
                cpu[pod] += cores / w.pods * (1 + rng.uniform(-0.05, 0.05)) * SCRAPE
                requests[pod] += rps / w.pods * (1 + rng.uniform(-0.05, 0.05)) * SCRAPE
                container = {"namespace": ns, "pod": pod, "container": w.name}
                add("container_cpu_usage_seconds_total", container, t, cpu[pod])
                served = {"namespace": ns, "service": w.name, "pod": pod, "code": "200"}
                add("http_requests_total", served, t, round(requests[pod]))
    lines: list[str] = []
    for (family, kind), series in families.items():
        lines.append(f"# TYPE {family} {kind}")
        for name, samples in series.items():
            lines += [f"{name} {s}" for s in samples]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return path
