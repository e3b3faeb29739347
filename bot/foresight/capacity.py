"""Will a workload run short of CPU within the horizon? A pure judgement over fetched history.

Demand is forecast twice: CPU usage itself, and the request rate converted to CPU at the cost per
request seen in the history. The request rate is what drives the load, and it is not truncated
when pods are throttled at their limit, so it still shows a surge that CPU usage hides. The upper
bound of the prediction interval of either forecast is compared with

    capacity = replicas (an autoscaler's maxReplicas when one owns the count)
               x per-pod CPU limit x target utilisation

and the first step above it is the predicted breach. Replicas are then sized so that the
forecast peak runs at the target utilisation, within the approval policy's bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from bot.domain.graph import GraphSpec, Threshold
from bot.domain.proposal import Proposal
from bot.domain.series import Series
from bot.foresight.forecast import MIN_SEASONS_TO_FIT, Forecast, forecast, seasons_for

MIN_HISTORY_ROWS = 24  # fewer samples than this: no forecast worth acting on
LOG_OFFSET = 0.1  # of the median: the shift that keeps log(load) finite when the load touches 0


@dataclass(frozen=True)
class Capacity:
    """What a workload can serve, as configured in the repository."""

    replicas: int
    cpu_per_pod: float  # cores: the CPU limit (or request when no limit is set)
    target: float  # utilisation the capacity is judged at
    hpa: str | None = None  # the autoscaler whose maxReplicas is ``replicas``
    cpu_source: str = "limit"

    @property
    def cores(self) -> float:
        return self.replicas * self.cpu_per_pod * self.target

    def describe(self) -> str:
        count = f"{self.replicas} replicas" + (f" (maxReplicas of {self.hpa})" if self.hpa else "")
        return f"{count} x {self.cpu_per_pod:g} cores ({self.cpu_source}) x {self.target:.0%}"


@dataclass
class Demand:
    """History of one workload on a regular grid (unix seconds); NaN where nothing was scraped."""

    timestamps: np.ndarray
    cpu: np.ndarray  # cores, summed over the workload's pods
    rps: np.ndarray | None = None  # requests per second, when a request metric covers the workload
    rps_metric: str | None = None


@dataclass
class CapacityFinding:
    workload: str
    namespace: str | None
    at: datetime
    short: bool  # the forecast crosses capacity within the horizon
    reason: str  # why a proposal is made, or why not
    capacity: Capacity | None = None
    breach_at: datetime | None = None
    peak_at: datetime | None = None
    peak_cores: float | None = None
    peak_rps: float | None = None
    replicas: int | None = None  # the count proposed
    capped: bool = False  # the policy bounds kept ``replicas`` below what the forecast asks
    graph: GraphSpec | None = None
    proposal: Proposal | None = None
    notes: list[str] = field(default_factory=list)

    def public(self) -> dict[str, object]:
        data: dict[str, object] = {
            "workload": self.workload,
            "namespace": self.namespace,
            "at": self.at.isoformat(),
            "short": self.short,
            "reason": self.reason,
        }
        if self.capacity is not None:
            data["capacity_cores"] = round(self.capacity.cores, 4)
            data["capacity"] = self.capacity.describe()
        for key in ("breach_at", "peak_at"):
            value = getattr(self, key)
            data[key] = value.isoformat() if value else None
        data["peak_cores"] = None if self.peak_cores is None else round(self.peak_cores, 4)
        data["peak_rps"] = None if self.peak_rps is None else round(self.peak_rps, 3)
        data["replicas"] = self.replicas
        if self.capped:
            data["capped"] = True
        data["proposal"] = self.proposal.public() if self.proposal else None
        if self.proposal is not None and self.proposal.branch:
            data["branch"] = self.proposal.branch
        if self.notes:
            data["notes"] = self.notes
        return data


@dataclass(frozen=True)
class Projection:
    """Demand forecast in cores: the larger upper bound of the CPU and request-rate forecasts."""

    timestamps: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    rps_upper: np.ndarray | None
    cost_per_request: float | None


def forecast_load(values: np.ndarray, timestamps: np.ndarray, horizon: int, level: int) -> Forecast:
    """A forecast of a load (requests/s, cores) whose daily cycle grows with its level.

    Load is multiplicative: when traffic grows by 10%, the daily peak grows by 10% of itself, not
    by 10% of the mean. In log space that is an additive season plus a trend, which MSTL fits; the
    bounds are transformed back (quantiles survive a monotonic map). Theta is left out here: its
    intervals in log space come back several times too wide. Without a daily or weekly season the
    general ``forecast`` (AutoETS and Theta) is used as it is."""
    y = np.asarray(values, dtype=float)
    seasons = [s for s in seasons_for(y, timestamps) if len(y) >= MIN_SEASONS_TO_FIT * s + 1]
    if not seasons or float(np.min(y)) < 0 or float(np.ptp(y)) == 0.0:
        return forecast(y, horizon, level=level, timestamps=timestamps)
    from statsforecast.models import MSTL, AutoETS

    offset = max(LOG_OFFSET * float(np.median(y)), 1e-9)
    model = MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))
    try:
        out = model.forecast(y=np.log(y + offset), h=horizon, level=[level])
    except (ValueError, np.linalg.LinAlgError):  # a degenerate fit: the general ensemble still answers
        return forecast(y, horizon, level=level, timestamps=timestamps)

    def back(key: str) -> np.ndarray:
        return np.maximum(np.exp(np.asarray(out[key], dtype=float)) - offset, 0.0)

    mean = back("mean")
    return Forecast(
        mean, np.minimum(back(f"lo-{level}"), mean), np.maximum(back(f"hi-{level}"), mean), seasons[0]
    )


def cost_per_request(demand: Demand) -> float | None:
    """Median CPU seconds per request over the rows that have both (robust to odd rows)."""
    if demand.rps is None:
        return None
    ok = np.isfinite(demand.cpu) & np.isfinite(demand.rps) & (demand.rps > 0)
    if ok.sum() < MIN_HISTORY_ROWS:
        return None
    return float(np.median(demand.cpu[ok] / demand.rps[ok]))


def project(demand: Demand, cpu: Forecast, rps: Forecast | None, step: float) -> Projection:
    last = float(demand.timestamps[-1])
    times = last + step * np.arange(1, len(cpu.mean) + 1)
    mean, lower, upper = cpu.mean, cpu.lower, cpu.upper
    cost = cost_per_request(demand)
    rps_upper = None
    if rps is not None and cost is not None:
        rps_upper = rps.upper
        # the request-driven forecast wins where it is higher: throttled pods under-report CPU
        mean = np.maximum(mean, rps.mean * cost)
        upper = np.maximum(upper, rps.upper * cost)
        lower = np.minimum(np.maximum(lower, rps.lower * cost), mean)
    return Projection(times, mean, np.maximum(lower, 0.0), upper, rps_upper, cost)


def judge(
    workload: str,
    namespace: str | None,
    at: datetime,
    demand: Demand,
    projection: Projection,
    capacity: Capacity,
    max_replicas: int,
) -> CapacityFinding:
    """Short or not, when, and how many replicas would carry the forecast peak at the target."""
    upper = projection.upper
    peak = int(np.argmax(upper))
    peak_cores = float(upper[peak])
    peak_at = when(projection.timestamps[peak])
    over = np.flatnonzero(upper > capacity.cores)
    finding = CapacityFinding(
        workload, namespace, at, short=bool(len(over)), reason="", capacity=capacity,
        peak_at=peak_at, peak_cores=peak_cores,
        peak_rps=float(projection.rps_upper[peak]) if projection.rps_upper is not None else None,
    )  # fmt: skip
    share = peak_cores / capacity.cores if capacity.cores > 0 else math.inf
    basis = f"{peak_cores:.2f} cores at {peak_at:%Y-%m-%d %H:%M} UTC vs capacity {capacity.cores:.2f}"
    if not finding.short:
        finding.reason = f"peak forecast {share:.0%} of capacity ({basis}): no change needed"
        return finding
    finding.breach_at = when(projection.timestamps[int(over[0])])
    wanted = math.ceil(peak_cores / (capacity.cpu_per_pod * capacity.target) - 1e-9)
    wanted = max(wanted, capacity.replicas + 1)
    finding.replicas = min(wanted, max_replicas)
    finding.capped = finding.replicas < wanted
    if finding.replicas <= capacity.replicas:
        finding.reason = (
            f"forecast exceeds capacity from {finding.breach_at:%Y-%m-%d %H:%M} UTC ({basis}), "
            f"but the policy allows no more than {max_replicas} replicas"
        )
        finding.replicas = None
        return finding
    finding.reason = (
        f"peak forecast {share:.0%} of capacity ({basis}); capacity is exceeded from "
        f"{finding.breach_at:%Y-%m-%d %H:%M} UTC; {finding.replicas} replicas carry the peak at "
        f"{peak_cores / (finding.replicas * capacity.cpu_per_pod):.0%} of their CPU"
    )
    if finding.capped:
        finding.notes.append(f"the forecast asks for {wanted} replicas; the policy caps it at {max_replicas}")
    return finding


def graph(finding: CapacityFinding, demand: Demand, projection: Projection) -> GraphSpec:
    """History, forecast (mean and interval bounds) and the capacity line, in cores."""
    ok = np.isfinite(demand.cpu)
    series = [
        Series({"__name__": "CPU used"}, demand.timestamps[ok], demand.cpu[ok]),
        Series({"__name__": "forecast"}, projection.timestamps, projection.mean),
        Series({"__name__": "forecast upper bound"}, projection.timestamps, projection.upper),
        Series({"__name__": "forecast lower bound"}, projection.timestamps, projection.lower),
    ]
    thresholds = []
    if finding.capacity is not None:
        thresholds.append(Threshold(finding.capacity.cores, f"capacity {finding.capacity.describe()}"))
        if finding.replicas:
            proposed = finding.replicas * finding.capacity.cpu_per_pod * finding.capacity.target
            thresholds.append(Threshold(proposed, f"with {finding.replicas} replicas"))
    return GraphSpec(
        name=f"{finding.workload}-capacity",
        title=f"{finding.workload}: CPU demand forecast vs capacity",
        unit="cores",
        series=series,
        onset=finding.breach_at,
        at=finding.at,
        thresholds=thresholds,
    )


def when(stamp: float) -> datetime:
    return datetime.fromtimestamp(float(stamp), UTC)
