"""Requests and limits from observed usage, like KRR, plus what KRR misses.

* CPU request: a percentile (default p95) of per-pod usage. CPU limits are only raised, when
  usage presses against them (throttled usage is truncated at the limit, so it understates need).
* Memory request: the peak working set plus a buffer (default 15%). An OOM kill, or restarts
  while the working set was near the limit, is evidence that the limit was too LOW: the working set
  never shows more than the limit, so the new limit and request go above the limit that was hit,
  not merely above the observed peak. Memory limits are never lowered.
* An HPA that scales on CPU utilisation measures usage against the request: a lower request raises
  the utilisation it sees. A request change that would alter the replica count the autoscaler
  wants at the workload's usual (p95) load is held back, and the note says why.
* Too little history is a refusal, never a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.domain.proposal import Proposal, field_words
from bot.domain.quantity import format_cpu, format_memory

MIN_CHANGE = 0.10  # changes smaller than this share of the current value are not worth a PR
MIN_CPU = 0.010  # cores
CPU_STEP = 0.005  # requests are rounded up to whole 5m
MEMORY_STEP = 16 * 2**20  # and to whole 16Mi
OOM_STEP = 1.5  # a limit that was hit grows at least this much
NEAR_LIMIT = 0.9  # usage at this share of a limit is pressing against it
THROTTLED_LIMIT_STEP = 1.5


@dataclass(frozen=True)
class Current:
    """The container's resources as the repository sets them (cores and bytes; None: unset)."""

    cpu_request: float | None
    cpu_limit: float | None
    memory_request: int | None
    memory_limit: int | None


@dataclass(frozen=True)
class Usage:
    """Per-pod history on one grid: rows are pods, columns the grid's times; NaN where absent."""

    timestamps: np.ndarray
    cpu: np.ndarray  # cores
    memory: np.ndarray  # working set bytes (the max over each step)
    oom_pods: int = 0  # pods whose container was seen terminated with reason OOMKilled
    restarts: int = 0
    memory_limit_seen: int | None = None  # the largest memory limit the pods ran with


@dataclass(frozen=True)
class Autoscaler:
    name: str
    cpu_target: float | None  # averageUtilization as a fraction, None when it does not scale on CPU


@dataclass(frozen=True)
class Bounds:
    max_cpu_cores: float
    max_memory_bytes: int


@dataclass(frozen=True)
class Change:
    field: str  # cpu_request, cpu (limit), memory_request, memory (limit)
    current: float | int | None
    value: float | int
    reason: str

    def text(self) -> str:
        fmt = _fmt_cpu if self.field.startswith("cpu") else _fmt_memory
        was = fmt(self.current) if self.current is not None else "unset"
        return f"{field_words(self.field)} {was} → {fmt(self.value)} ({self.reason})"


@dataclass
class Recommendation:
    workload: str
    namespace: str | None
    container: str | None
    at: datetime
    refused: str | None = None  # why nothing is recommended (too little data...)
    data_hours: float = 0.0
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    observed: dict[str, float] = field(default_factory=dict)
    proposal: Proposal | None = None

    def public(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "namespace": self.namespace,
            "container": self.container,
            "at": self.at.isoformat(),
            "refused": self.refused,
            "data_hours": round(self.data_hours, 2),
            "observed": {k: round(v, 6) for k, v in self.observed.items()},
            "changes": [
                {"field": c.field, "from": c.current, "to": c.value, "reason": c.reason} for c in self.changes
            ],
            "notes": self.notes,
            "proposal": self.proposal.public() if self.proposal else None,
        }

    def summary(self) -> str:
        if self.refused:
            return f"{self.workload}: not rightsized: {self.refused}"
        if not self.changes:
            return f"{self.workload}: no change proposed from {self.data_hours:.0f} h of usage"
        return f"{self.workload}: " + "; ".join(c.text() for c in self.changes)


def data_hours(usage: Usage) -> float:
    seen = np.isfinite(usage.cpu).any(axis=0) | np.isfinite(usage.memory).any(axis=0)
    if not seen.any():
        return 0.0
    stamps = usage.timestamps[seen]
    return float(stamps[-1] - stamps[0]) / 3600.0


def recommend(
    rec: Recommendation,
    usage: Usage,
    current: Current,
    *,
    percentile: float,
    memory_buffer: float,
    min_hours: float,
    bounds: Bounds,
    hpa: Autoscaler | None = None,
) -> Recommendation:
    """Fill ``rec`` with the changes the usage calls for (or the reason there are none)."""
    rec.data_hours = data_hours(usage)
    if not (np.isfinite(usage.cpu).any() or np.isfinite(usage.memory).any()):
        rec.refused = (
            f"no usage of {rec.workload} in Prometheus (container_cpu_usage_seconds_total, "
            "container_memory_working_set_bytes): check the name, the namespace and cAdvisor scraping"
        )
        return rec
    if rec.data_hours < min_hours:
        rec.refused = (
            f"only {rec.data_hours:.0f} h of data for {rec.workload}, need {min_hours:g} h "
            "(rightsize_min_data_hours); try again later or lower the setting"
        )
        return rec
    cpu = usage.cpu[np.isfinite(usage.cpu)]
    mem = usage.memory[np.isfinite(usage.memory)]
    if cpu.size:
        rec.observed |= {f"cpu_p{percentile:g}": float(np.percentile(cpu, percentile))}
        rec.observed |= {"cpu_p99": float(np.percentile(cpu, 99)), "cpu_max": float(cpu.max())}
        _cpu(rec, usage, current, percentile, bounds, hpa)
    else:
        rec.notes.append("no CPU usage series (container_cpu_usage_seconds_total): CPU left as it is")
    if mem.size:
        rec.observed["memory_peak"] = float(mem.max())
        _memory(rec, usage, current, float(mem.max()), memory_buffer, bounds)
    else:
        rec.notes.append("no working-set series (container_memory_working_set_bytes): memory left as it is")
    return rec


def _cpu(
    rec: Recommendation, usage: Usage, cur: Current, pct: float, bounds: Bounds, hpa: Autoscaler | None
) -> None:
    cpu = usage.cpu[np.isfinite(usage.cpu)]
    wanted = min(_round_up(max(float(np.percentile(cpu, pct)), MIN_CPU), CPU_STEP), bounds.max_cpu_cores)
    request = cur.cpu_request
    if request is None or abs(wanted - request) >= MIN_CHANGE * request:
        held = _hpa_hold(usage, request, wanted, hpa) if request is not None else None
        if held:
            rec.notes.append(held)
        else:
            why = f"p{pct:g} of per-pod usage is {np.percentile(cpu, pct) * 1000:.0f}m"
            rec.changes.append(Change("cpu_request", request, wanted, why))
            request = wanted
    limit, p99 = cur.cpu_limit, float(np.percentile(cpu, 99))
    if limit is not None:
        new_limit = limit
        if p99 >= NEAR_LIMIT * limit:
            new_limit = max(limit * THROTTLED_LIMIT_STEP, p99 * THROTTLED_LIMIT_STEP)
        new_limit = min(_round_up(max(new_limit, request or 0.0), CPU_STEP), bounds.max_cpu_cores)
        if new_limit > limit + 1e-9:
            why = (
                f"p99 usage {p99 * 1000:.0f}m presses against the limit (throttled)"
                if p99 >= NEAR_LIMIT * limit
                else "a limit below the new request is invalid"
            )
            rec.changes.append(Change("cpu", limit, new_limit, why))


def _hpa_hold(usage: Usage, request: float, wanted: float, hpa: Autoscaler | None) -> str | None:
    """Why the request change is held back, when it would change what the autoscaler does."""
    if hpa is None or hpa.cpu_target is None or request <= 0:
        return None
    total = np.nansum(usage.cpu, axis=0)
    pods = np.sum(np.isfinite(usage.cpu), axis=0)
    live = pods > 0
    if not live.any():
        return None
    typical = float(np.percentile(total[live], 95))
    before = math.ceil(typical / (request * hpa.cpu_target) - 1e-9)
    after = math.ceil(typical / (wanted * hpa.cpu_target) - 1e-9)
    if before == after:
        return None
    util = float(np.percentile(total[live] / pods[live], 95))
    return (
        f"CPU request kept at {_fmt_cpu(request)} instead of {_fmt_cpu(wanted)}: {hpa.name} scales on CPU "
        f"utilisation (target {hpa.cpu_target:.0%}); at p95 load it would see {util / wanted:.0%} instead of "
        f"{util / request:.0%} and want {after} pods instead of {before}. Change the request together "
        "with the autoscaler's target if that is intended"
    )


def _memory(
    rec: Recommendation, usage: Usage, cur: Current, peak: float, buffer: float, bounds: Bounds
) -> None:
    limit_hit = usage.memory_limit_seen or cur.memory_limit
    near_limit = limit_hit is not None and peak >= NEAR_LIMIT * limit_hit
    oom = usage.oom_pods > 0 or (usage.restarts > 0 and near_limit)
    wanted = _round_up(peak * (1 + buffer), MEMORY_STEP)
    if oom and limit_hit is not None:
        # the working set is cut off at the limit: the need is above it, by an unknown amount
        wanted = max(wanted, _round_up(limit_hit * OOM_STEP, MEMORY_STEP))
        evidence = f"{usage.restarts} restart(s)"
        if usage.oom_pods:
            evidence = f"OOMKilled in {usage.oom_pods} pod(s)"
        why = (
            f"{evidence} at the {_fmt_memory(limit_hit)} limit; the working set peaked at {_fmt_memory(peak)}"
        )
    else:
        why = f"peak working set {_fmt_memory(peak)} + {buffer:.0%}"
        if usage.restarts:
            rec.notes.append(
                f"{usage.restarts} restart(s) with memory well below the limit: not a memory cause"
            )
    wanted = min(wanted, bounds.max_memory_bytes)
    if limit_hit is not None and wanted < (limit_hit * OOM_STEP if oom else 0):
        rec.notes.append(f"the policy caps memory at {_fmt_memory(bounds.max_memory_bytes)}")
    request, limit = cur.memory_request, cur.memory_limit
    if request is None or abs(wanted - request) >= MIN_CHANGE * request or (oom and wanted > request):
        rec.changes.append(Change("memory_request", request, int(wanted), why))
    if limit is not None and wanted > limit:
        # limits are only ever raised: one OOM kill costs more than a generous limit
        rec.changes.append(Change("memory", limit, int(wanted), why))


def _round_up(value: float, step: float) -> float:
    return math.ceil(value / step - 1e-9) * step


def _fmt_cpu(cores: float | int | None) -> str:
    return format_cpu(float(cores), milli=float(cores) < 1) if cores else "0"


def _fmt_memory(num: float | int | None) -> str:
    return format_memory(num) if num else "0"
