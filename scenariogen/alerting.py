"""Alert rules in the shapes real rule sets use, evaluated in Python over the generated series
to pick a threshold that separates normal from incident, and rendered as an Alertmanager webhook."""

from __future__ import annotations

import hashlib
import math
import random
import urllib.parse
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.ports.promql import Matcher, selector
from scenariogen import names
from scenariogen.openmetrics import Series, Store, increase
from scenariogen.plan import Plan


class NoSeparation(RuntimeError):
    """The chosen alert cannot tell the incident from normal operation in this draw."""


@dataclass
class Rule:
    name: str
    expr: str  # with {T} for the threshold
    values: np.ndarray  # the expression's value for the alert target over time
    pod: str | None
    severity: str
    summary: str
    fixed: float | None = None  # rules with a fixed threshold (OOM, crash loop)
    peers: list[np.ndarray] | None = None  # per-pod rules: every pod of the workload, for the baseline


def _quantile(q: float, buckets: dict[float, float]) -> float:
    les = sorted(buckets)
    total = buckets[les[-1]] if les else 0.0
    if total <= 0:
        return math.nan
    rank, prev_le, prev_c = q * total, 0.0, 0.0
    for le in les:
        if buckets[le] >= rank:
            if math.isinf(le):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_c) / max(buckets[le] - prev_c, 1e-12)
        prev_le, prev_c = le, buckets[le]
    return prev_le


class Rules:
    def __init__(self, plan: Plan, store: Store) -> None:
        self.p, self.store = plan, store
        self.rng = random.Random(plan.seed * 13 + 7)
        self.n = len(store.ts)
        self.w = max(2, 300 // plan.step)

    def inc(self, series: list[Series], i: int, window: int | None = None) -> float:
        return sum(increase(s.values, i, (window or self.w) - 1) for s in series)

    def series_of(self, name: str, svc: str, **match: str) -> list[Series]:
        key = self.p.svc_label
        return [s for s in self.store.select(name, **match) if s.labels.get(key) == svc]

    def by(self) -> str:
        return f"namespace, {self.p.svc_label}"

    def rule(self, svc: str) -> Rule:
        self.all_pods: list[np.ndarray] = []
        rule: Rule = getattr(self, self.p.alert)(svc)
        rule.peers = self.all_pods or None
        return rule

    def scope(self, svc: str) -> list[Matcher]:
        """Rule sets are often written per service (an SLO per workload), sometimes per namespace."""
        r = self.rng.random()
        if r < 0.35:
            return [Matcher("namespace", self.p.namespace), Matcher(self.p.svc_label, svc)]
        return [Matcher("namespace", self.p.namespace)] if r < 0.55 else []

    def latency_p99(self, svc: str) -> Rule:
        metric = (
            "http_request_duration_seconds_bucket"
            if self.p.convention == "classic"
            else "http_server_request_duration_seconds_bucket"
        )
        q = self.rng.choice([0.99, 0.99, 0.95])
        series = self.series_of(metric, svc)
        les = sorted({float(s.labels["le"]) for s in series})
        vals = np.full(self.n, np.nan)
        for i in range(self.w, self.n):
            vals[i] = _quantile(
                q, {le: self.inc([s for s in series if float(s.labels["le"]) == le], i) for le in les}
            )
        sel = selector(metric, *self.scope(svc))
        expr = f"histogram_quantile({q}, sum by (le, {self.by()}) (rate({sel}[5m]))) > {{T}}"
        name = self.rng.choice(["LatencyP99High", "HighLatency", "SlowResponses", "HTTPLatencyHigh"])
        pct = int(q * 100)
        return Rule(name, expr, vals, None, "warning", f"p{pct} latency of {svc} is above {{Tms}}ms")

    def _ratio(self, svc: str, metric: str, label: str, bad: str, rx: str) -> tuple[np.ndarray, str]:
        alls = self.series_of(metric, svc)
        errs = [
            s
            for s in alls
            if s.labels.get(label, "") in bad.split("|")
            or (bad == "5xx" and s.labels.get(label, "").startswith("5"))
        ]
        vals = np.full(self.n, np.nan)
        for i in range(self.w, self.n):
            tot = self.inc(alls, i)
            vals[i] = self.inc(errs, i) / tot if tot > 0 else np.nan
        scope = self.scope(svc)
        num, den = selector(metric, *scope, Matcher(label, rx, "=~")), selector(metric, *scope)
        expr = f"sum by ({self.by()}) (rate({num}[5m])) / sum by ({self.by()}) (rate({den}[5m])) > {{T}}"
        return vals, expr

    def error_ratio(self, svc: str) -> Rule:
        if self.p.convention == "classic":
            vals, expr = self._ratio(svc, "http_requests_total", self.p.status_label, "5xx", "5..")
        else:
            vals, expr = self._ratio(
                svc, "http_server_request_duration_seconds_count", "http_response_status_code", "5xx", "5.."
            )
        name = self.rng.choice(["HighErrorRate", "HTTPErrorRateHigh", "ErrorBudgetBurn", "Http5xxRatioHigh"])
        return Rule(name, expr, vals, None, "critical", f"{svc} is returning errors")

    def grpc_errors(self, svc: str) -> Rule:
        bad = "Unavailable|Internal|Unknown|DeadlineExceeded"
        vals, expr = self._ratio(svc, "grpc_server_handled_total", "grpc_code", bad, bad)
        return Rule("GRPCErrorRateHigh", expr, vals, None, "critical", f"gRPC requests to {svc} are failing")

    def _per_pod(self, svc: str, fn: Any) -> tuple[np.ndarray, str]:
        best: tuple[float, str, np.ndarray] | None = None
        pods = {
            s.labels["pod"] for s in self.store.select("container_cpu_usage_seconds_total", container=svc)
        }
        for pod in sorted(pods):
            vals = np.array([fn(pod, i) if i >= self.w else np.nan for i in range(self.n)])
            v = vals[-1]
            self.all_pods.append(vals)
            if best is None or (not np.isnan(v) and (np.isnan(best[0]) or v > best[0])):
                best = (v, pod, vals)
        if best is None:
            raise NoSeparation(f"no pods for {svc}")
        return best[2], best[1]

    def throttling(self, svc: str) -> Rule:
        def ratio(pod: str, i: int) -> float:
            thr = self.inc(
                self.store.select("container_cpu_cfs_throttled_periods_total", pod=pod, container=svc), i
            )
            per = self.inc(self.store.select("container_cpu_cfs_periods_total", pod=pod, container=svc), i)
            return thr / per if per > 0 else math.nan

        vals, pod = self._per_pod(svc, ratio)
        expr = (
            'sum(increase(container_cpu_cfs_throttled_periods_total{container!=""}[5m])) '
            "by (container, pod, namespace) / sum(increase(container_cpu_cfs_periods_total[5m])) "
            "by (container, pod, namespace) > {T}"
        )
        return Rule(
            "CPUThrottlingHigh", expr, vals, pod, "info", "Processes experience elevated CPU throttling."
        )

    def cpu_saturation(self, svc: str) -> Rule:
        step = self.p.step

        def use(pod: str, i: int) -> float:
            used = self.inc(self.store.select("container_cpu_usage_seconds_total", pod=pod, container=svc), i)
            lim = self.store.select(
                "kube_pod_container_resource_limits", pod=pod, container=svc, resource="cpu"
            )
            v = lim[0].values[i] if lim else math.nan
            return used / ((self.w - 1) * step) / v

        vals, pod = self._per_pod(svc, use)
        expr = (
            'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!=""}[5m])) '
            '/ sum by (namespace, pod, container) (kube_pod_container_resource_limits{resource="cpu"}) > {T}'
        )
        return Rule(
            "ContainerCPUNearLimit", expr, vals, pod, "warning", f"{svc} is using nearly all its CPU limit"
        )

    def _restarts(self, svc: str, window_s: int) -> tuple[np.ndarray, str]:
        def restarts(pod: str, i: int) -> float:
            s = self.store.select("kube_pod_container_status_restarts_total", pod=pod, container=svc)
            return self.inc(s, i, window_s // self.p.step) if s and not np.isnan(s[0].values[i]) else math.nan

        return self._per_pod(svc, restarts)

    def oom(self, svc: str) -> Rule:
        vals, pod = self._restarts(svc, 600)
        oom = self.store.select(
            "kube_pod_container_status_last_terminated_reason", pod=pod, reason="OOMKilled"
        )
        if not oom:
            raise NoSeparation("no OOMKilled termination")
        vals = np.where(~np.isnan(oom[0].values), vals, np.nan)
        expr = (
            "increase(kube_pod_container_status_restarts_total[10m]) > 0 and on (namespace, pod, container) "
            'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1'
        )
        return Rule(
            "ContainerOOMKilled",
            expr,
            vals,
            pod,
            "warning",
            f"Container {svc} in pod {pod} was OOMKilled",
            fixed=0.0,
        )

    def memory_near_limit(self, svc: str) -> Rule:
        def near(pod: str, i: int) -> float:
            ws = self.store.select("container_memory_working_set_bytes", pod=pod, container=svc)
            lim = self.store.select(
                "kube_pod_container_resource_limits", pod=pod, container=svc, resource="memory"
            )
            return ws[0].values[i] / lim[0].values[i] if ws and lim else math.nan

        vals, pod = self._per_pod(svc, near)
        expr = (
            'max by (namespace, pod, container) (container_memory_working_set_bytes{container!=""}) '
            "/ max by (namespace, pod, container) "
            '(kube_pod_container_resource_limits{resource="memory"}) > {T}'
        )
        return Rule(
            "ContainerMemoryNearLimit", expr, vals, pod, "warning", f"{svc} is close to its memory limit"
        )

    def restarts(self, svc: str) -> Rule:
        vals, pod = self._restarts(svc, 900)
        expr = "increase(kube_pod_container_status_restarts_total[15m]) > {T}"
        return Rule(
            "KubePodRestartingTooOften",
            expr,
            vals,
            pod,
            "warning",
            f"Pod {pod} ({svc}) is restarting frequently",
            fixed=0.0,
        )

    def availability(self, svc: str) -> Rule:
        spec = self.store.select("kube_deployment_spec_replicas", deployment=svc)[0].values
        avail = self.store.select("kube_deployment_status_replicas_available", deployment=svc)[0].values
        expr = (
            'kube_deployment_spec_replicas{job="kube-state-metrics"} - '
            'kube_deployment_status_replicas_available{job="kube-state-metrics"} > 0'
        )
        return Rule(
            "KubeDeploymentReplicasMismatch",
            expr,
            spec - avail,
            None,
            "warning",
            f"Deployment {svc} has not matched the expected number of replicas",
            fixed=0.0,
        )

    def crashloop(self, svc: str) -> Rule:
        def waiting(pod: str, i: int) -> float:
            s = self.store.select(
                "kube_pod_container_status_waiting_reason", pod=pod, reason="CrashLoopBackOff"
            )
            seg = s[0].values[max(0, i - self.w + 1) : i + 1] if s else np.array([])
            return float(np.nanmax(seg)) if len(seg) and not np.all(np.isnan(seg)) else math.nan

        vals, pod = self._per_pod(svc, waiting)
        expr = (
            'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", '
            'job="kube-state-metrics"}[5m]) >= 1'
        )
        return Rule(
            "KubePodCrashLooping",
            expr,
            vals,
            pod,
            "warning",
            f"Pod {pod} ({svc}) is in waiting state (reason: CrashLoopBackOff)",
            fixed=1.0,
        )


def _nice(lo: float, hi: float) -> float:
    """A round number strictly between lo and hi, as a person would write in a rule."""
    target = math.sqrt(max(lo, 1e-6) * hi) if lo > 0 else hi / 3
    for digits in (1, 2, 3):
        mag = 10 ** (math.floor(math.log10(target)) - digits + 1)
        for cand in (
            round(target / mag) * mag,
            math.floor(target / mag) * mag,
            math.ceil(target / mag) * mag,
        ):
            if lo < cand < hi:
                return float(f"{cand:.6g}")
    return float(f"{target:.6g}")


# thresholds people actually write, tried before an arbitrary round number
PREFERRED = {
    "CPUThrottlingHigh": [0.25, 0.25, 0.5, 0.3],
    "ContainerCPUNearLimit": [0.9, 0.8, 0.95],
    "error": [0.05, 0.05, 0.02, 0.1, 0.01, 0.03],
    "latency": [0.5, 1.0, 0.25, 0.3, 2.0, 0.75, 1.5],
}


def _preferred(rule: Rule, lo: float, hi: float, rng: random.Random) -> float | None:
    key = (
        rule.name if rule.name in PREFERRED else ("latency" if "histogram_quantile" in rule.expr else "error")
    )
    ok = [t for t in PREFERRED[key] if lo * 1.1 < t < hi * 0.9]
    return rng.choice(ok) if ok else None


def threshold(plan: Plan, rule: Rule, quiet_until: int, peak_from: int, peak_to: int) -> float:
    v = rule.values
    rng = random.Random(plan.seed * 19 + 1)
    base = 0.0
    for arr in rule.peers or [v]:
        if np.any(~np.isnan(arr[:quiet_until])):
            base = max(base, float(np.nanmax(arr[:quiet_until])))
    peak = float(np.nanmax(v[peak_from:peak_to])) if np.any(~np.isnan(v[peak_from:peak_to])) else math.nan
    now = v[-1]
    if rule.fixed is not None:
        if rule.name == "KubePodRestartingTooOften" and not np.isnan(now) and now >= 3:
            return 1.0 if base < 1 else rule.fixed
        return rule.fixed
    if plan.kind == "transient":
        if not peak > max(base, now if not np.isnan(now) else 0) * 1.3:
            raise NoSeparation(f"transient peak {peak} vs base {base} / now {now}")
        lo = max(base, now if not np.isnan(now) else 0)
        return _preferred(rule, lo, peak, rng) or _nice(lo, peak)
    if np.isnan(now) or not now > base * 1.25 or now <= 0:
        raise NoSeparation(f"{rule.name}: value now {now} vs baseline max {base}")
    return _preferred(rule, base, now, rng) or _nice(base, now)


def fires(rule: Rule, t: float, i: int) -> bool:
    v = rule.values[i]
    if np.isnan(v):
        return False
    return bool(v >= t) if rule.name == "KubePodCrashLooping" else bool(v > t)


def payload(plan: Plan, rule: Rule, t: float, starts_at: int, target: str) -> dict[str, Any]:
    rng = random.Random(plan.seed * 17 + 3)
    labels: dict[str, str] = {"alertname": rule.name, "namespace": plan.namespace}
    if rule.pod:
        labels |= {"pod": rule.pod, "container": target}
    elif plan.label == "job":
        labels["job"] = target
    else:
        labels[plan.label] = target
    labels["severity"] = rule.severity
    if rng.random() < 0.6:
        labels["team"] = plan.team
    summary = rule.summary.replace("{Tms}", f"{t * 1000:g}")
    annotations = {"summary": summary}
    if rng.random() < 0.5:
        annotations["runbook_url"] = f"https://runbooks.example.com/{rule.name.lower()}"
    expr = rule.expr.replace("{T}", f"{t:g}")
    host = rng.choice(
        [
            "prometheus.monitoring:9090",
            "prometheus-k8s.monitoring.svc:9090",
            "prometheus-operated.observability:9090",
        ]
    )
    url = f"http://{host}/graph?g0.expr={urllib.parse.quote(expr, safe='/')}&g0.tab=1"
    fp = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    group = {"alertname": rule.name, "namespace": plan.namespace}
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": names.rfc3339(starts_at),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": url,
        "fingerprint": fp,
    }
    group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in group.items()) + "}"
    return {
        "receiver": rng.choice(["tugboat", "tugboat-webhook", "chatops"]),
        "status": "firing",
        "alerts": [alert],
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": f"http://{host.split(':')[0].replace('prometheus', 'alertmanager', 1)}:9093",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
    }
