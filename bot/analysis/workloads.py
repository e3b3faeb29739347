"""Map alert labels and pod names to the workload (Deployment, StatefulSet...) that owns them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.analysis.discovery import normalize_workload_value

# <deployment>-<replicaset hash>-<pod suffix>; the hash alphabet is "bcdfghjklmnpqrstvwxz2456789".
_DEPLOYMENT_POD = re.compile(r"^(?P<name>.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$")
_STATEFUL_POD = re.compile(r"^(?P<name>.+)-\d+$")
_SUFFIXED_POD = re.compile(r"^(?P<name>.+)-[a-z0-9]{5}$")
_RS_HASH = re.compile(r"^(?P<name>.+)-[a-z0-9]{5,10}$")

# Alert labels that name a workload, most specific first.
ALERT_WORKLOAD_LABELS = (
    "deployment",
    "statefulset",
    "daemonset",
    "app.kubernetes.io/name",
    "app_kubernetes_io_name",
    "app",
    "k8s_app",
    "service",
    "service_name",
    "workload",
    "container",
    "job",
)


@dataclass
class Ownership:
    """Pod -> workload, learned from kube_pod_owner and kube_replicaset_owner."""

    pod_owner: dict[str, tuple[str, str]] = field(default_factory=dict)  # pod -> (kind, name)
    replicaset_owner: dict[str, str] = field(default_factory=dict)  # replicaset -> deployment
    known: set[str] = field(default_factory=set)  # every workload name seen anywhere

    def workload_of_pod(self, pod: str) -> str:
        owner = self.pod_owner.get(pod)
        if owner:
            kind, name = owner
            if kind == "ReplicaSet":
                if name in self.replicaset_owner:
                    return self.replicaset_owner[name]
                match = _RS_HASH.match(name)
                if match and match["name"] in self.known:
                    return match["name"]
                return match["name"] if match else name
            return name
        return strip_pod_hash(pod, self.known)

    def replicaset_of_pod(self, pod: str) -> str | None:
        owner = self.pod_owner.get(pod)
        if owner and owner[0] == "ReplicaSet":
            return owner[1]
        match = _DEPLOYMENT_POD.match(pod)
        return pod.rsplit("-", 1)[0] if match else None


def strip_pod_hash(pod: str, known: Iterable[str] = ()) -> str:
    """The workload name hidden in a pod name, preferring a known workload that prefixes it."""
    known_set = set(known)
    prefixes = [k for k in known_set if pod.startswith(k + "-")]
    if prefixes:
        return max(prefixes, key=len)
    for pattern in (_DEPLOYMENT_POD, _STATEFUL_POD, _SUFFIXED_POD):
        match = pattern.match(pod)
        if match:
            return match["name"]
    return pod


def resolve_alert_workload(
    labels: Mapping[str, str], ownership: Ownership, extra_known: Iterable[str] = ()
) -> str | None:
    """The workload an alert is about, from whichever labels this cluster's rules use."""
    known = ownership.known | set(extra_known)
    candidates: list[str] = []
    for key in ALERT_WORKLOAD_LABELS:
        value = labels.get(key)
        if value:
            candidates.append(normalize_workload_value(value) if key == "job" else value)
    pod = labels.get("pod") or labels.get("pod_name")
    if pod:
        candidates.insert(0, ownership.workload_of_pod(pod))
    for cand in candidates:
        if cand in known:
            return cand
    # Names may differ by a suffix or prefix convention, e.g. "checkout-api" vs "checkout".
    for cand in candidates:
        close = [k for k in known if k.startswith(cand + "-") or cand.startswith(k + "-")]
        if close:
            return min(close, key=lambda k: abs(len(k) - len(cand)))
    return candidates[0] if candidates else None
