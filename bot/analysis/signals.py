"""Per-workload signals (RED, saturation, memory, restarts, rollouts) and their shifts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from bot.analysis.fetched import Fetched, Key
from bot.analysis.onset import NO_SHIFT, Shift, detect_shift

# Shift rules per signal: (k * MAD, relative rise, absolute rise, absolute floor, min run).
RULES: dict[str, dict[str, float | None]] = {
    "err_ratio": {"k": 6, "rel": 2.0, "abs_min": 0.01, "floor": 0.05},
    "p99": {"k": 6, "rel": 0.5, "abs_min": 0.05, "floor": None},
    "rps": {"k": 5, "rel": 0.4, "abs_min": 0.0, "floor": None},
    "thr": {"k": 6, "rel": 1.0, "abs_min": 0.08, "floor": 0.25},
    "cpu_util": {"k": 6, "rel": 0.25, "abs_min": 0.1, "floor": 0.85},
    "mem_util": {"k": 6, "rel": 0.2, "abs_min": 0.08, "floor": 0.9},
    # against the workload's own baseline, for resources without a (binding) limit
    "cpu": {"k": 6, "rel": 0.5, "abs_min": 0.05, "floor": None},
    "mem": {"k": 6, "rel": 0.25, "abs_min": 16 * 2**20, "floor": None},
}


@dataclass(frozen=True)
class Rollout:
    at: float
    new_replicaset: str | None
    old_image: str | None = None
    new_image: str | None = None


@dataclass
class WorkloadSignals:
    name: str
    pods: list[str] = field(default_factory=list)
    container: str | None = None
    series: dict[str, np.ndarray] = field(default_factory=dict)  # rps, err, err_ratio, p99, cpu, ...
    shifts: dict[str, Shift] = field(default_factory=dict)
    cpu_limit_per_pod: float | None = None
    mem_limit_per_pod: float | None = None
    cpu_request_per_pod: float | None = None
    mem_request_per_pod: float | None = None
    node_cpu: float | None = None  # the smallest allocatable CPU of the nodes its pods ran on
    node_memory: float | None = None
    nodes: tuple[str, ...] = ()
    replicas: int | None = None
    hpa: str | None = None
    hpa_max: int | None = None
    hpa_min: int | None = None
    restarts: float = 0.0
    oom_restarts: float = 0.0
    oom_times: list[float] = field(default_factory=list)
    crashloop: bool = False
    crash_since: float | None = None  # first CrashLoopBackOff seen
    restart_times: list[float] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)

    def shift(self, key: str) -> Shift:
        return self.shifts.get(key, NO_SHIFT)

    def has(self, key: str) -> bool:
        arr = self.series.get(key)
        return arr is not None and bool(np.isfinite(arr).any())


def _sum(arrays: list[np.ndarray], size: int) -> np.ndarray:
    if not arrays:
        return np.full(size, np.nan)
    stack = np.vstack(arrays)
    out = np.nansum(stack, axis=0)
    out[~np.isfinite(stack).any(axis=0)] = np.nan
    return out


def _max(arrays: list[np.ndarray], size: int) -> np.ndarray:
    if not arrays:
        return np.full(size, np.nan)
    stack = np.vstack(arrays)
    with np.errstate(all="ignore"):
        out = np.nanmax(np.where(np.isfinite(stack), stack, -np.inf), axis=0)
    out[~np.isfinite(out)] = np.nan
    return out


def _last(arr: np.ndarray) -> float | None:
    finite = arr[np.isfinite(arr)]
    return float(finite[-1]) if finite.size else None


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        out = num / den
    out[~np.isfinite(out)] = np.nan
    return out


def build(data: Fetched, baseline_end: float) -> dict[str, WorkloadSignals]:
    """Signals for every workload seen in the namespace, keyed by workload name."""
    own = data.ownership
    n = data.grid.size
    by_wl: dict[str, dict[str, list[Key]]] = defaultdict(lambda: defaultdict(list))
    for kind in ("cpu", "mem", "restarts"):
        for key in data.container.get(kind, {}):
            by_wl[own.workload_of_pod(key[0])][key[1]].append(key)
    for pod, container, _ in data.waiting:  # a pod that never ran may show nothing but its waiting
        by_wl[own.workload_of_pod(pod)][container].append((pod, container))
    names = set(by_wl) | set(data.red) | set(data.deployments)
    out: dict[str, WorkloadSignals] = {}
    for name in sorted(names):
        sig = WorkloadSignals(name=name)
        containers = by_wl.get(name, {})
        if containers:
            sig.container = _main_container(name, containers, data)
            _resources(sig, data, n)
        red = data.red.get(name, {})
        for red_key in ("rps", "err", "p99"):
            if red_key in red:
                sig.series[red_key] = red[red_key]
        if "rps" in sig.series and "err" in sig.series:
            err = np.where(
                np.isfinite(sig.series["rps"]) & ~np.isfinite(sig.series["err"]), 0.0, sig.series["err"]
            )
            sig.series["err"] = err
            sig.series["err_ratio"] = _ratio(err, sig.series["rps"])
        _replicas(sig, data)
        dep = data.deployments.get(name, {})
        if "spec" in dep and "available" in dep:
            # Replicas wanted but not available: new pods that never become ready show here first.
            sig.series["unavailable"] = dep["spec"] - dep["available"]
            sig.shifts["unavailable"] = detect_shift(
                data.grid, sig.series["unavailable"], baseline_end, k=0, rel=0, abs_min=0.5
            )
        for signal, rule in RULES.items():
            arr = sig.series.get(signal)
            if arr is not None and np.isfinite(arr).any():
                sig.shifts[signal] = detect_shift(data.grid, arr, baseline_end, **rule)  # type: ignore[arg-type]
        out[name] = sig
    return out


def _main_container(name: str, containers: dict[str, list[Key]], data: Fetched) -> str:
    if name in containers:
        return name
    cpu = data.container.get("cpu", {})

    def load(container: str) -> float:
        return float(sum(np.nansum(cpu.get(k, np.zeros(1))) for k in containers[container]))

    return max(containers, key=load)


def _resources(sig: WorkloadSignals, data: Fetched, n: int) -> None:
    own, c = data.ownership, sig.container or ""
    keys = [k for k in data.container.get("cpu", {}) if k[1] == c and own.workload_of_pod(k[0]) == sig.name]
    keys += [
        k
        for kind in ("mem", "restarts")
        for k in data.container.get(kind, {})
        if k[1] == c and own.workload_of_pod(k[0]) == sig.name and k not in keys
    ]
    waiting = {k[0] for k in data.waiting if k[1] == c and own.workload_of_pod(k[0]) == sig.name}
    sig.pods = sorted({k[0] for k in keys} | waiting)
    get = data.container.get
    sig.series["cpu"] = _sum([get("cpu", {})[k] for k in keys if k in get("cpu", {})], n)
    thr = _sum([get("thr", {})[k] for k in keys if k in get("thr", {})], n)
    periods = _sum([get("periods", {})[k] for k in keys if k in get("periods", {})], n)
    sig.series["thr"] = _ratio(thr, periods)
    sig.series["mem"] = _max([get("mem", {})[k] for k in keys if k in get("mem", {})], n)
    cpu_lim = {p: data.limits.get((p, c, "cpu")) for p in sig.pods}
    mem_lim = {p: data.limits.get((p, c, "memory")) for p in sig.pods}
    # Sum the limits of the pods that were running at each point, so utilisation stays per-pod fair.
    cpu_present = [
        np.where(np.isfinite(get("cpu", {}).get((p, c), np.full(n, np.nan))), lim, np.nan)
        for p, lim in cpu_lim.items()
        if lim is not None
    ]
    sig.series["cpu_limit"] = _sum(cpu_present, n)
    sig.series["cpu_util"] = _ratio(sig.series["cpu"], sig.series["cpu_limit"])
    utils = [
        _ratio(get("mem", {}).get((p, c), np.full(n, np.nan)), lim)
        for p, lim in mem_lim.items()
        if lim is not None
    ]
    sig.series["mem_util"] = _max(utils, n)
    sig.series["mem_limit"] = _max([lim for lim in mem_lim.values() if lim is not None], n)
    sig.cpu_limit_per_pod = _last(_max([lim for lim in cpu_lim.values() if lim is not None], n))
    sig.mem_limit_per_pod = _last(sig.series["mem_limit"])
    _requests_and_nodes(sig, data, n)
    sig.series["pods"] = _sum(
        [np.isfinite(get("cpu", {})[k]).astype(float) for k in keys if k in get("cpu", {})], n
    )
    _restarts(sig, data, n)
    _rollouts(sig, data, data_start(data))


def _requests_and_nodes(sig: WorkloadSignals, data: Fetched, n: int) -> None:
    """What the workload reserved, and what the nodes it runs on offer (a hog without a limit
    is measured against these)."""
    c = sig.container or ""
    for resource, attr in (("cpu", "cpu_request_per_pod"), ("memory", "mem_request_per_pod")):
        reqs = [data.requests[(p, c, resource)] for p in sig.pods if (p, c, resource) in data.requests]
        setattr(sig, attr, _last(_max(reqs, n)) if reqs else None)
    sig.nodes = tuple(sorted({data.pod_node[p] for p in sig.pods if p in data.pod_node}))
    for resource, attr in (("cpu", "node_cpu"), ("memory", "node_memory")):
        sizes = [
            data.node_capacity[(node, resource)]
            for node in sig.nodes
            if (node, resource) in data.node_capacity
        ]
        setattr(sig, attr, min(sizes) if sizes else None)


def data_start(data: Fetched) -> float:
    """When the recording begins: a window may reach back before the first scrape."""
    series = list(data.container.get("cpu", {}).values())
    if not series:  # no cAdvisor (a managed runtime): the request metrics say when it begins
        series = [arr for red in data.red.values() for arr in red.values()]
    firsts = [
        float(data.grid[np.flatnonzero(np.isfinite(arr))[0]]) for arr in series if np.isfinite(arr).any()
    ]
    return min(firsts) if firsts else float(data.grid[0])


def _restarts(sig: WorkloadSignals, data: Fetched, n: int) -> None:
    c = sig.container
    increments = []
    for pod in sig.pods:
        for reason in ("CrashLoopBackOff",):
            wait = data.waiting.get((pod, c or "", reason))
            if wait is not None and np.nansum(wait) > 0:
                sig.crashloop = True
                first = float(data.grid[np.flatnonzero(np.nan_to_num(wait) > 0)[0]])
                sig.crash_since = first if sig.crash_since is None else min(sig.crash_since, first)
        arr = data.container.get("restarts", {}).get((pod, c or ""))
        if arr is None:
            continue
        filled = arr.copy()
        finite = np.isfinite(filled)
        if not finite.any():
            continue
        inc = np.zeros(n)
        prev = np.nan
        for i in range(n):
            if finite[i]:
                if np.isfinite(prev) and filled[i] > prev:
                    inc[i] = filled[i] - prev
                prev = filled[i]
        increments.append(inc)
        oom = data.terminated.get((pod, c or "", "OOMKilled"))
        if oom is not None and bool(np.nansum(oom) > 0):
            if inc.sum() > 0:
                sig.oom_restarts += float(inc.sum())
                sig.oom_times += [float(t) for t in data.grid[inc > 0]]
            else:
                # No restart in the window: the kill is dated by when the reason appeared; a reason
                # present from the pod's first sample is a kill from before the window, not news.
                shown = np.flatnonzero(np.nan_to_num(oom) > 0)[0]
                if shown > np.flatnonzero(finite)[0]:
                    sig.oom_restarts += 1.0
                    sig.oom_times.append(float(data.grid[shown]))
        sig.restart_times += [float(t) for t in data.grid[inc > 0]]
    sig.series["restarts"] = _sum(increments, n) if increments else np.zeros(n)
    sig.restarts = float(np.nansum(sig.series["restarts"]))
    sig.oom_times.sort()
    sig.restart_times.sort()


def _rollouts(sig: WorkloadSignals, data: Fetched, data_start: float) -> None:
    """New ReplicaSets whose pods appeared during the window (a deployment rolled out)."""
    own = data.ownership
    first_seen: dict[str, float] = {}
    waiting = [(k[0], arr) for k, arr in data.waiting.items() if k[1] == (sig.container or "")]
    for pod in sig.pods:
        arrays = [
            data.container.get(kind, {}).get((pod, sig.container or ""))
            for kind in ("cpu", "mem", "restarts")
        ]
        for arr in [*arrays, *(a for p, a in waiting if p == pod)]:
            if arr is None:
                continue
            idx = np.flatnonzero(np.isfinite(arr))
            if idx.size:
                seen = float(data.grid[idx[0]])
                first_seen[pod] = min(first_seen.get(pod, seen), seen)
    if not first_seen:
        return
    start = float(data.grid[0])
    by_rs: dict[str | None, list[str]] = defaultdict(list)
    for pod in first_seen:
        by_rs[own.replicaset_of_pod(pod)].append(pod)
    start = max(start, data_start)
    initial = {rs for rs, pods in by_rs.items() if any(first_seen[p] <= start + data.step for p in pods)}
    c = sig.container or ""
    old_images = sorted({data.images[(p, c)] for rs in initial for p in by_rs[rs] if (p, c) in data.images})
    for rs, pods in by_rs.items():
        if rs in initial or rs is None:
            continue
        new_images = sorted({data.images[(p, c)] for p in pods if (p, c) in data.images})
        sig.rollouts.append(
            Rollout(
                at=min(first_seen[p] for p in pods),
                new_replicaset=rs,
                old_image=old_images[0] if old_images else None,
                new_image=new_images[0] if new_images else None,
            )
        )
    sig.rollouts.sort(key=lambda r: r.at)


def _replicas(sig: WorkloadSignals, data: Fetched) -> None:
    dep = data.deployments.get(sig.name, {})
    spec = _last(dep["spec"]) if "spec" in dep else None
    pods_now = _last(sig.series["pods"]) if "pods" in sig.series else None
    sig.replicas = int(spec) if spec is not None else (int(pods_now) if pods_now else None)
    known = data.ownership.known | set(data.deployments) | set(data.red)
    for hpa, values in data.hpas.items():
        target = data.hpa_target.get(hpa, hpa)
        if hpa not in data.hpa_target:
            # Without its target, an HPA belongs to the longest workload name that prefixes it
            # ("ratings-proxy" is the proxy's, not ratings').
            owners = [w for w in known | {sig.name} if hpa == w or hpa.startswith(w + "-")]
            target = max(owners, key=len) if owners else hpa
        if target == sig.name:
            sig.hpa = hpa
            hmax, hmin = _last(values.get("max", np.array([]))), _last(values.get("min", np.array([])))
            sig.hpa_max = int(hmax) if hmax is not None else None
            sig.hpa_min = int(hmin) if hmin is not None else None
            break
