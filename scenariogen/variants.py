"""Real-cluster variants of a plan (issue 16): what clusters run that the first generator did not.

- ``no_cpu_limits`` / ``no_mem_limits``: limits left out (requests stay, CPU requests low);
- ``node_metrics``: pods placed on nodes (``kube_pod_info{node}``), node allocatable and cores;
- ``prod_values`` (Helm): defaults in values.yaml, the real values in values-production.yaml
  (autoscaling switched on there), listed by an Argo CD Application, plus an unlisted staging file;
- ``kustomize_patches``: the production overlay sets some workloads' limits with strategic-merge
  or JSON 6902 patches over different base values;
- ``summary_latency``: some classic-convention services export a summary instead of a histogram;
- ``two_hops`` (drawn in plan.py): the alert fires on the caller of the culprit's caller;
- ``red_herring``: a healthy workload is released minutes before the incident.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

import numpy as np

from scenariogen.openmetrics import Store, counter

if TYPE_CHECKING:
    from scenariogen.plan import Plan
    from scenariogen.sim import PodSim, SvcSim

CPU_ALERTS = ("throttling", "cpu_saturation")
MEMORY_ALERTS = ("oom", "memory_near_limit")


def draw_variants(rng: random.Random, plan: Plan, knobs: dict[str, Any]) -> None:
    x = plan.extra

    def flag(key: str, p: float, allowed: bool = True) -> bool:
        x[key] = allowed and bool(knobs.get(key, rng.random() < p))
        return bool(x[key])

    if flag("no_cpu_limits", 0.2, plan.kind != "cpu_limit" and plan.alert not in CPU_ALERTS):
        for s in plan.services:  # teams without CPU limits still request (a little) CPU
            s.cpu_request = round(s.cpu_limit * rng.choice([0.2, 0.25, 0.4]), 3)
    no_mem = plan.kind != "memory_limit" and plan.variant != "leak" and plan.alert not in MEMORY_ALERTS
    flag("no_mem_limits", 0.15, no_mem)
    flag("node_metrics", 0.6)
    flag("prod_values", 0.5, plan.layout == "helm")
    if flag("kustomize_patches", 0.5, plan.layout == "kustomize" and not x["no_cpu_limits"]):
        x["patch_style"] = rng.choice(["json6902", "merge"])
        x["patched"] = sorted(
            s.name
            for s in plan.services
            if (s.name == plan.culprit and rng.random() < 0.8) or rng.random() < 0.3
        )
    summary = plan.convention == "classic" and bool(knobs.get("summary_latency", rng.random() < 0.3))
    x["summary_latency"] = sorted(
        s.name for s in plan.services if summary and s.name != plan.alerting and rng.random() < 0.6
    )
    flag("red_herring", 0.35)


FLAGS = ("no_cpu_limits", "no_mem_limits", "node_metrics", "prod_values", "kustomize_patches", "red_herring")


def active_variants(plan: Plan) -> list[str]:
    """The variants a scenario carries, for the benchmark's breakdown."""
    out = [k for k in FLAGS if plan.extra.get(k)]
    out += ["summary_latency"] if plan.extra.get("summary_latency") else []
    out += ["pre_oom"] if plan.variant == "pre_oom" else []
    if plan.alerting != plan.culprit and plan.culprit not in plan.svc(plan.alerting).callees:
        out.append("two_hops")
    return out


def nodes(plan: Plan) -> tuple[dict[str, float], random.Random]:
    """Node name -> allocatable cores, and the generator that places pods on them."""
    rng = random.Random(plan.seed * 43 + 11)
    count = rng.randint(3, 5)
    zone = rng.choice(["a", "b", "c"])
    return {
        f"ip-10-0-{rng.randint(1, 250)}-{rng.randint(1, 250)}.{zone}.compute.internal": rng.choice([4, 8, 16])
        for _ in range(count)
    }, rng


Z = {"0.5": 0.0, "0.9": 1.2816, "0.99": 2.3263}  # standard normal quantiles


def summary(
    store: Store,
    lab: dict[str, str],
    median: np.ndarray,
    sigma: float,
    pod: PodSim,
    count: np.ndarray,
    offset: float,
) -> None:
    """A latency summary (client-side quantiles, ``_sum`` and ``_count``) in place of a histogram."""
    fam = "http_request_duration_seconds"
    for q, z in Z.items():
        store.add(fam, "summary", fam, {**lab, "quantile": q}, median * math.exp(z * sigma))
    mean = np.nan_to_num(median) * math.exp(sigma**2 / 2)
    alive = lambda v: np.where(pod.alive, v, np.nan)  # noqa: E731
    store.add(fam, "summary", f"{fam}_sum", lab, alive(counter(count * mean, pod.restarts, offset * 0.05)))
    store.add(fam, "summary", f"{fam}_count", lab, alive(counter(count, pod.restarts, offset, integer=True)))


def node_series(plan: Plan, world: dict[str, SvcSim], store: Store) -> None:
    """Pods placed on nodes, and what the nodes offer (kube-state-metrics and cAdvisor)."""
    sizes, rng = nodes(plan)
    n = len(store.ts)
    ksm = {"job": "kube-state-metrics"}
    for node, cores in sizes.items():
        store.add(
            "kube_node_status_allocatable",
            "gauge",
            "kube_node_status_allocatable",
            {**ksm, "node": node, "resource": "cpu", "unit": "core"},
            np.full(n, cores - 0.1),
        )
        store.add(
            "kube_node_status_allocatable",
            "gauge",
            "kube_node_status_allocatable",
            {**ksm, "node": node, "resource": "memory", "unit": "byte"},
            np.full(n, cores * 3.6 * 2**30),
        )
        store.add("machine_cpu_cores", "gauge", "machine_cpu_cores",
                  {"job": "kubelet", "node": node, "instance": node}, np.full(n, float(cores)))  # fmt: skip
    for ss in world.values():
        for pod in ss.pods:
            node = rng.choice(sorted(sizes))
            labels = {
                **ksm,
                "namespace": plan.namespace,
                "pod": pod.name,
                "node": node,
                "created_by_kind": "ReplicaSet",
            }
            store.add("kube_pod_info", "gauge", "kube_pod_info", labels, np.where(pod.alive, 1.0, np.nan))
