"""Backtest of the capacity job as a user meets it: when do its PRs open, and are they right?

The job's own judgement (`bot.foresight.capacity`: forecast_load, project, judge, with the
default settings: every CHECK_EVERY hours, a 168-hour look-back on the planner's grid, a 24-hour
horizon, the 80% upper bound against replicas x CPU limit x 70%) runs over long CPU-demand
series, check by check, seeing only the past. A PR it opens is approved and merged MERGE_DELAY
later, which raises the capacity in force to the replicas it proposed; while one is pending no
other opens (as `submit_findings` skips a workload with an open proposal).

- a breach is a row where demand exceeds the capacity in force; rows within REARM of the previous
  breach row belong to the same breach;
- a PR is right when, without it, demand would have crossed the capacity in force when it opened
  within the horizon plus one check interval; its lead time is that crossing's time minus the
  time it opened;
- a breach is missed when no PR opened in the horizon plus one check interval before it;
- a false-positive PR is one that is not right; reported per workload-week of checked time;
- for each missed breach, its warning: the highest demand, as a share of the capacity in force,
  from one check interval to MERGE_DELAY before it, which is all that any check whose PR could
  merge in time would have seen (a share well below 1 says no forecast from the past could have
  asked for the capacity in time).

Series: simulated traffic (daily and weekly cycles, growth, launches that step the load up, noise,
and steady ones that should never get a PR), and NAB's Twitter volume series (5-minute mention
counts over two months) as real traffic, at an assumed CPU cost per mention.

`--forecaster ensemble` replays the same job with the general ensemble
(`bot.foresight.forecast.forecast`, split-conformal intervals) in place of the planner's
`forecast_load`, to compare the two.

Usage: python bench/capacity_backtest.py [--data DIR] [--weeks 6] [--workers 2] [--forecaster NAME]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inputs import NAB_SUBSET, bench_data, present

from bot.foresight import capacity as cap
from bot.foresight.forecast import Forecast, forecast

HOUR, DAY, WEEK = 3600.0, 86_400.0, 7 * 86_400.0
STEP = 360.0  # the planner's grid for a 168-hour look-back (MetricWindow)
CHECK_EVERY, LOOKBACK, HORIZON = 6 * HOUR, 168 * HOUR, 24 * HOUR
MERGE_DELAY = 1 * HOUR  # from the PR opening to its merge: someone approves it in Slack
REARM = 6 * HOUR
TARGET, LEVEL, CPU_PER_POD, MAX_REPLICAS = 0.7, 80, 1.0, 50
DEFAULT_DATA = bench_data(*NAB_SUBSET)
Forecaster = Callable[[np.ndarray, np.ndarray, int, int], Forecast]  # values, timestamps, horizon, level


def _ensemble(values: np.ndarray, timestamps: np.ndarray, horizon: int, level: int) -> Forecast:
    return forecast(values, horizon, level=level, timestamps=timestamps)


FORECASTERS: dict[str, Forecaster] = {"planner": cap.forecast_load, "ensemble": _ensemble}


@dataclass
class Outcome:
    name: str
    checked_weeks: float
    leads: list[float] = field(default_factory=list)  # hours, one per right PR
    opened: list[float] = field(default_factory=list)  # when each PR opened
    false_positives: int = 0
    missed: int = 0
    breaches: int = 0
    warnings: list[float] = field(default_factory=list)  # per missed breach, see the docstring


def breach_starts(times: np.ndarray, over: np.ndarray) -> list[float]:
    """Start times of breaches: rows over capacity, merged when less than REARM apart."""
    starts: list[float] = []
    last = -math.inf
    for t in times[over]:
        if t - last >= REARM:
            starts.append(float(t))
        last = float(t)
    return starts


def backtest(
    name: str,
    times: np.ndarray,
    demand: np.ndarray,
    replicas: int,
    forecaster: Forecaster = cap.forecast_load,
) -> Outcome:
    """Run the job every CHECK_EVERY over the series; count leads, false positives and misses."""
    capacity = np.full(len(times), replicas * CPU_PER_POD * TARGET)  # the capacity in force
    first = times[0] + LOOKBACK
    checks = np.arange(first, times[-1] - HORIZON, CHECK_EVERY)
    outcome = Outcome(name, (checks[-1] - checks[0]) / WEEK if len(checks) > 1 else 0.0)
    pending_until = -math.inf
    count = replicas
    for at in checks:
        if at < pending_until:
            continue
        now = int(np.searchsorted(times, at, side="right"))
        lo = int(np.searchsorted(times, at - LOOKBACK))
        history = cap.Demand(times[lo:now], demand[lo:now])
        fc = forecaster(history.cpu, history.timestamps, int(HORIZON / STEP), LEVEL)
        projection = cap.project(history, fc, None, STEP)
        current = cap.Capacity(count, CPU_PER_POD, TARGET)
        bound = min(MAX_REPLICAS, max(2 * count, count))
        finding = cap.judge(name, None, cap.when(at), history, projection, current, bound)
        if not (finding.short and finding.replicas):
            continue
        ahead = (times >= at) & (times <= at + HORIZON + CHECK_EVERY)
        crossing = np.flatnonzero(ahead & (demand > current.cores))
        outcome.opened.append(float(at))
        if len(crossing):
            outcome.leads.append((times[crossing[0]] - at) / HOUR)
        else:
            outcome.false_positives += 1
        merged = at + MERGE_DELAY
        count = finding.replicas
        capacity[times >= merged] = count * CPU_PER_POD * TARGET
        pending_until = merged
    scored = times >= first
    starts = breach_starts(times[scored], (demand > capacity)[scored])
    outcome.breaches = len(starts)
    opened = np.array(outcome.opened)
    missed = [t for t in starts if not np.any((opened <= t) & (opened >= t - HORIZON - CHECK_EVERY))]
    outcome.missed = len(missed)
    outcome.warnings = [warning(times, demand, capacity, t) for t in missed]
    return outcome


def warning(times: np.ndarray, demand: np.ndarray, capacity: np.ndarray, start: float) -> float:
    """The highest demand / capacity from CHECK_EVERY to MERGE_DELAY before a breach starts."""
    seen = (times >= start - CHECK_EVERY) & (times <= start - MERGE_DELAY)
    return float(np.max(demand[seen] / capacity[seen])) if seen.any() else math.nan


def simulated(count: int, weeks: int, seed: int = 17) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    t = 1.7e9 + STEP * np.arange(int(weeks * WEEK / STEP))
    days = (t - t[0]) / DAY
    for k in range(count):
        hour = (t % DAY) / HOUR
        daily = 0.55 + 0.45 * np.cos(2 * np.pi * (hour - rng.uniform(12, 20)) / 24)
        weekly = np.where(((t // DAY) % 7) >= 5, rng.uniform(0.6, 0.9), 1.0)
        growth = (1 + (rng.uniform(0.005, 0.03) if k % 3 else 0.0)) ** days
        launches = np.ones(len(t))
        for start in rng.uniform(10, weeks * 7, size=int(rng.integers(0, 3)) if k % 3 else 0):
            launches *= np.where(days > start, rng.uniform(1.2, 1.5), 1.0)
        noise = 1 + rng.normal(0, rng.uniform(0.03, 0.08), len(t))
        out.append((f"simulated/{k}", t, rng.uniform(2, 8) * daily * weekly * growth * launches * noise))
    return out


def twitter(root: Path, weeks: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for path in sorted((root / "data" / "realTweets").glob("Twitter_volume_*.csv")):
        raw = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=str)
        stamps = np.array([s.replace(" ", "T") for s in raw[:, 0]], dtype="datetime64[s]").astype(float)
        grid = np.arange(stamps[0], min(stamps[-1], stamps[0] + weeks * WEEK), STEP)
        volume = np.interp(grid, stamps, raw[:, 1].astype(float))
        # an assumed CPU cost per mention and 5-minute sum -> cores
        out.append((f"twitter/{path.stem.removeprefix('Twitter_volume_')}", grid, 0.02 * volume + 0.5))
    return out


def initial_replicas(times: np.ndarray, demand: np.ndarray) -> int:
    """Sized as a team would: the first week's peak at about 85% of capacity."""
    first_week = demand[times < times[0] + LOOKBACK]
    return max(1, math.ceil(float(np.max(first_week)) / (0.85 * CPU_PER_POD * TARGET)))


def _run(forecaster: str, item: tuple[str, np.ndarray, np.ndarray]) -> Outcome:
    name, times, demand = item
    return backtest(name, times, demand, initial_replicas(times, demand), FORECASTERS[forecaster])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--simulated", type=int, default=6)
    parser.add_argument("--real", type=int, default=4, help="NAB Twitter series to use")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--forecaster", choices=sorted(FORECASTERS), default="planner")
    args = parser.parse_args()
    items = simulated(args.simulated, args.weeks)
    if present(args.data):
        items += twitter(args.data, args.weeks)[: args.real]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(partial(_run, args.forecaster), items))
    for kind in ("simulated", "twitter", "all"):
        chosen = [o for o in outcomes if kind == "all" or o.name.startswith(kind)]
        if not chosen:
            continue
        leads = [lead for o in chosen for lead in o.leads]
        weeks = sum(o.checked_weeks for o in chosen)
        fps = sum(o.false_positives for o in chosen)
        lead_text = f"median {np.median(leads):.1f} h, worst {min(leads):.1f} h" if leads else "none"
        print(
            f"{kind:10s} {len(chosen)} workloads, {weeks:.1f} workload-weeks: {len(leads)} right PRs "
            f"(lead {lead_text}), breaches {sum(o.breaches for o in chosen)}, missed "
            f"{sum(o.missed for o in chosen)}, false-positive PRs {fps} ({fps / max(weeks, 1e-9):.2f} "
            "per workload-week)"
        )
    for o in outcomes:
        shares = [round(x, 2) for x in o.warnings]
        print(f"  {o.name:28s} leads {[round(float(x), 1) for x in o.leads]} FP {o.false_positives} "
              f"breaches {o.breaches} missed {o.missed} warnings {shares}")  # fmt: skip


if __name__ == "__main__":
    main()
