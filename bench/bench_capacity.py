"""Capacity forecasts: is the next daily peak predicted, and is a coming breach caught?

Compares ``bot.foresight.capacity.forecast_load`` (MSTL in log space, what the capacity planner
uses) with the general ``bot.foresight.forecast.forecast`` (the ensemble, linear space):
- simulated loads at 5-minute samples, 4 days of history and the next day held back, growing
  -5..+20% a day with multiplicative daily cycles and 2..10% noise; capacity is set at 1.1 x the
  history's peak, so about half the series breach it the next day;
- NAB series (the subset in $TUGBOAT_BENCH_DATA, or --data) in hourly means, last 48 h held back, for
  real-world shapes (no breach there: peak error and interval coverage only).
Scores: relative error of the forecast peak (mean), share of held-back peaks under the forecast's
80% upper bound, and breach precision / recall (breach predicted = upper bound above capacity).

Usage: python bench/bench_capacity.py [--data DIR] [--count N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from forecast_eval import DEFAULT_DATA, nab_series
from inputs import present

from bot.foresight.capacity import forecast_load
from bot.foresight.forecast import Forecast, forecast

STEP, DAY = 300.0, 86_400.0
Method = Callable[[np.ndarray, np.ndarray, int], Forecast]
METHODS: dict[str, Method] = {
    "forecast_load (log MSTL)": lambda v, t, h: forecast_load(v, t, h, 80),
    "forecast (ensemble)": lambda v, t, h: forecast(v, h, level=80, timestamps=t),
}


def simulated(count: int, seed: int = 5) -> list[tuple[np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(seed)
    rows = int(DAY / STEP)
    out = []
    for _ in range(count):
        t = 1.7e9 + STEP * np.arange(5 * rows)
        phase = rng.uniform(0, 24)
        shape = 0.5 + 0.5 * np.cos(2 * np.pi * ((t % DAY) / 3600 - phase) / 24)
        base = rng.uniform(0.1, 0.5) + shape
        growth = (1 + rng.uniform(-0.05, 0.20)) ** ((t - t[0]) / DAY)
        noise = 1 + rng.normal(0, rng.uniform(0.02, 0.10), len(t))
        out.append((base * growth * noise * rng.uniform(1, 50), t, rows))
    return out


def score(series: list[tuple[np.ndarray, np.ndarray, int]], method: Method, breach: bool) -> dict[str, float]:
    errors, covered, hits, predicted, actual, seconds = [], [], 0, 0, 0, 0.0
    for values, stamps, horizon in series:
        history, future = values[:-horizon], values[-horizon:]
        started = time.perf_counter()
        fc = method(history, stamps[:-horizon], horizon)
        seconds += time.perf_counter() - started
        peak = float(future.max())
        errors.append(abs(float(fc.mean.max()) - peak) / peak)
        covered.append(peak <= float(fc.upper.max()))
        if breach:
            capacity = 1.1 * float(history.max())
            truth, guess = peak > capacity, float(fc.upper.max()) > capacity
            hits, predicted, actual = hits + (truth and guess), predicted + guess, actual + truth
    out = {"peak_error": float(np.mean(errors)), "peak_covered": float(np.mean(covered))}
    out["seconds"] = seconds / len(series)
    if breach:
        out |= {"precision": hits / max(predicted, 1), "recall": hits / max(actual, 1), "breaches": actual}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--count", type=int, default=40)
    args = parser.parse_args()
    forecast_load(*simulated(1)[0][:2], 10, 80)  # compile statsforecast's numba code before timing
    sim = simulated(args.count)
    print(f"simulated growing loads ({args.count}, 5-min samples, next day held back)")
    for name, method in METHODS.items():
        r = score(sim, method, breach=True)
        print(
            f"  {name:26s} peak error {r['peak_error']:.1%}  peak under upper {r['peak_covered']:.0%}  "
            f"breach precision {r['precision']:.2f} recall {r['recall']:.2f} "
            f"({r['breaches']:.0f} breaches)  {r['seconds']:.2f} s/series"
        )
    if present(args.data):
        nab = [(v, t, 48) for v, t in nab_series(args.data).values()]
        print(f"NAB hourly ({len(nab)} series, last 48 h held back)")
        for name, method in METHODS.items():
            r = score(nab, method, breach=False)
            print(
                f"  {name:26s} peak error {r['peak_error']:.1%}  peak under upper {r['peak_covered']:.0%}  "
                f"{r['seconds']:.2f} s/series"
            )


if __name__ == "__main__":
    main()
