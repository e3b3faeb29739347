"""A small queueing-flavoured simulation of a namespace: demand, pods, CPU, memory, errors, latency.

Demand flows top-down through the call graph; health (errors, latency) flows bottom-up, so a
broken backend shows in its callers' client metrics and in their own RED metrics.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from scenariogen import names
from scenariogen.plan import Plan, Service


@dataclass
class PodSim:
    name: str
    rs: str
    tag: str
    alive: np.ndarray
    ready: np.ndarray
    restarts: np.ndarray
    waiting: np.ndarray
    ws: np.ndarray
    term_reason: str | None = None
    term_first: int | None = None
    rps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    err: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cpu: np.ndarray = field(default_factory=lambda: np.zeros(0))
    demand: np.ndarray = field(default_factory=lambda: np.zeros(0))
    throttle: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class SvcSim:
    svc: Service
    pods: list[PodSim]
    demand: np.ndarray
    spec: np.ndarray
    available: np.ndarray
    err: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    flap: np.ndarray = field(default_factory=lambda: np.zeros(0))
    client: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    hpa_current: np.ndarray | None = None
    cpr: float = 0.0


def ramp(n: int, i0: int, length: int) -> np.ndarray:
    x = (np.arange(n) - i0) / max(1, length)
    return np.clip(x, 0.0, 1.0)


class Simulator:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed * 7919 + 1)
        self.g = np.random.default_rng(plan.seed)
        self.n = (plan.at - plan.start) // plan.step + 1
        self.i_on = plan.index(plan.onset)
        self.steps_per_min = 60 / plan.step

    def minutes(self, m: float) -> int:
        return max(1, round(m * self.steps_per_min))

    def noise(self, scale: float) -> np.ndarray:
        return 1.0 + self.g.normal(0.0, scale, self.n)

    # -- demand ---------------------------------------------------------------------------
    def demand(self) -> dict[str, np.ndarray]:
        p, n = self.plan, self.n
        t = p.start + np.arange(n) * p.step
        mult = {}
        for s in p.services:
            phase = self.rng.uniform(0, 2 * math.pi)
            mult[s.name] = (1 + 0.06 * np.sin(2 * math.pi * t / 86400 * 6 + phase)) * self.noise(0.025)
        if p.kind == "traffic_surge":
            src = p.services[0].name if p.variant == "entry" else p.culprit
            mult[src] = mult[src] * (
                1 + (p.surge - 1) * ramp(n, self.i_on, self.minutes(self.rng.uniform(2, 6)))
            )
        if p.distractors:  # an unrelated, harmless traffic bump somewhere else
            quiet = [s for s in p.services[1:] if s.name != p.culprit]
            if quiet and self.rng.random() < 0.5:
                s = self.rng.choice(quiet)
                s.util0 = min(s.util0, 0.45)
                i0 = self.rng.randrange(self.minutes(10), max(self.minutes(11), self.i_on))
                bump = np.zeros(n)
                bump[i0 : i0 + self.minutes(12)] = 0.4
                p.extra["traffic_bump"] = s.name
                s.external_rps = max(s.external_rps, 5.0)
                mult[s.name] = mult[s.name] * (1 + bump)
        demand: dict[str, np.ndarray] = {}
        base: dict[str, float] = {}
        for s in p.services:  # callers come before callees
            demand[s.name] = demand.get(s.name, np.zeros(n)) + s.external_rps * mult[s.name]
            base[s.name] = base.get(s.name, 0.0) + s.external_rps
            for callee, calls in s.callees.items():
                demand[callee] = demand.get(callee, np.zeros(n)) + demand[s.name] * calls
                base[callee] = base.get(callee, 0.0) + base[s.name] * calls
        self.base = base
        return demand

    # -- pods -----------------------------------------------------------------------------
    def new_pod(self, rs: str, tag: str, born: int, died: int | None = None) -> PodSim:
        n = self.n
        alive = np.zeros(n, dtype=bool)
        alive[born:died] = True
        ready = alive.copy()
        ready[born : born + 1] = born == 0
        return PodSim(
            names.pod_name(self.rng, rs),
            rs,
            tag,
            alive,
            ready,
            np.zeros(n, dtype=int),
            np.zeros(n, dtype=bool),
            np.zeros(n),
        )

    def pods(self, s: Service) -> tuple[list[PodSim], np.ndarray]:
        p, n = self.plan, self.n
        rs0 = names.replicaset_name(self.rng, s.name)
        pods = [self.new_pod(rs0, s.tag, 0) for _ in range(s.replicas)]
        spec = np.full(n, s.replicas)
        if s.hpa and p.kind == "traffic_surge" and s.name == p.culprit:
            i = self.i_on + self.minutes(self.rng.uniform(1, 2.5))
            for k in range(s.replicas, s.hpa[1]):
                pods.append(self.new_pod(rs0, s.tag, min(i, n - 1)))
                spec[i:] = k + 1
                i += self.minutes(self.rng.uniform(0.5, 1.5))
        if p.kind == "bad_deploy" and s.name == p.culprit:
            pods += self.rollout(s, pods, int(p.extra["deploy_t"]), p.extra.get("new_tag", s.tag), p.variant)
        elif s.name in p.extra.get("rollouts", {}):
            t, tag = p.extra["rollouts"][s.name]
            pods += self.rollout(s, pods, t, tag, "harmless")
        if p.extra.get("old_restart", ("",))[0] == s.name:
            pod, i0 = self.rng.choice(pods), self.rng.randrange(self.minutes(3), self.minutes(30))
            pod.restarts[i0:] = 1
            pod.ready[i0] = False
            pod.term_reason, pod.term_first = p.extra["old_restart"][1], i0
        return pods, spec

    def rollout(self, s: Service, old: list[PodSim], commit_t: int, tag: str, variant: str) -> list[PodSim]:
        p = self.plan
        d = p.index(max(p.start, commit_t + self.rng.randint(1, 4) * 30))
        if variant != "harmless":
            p.extra["rollout_index"] = d
        rs1 = names.replicaset_name(self.rng, s.name)
        new: list[PodSim] = []
        if variant == "crashloop":
            for _ in range(max(1, math.ceil(0.25 * s.replicas))):
                pod = self.new_pod(rs1, tag, d)
                pod.ready[:] = False
                self.crashloop(pod, d)
                new.append(pod)
            for k in range(math.floor(0.25 * s.replicas)):
                old[k].alive[d:] = old[k].ready[d:] = False
            return new
        i = d
        for k in range(s.replicas):
            new.append(self.new_pod(rs1, tag, min(i, self.n - 1)))
            old[k].alive[i + 1 :] = old[k].ready[i + 1 :] = False
            i += self.minutes(self.rng.uniform(0.3, 1.0))
        return new

    def crashloop(self, pod: PodSim, born: int) -> None:
        step, t, backoff, crashes = self.plan.step, 0.0, 10.0, []
        horizon = (self.n - born) * step
        while t < horizon:
            t += self.rng.uniform(3, 15)
            crashes.append(t)
            t += backoff
            backoff = min(backoff * 2, 300)
        for i in range(born, self.n):
            el = (i - born) * step
            pod.restarts[i] = sum(1 for c in crashes if c <= el)
            pod.waiting[i] = pod.restarts[i] > 0
        pod.term_reason, pod.term_first = "Error", born + int(crashes[0] // step) + 1

    def memory(
        self, s: Service, pod: PodSim, grow_from: int | None, period_s: float, seed_lag: float
    ) -> None:
        base = s.mem_base * self.noise(0.01) * (1 + 0.02 * ramp(self.n, 0, self.n))
        ws = base.copy()
        if grow_from is not None:
            born = int(np.argmax(pod.alive))
            el = max(0.0, (born - grow_from) * self.plan.step) + seed_lag
            restarts = 0
            for i in range(max(born, grow_from), self.n):
                if not pod.alive[i]:
                    break
                frac = el / period_s
                if frac >= 1.0:
                    restarts += 1
                    el = self.rng.uniform(0, self.plan.step)
                    pod.ready[i] = False
                    pod.term_reason = "OOMKilled"
                    pod.term_first = i if pod.term_first is None else pod.term_first
                    frac = el / period_s
                ws[i] = base[i] * 0.7 + (s.mem_limit * 0.995 - base[i] * 0.7) * min(1.0, frac)
                pod.restarts[i] = restarts
                el += self.plan.step
        pod.ws = np.where(pod.alive, ws, 0.0)

    def run(self) -> dict[str, SvcSim]:
        p = self.plan
        demand = self.demand()
        out: dict[str, SvcSim] = {}
        for s in p.services:
            pods, spec = self.pods(s)
            out[s.name] = SvcSim(s, pods, demand[s.name], spec, spec.copy())
        for s in reversed(p.services):  # callees first
            self.health(out[s.name], out)
        return out

    def health(self, ss: SvcSim, world: dict[str, SvcSim]) -> None:
        p, s, n = self.plan, ss.svc, self.n
        culprit = s.name == p.culprit
        rps0 = self.base[s.name] / s.replicas
        ss.cpr = max(1e-5, (s.util0 * s.cpu_limit - s.idle_cpu) / max(rps0, 1e-3))
        cost = np.ones(n)
        lat_mult, err_add = np.ones(n), np.zeros(n)
        if culprit and p.kind == "cpu_limit":
            f = (1 / s.util0 - 1) / max(1e-3, p.cost - 1)
            length = self.minutes(self.rng.uniform(15, 30))
            cost = 1 + (p.cost - 1) * ramp(n, self.i_on - int(f * length), length)
        if culprit and p.kind == "transient":
            end = p.index(int(p.extra["spike_end"]))
            shape = np.zeros(n)
            shape[self.i_on : end] = 1.0
            if p.variant == "latency":
                lat_mult = lat_mult + (p.extra["spike_mult"] - 1) * shape
            else:
                err_add = err_add + p.extra["spike_err"] * shape
        for callee in s.callees:
            ss.client[callee] = (np.zeros(n), np.zeros(n))
        grow = p.index(p.onset - int(p.extra.get("oom_period_s", 0)))
        bad_rs = ss.pods[-1].rs if culprit and p.kind == "bad_deploy" else None
        for k, pod in enumerate(ss.pods):
            new = pod.rs == bad_rs
            if culprit and p.variant == "pre_oom":  # a leak that has not been killed yet
                grow_i = self.i_on
                reach = self.rng.uniform(0.93, 0.985) if k == 0 else self.rng.uniform(0.8, 0.95)
                frac_end = (reach * s.mem_limit - 0.7 * s.mem_base) / (0.995 * s.mem_limit - 0.7 * s.mem_base)
                self.memory(s, pod, grow_i, max(1.0, (n - 1 - grow_i) * p.step / frac_end), 0)
            elif culprit and p.kind == "memory_limit":
                self.memory(
                    s,
                    pod,
                    grow,
                    p.extra["oom_period_s"] * self.rng.uniform(0.85, 1.1),
                    self.rng.uniform(0, 120) + (60 if k == 0 else 0),
                )
            elif new and p.variant == "leak":
                self.memory(
                    s, pod, int(np.argmax(pod.alive)), p.extra["leak_s"] * self.rng.uniform(0.9, 1.1), 0
                )
            else:
                self.memory(s, pod, None, 1.0, 0)
        ready_n = np.maximum(1, sum(pod.ready.astype(int) for pod in ss.pods))
        ss.available = np.sum([pod.ready.astype(int) for pod in ss.pods], axis=0)
        ss.flap = (
            sum((pod.alive & ~pod.ready).astype(float) for pod in ss.pods if not pod.waiting.any()) / ready_n
        )
        # what the callees do to this service: their errors, outages and slowness
        down_err, down_lat = np.zeros(n), np.zeros(n)
        for callee, calls in s.callees.items():
            cs = world[callee]
            cerr = np.clip(cs.err + 0.5 * cs.flap, 0, 1)
            ss.client[callee] = (ss.demand * calls, cerr)
            down_err = 1 - (1 - down_err) * (1 - min(1.0, calls) * 0.9 * cerr)
            down_lat = down_lat + min(1.5, calls) * cs.lat
        tot_rps, tot_err, tot_lat = np.zeros(n), np.zeros(n), np.zeros(n)
        for pod in ss.pods:
            new = pod.rs == bad_rs
            pod.rps = np.where(pod.ready, ss.demand / ready_n, 0.0) * self.noise(0.03)
            c = cost * (1.3 if new and p.variant == "latency" else 1.0)
            pod.demand = np.where(pod.alive & ~pod.waiting, s.idle_cpu + pod.rps * ss.cpr * c, 0.0)
            pod.demand = pod.demand * self.noise(0.03)
            cap = s.cpu_limit * self.g.uniform(0.965, 0.995, n)
            pod.cpu = np.minimum(pod.demand, cap)
            pod.cpu = np.where(pod.waiting & pod.alive, s.idle_cpu * 0.5, pod.cpu)
            sat = pod.demand / s.cpu_limit
            pod.throttle = np.clip(0.005 + 0.85 * np.clip(sat - 0.72, 0, None) / 0.38, 0, 0.94)
            pod.throttle = np.clip(pod.throttle * self.noise(0.08), 0, 0.97)
            queue = np.where(sat < 0.7, 0.0, np.where(sat < 1.0, (sat - 0.7) * 3, 0.9 + (sat - 1) * 25))
            lm = lat_mult * (p.extra["lat_mult"] if new and p.variant == "latency" else 1.0)
            pod.lat = s.lat_median * (1 + np.minimum(queue, 60)) * lm * self.noise(0.04) + down_lat
            e = s.base_err + err_add + np.clip((sat - 1.1) * 0.15, 0, 0.25)
            if new and p.variant == "errors":
                e = e + p.extra["error_ratio"] * self.noise(0.05)
            pod.err = np.clip(1 - (1 - e) * (1 - down_err), 0, 1)
            tot_rps += pod.rps
            tot_err += pod.rps * pod.err
            tot_lat += pod.rps * pod.lat
        ss.err = tot_err / np.maximum(tot_rps, 1e-9)
        ss.lat = np.where(tot_rps > 0, tot_lat / np.maximum(tot_rps, 1e-9), s.lat_median)
        if s.hpa:
            ss.hpa_current = ss.spec.copy()


def simulate(plan: Plan) -> dict[str, SvcSim]:
    return Simulator(plan).run()
