"""The incident plan: every random choice of a scenario, drawn once from a seeded RNG.

Knobs (all optional; a knob left out is drawn at random): kind, layout, convention,
downstream, alert, label, quirk, hpa, variant, n_services, step, window_min, onset_min,
distractors, sidecars, grpc, name, at; and the real-cluster variants (scenariogen/variants.py):
no_cpu_limits, no_mem_limits, node_metrics, prod_values, kustomize_patches, summary_latency,
two_hops, red_herring.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from scenariogen import names
from scenariogen.variants import draw_variants

KINDS = ("traffic_surge", "cpu_limit", "memory_limit", "bad_deploy", "transient")
LAYOUTS = ("plain", "kustomize", "helm")
VARIANTS = {
    "traffic_surge": ("entry", "direct"),
    "cpu_limit": ("cost",),
    "memory_limit": ("growth", "growth", "pre_oom"),
    "bad_deploy": ("errors", "crashloop", "leak", "latency"),
    "transient": ("latency", "errors"),
}
MiB = 1024 * 1024


@dataclass
class Service:
    name: str
    replicas: int
    cpu_limit: float
    cpu_request: float
    mem_limit: int
    mem_request: int
    image: str
    tag: str
    util0: float  # baseline CPU demand per pod as a fraction of the limit
    idle_cpu: float
    mem_base: int
    lat_median: float
    base_err: float
    external_rps: float
    callees: dict[str, float] = field(default_factory=dict)
    hpa: tuple[int, int] | None = None
    sidecar: str | None = None


@dataclass
class Plan:
    name: str
    seed: int
    kind: str
    variant: str
    culprit: str
    alerting: str
    namespace: str
    team: str
    services: list[Service]
    start: int
    at: int
    step: int
    onset: int
    layout: str
    root: str  # manifest root directory (plain: apps/k8s/...; kustomize: base parent; helm: charts)
    convention: str  # classic | otel
    status_label: str  # classic only: code | status | status_code
    svc_label: str  # service | app | job: the label naming the workload on RED metrics
    job_style: str  # name | ns/name
    alert: str
    label: str  # how the alert names its target
    quirk: bool
    grpc: bool
    distractors: bool
    bad_change: str  # image | config (bad_deploy only)
    surge: float = 1.0
    cost: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def svc(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def index(self, t: int) -> int:
        return (t - self.start) // self.step


ALERTS = {
    "traffic_surge": ["latency_p99", "latency_p99", "cpu_saturation", "error_ratio"],
    "cpu_limit": ["throttling", "throttling", "latency_p99"],
    "memory_limit": ["oom", "oom", "restarts"],
    "bad_deploy": ["error_ratio"],
    "transient": ["latency_p99", "error_ratio"],
}
VARIANT_ALERTS = {
    "pre_oom": ["memory_near_limit"],
    "crashloop": ["crashloop", "restarts", "availability"],
    "leak": ["oom", "restarts"],
    "latency": ["latency_p99"],
    "errors": ["error_ratio", "error_ratio", "grpc_errors"],
}
RED_ALERTS = ("latency_p99", "error_ratio", "grpc_errors")
ALERT_STYLES = (
    *RED_ALERTS,
    "throttling",
    "cpu_saturation",
    "oom",
    "restarts",
    "crashloop",
    "availability",
    "memory_near_limit",
)


def _quantity_limit(rng: random.Random) -> float:
    return rng.choice([0.25, 0.5, 0.5, 0.75, 1.0, 1.0, 1.5, 2.0, 2.0, 3.0, 4.0])


def _service(rng: random.Random, name: str, ns: str, registry: str) -> Service:
    cpu = _quantity_limit(rng)
    mem = rng.choice([256, 384, 512, 512, 768, 1024, 1024, 1536, 2048, 3072]) * MiB
    return Service(
        name=name,
        replicas=rng.randint(2, 6),
        cpu_limit=cpu,
        cpu_request=round(cpu * rng.choice([0.25, 0.5, 0.5, 1.0]), 3),
        mem_limit=mem,
        mem_request=int(mem * rng.choice([0.5, 0.5, 1.0])),
        image=f"{registry.format(ns=ns)}/{name}",
        tag=names.semver(rng),
        util0=rng.uniform(0.2, 0.5),
        idle_cpu=cpu * rng.uniform(0.01, 0.04),
        mem_base=int(mem * rng.uniform(0.3, 0.6)),
        lat_median=rng.uniform(0.015, 0.12),
        base_err=rng.choice([0.0005, 0.001, 0.002, 0.004]),
        external_rps=0.0,
    )


def _topology(rng: random.Random, svcs: list[Service]) -> None:
    """A DAG: every service is called by some lower-indexed one; the entry takes outside traffic."""
    svcs[0].external_rps = rng.uniform(60, 900)
    for i in range(1, len(svcs)):
        caller = svcs[rng.randrange(0, i)] if i > 1 and rng.random() < 0.45 else svcs[0]
        caller.callees[svcs[i].name] = round(rng.uniform(0.3, 1.4), 2)
        if rng.random() < 0.25:  # a batch job or partner traffic straight to a backend
            svcs[i].external_rps = rng.uniform(5, 60)


def _callers_callers(svcs: list[Service], name: str) -> list[Service]:
    callers = {s.name for s in svcs if name in s.callees}
    return [s for s in svcs if callers & set(s.callees)]


def _pick(rng: random.Random, knobs: dict[str, Any], key: str, options: Any) -> Any:
    value = knobs.get(key)
    return rng.choice(list(options)) if value is None else value


def make_plan(seed: int, kind: str | None = None, **knobs: Any) -> Plan:
    rng = random.Random(seed)
    kind = kind or rng.choice(KINDS)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    variant = _pick(rng, knobs, "variant", VARIANTS[kind])
    for key, allowed in (("variant", VARIANTS[kind]), ("alert", ALERT_STYLES), ("layout", LAYOUTS)):
        if knobs.get(key) is not None and knobs[key] not in allowed:
            raise ValueError(f"{key}={knobs[key]!r} is not one of {', '.join(allowed)} (kind {kind})")
    ns = rng.choice(names.NAMESPACES)
    n_services = int(knobs.get("n_services") or rng.randint(4, 7))
    registry = rng.choice(names.REGISTRIES)
    svcs = [_service(rng, n, ns, registry) for n in names.pick_services(rng, n_services)]
    _topology(rng, svcs)
    step = int(knobs.get("step") or rng.choice([15, 30, 30, 30, 60]))
    window = int(knobs.get("window_min") or rng.choice([90, 120, 120, 150])) * 60
    at = int(knobs.get("at") or 1795500000 + rng.randrange(0, 400) * 3600 + 1800 + 90)
    at -= at % step
    start = at - window
    onset_min = float(knobs.get("onset_min") or rng.uniform(5, 58))
    if kind == "transient":
        onset_min = max(onset_min, 30.0)
    onset = at - int(onset_min * 60)
    onset -= onset % step
    # the culprit is a backend more often than the edge; downstream means the alert fires on a caller
    culprit_i = rng.randrange(1, n_services) if rng.random() < 0.8 else 0
    if knobs.get("two_hops") and kind != "transient" and variant != "pre_oom":
        deep = [i for i in range(1, n_services) if _callers_callers(svcs, svcs[i].name)]
        culprit_i = rng.choice(deep) if deep else culprit_i  # asked for: a culprit two calls deep
    culprit = svcs[culprit_i]
    downstream = knobs.get("downstream")
    if downstream is None:
        downstream = culprit_i > 0 and kind != "transient" and variant != "pre_oom" and rng.random() < 0.55
    alert = knobs.get("alert") or rng.choice(VARIANT_ALERTS.get(variant, ALERTS[kind]))
    if downstream and culprit_i > 0:
        callers = [s for s in svcs if culprit.name in s.callees]
        alerting = callers[0].name
        grand = [s for s in svcs if alerting in s.callees]
        if grand and knobs.get("two_hops", rng.random() < 0.35):  # the alert fires two calls away
            alerting = grand[0].name
        alert = knobs.get("alert") or (
            "latency_p99" if kind in ("traffic_surge", "cpu_limit") or variant == "latency" else "error_ratio"
        )
        if alert in ("latency_p99",) and kind in ("memory_limit",):
            alert = "error_ratio"
    else:
        alerting = culprit.name
    convention = _pick(rng, knobs, "convention", ["classic", "classic", "otel"])
    grpc = bool(knobs.get("grpc", rng.random() < 0.25))
    if alert == "grpc_errors":
        grpc = True
    if alert in RED_ALERTS:
        label = _pick(rng, knobs, "label", ["service", "app", "deployment", "app.kubernetes.io/name", "job"])
    elif alert == "availability":
        label = "deployment"
    elif alert == "cpu_saturation":
        label = _pick(rng, knobs, "label", ["pod", "deployment", "app"])
    else:
        label = "pod"
    layout = _pick(rng, knobs, "layout", LAYOUTS)
    roots = {
        "plain": ["apps", "apps", "k8s", "deploy", "clusters/prod/apps", "manifests"],
        "kustomize": ["base", "base", "k8s/base", "deploy/base"],
        "helm": ["charts", "charts", "deploy/charts"],
    }
    hpa = knobs.get("hpa")
    if hpa is None:
        hpa = kind == "traffic_surge" and rng.random() < 0.4
    plan = Plan(
        name=knobs.get("name") or f"gen-{seed:05d}-{kind}",
        seed=seed,
        kind=kind,
        variant=variant,
        culprit=culprit.name,
        alerting=alerting,
        namespace=ns,
        team=rng.choice(names.TEAMS),
        services=svcs,
        start=start,
        at=at,
        step=step,
        onset=onset,
        layout=layout,
        root=knobs.get("root") or rng.choice(roots[layout]),
        convention=convention,
        status_label=rng.choice(["code", "code", "status", "status_code"]),
        svc_label=rng.choice(["service", "service", "app", "job"]),
        job_style=rng.choice(["name", "ns/name"]),
        alert=alert,
        label=label,
        quirk=bool(knobs.get("quirk", layout != "helm" and rng.random() < 0.3)),
        grpc=grpc,
        distractors=bool(knobs.get("distractors", True)),
        bad_change=_pick(rng, knobs, "bad_change", ["image", "image", "config"]),
    )
    if plan.label == "job" and plan.svc_label != "job":
        plan.svc_label = "job"
    if knobs.get("sidecars", True):
        for s in svcs:
            if rng.random() < 0.25:
                s.sidecar = rng.choice(names.SIDECARS)
    plan.extra["compact"] = bool(knobs.get("compact", False))
    if plan.extra["compact"]:
        for s in svcs:
            s.replicas = min(s.replicas, 3 if s is culprit else 2)
    _shape_incident(rng, plan, culprit, bool(hpa), downstream)
    draw_variants(random.Random(seed * 31 + 5), plan, knobs)
    return plan


def _shape_incident(rng: random.Random, plan: Plan, culprit: Service, hpa: bool, downstream: bool) -> None:
    """Set the capacities so the chosen kind, and only it, explains the symptoms."""
    others = [s for s in plan.services if s is not culprit]
    bystanders = [s for s in others if s.name != plan.alerting]
    if plan.distractors and bystanders:
        if rng.random() < 0.5:  # a service that always fails a little (a flaky dependency of its own)
            noisy = rng.choice(bystanders)
            noisy.base_err = rng.uniform(0.008, 0.03)
            plan.extra["background_errors"] = noisy.name
        if rng.random() < 0.4 and plan.kind != "traffic_surge":  # mild, steady throttling elsewhere
            tight = rng.choice(bystanders)
            tight.util0 = rng.uniform(0.76, 0.8)
            plan.extra["mild_throttling"] = tight.name
        if rng.random() < 0.5:  # a pod that restarted long before the incident
            plan.extra["old_restart"] = (rng.choice(bystanders).name, rng.choice(["OOMKilled", "Error"]))
    for s in others:
        if rng.random() < 0.2 and s.replicas >= 2:  # autoscaled, with room to grow
            s.hpa = (s.replicas - 1, s.replicas + rng.randint(2, 6))
    if plan.alert == "availability":
        culprit.replicas = max(culprit.replicas, 4)
    if plan.kind == "traffic_surge":
        sat = rng.uniform(1.35, 2.2)  # peak CPU demand per pod over the limit
        if hpa:
            hmax = culprit.replicas + rng.randint(1, 4)
            culprit.hpa = (max(1, culprit.replicas - 1), hmax)
            peak_pods = hmax
        else:
            peak_pods = culprit.replicas
        culprit.util0 = rng.uniform(0.35, 0.55)
        # real surges are a few times normal traffic: trim the HPA's headroom, then the overload
        while (
            hpa
            and peak_pods > culprit.replicas + 1
            and sat * peak_pods / (culprit.util0 * culprit.replicas) > 6
        ):
            peak_pods -= 1
            culprit.hpa = (max(1, culprit.replicas - 1), peak_pods)
        sat = max(1.3, min(sat, 6 * culprit.util0 * culprit.replicas / peak_pods))
        plan.surge = sat * peak_pods / (culprit.util0 * culprit.replicas)
        if plan.variant == "entry" and culprit is not plan.services[0]:
            culprit.external_rps = 0.0
        else:
            plan.variant = "direct"
            culprit.external_rps = max(culprit.external_rps, 40.0)
        for s in others:  # everyone else, the culprit's callees too, absorbs the surge with headroom
            s.util0 = min(s.util0, 0.6 / plan.surge)
    elif plan.kind == "cpu_limit":
        culprit.util0 = rng.uniform(0.45, 0.7)
        plan.cost = rng.uniform(1.12, 1.3) / culprit.util0
        if plan.alert == "latency_p99" or downstream:
            plan.cost = max(plan.cost, 1.2 / culprit.util0)
    elif plan.kind == "memory_limit":
        culprit.mem_base = int(culprit.mem_limit * rng.uniform(0.35, 0.55))
        plan.extra["oom_period_s"] = rng.randint(300, 540)
    elif plan.kind == "bad_deploy":
        plan.extra["error_ratio"] = rng.uniform(0.12, 0.6)
        plan.extra["lat_mult"] = rng.uniform(6, 20)
        plan.extra["leak_s"] = rng.randint(240, 480)
        lead = rng.randint(2, 12) * 60  # commit to first symptoms
        plan.extra["deploy_t"] = plan.onset - lead
    elif plan.kind == "transient":
        dur = rng.randint(3, 10) * 60
        plan.extra["spike_end"] = min(plan.onset + dur, plan.at - rng.randint(12, 25) * 60)
        plan.extra["spike_mult"] = rng.uniform(8, 25)
        plan.extra["spike_err"] = rng.uniform(0.15, 0.5)
    if plan.kind in ("cpu_limit", "memory_limit", "traffic_surge") and culprit.replicas < 2:
        culprit.replicas = 2
