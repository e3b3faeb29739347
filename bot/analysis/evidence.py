"""Evidence items in words, with numbers and times, plus the facts remediation sizing needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bot.analysis import fmt
from bot.analysis.signals import Rollout, WorkloadSignals
from bot.domain.report import Evidence
from bot.ports.gitrepo import WorkloadChange

if TYPE_CHECKING:
    from bot.analysis.context import Context


def _pctl(arr: np.ndarray | None, mask: np.ndarray, q: float) -> float:
    if arr is None:
        return float("nan")
    sel = arr[mask & np.isfinite(arr)]
    return float(np.percentile(sel, q)) if sel.size else float("nan")


class EvidenceBuilder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _since(self, onset: float | None) -> np.ndarray:
        start = onset if onset is not None else self.ctx.at - 15 * 60
        return self.ctx.grid >= start

    def _base(self) -> np.ndarray:
        return self.ctx.grid <= self.ctx.baseline_end

    def _prom(self, observation: str, query_key: str) -> Evidence:
        return Evidence(source="prometheus", observation=observation, query=self.ctx.queries.get(query_key))

    # -- facts ----------------------------------------------------------------------------
    def cpu_facts(self, sig: WorkloadSignals, onset: float | None) -> dict[str, float]:
        since, base = self._since(onset), self._base()
        cpu, pods = sig.series.get("cpu"), sig.series.get("pods")
        per_pod = None
        if cpu is not None and pods is not None:
            with np.errstate(all="ignore"):
                per_pod = np.where(pods > 0, cpu / pods, np.nan)
        rps = sig.series.get("rps")
        if rps is None or not np.isfinite(rps).any():
            rps = self.ctx.namespace_rps
        return {
            "limit_per_pod": sig.cpu_limit_per_pod or float("nan"),
            "replicas": float(sig.replicas or 0),
            "usage_total_p95": _pctl(cpu, since, 95),
            "usage_total_base": _pctl(cpu, base, 50),
            "usage_per_pod_p95": _pctl(per_pod, since, 95),
            "usage_per_pod_base": _pctl(per_pod, base, 50),
            "thr_p95": _pctl(sig.series.get("thr"), since, 95),
            "rps_base": _pctl(rps, base, 50),
            "rps_peak": _pctl(rps, since, 95),
            "request_per_pod": sig.cpu_request_per_pod or float("nan"),
            "node_cpu": sig.node_cpu or float("nan"),
            "hpa_max": float(sig.hpa_max) if sig.hpa_max else float("nan"),
            "hpa_min": float(sig.hpa_min) if sig.hpa_min else float("nan"),
        }

    def memory_facts(self, sig: WorkloadSignals) -> dict[str, float]:
        mem = sig.series.get("mem")
        return {
            "limit": sig.mem_limit_per_pod or float("nan"),
            "peak": float(np.nanmax(mem)) if mem is not None and np.isfinite(mem).any() else float("nan"),
            "base": _pctl(mem, self._base(), 50),
            "oom": sig.oom_restarts,
            "request": sig.mem_request_per_pod or float("nan"),
        }

    # -- evidence -------------------------------------------------------------------------
    def symptoms(self, sig: WorkloadSignals) -> list[Evidence]:
        out = []
        err = sig.shift("err_ratio")
        if err.elevated:
            out.append(
                self._prom(
                    f"{sig.name} error ratio {fmt.pct(err.baseline)} -> {fmt.pct(err.peak)} "
                    f"from {fmt.hhmm(err.onset)}"
                    + (", still elevated" if err.ongoing else f", back to normal by {fmt.hhmm(err.end)}"),
                    "err",
                )
            )
        lat = sig.shift("p99")
        if lat.elevated:
            out.append(
                self._prom(
                    f"{sig.name} p99 latency {fmt.seconds(lat.baseline)} -> {fmt.seconds(lat.peak)} "
                    f"from {fmt.hhmm(lat.onset)}"
                    + ("" if lat.ongoing else f", recovered by {fmt.hhmm(lat.end)}"),
                    "p99",
                )
            )
        return out

    def saturation(self, sig: WorkloadSignals, onset: float | None, ratio: float) -> list[Evidence]:
        facts = self.cpu_facts(sig, onset)
        thr = sig.shift("thr")
        out = [
            self._prom(
                f"{sig.name} CPU {fmt.cores(facts['usage_per_pod_base'])} -> "
                f"{fmt.cores(facts['usage_per_pod_p95'])}"
                f" per pod (p95) against a limit of {fmt.cores(facts['limit_per_pod'])}, "
                f"{int(facts['replicas'])} replicas",
                "cpu",
            )
        ]
        if thr.elevated:
            out.append(
                self._prom(
                    f"{sig.name} CPU throttling {fmt.pct(thr.baseline)} -> {fmt.pct(thr.peak)} "
                    "of CFS periods "
                    f"from {fmt.hhmm(thr.onset)}",
                    "thr",
                )
            )
        if np.isfinite(ratio):
            out.append(
                self._prom(
                    f"request rate {fmt.rate(facts['rps_base'])} -> {fmt.rate(facts['rps_peak'])} "
                    f"(x{ratio:.1f} of baseline) since {fmt.hhmm(onset)}",
                    "rps",
                )
            )
        return out + self.symptoms(sig) + self._logs(sig.name)

    def demand(self, sig: WorkloadSignals, onset: float | None, ratio: float) -> list[Evidence]:
        """CPU that rose on its own where no limit binds: against its request and its nodes."""
        facts = self.cpu_facts(sig, onset)
        bound = (
            f"a limit of {fmt.cores(facts['limit_per_pod'])}"
            if np.isfinite(facts["limit_per_pod"])
            else "no CPU limit"
        )
        against = (
            [f"request {fmt.cores(facts['request_per_pod'])}"]
            if np.isfinite(facts["request_per_pod"])
            else []
        )
        against += (
            [f"node {fmt.cores(facts['node_cpu'])} allocatable"] if np.isfinite(facts["node_cpu"]) else []
        )
        out = [
            self._prom(
                f"{sig.name} CPU {fmt.cores(facts['usage_per_pod_base'])} -> "
                f"{fmt.cores(facts['usage_per_pod_p95'])} per pod (p95) from {fmt.hhmm(onset)}, with {bound}"
                + (f" ({', '.join(against)})" if against else ""),
                "cpu",
            )
        ]
        if np.isfinite(ratio):
            out.append(
                self._prom(
                    f"request rate x{ratio:.1f} of baseline since {fmt.hhmm(onset)}: "
                    + ("the CPU rise outgrew the traffic" if ratio < 1.5 else "the traffic rose with it"),
                    "rps",
                )
            )
        return out + self.symptoms(sig) + self._logs(sig.name)

    def memory(self, sig: WorkloadSignals, onset: float | None) -> list[Evidence]:
        facts = self.memory_facts(sig)
        bound = (
            f"a memory limit of {fmt.nbytes(facts['limit'])}"
            if np.isfinite(facts["limit"])
            else f"no memory limit (request {fmt.nbytes(facts['request'])})"
        )
        out = [
            self._prom(
                f"{sig.name} working set {fmt.nbytes(facts['base'])} -> {fmt.nbytes(facts['peak'])} "
                f"against {bound}" + (", still growing" if sig.shift("mem").ongoing else ""),
                "mem",
            )
        ]
        if sig.oom_restarts:
            out.append(
                self._prom(
                    f"{int(sig.oom_restarts)} OOMKilled restart(s) of {sig.name}, "
                    f"first at {fmt.hhmm(sig.oom_times[0])}"
                    if sig.oom_times
                    else f"{sig.name} containers last terminated with reason OOMKilled",
                    "terminated",
                )
            )
        elif sig.restarts:
            out.append(self._prom(f"{int(sig.restarts)} container restart(s) of {sig.name}", "restarts"))
        return out + self.symptoms(sig) + self._logs(sig.name)

    def deploy(
        self, sig: WorkloadSignals, onset: float, change: WorkloadChange | None, rollout: Rollout | None
    ) -> list[Evidence]:
        out = self.symptoms(sig)
        if change is not None:
            lag = onset - change.at.timestamp()
            when = "before" if lag >= 0 else "after"
            out.insert(
                0,
                Evidence(
                    source="git",
                    commit=change.sha,
                    observation=f"commit {change.sha[:8]} '{change.subject}' changed {sig.name}: "
                    f"{change.summary}, "
                    f"{fmt.minutes(lag)} {when} the symptoms began at {fmt.hhmm(onset)}",
                ),
            )
        if rollout is not None:
            image = (
                f" (image {rollout.old_image} -> {rollout.new_image})"
                if rollout.new_image and rollout.old_image and rollout.new_image != rollout.old_image
                else ""
            )
            out.append(
                self._prom(
                    f"new ReplicaSet {rollout.new_replicaset} rolled out at {fmt.hhmm(rollout.at)}{image}",
                    "images",
                )
            )
        if sig.crashloop:
            out.append(self._prom(f"{sig.name} containers in CrashLoopBackOff", "waiting"))
        if sig.oom_restarts or sig.shift("mem_util").elevated:
            out += self.memory(sig, onset)[:2]
        return out + self._logs(sig.name)

    def transient(self, workload: str) -> list[Evidence]:
        ctx = self.ctx
        out = []
        if ctx.alert_fired is not None:
            state = "holds" if ctx.alert_active else "no longer holds"
            out.append(
                Evidence(
                    source="prometheus",
                    query=ctx.alert_expr,
                    observation=f"the alert condition held from {fmt.hhmm(ctx.alert_onset)} to "
                    f"{fmt.hhmm(ctx.alert_last_true)} and {state} at {fmt.hhmm(ctx.at)}",
                )
            )
        sig = ctx.signals.get(workload)
        if sig is not None:
            out += self.symptoms(sig)
        return out

    def _logs(self, workload: str) -> list[Evidence]:
        return [Evidence(source="logs", observation=o) for o in self.ctx.log_notes.get(workload, [])[:2]]
