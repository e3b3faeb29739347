"""Series real clusters have that trip naive queries: cAdvisor's pod-level cgroup series
(``container=""``) and a staging namespace running healthy copies of some workloads."""

from __future__ import annotations

import random
import re

import numpy as np

from scenariogen import names
from scenariogen.openmetrics import Series, Store
from scenariogen.plan import Plan

CADVISOR = ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes")
WORKLOAD_LABELS = (
    "service",
    "app",
    "job",
    "deployment",
    "horizontalpodautoscaler",
    "owner_name",
    "peer",
    "server_address",
    "container",
)


def pod_level_cgroups(store: Store) -> None:
    """cAdvisor also reports each pod's cgroup with an empty container label (the sum of its containers)."""
    for name in CADVISOR:
        fam = next(f for f in store.families.values() if any(s.name == name for s in f.series))
        by_pod: dict[str, list[Series]] = {}
        for s in fam.series:
            if s.name == name and s.labels.get("container"):
                by_pod.setdefault(s.labels["pod"], []).append(s)
        for group in by_pod.values():
            labels = {k: v for k, v in group[0].labels.items() if k != "image"} | {"container": ""}
            values = np.sum([np.nan_to_num(s.values) for s in group], axis=0)
            values = np.where(np.isnan(group[0].values), np.nan, values)
            fam.series.append(Series(name, labels, values))


def staging_copies(plan: Plan, store: Store, services: list[str]) -> str:
    """Healthy copies of some workloads in a second namespace, with their own pod names and traffic."""
    rng = random.Random(plan.seed * 43 + 21)
    other = f"{plan.namespace}-staging" if rng.random() < 0.6 else "staging"
    pods: dict[str, str] = {}
    svc_pat = re.compile(r"^(" + "|".join(re.escape(s) for s in services) + r")-[a-z0-9]+-[a-z0-9]{5}$")
    scale = rng.uniform(0.03, 0.1)
    for fam in list(store.families.values()):
        for s in list(fam.series):
            if s.labels.get("namespace") != plan.namespace:
                continue
            pod = s.labels.get("pod", "")
            named = {s.labels.get(k) for k in WORKLOAD_LABELS} | {s.labels.get("job", "").split("/")[-1]}
            match = svc_pat.match(pod) if pod else None
            if (pod and not match) or (not pod and not named & set(services)):
                continue
            labels = dict(s.labels, namespace=other)
            if pod:
                if pod not in pods:
                    svc = match.group(1) if match else pod
                    pods[pod] = names.pod_name(rng, names.replicaset_name(rng, svc))
                labels["pod"] = pods[pod]
            if "replicaset" in labels:
                labels["replicaset"] = labels["replicaset"] + "s"
            if labels.get("owner_kind") == "ReplicaSet" and pod:
                labels["owner_name"] = pods[pod].rsplit("-", 1)[0]
            if "instance" in labels:
                labels["instance"] = "10.9." + labels["instance"].split(".", 2)[2]
            counter = s.name.endswith(("_total", "_bucket", "_count", "_sum"))
            values = s.values * scale if counter and not s.name.startswith("kube_") else s.values.copy()
            fam.series.append(Series(s.name, labels, values))
    store._cache.clear()
    return other
