"""Load forecasts with prediction intervals, for capacity and rightsizing proposals.

The models come from statsforecast. With a season: MSTL (one seasonal component per detected
period, trend by AutoETS) combined with the seasonal naive forecast at the longest period; their
forecasts and interval bounds are averaged. The equal-weight combination keeps MSTL's accuracy on
smooth load and the naive method's robustness on short or irregular series (bench/RESULTS.md).
Without a season, AutoETS and the dynamic optimised Theta method are combined instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.domain.errors import InvalidInput
from bot.foresight.season import MIN_CYCLES, acf_peak, detect_periods, sampling_interval

MIN_SEASONS_TO_FIT = 2  # full cycles a seasonal model needs
MAX_SEASON_ROWS = 5000  # weekly cycles at sub-hourly sampling are too long to fit cheaply


@dataclass(frozen=True)
class Forecast:
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    season: int | None  # the shortest seasonal period used, in rows


def seasons_for(values: np.ndarray, timestamps: np.ndarray | None = None) -> list[int]:
    """Seasonal periods (rows, ascending) to model: daily/weekly from timestamps, else an ACF peak."""
    step = sampling_interval(timestamps)
    if step is not None:
        periods = detect_periods(values, step)
    else:
        peak = acf_peak(values - values.mean(), len(values) // MIN_CYCLES) if len(values) >= 12 else None
        periods = [peak] if peak else []
    return [p for p in periods if p <= MAX_SEASON_ROWS]


def _models(seasons: list[int]) -> list[Any]:
    from statsforecast.models import MSTL, AutoETS, DynamicOptimizedTheta, SeasonalNaive

    if not seasons:
        return [AutoETS(model="ZZN"), DynamicOptimizedTheta(season_length=1)]
    trend = AutoETS(model="ZZN")
    return [MSTL(season_length=seasons, trend_forecaster=trend), SeasonalNaive(season_length=seasons[-1])]


def forecast(
    values: Iterable[float],
    horizon: int,
    season: int | None = None,
    level: int = 80,
    timestamps: np.ndarray | None = None,
) -> Forecast:
    """Forecast `horizon` steps past the last value with a `level`% prediction interval.

    `season` (rows) overrides detection; 1 or 0 means no season."""
    y = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    if horizon <= 0:
        raise InvalidInput(f"horizon must be a positive number of steps, got {horizon}")
    if not 0 < level < 100:
        raise InvalidInput(f"level must be a percentage between 0 and 100, got {level}")
    y = y[np.isfinite(y)]
    if len(y) == 0:
        raise InvalidInput("cannot forecast a series with no numeric values")
    explicit = [season] if season is not None and season > 1 else []
    seasons = seasons_for(y, timestamps) if season is None else explicit
    seasons = [s for s in seasons if len(y) >= MIN_SEASONS_TO_FIT * s + 1]
    if len(y) < 8 or float(np.ptp(y)) == 0.0:
        return _flat(y, horizon, level)
    means, lows, highs = [], [], []
    for model in _models(seasons):
        out = model.forecast(y=y, h=horizon, level=[level])
        means.append(out["mean"])
        lows.append(out[f"lo-{level}"])
        highs.append(out[f"hi-{level}"])
    mean = np.mean(means, axis=0)
    lower = np.minimum(np.mean(lows, axis=0), mean)
    upper = np.maximum(np.mean(highs, axis=0), mean)
    return Forecast(mean, lower, upper, seasons[0] if seasons else None)


def _flat(y: np.ndarray, horizon: int, level: int) -> Forecast:
    """Too little or constant data: the last value, with the spread of the steps seen so far."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 200.0)
    spread = float(np.std(np.diff(y))) if len(y) > 2 else 0.0
    steps = np.sqrt(np.arange(1, horizon + 1))
    mean = np.full(horizon, y[-1])
    return Forecast(mean, mean - z * spread * steps, mean + z * spread * steps, None)


def _one(args: tuple[str, np.ndarray, np.ndarray | None, int, int | None, int]) -> tuple[str, Forecast]:
    name, values, stamps, horizon, season, level = args
    return name, forecast(values, horizon, season, level, stamps)


def forecast_many(
    series: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
    horizon: int,
    season: int | None = None,
    level: int = 80,
    workers: int | None = None,
) -> dict[str, Forecast]:
    """Forecast many series (name -> (values, timestamps)), spread over `workers` processes."""
    if horizon <= 0:
        raise InvalidInput(f"horizon must be a positive number of steps, got {horizon}")
    jobs = [(name, v, t, horizon, season, level) for name, (v, t) in series.items()]
    workers = workers or min(2, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) < 4:
        return dict(_one(job) for job in jobs)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(_one, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
