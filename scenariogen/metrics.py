"""Turn a simulated namespace into the series real exporters would publish (cAdvisor,
kube-state-metrics, application RED metrics in classic or OpenTelemetry naming, client calls)."""

from __future__ import annotations

import math
import random

import numpy as np

from scenariogen.openmetrics import Store, counter
from scenariogen.plan import Plan
from scenariogen.sim import PodSim, SvcSim
from scenariogen.variants import node_series, summary

CLASSIC_BUCKETS = [
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
    [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
]
OTEL_BUCKETS = [
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0],
    [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
]
ERR_CODE = {"errors": "500", "crashloop": "503"}


def _cdf(le: float, median: np.ndarray, sigma: float) -> np.ndarray:
    z = (math.log(le) - np.log(np.maximum(median, 1e-6))) / (sigma * math.sqrt(2))
    return 0.5 * (1 + _erf(z))


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26; accurate to 1.5e-7, enough for bucket shares
    s = np.sign(x)
    x = np.abs(x)
    t = 1 / (1 + 0.3275911 * x)
    y = 1 - (
        ((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592
    ) * t * np.exp(-x * x)
    return s * y


class MetricsBuilder:
    def __init__(self, plan: Plan, world: dict[str, SvcSim]) -> None:
        self.plan, self.world = plan, world
        self.rng = random.Random(plan.seed * 31 + 5)
        self.n = (plan.at - plan.start) // plan.step + 1
        self.store = Store(plan.start + np.arange(self.n) * plan.step)
        self.buckets = self.rng.choice(OTEL_BUCKETS if plan.convention == "otel" else CLASSIC_BUCKETS)
        if plan.extra.get("compact"):  # the shipped demo keeps its files small
            self.buckets = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
        self.sigma = self.rng.uniform(0.45, 0.7)
        self.instance = self.rng.random() < 0.4
        self.cadvisor_image = self.rng.random() < 0.4
        self.err_code = ERR_CODE.get(plan.variant, self.rng.choice(["500", "503"]))
        self.unset_limits = tuple(
            r for r, key in (("cpu", "no_cpu_limits"), ("memory", "no_mem_limits")) if plan.extra.get(key)
        )

    def build(self) -> Store:
        for ss in self.world.values():
            self.kube(ss)
            for pod in ss.pods:
                self.cadvisor(ss, pod)
                self.red(ss, pod)
            self.clients(ss)
        if self.plan.extra.get("node_metrics"):
            node_series(self.plan, self.world, self.store)
        return self.store

    # -- helpers ------------------------------------------------------------------------
    def present(self, pod: PodSim, values: np.ndarray) -> np.ndarray:
        return np.where(pod.alive, values, np.nan)

    def job(self, svc: str) -> str:
        return f"{self.plan.namespace}/{svc}" if self.plan.job_style == "ns/name" else svc

    # -- kube-state-metrics -------------------------------------------------------------
    def kube(self, ss: SvcSim) -> None:
        p, s, add = self.plan, ss.svc, self.store.add
        ksm = {"job": "kube-state-metrics", "namespace": p.namespace}
        dep = {**ksm, "deployment": s.name}
        add(
            "kube_deployment_spec_replicas",
            "gauge",
            "kube_deployment_spec_replicas",
            dep,
            ss.spec.astype(float),
        )
        add(
            "kube_deployment_status_replicas_available",
            "gauge",
            "kube_deployment_status_replicas_available",
            dep,
            ss.available.astype(float),
        )
        for rs in dict.fromkeys(pod.rs for pod in ss.pods):
            add(
                "kube_replicaset_owner",
                "gauge",
                "kube_replicaset_owner",
                {**ksm, "replicaset": rs, "owner_kind": "Deployment", "owner_name": s.name},
                np.ones(self.n),
            )
        if s.hpa:
            hpa = {**ksm, "horizontalpodautoscaler": s.name}
            cur = ss.hpa_current if ss.hpa_current is not None else ss.spec
            for metric, v in (
                ("spec_max_replicas", np.full(self.n, s.hpa[1])),
                ("spec_min_replicas", np.full(self.n, s.hpa[0])),
                ("status_current_replicas", cur),
                ("status_desired_replicas", cur),
            ):
                name = f"kube_horizontalpodautoscaler_{metric}"
                add(name, "gauge", name, hpa, v.astype(float))
        for pod in ss.pods:
            born = int(np.argmax(pod.alive))
            podl = {**ksm, "pod": pod.name}
            add(
                "kube_pod_owner",
                "gauge",
                "kube_pod_owner",
                {**podl, "owner_kind": "ReplicaSet", "owner_name": pod.rs, "owner_is_controller": "true"},
                self.present(pod, np.ones(self.n)),
            )
            for container, cpu_l, mem_l, cpu_r, mem_r, image in self.containers(ss, pod):
                c = {**podl, "container": container}
                unset = self.unset_limits if container == s.name else ()
                for fam, vals in (("limits", (cpu_l, mem_l)), ("requests", (cpu_r, mem_r))):
                    name = f"kube_pod_container_resource_{fam}"
                    if not (fam == "limits" and "cpu" in unset):
                        add(
                            name,
                            "gauge",
                            name,
                            {**c, "resource": "cpu", "unit": "core"},
                            self.present(pod, np.full(self.n, vals[0])),
                        )
                    if not (fam == "limits" and "memory" in unset):
                        add(
                            name,
                            "gauge",
                            name,
                            {**c, "resource": "memory", "unit": "byte"},
                            self.present(pod, np.full(self.n, float(vals[1]))),
                        )
                add(
                    "kube_pod_container_info",
                    "gauge",
                    "kube_pod_container_info",
                    {
                        **c,
                        "image": image,
                        "image_spec": image,
                        "image_id": f"{image.split(':')[0]}@sha256:" + f"{self.rng.getrandbits(256):064x}",
                    },
                    self.present(pod, np.ones(self.n)),
                )
                main = container == s.name
                restarts = pod.restarts if main else np.zeros(self.n)
                add(
                    "kube_pod_container_status_restarts",
                    "counter",
                    "kube_pod_container_status_restarts_total",
                    c,
                    self.present(pod, restarts.astype(float)),
                )
                if main and pod.term_reason and pod.term_first is not None:
                    v = np.full(self.n, np.nan)
                    v[pod.term_first :] = 1.0
                    add(
                        "kube_pod_container_status_last_terminated_reason",
                        "gauge",
                        "kube_pod_container_status_last_terminated_reason",
                        {**c, "reason": pod.term_reason},
                        self.present(pod, v),
                    )
                waiting = np.full(self.n, np.nan)
                if main and pod.waiting.any():
                    waiting[pod.waiting] = 1.0
                    add(
                        "kube_pod_container_status_waiting_reason",
                        "gauge",
                        "kube_pod_container_status_waiting_reason",
                        {**c, "reason": "CrashLoopBackOff"},
                        self.present(pod, waiting),
                    )
                elif born > 0:
                    waiting[born] = 1.0
                    add(
                        "kube_pod_container_status_waiting_reason",
                        "gauge",
                        "kube_pod_container_status_waiting_reason",
                        {**c, "reason": "ContainerCreating"},
                        waiting,
                    )

    def containers(self, ss: SvcSim, pod: PodSim) -> list[tuple[str, float, int, float, int, str]]:
        s = ss.svc
        out = [(s.name, s.cpu_limit, s.mem_limit, s.cpu_request, s.mem_request, f"{s.image}:{pod.tag}")]
        if s.sidecar:
            out.append(
                (s.sidecar, 0.5, 256 * 2**20, 0.05, 64 * 2**20, f"docker.io/library/{s.sidecar}:1.22.3")
            )
        return out

    # -- cAdvisor -----------------------------------------------------------------------
    def cadvisor(self, ss: SvcSim, pod: PodSim) -> None:
        p, add, step = self.plan, self.store.add, self.plan.step
        for container, _, _, _, _, image in self.containers(ss, pod):
            main = container == ss.svc.name
            lab = {
                "job": "kubelet",
                "metrics_path": "/metrics/cadvisor",
                "namespace": p.namespace,
                "pod": pod.name,
                "container": container,
            }
            if self.cadvisor_image:
                lab["image"] = image
            resets = pod.restarts if main else None
            if main:
                cpu, ws, thr = pod.cpu, pod.ws, pod.throttle
            else:
                cpu = np.full(self.n, self.rng.uniform(0.01, 0.06)) * (
                    1 + 0.1 * np.sin(np.arange(self.n) / 7)
                )
                ws = np.full(self.n, self.rng.uniform(40, 120) * 2**20)
                thr = np.full(self.n, 0.002)
            periods = np.where(pod.alive, step * 10.0, 0.0)
            start = self.rng.uniform(1e3, 5e5)
            add(
                "container_cpu_usage_seconds",
                "counter",
                "container_cpu_usage_seconds_total",
                lab,
                self.present(pod, counter(cpu * step, resets, start / 100)),
            )
            if not (main and "cpu" in self.unset_limits):  # no CPU quota, no CFS accounting
                add(
                    "container_cpu_cfs_periods",
                    "counter",
                    "container_cpu_cfs_periods_total",
                    lab,
                    self.present(pod, counter(periods, resets, start, integer=True)),
                )
                add(
                    "container_cpu_cfs_throttled_periods",
                    "counter",
                    "container_cpu_cfs_throttled_periods_total",
                    lab,
                    self.present(pod, counter(np.round(periods * thr), resets, start * 0.01, integer=True)),
                )
            add(
                "container_memory_working_set_bytes",
                "gauge",
                "container_memory_working_set_bytes",
                lab,
                self.present(pod, np.round(ws)),
            )

    # -- application RED ----------------------------------------------------------------
    def red_labels(self, svc: str, pod: PodSim) -> dict[str, str]:
        p = self.plan
        lab = {"namespace": p.namespace, "pod": pod.name, "job": self.job(svc)}
        if p.svc_label == "job":
            lab["job"] = svc
        else:
            lab[p.svc_label] = svc
        if self.instance:
            lab["instance"] = (
                f"10.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.{self.rng.randint(2, 254)}:8080"
            )
        return lab

    def red(self, ss: SvcSim, pod: PodSim) -> None:
        p, add, step = self.plan, self.store.add, self.plan.step
        if not pod.ready.any():
            return  # never served a request, so never exported app metrics
        lab = self.red_labels(ss.svc.name, pod)
        served = pod.rps * step
        codes = {
            "200": served * (1 - pod.err) * 0.985,
            "404": served * (1 - pod.err) * 0.015,
            self.err_code: served * pod.err,
        }
        offset = self.rng.uniform(0, 2e4)
        if p.convention == "classic":
            key = p.status_label
            for code, inc in codes.items():
                add(
                    "http_requests",
                    "counter",
                    "http_requests_total",
                    {**lab, key: code, "method": "GET"},
                    self.present(
                        pod,
                        counter(inc, pod.restarts, offset * (0.9 if code == "200" else 0.01), integer=True),
                    ),
                )
            if ss.svc.name in self.plan.extra.get("summary_latency", ()):
                summary(self.store, lab, self.present(pod, pod.lat), self.sigma, pod, served, offset)
            else:
                self.histogram("http_request_duration_seconds", lab, pod, served, pod.lat, offset)
        else:
            for code in ("200", self.err_code):
                self.histogram(
                    "http_server_request_duration_seconds",
                    {**lab, "http_request_method": "GET", "http_response_status_code": code},
                    pod,
                    codes[code] + (codes["404"] if code == "200" else 0),
                    pod.lat,
                    offset * (0.9 if code == "200" else 0.01),
                )
        if p.grpc and (ss.svc.name == p.culprit or self.rng.random() < 0.5):
            gl = {
                **lab,
                "grpc_service": f"{ss.svc.name.replace('-', '')}.v1.Api",
                "grpc_method": "Get",
                "grpc_type": "unary",
            }
            for code, inc in (
                ("OK", served * (1 - pod.err)),
                ("Unavailable", served * pod.err * 0.6),
                ("Internal", served * pod.err * 0.4),
            ):
                add(
                    "grpc_server_handled",
                    "counter",
                    "grpc_server_handled_total",
                    {**gl, "grpc_code": code},
                    self.present(
                        pod,
                        counter(inc, pod.restarts, offset * (0.5 if code == "OK" else 0.005), integer=True),
                    ),
                )

    def histogram(
        self, fam: str, lab: dict[str, str], pod: PodSim, count: np.ndarray, median: np.ndarray, offset: float
    ) -> None:
        add = self.store.add
        for le in self.buckets:
            share = _cdf(le, median, self.sigma)
            add(
                fam,
                "histogram",
                f"{fam}_bucket",
                {**lab, "le": repr(float(le))},
                self.present(pod, counter(count * share, pod.restarts, offset * 0.9, integer=True)),
            )
        add(
            fam,
            "histogram",
            f"{fam}_bucket",
            {**lab, "le": "+Inf"},
            self.present(pod, counter(count, pod.restarts, offset, integer=True)),
        )
        mean = median * math.exp(self.sigma**2 / 2)
        add(
            fam,
            "histogram",
            f"{fam}_sum",
            lab,
            self.present(pod, counter(count * mean, pod.restarts, offset * 0.05)),
        )
        add(
            fam,
            "histogram",
            f"{fam}_count",
            lab,
            self.present(pod, counter(count, pod.restarts, offset, integer=True)),
        )

    def clients(self, ss: SvcSim) -> None:
        p, add, step = self.plan, self.store.add, self.plan.step
        base = {"namespace": p.namespace, "job": self.job(ss.svc.name), "service": ss.svc.name}
        for callee, (rps, err) in ss.client.items():
            bad = "504" if self.world[callee].lat.max() > 2.0 and p.kind != "bad_deploy" else "503"
            for code, inc in (("200", rps * (1 - err) * step), (bad, rps * err * step)):
                if p.convention == "classic":
                    add(
                        "http_client_requests",
                        "counter",
                        "http_client_requests_total",
                        {**base, "peer": callee, "code": code},
                        counter(inc, None, 1000.0, integer=True),
                    )
                else:
                    add(
                        "http_client_request_duration_seconds",
                        "unknown",
                        "http_client_request_duration_seconds_count",
                        {**base, "server_address": callee, "http_response_status_code": code},
                        counter(inc, None, 1000.0, integer=True),
                    )


def build_store(plan: Plan, world: dict[str, SvcSim]) -> Store:
    return MetricsBuilder(plan, world).build()
