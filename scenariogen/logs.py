"""Log lines as Loki would return them: routine access logs, startup banners, background noise,
and the incident's own templates (new exceptions after a bad deploy, upstream failures in callers)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

from scenariogen import names
from scenariogen.plan import Plan
from scenariogen.sim import PodSim, SvcSim

EXCEPTIONS = [
    (
        "unhandled exception",
        "TypeError: cannot read properties of undefined (reading 'currency')",
        "PriceQuote",
    ),
    (
        "unhandled exception",
        'java.lang.NullPointerException: Cannot invoke "Customer.getTier()"',
        "OrderController",
    ),
    ("request failed", "KeyError: 'shipping_zone'", "quote_handler"),
    ("panic recovered", "runtime error: invalid memory address or nil pointer dereference", "ServeHTTP"),
    ("query failed", 'ERROR: column "discount_code" does not exist (SQLSTATE 42703)', "ListItems"),
    (
        "serialization error",
        "json: cannot unmarshal string into Go struct field Item.price of type float64",
        "Decode",
    ),
]
CRASHES = [
    'panic: missing required configuration key "PAYMENT_PROVIDER_URL"',
    "fatal: config validation failed: feature_flags.rollout_percent must be <= 100",
    "Error: Cannot find module '/app/dist/server.js'",
    "FATAL: could not bind to :8080: address already in use",
]
NOISE = [
    ("error", "failed to refresh feature flags, using cached copy", {"err": "context deadline exceeded"}),
    ("warn", "slow query", {"table": "audit_log", "duration": "1.2s"}),
    ("info", "cache stats", {"hits": "9812", "misses": "211"}),
    ("error", "upstream request failed", {"peer": "db", "status": "503"}),
]


class LogWriter:
    def __init__(self, plan: Plan, world: dict[str, SvcSim]) -> None:
        self.p, self.world = plan, world
        self.rng = random.Random(plan.seed * 101 + 11)
        self.json_style = {s.name: self.rng.random() < 0.35 for s in plan.services}
        self.lines: list[tuple[float, dict[str, str], str]] = []
        self.exc = self.rng.choice(EXCEPTIONS)
        self.crash = self.rng.choice(CRASHES)
        self.noisy = self.rng.choice([s.name for s in plan.services])
        self.g = np.random.default_rng(plan.seed + 4242)

    def fmt(self, svc: str, level: str, msg: str, **kv: Any) -> str:
        if self.json_style[svc]:
            return json.dumps({"level": level, "msg": msg, **{k: v for k, v in kv.items()}})
        parts = [f"level={level}", f"msg={json.dumps(msg)}" if " " in msg else f"msg={msg}"]
        for k, v in kv.items():
            sv = str(v)
            parts.append(f"{k}={json.dumps(sv)}" if " " in sv else f"{k}={sv}")
        return " ".join(parts)

    def emit(self, t: float, svc: str, pod: PodSim, line: str) -> None:
        labels = {
            "namespace": self.p.namespace,
            "pod": pod.name,
            "container": svc,
            "app": svc,
            "job": f"{self.p.namespace}/{svc}",
        }
        self.lines.append((t, labels, line))

    def poisson_times(self, rate_per_s: np.ndarray, pod: PodSim) -> list[float]:
        out: list[float] = []
        counts = self.g.poisson(np.clip(rate_per_s, 0.0, None) * self.p.step) * pod.alive
        for i in np.flatnonzero(counts):
            out += [
                self.p.start + (i - 1) * self.p.step + self.rng.uniform(0, self.p.step)
                for _ in range(counts[i])
            ]
        return sorted(t for t in out if self.p.start <= t <= self.p.at)

    def run(self) -> list[tuple[float, dict[str, str], str]]:
        for ss in self.world.values():
            for pod in ss.pods:
                self.pod_lines(ss, pod)
        return sorted(self.lines, key=lambda x: x[0])

    def pod_lines(self, ss: SvcSim, pod: PodSim) -> None:
        p, svc = self.p, ss.svc.name
        born = int(np.argmax(pod.alive))
        starts = [born] + [i for i in range(1, len(pod.restarts)) if pod.restarts[i] > pod.restarts[i - 1]]
        for i in starts[:40]:
            t = p.start + i * p.step + (1 if i == 0 else -self.rng.uniform(0, p.step))
            if pod.waiting.any() and i != born:
                self.emit(t, svc, pod, self.crash)
            self.emit(t + 0.5, svc, pod, self.fmt(svc, "info", f"starting {svc}", version=pod.tag, port=8080))
        # sampled access log: roughly one line per 5000 requests, at least a trickle
        ready = pod.ready.astype(float)
        for t in self.poisson_times(np.maximum(pod.rps / 1500, 0.004) * ready, pod):
            i = p.index(int(t))
            code = 500 if self.rng.random() < pod.err[i] else 200
            ms = max(1, int(pod.lat[i] * 1000 * self.rng.lognormvariate(0, 0.5)))
            self.emit(
                t,
                svc,
                pod,
                self.fmt(
                    svc,
                    "info" if code < 500 else "error",
                    "request",
                    method="GET",
                    path=self.rng.choice(names.PATHS),
                    status=code,
                    duration=f"{ms}ms",
                ),
            )
        if svc == self.noisy:
            lvl, msg, kv = self.rng.choice(NOISE[:2])
            for t in self.poisson_times(np.full(len(ready), 1 / 240), pod):
                self.emit(t, svc, pod, self.fmt(svc, lvl, msg, **kv))
        for t in self.poisson_times(np.full(len(ready), 1 / 2400), pod):
            lvl, msg, kv = self.rng.choice(NOISE)
            self.emit(t, svc, pod, self.fmt(svc, lvl, msg, **kv))
        self.incident_lines(ss, pod)

    def incident_lines(self, ss: SvcSim, pod: PodSim) -> None:
        p, svc = self.p, ss.svc.name
        bad = p.kind == "bad_deploy" and svc == p.culprit and pod.rs != ss.pods[0].rs
        if bad and p.variant == "errors":
            msg, err, handler = self.exc
            for t in self.poisson_times(pod.rps * pod.err / 200 + 0.01 * pod.ready, pod):
                self.emit(t, svc, pod, self.fmt(svc, "error", msg, err=err, handler=handler))
        if bad and p.variant == "latency":
            for t in self.poisson_times(0.02 * pod.ready.astype(float), pod):
                self.emit(
                    t,
                    svc,
                    pod,
                    self.fmt(
                        svc,
                        "warn",
                        "slow query",
                        table=self.rng.choice(["orders", "items", "prices"]),
                        duration=f"{self.rng.uniform(1.5, 6):.1f}s",
                        rows="48211",
                    ),
                )
        if (svc == p.culprit and p.kind in ("cpu_limit", "traffic_surge")) or (
            svc == p.culprit and p.kind == "transient" and p.variant == "latency"
        ):
            slow = np.clip(pod.lat / ss.svc.lat_median - 3, 0, 10) * 0.01
            for t in self.poisson_times(slow, pod):
                self.emit(
                    t,
                    svc,
                    pod,
                    self.fmt(svc, "warn", "slow request", duration=f"{self.rng.uniform(0.8, 4):.1f}s"),
                )
            if p.kind == "traffic_surge":
                for t in self.poisson_times(slow * 0.5, pod):
                    self.emit(
                        t,
                        svc,
                        pod,
                        self.fmt(
                            svc,
                            "warn",
                            "request queue saturated",
                            queued=self.rng.randint(50, 400),
                            workers=16,
                        ),
                    )
        for callee, (_, cerr) in ss.client.items():
            for t in self.poisson_times(np.clip(cerr - 0.01, 0, 1) * 0.15 * pod.ready, pod):
                self.emit(
                    t, svc, pod, self.fmt(svc, "error", "upstream request failed", peer=callee, status=503)
                )


def write_logs(plan: Plan, world: dict[str, SvcSim], path: Path) -> int:
    lines = LogWriter(plan, world).run()
    text = "".join(
        json.dumps({"ts": names.rfc3339(t), "labels": labels, "line": line}) + "\n"
        for t, labels, line in lines
    )
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(text.encode())
    return len(lines)
