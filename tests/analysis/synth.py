"""A small synthetic cluster written as OpenMetrics, for investigations against a real Prometheus.

Two workloads, ``front`` calling ``back``, two pods each, scraped every 30 s for two hours. The
fault is injected into ``back`` from ``onset``: errors (a bad release) or a memory ramp ending in
OOM kills. Everything else is steady with a little deterministic noise.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

STEP = 30
MiB = 1024 * 1024


@dataclass
class Cluster:
    start: int
    minutes: int = 120
    namespace: str = "shop"
    fault: str = "errors"  # errors | oom
    convention: str = "classic"  # classic: http_requests_total{service,code}; otel: OpenTelemetry names
    onset_min: int = 95
    families: dict[tuple[str, str], dict[str, list[tuple[int, float]]]] = field(
        default_factory=lambda: defaultdict(dict)
    )

    @property
    def at(self) -> int:
        return self.start + self.minutes * 60

    @property
    def onset(self) -> int:
        return self.start + self.onset_min * 60

    def add(self, family: str, kind: str, sample: str, labels: dict[str, str], t: int, v: float) -> None:
        text = ",".join(f'{k}="{labels[k]}"' for k in sorted(labels))
        self.families[(family, kind)].setdefault(f"{sample}{{{text}}}", []).append((t, v))

    def build(self) -> Cluster:
        rng = random.Random(7)
        pods = {
            "front": ["front-7c9d8f6b5d-abcde", "front-7c9d8f6b5d-fghij"],
            "back": ["back-5f6d7c8b9x-klmno", "back-5f6d7c8b9x-pqrst"],
        }
        ns = self.namespace
        counters: dict[str, float] = defaultdict(float)
        restarts = {p: 0 for p in pods["back"]}
        oomed: set[str] = set()
        for i in range(self.minutes * 60 // STEP + 1):
            t = self.start + i * STEP
            after = t >= self.onset
            wave = 1 + 0.1 * math.sin(i / 40)
            for wl, plist in pods.items():
                rs = plist[0].rsplit("-", 1)[0]
                self.add(
                    "kube_deployment_spec_replicas",
                    "gauge",
                    "kube_deployment_spec_replicas",
                    {"namespace": ns, "deployment": wl},
                    t,
                    len(plist),
                )
                self.add(
                    "kube_replicaset_owner",
                    "gauge",
                    "kube_replicaset_owner",
                    {"namespace": ns, "replicaset": rs, "owner_kind": "Deployment", "owner_name": wl},
                    t,
                    1,
                )
                for pod in plist:
                    c = {"namespace": ns, "pod": pod, "container": wl}
                    self.add(
                        "kube_pod_owner",
                        "gauge",
                        "kube_pod_owner",
                        {"namespace": ns, "pod": pod, "owner_kind": "ReplicaSet", "owner_name": rs},
                        t,
                        1,
                    )
                    for res, val in (("cpu", 1.0), ("memory", 256 * MiB)):
                        self.add(
                            "kube_pod_container_resource_limits",
                            "gauge",
                            "kube_pod_container_resource_limits",
                            {**c, "resource": res},
                            t,
                            val,
                        )
                    rps = 50 * wave * (1 + rng.uniform(-0.03, 0.03))
                    err_frac = 0.002
                    if wl == "back" and after and self.fault == "errors":
                        err_frac = 0.2
                    if wl == "front":
                        err_frac = 0.002 + (0.2 if after and self.fault == "errors" else 0.0)
                    for code, share in (("200", 1 - err_frac), ("500", err_frac)):
                        key = f"req/{pod}/{code}"
                        counters[key] += rps * share * STEP
                        self.add(*self._server(wl, pod, code), t, counters[key])
                    if wl == "front" and pod == plist[0]:
                        for code, share in (("200", 1 - err_frac), ("503", err_frac)):
                            key = f"cli/{code}"
                            counters[key] += 2 * rps * share * STEP
                            self.add(*self._client("front", "back", code), t, counters[key])
                    cpu = 0.3 * wave
                    counters[f"cpu/{pod}"] += cpu * STEP
                    counters[f"per/{pod}"] += 10 * STEP
                    counters[f"thr/{pod}"] += 0.1 * STEP
                    self.add(
                        "container_cpu_usage_seconds",
                        "counter",
                        "container_cpu_usage_seconds_total",
                        c,
                        t,
                        counters[f"cpu/{pod}"],
                    )
                    self.add(
                        "container_cpu_cfs_periods",
                        "counter",
                        "container_cpu_cfs_periods_total",
                        c,
                        t,
                        counters[f"per/{pod}"],
                    )
                    self.add(
                        "container_cpu_cfs_throttled_periods",
                        "counter",
                        "container_cpu_cfs_throttled_periods_total",
                        c,
                        t,
                        counters[f"thr/{pod}"],
                    )
                    mem = 100 * MiB * (1 + rng.uniform(-0.01, 0.01))
                    if wl == "back" and self.fault == "oom" and after:
                        minutes_in = (t - self.onset) / 60
                        mem = min(100 * MiB + minutes_in * 40 * MiB, 256 * MiB)
                        if mem >= 256 * MiB and (t - self.onset) % 300 < STEP:
                            restarts[pod] += 1
                            oomed.add(pod)
                    self.add(
                        "container_memory_working_set_bytes",
                        "gauge",
                        "container_memory_working_set_bytes",
                        c,
                        t,
                        mem,
                    )
                    if wl == "back":
                        self.add(
                            "kube_pod_container_status_restarts",
                            "counter",
                            "kube_pod_container_status_restarts_total",
                            c,
                            t,
                            restarts[pod],
                        )
                        if pod in oomed:
                            self.add(
                                "kube_pod_container_status_last_terminated_reason",
                                "gauge",
                                "kube_pod_container_status_last_terminated_reason",
                                {**c, "reason": "OOMKilled"},
                                t,
                                1,
                            )
        return self

    def _server(self, wl: str, pod: str, code: str) -> tuple[str, str, str, dict[str, str]]:
        ns = self.namespace
        if self.convention == "otel":
            name = "http_server_request_duration_seconds_count"
            labels = {
                "namespace": ns,
                "app": wl,
                "job": f"{ns}/{wl}",
                "pod": pod,
                "http_response_status_code": code,
            }
            return name, "unknown", name, labels
        return (
            "http_requests",
            "counter",
            "http_requests_total",
            {"namespace": ns, "service": wl, "pod": pod, "code": code},
        )

    def _client(self, caller: str, callee: str, code: str) -> tuple[str, str, str, dict[str, str]]:
        ns = self.namespace
        if self.convention == "otel":
            name = "http_client_request_duration_seconds_count"
            labels = {
                "namespace": ns,
                "job": f"{ns}/{caller}",
                "server_address": callee,
                "http_response_status_code": code,
            }
            return name, "unknown", name, labels
        labels = {"namespace": ns, "service": caller, "peer": callee, "code": code}
        return "http_client_requests", "counter", "http_client_requests_total", labels

    def write(self, path: Path) -> Path:
        lines = []
        for (family, kind), series in self.families.items():
            lines.append(f"# TYPE {family} {kind}")
            for name, samples in series.items():
                lines += [f"{name} {v:.6g} {t}" for t, v in samples]
        lines.append("# EOF")
        path.write_text("\n".join(lines) + "\n")
        return path
