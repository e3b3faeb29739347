"""Synthetic kube-state-metrics, cAdvisor and request metrics as OpenMetrics with timestamps.

Each workload has a fixed set of pods scraped every STEP seconds. Its total CPU demand (cores) and
request rate are functions of time; memory is a per-pod function, and a working set that reaches
the memory limit is an OOM kill: the container restarts and starts again from its baseline.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STEP = 300
DAY = 86_400
MiB = 2**20
START = 1_794_960_000  # 2026-11-18 00:00 UTC


def daily(t: float, peak_hour: float = 14.0) -> float:
    """0 at the daily trough, 1 at the daily peak."""
    return 0.5 + 0.5 * math.cos(2 * math.pi * ((t % DAY) / 3600 - peak_hour) / 24)


@dataclass
class Workload:
    name: str
    cores: Callable[[float], float]  # total over the pods
    pods: int = 3
    namespace: str = "shop"
    cores_per_request: float = 0.004
    memory: Callable[[float], float] = lambda t: 100 * MiB  # per pod, before OOM handling
    memory_limit: int | None = None  # bytes; reaching it is an OOM kill
    cpu_limit: float | None = 1.0
    since: int = 0  # seconds after the cluster's start when the workload first runs
    resources: bool = True  # memory, restarts and limits too (capacity needs only CPU and requests)

    def pod_names(self) -> list[str]:
        return [f"{self.name}-7c9d8f6b5d-{chr(97 + i) * 5}" for i in range(self.pods)]


@dataclass
class Cluster:
    start: int
    end: int
    workloads: list[Workload]
    families: dict[tuple[str, str], dict[str, list[tuple[int, float]]]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    def add(self, family: str, kind: str, labels: dict[str, str], t: int, v: float) -> None:
        sample = family + ("_total" if kind == "counter" else "")
        text = ",".join(f'{k}="{labels[k]}"' for k in sorted(labels))
        self.families[(family, kind)].setdefault(f"{sample}{{{text}}}", []).append((t, v))

    def build(self) -> Cluster:
        rng = random.Random(11)
        counters: dict[str, float] = defaultdict(float)
        for w in self.workloads:
            ns, rs = w.namespace, w.pod_names()[0].rsplit("-", 1)[0]
            restarts = dict.fromkeys(w.pod_names(), 0)
            born = dict.fromkeys(w.pod_names(), float(self.start + w.since))
            oomed: set[str] = set()
            for t in range(self.start + w.since, self.end + 1, STEP):
                self.add(
                    "kube_deployment_spec_replicas",
                    "gauge",
                    {"namespace": ns, "deployment": w.name},
                    t,
                    w.pods,
                )
                owner = {"namespace": ns, "replicaset": rs, "owner_kind": "Deployment", "owner_name": w.name}
                self.add("kube_replicaset_owner", "gauge", owner, t, 1)
                total = w.cores(t)
                for k, pod in enumerate(w.pod_names()):
                    c = {"namespace": ns, "pod": pod, "container": w.name}
                    self.add(
                        "kube_pod_owner",
                        "gauge",
                        {"namespace": ns, "pod": pod, "owner_kind": "ReplicaSet", "owner_name": rs},
                        t,
                        1,
                    )
                    share = total / w.pods * (1 + rng.uniform(-0.03, 0.03))
                    counters[f"cpu/{pod}"] += share * STEP
                    self.add("container_cpu_usage_seconds", "counter", c, t, counters[f"cpu/{pod}"])
                    counters[f"req/{pod}"] += share / w.cores_per_request * STEP
                    labels = {"namespace": ns, "service": w.name, "pod": pod, "code": "200"}
                    self.add("http_requests", "counter", labels, t, round(counters[f"req/{pod}"]))
                    if not w.resources:
                        continue
                    mem = w.memory(t - born[pod] + k * 600)
                    if w.memory_limit is not None and mem >= w.memory_limit:
                        mem, born[pod] = w.memory_limit, float(t)
                        restarts[pod] += 1
                        oomed.add(pod)
                    self.add("container_memory_working_set_bytes", "gauge", c, t, mem)
                    self.add("kube_pod_container_status_restarts", "counter", c, t, restarts[pod])
                    if pod in oomed:
                        self.add(
                            "kube_pod_container_status_last_terminated_reason",
                            "gauge",
                            {**c, "reason": "OOMKilled"},
                            t,
                            1,
                        )
                    for res, val in (("cpu", w.cpu_limit), ("memory", w.memory_limit)):
                        if val is not None:
                            self.add(
                                "kube_pod_container_resource_limits", "gauge", {**c, "resource": res}, t, val
                            )
        return self

    def write(self, path: Path) -> Path:
        lines = []
        for (family, kind), series in self.families.items():
            lines.append(f"# TYPE {family} {kind}")
            for name, samples in series.items():
                lines += [f"{name} {v:.6g} {t}" for t, v in samples]
        lines.append("# EOF")
        path.write_text("\n".join(lines) + "\n")
        return path


def deployment(name: str, replicas: int, cpu_limit: str = "1", extra: str = "", requests: str = "") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  replicas: {replicas}  # owned by the {name} team
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: registry.example.com/shop/{name}:1.0.0
          resources:{requests}
            limits:
              cpu: "{cpu_limit}"{extra}
"""
