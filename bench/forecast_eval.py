"""Forecast accuracy and speed, M4-Hourly style: hold back the last 48 points, score by MASE.

MASE divides the mean absolute forecast error by the in-sample mean absolute error of the
seasonal naive method at lag 24. Series:
- NAB series (the subset in $TUGBOAT_BENCH_DATA, or --data) averaged into hourly buckets, when at least two
  weeks long;
- simulated hourly load: daily and weekly cycles, trend, noise, occasional level shifts.
Also times a synthetic 414-series run (M4 Hourly's size) at h=48 on two processes.

Usage: python bench/forecast_eval.py [--data DIR] [--skip-timing]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inputs import NAB_SUBSET, bench_data, present

from bot.foresight.forecast import forecast_many

HORIZON, LAG, LEVEL = 48, 24, 80
DEFAULT_DATA = bench_data(*NAB_SUBSET)
HOUR = 3600.0


def hourly(timestamps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean per clock hour; empty hours are filled from the previous one."""
    hours = np.floor(timestamps / HOUR).astype(np.int64)
    first = hours[0]
    idx = hours - first
    sums = np.bincount(idx, weights=values)
    counts = np.bincount(idx)
    out = np.full(len(sums), np.nan)
    out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    for k in range(1, len(out)):
        if np.isnan(out[k]):
            out[k] = out[k - 1]
    return (first + np.arange(len(out))) * HOUR, out


def nab_series(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    found = {}
    for path in sorted((root / "data").glob("*/*.csv")):
        raw = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=str)
        stamps = np.array([s.replace(" ", "T") for s in raw[:, 0]], dtype="datetime64[s]").astype(float)
        t, v = hourly(stamps, raw[:, 1].astype(float))
        if len(v) >= 14 * 24 + HORIZON and np.ptp(v) > 0:
            found[f"{path.parent.name}/{path.stem}"] = (v, t)
    return found


def simulated(count: int, seed: int = 7) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(count):
        n = int(rng.integers(700, 1000)) + HORIZON
        i = np.arange(n)
        base = rng.uniform(50, 500)
        daily = base * rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * (i + rng.integers(24)) / 24)
        weekend = np.where(((i // 24) % 7) >= 5, -base * rng.uniform(0, 0.3), 0.0)
        trend = base * rng.uniform(-0.3, 0.6) * i / n
        noise = rng.normal(0, base * rng.uniform(0.02, 0.15), n)
        shift = np.where(i > rng.integers(n // 3, n), base * rng.uniform(-0.2, 0.2), 0.0)
        out[f"sim/{k:03d}"] = (base + daily + weekend + trend + noise + shift, 1.7e9 + HOUR * i)
    return out


def evaluate(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, float]]:
    train = {name: (v[:-HORIZON], t[:-HORIZON]) for name, (v, t) in series.items()}
    results = forecast_many(train, HORIZON, level=LEVEL)
    rows: dict[str, dict[str, float]] = {}
    for name, (v, _) in series.items():
        y, actual = v[:-HORIZON], v[-HORIZON:]
        scale = float(np.mean(np.abs(y[LAG:] - y[:-LAG])))
        if scale == 0:
            continue
        snaive = np.tile(y[-LAG:], HORIZON // LAG + 1)[:HORIZON]
        fc = results[name]
        rows[name] = {
            "mase": float(np.mean(np.abs(actual - fc.mean))) / scale,
            "snaive": float(np.mean(np.abs(actual - snaive))) / scale,
            "coverage": float(np.mean((actual >= fc.lower) & (actual <= fc.upper))),
        }
    return rows


def report(title: str, rows: dict[str, dict[str, float]]) -> None:
    groups: dict[str, list[dict[str, float]]] = {}
    for name, row in rows.items():
        groups.setdefault(name.split("/")[0], []).append(row)
    print(title)
    print(f"  {'group':24s} {'n':>4s} {'MASE':>7s} {'sNaive':>7s} {'80% cover':>9s}")
    for group, items in [*groups.items(), ("all", list(rows.values()))]:
        mase = np.mean([r["mase"] for r in items])
        snaive = np.mean([r["snaive"] for r in items])
        cover = np.mean([r["coverage"] for r in items])
        print(f"  {group:24s} {len(items):4d} {mase:7.3f} {snaive:7.3f} {cover:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    if present(args.data):
        report("NAB series, hourly, last 48 held back", evaluate(nab_series(args.data)))
    report("simulated hourly load, last 48 held back", evaluate(simulated(100)))
    if not args.skip_timing:
        batch = {k: (v[:-HORIZON], t[:-HORIZON]) for k, (v, t) in simulated(414, seed=11).items()}
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        started = time.perf_counter()
        forecast_many(batch, HORIZON, level=LEVEL, workers=2)
        wall = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - cpu_before
        # the CPU seconds tell the cost when other jobs share the machine and stretch the wall time
        print(f"414 series x h={HORIZON} on 2 processes: {wall:.1f} s wall, {cpu:.1f} CPU-s in the workers")


if __name__ == "__main__":
    main()
