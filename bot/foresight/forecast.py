"""Load forecasts with calibrated prediction intervals, for capacity and rightsizing proposals.

An ensemble chosen per series by validation on that series' own history:

1. candidates (`bot.foresight.candidates`): statsforecast's MSTL (daily and, when the data shows
   it, weekly cycles) with an AutoETS trend and the seasonal naive method; without a season
   AutoETS, AutoTheta, AutoARIMA and the naive method. With enough series, two LightGBM models
   over all of them (`bot.foresight.global_model`: on daily differences and on levels) join in;
2. each candidate is fitted once, without the history's last two windows of `window` rows, and
   forecasts each window from the rows before it;
3. the TOP_K candidates with the smallest error on the last window are averaged, weighted by the
   inverse square of that error (combining the best few is more robust than trusting the single
   best of one window; the square keeps a poor third from diluting two good ones);
4. the interval is split-conformal: its half-width is the `level` quantile of the combination's
   errors on the earlier window, which played no part in the choice (`_half_width`).

The test horizon is never looked at: both windows lie inside the history.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from bot.domain.errors import InvalidInput
from bot.foresight.candidates import MIN_WINDOW, CandidateForecast, run_candidates, validation_window
from bot.foresight.season import MIN_CYCLES, acf_peak, detect_periods, sampling_interval

MIN_SEASONS_TO_FIT = 2  # full cycles a seasonal model needs
MAX_SEASON_ROWS = 5000  # weekly cycles at sub-hourly sampling are too long to fit cheaply
TOP_K = 3  # candidates averaged per series


@dataclass(frozen=True)
class Forecast:
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    season: int | None  # the shortest seasonal period used, in rows
    models: tuple[str, ...] = ()  # the candidates the forecast averages


def seasons_for(values: np.ndarray, timestamps: np.ndarray | None = None) -> list[int]:
    """Seasonal periods (rows, ascending) to model: daily/weekly from timestamps, else an ACF peak."""
    step = sampling_interval(timestamps)
    if step is not None:
        periods = detect_periods(values, step)
    else:
        peak = acf_peak(values - values.mean(), len(values) // MIN_CYCLES) if len(values) >= 12 else None
        periods = [peak] if peak else []
    return [p for p in periods if p <= MAX_SEASON_ROWS]


@dataclass(frozen=True)
class _Job:
    name: str
    y: np.ndarray
    timestamps: np.ndarray | None
    horizon: int
    window: int
    season: int | None
    level: int


def _clean(values: Iterable[float]) -> np.ndarray:
    y = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    return y[np.isfinite(y)]


def _check(horizon: int, level: int) -> None:
    if horizon <= 0:
        raise InvalidInput(f"horizon must be a positive number of steps, got {horizon}")
    if not 0 < level < 100:
        raise InvalidInput(f"level must be a percentage between 0 and 100, got {level}")


def forecast(
    values: Iterable[float],
    horizon: int,
    season: int | None = None,
    level: int = 80,
    timestamps: np.ndarray | None = None,
) -> Forecast:
    """Forecast `horizon` steps past the last value with a `level`% prediction interval.

    `season` (rows) overrides detection; 1 or 0 means no season."""
    stamps = None if timestamps is None else np.asarray(timestamps, dtype=float)
    return forecast_many({"series": (np.asarray(values, dtype=float), stamps)}, horizon, season, level, 1)[
        "series"
    ]


def _seasons(job: _Job) -> list[int]:
    if job.season is not None:
        seasons = [job.season] if job.season > 1 else []
    else:
        seasons = seasons_for(job.y, job.timestamps)
    return [s for s in seasons if len(job.y) - 2 * job.window >= MIN_SEASONS_TO_FIT * s + 1]


def _local(job: _Job) -> tuple[str, list[CandidateForecast], int | None]:
    seasons = _seasons(job)
    return (
        job.name,
        run_candidates(job.y, job.horizon, job.window, seasons, job.level),
        (seasons[0] if seasons else None),
    )


def forecast_many(
    series: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
    horizon: int,
    season: int | None = None,
    level: int = 80,
    workers: int | None = None,
) -> dict[str, Forecast]:
    """Forecast many series (name -> (values, timestamps)); local models over `workers` processes."""
    _check(horizon, level)
    out: dict[str, Forecast] = {}
    jobs = []
    for name, (values, stamps) in series.items():
        keep = np.isfinite(np.asarray(values, dtype=float))
        y = np.asarray(values, dtype=float)[keep]
        if len(y) == 0:
            raise InvalidInput(f"cannot forecast series {name!r}: it has no numeric values")
        t = None if stamps is None else np.asarray(stamps, dtype=float)[keep]
        window = validation_window(len(y), horizon)
        if len(y) < 8 or float(np.ptp(y)) == 0.0 or window < MIN_WINDOW:
            out[name] = _flat(y, horizon, level)
        else:
            jobs.append(_Job(name, y, t, horizon, window, season, level))
    workers = workers or min(2, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) < 4:
        local = [_local(job) for job in jobs]
        extra = _global(jobs, horizon)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending = pool.map(_local, jobs, chunksize=max(1, len(jobs) // (8 * workers)))
            # the global model trains here while the workers fit the local ones: otherwise its
            # single-threaded fit would leave a core idle at the end
            extra = _global(jobs, horizon)
            local = list(pending)
    for job, (name, candidates, first_season) in zip(jobs, local, strict=True):
        candidates = [*candidates, *extra.get(name, [])]
        out[name] = (
            combine(candidates, job.y[-2 * job.window :], level, first_season)
            if candidates
            else _flat(job.y, horizon, level)
        )
    return {name: out[name] for name in series}


def _global(jobs: list[_Job], horizon: int) -> dict[str, list[CandidateForecast]]:
    """The global models' forecasts, for the series that share the commonest validation window and
    a regular sampling step."""
    from bot.foresight.global_model import global_forecasts

    by_window: dict[tuple[int, float], dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for job in jobs:
        step = sampling_interval(job.timestamps)
        if job.timestamps is None or step is None:
            step = 3600.0  # positions only: treat as hourly, the calendar features become phases
            stamps = step * np.arange(len(job.y), dtype=float)
        else:
            stamps = job.timestamps
        by_window.setdefault((job.window, step), {})[job.name] = (job.y, stamps)
    out: dict[str, list[CandidateForecast]] = {}
    for (window, step), group in by_window.items():
        out |= global_forecasts(group, horizon, window, step)
    return out


def combine(
    candidates: list[CandidateForecast], tail: np.ndarray, level: int, season: int | None
) -> Forecast:
    """The TOP_K candidates by validation error, weighted by its inverse square, with an interval.

    `tail` is the history's last two windows: the candidates are chosen and weighted on the last,
    and the interval is calibrated on the combination's errors over the earlier one, which took no
    part in the choice."""
    window = len(tail) // 2
    earlier_actual, actual = tail[:window], tail[window:]
    errors = np.array([float(np.mean(np.abs(c.validation - actual))) for c in candidates])
    best = np.argsort(errors, kind="stable")[:TOP_K]
    weights = 1.0 / np.maximum(errors[best], 1e-12 * (1.0 + float(np.mean(np.abs(actual))))) ** 2
    weights /= weights.sum()
    chosen = [candidates[k] for k in best]
    mean = np.sum([w * c.mean for w, c in zip(weights, chosen, strict=True)], axis=0)
    earlier = np.sum([w * c.earlier for w, c in zip(weights, chosen, strict=True)], axis=0)
    half = _half_width(candidates, np.abs(earlier_actual - earlier), level)
    return Forecast(mean, mean - half, mean + half, season, tuple(c.name for c in chosen))


def _half_width(candidates: list[CandidateForecast], residual: np.ndarray, level: int) -> np.ndarray:
    """Split-conformal half-width over the horizon, from the combination's errors on a window that
    took no part in choosing it.

    The `level` quantile of those absolute errors (finite-sample rank), shaped over the horizon by
    how the candidates' model intervals widen with the step. The errors come from the earlier
    validation window, not the one the candidates were chosen on: the chosen combination's errors
    on its own window are small because it was chosen for them (on M4's training series that
    quantile covered 72% for a nominal 80%, the earlier window's 78%). The model intervals only
    shape it: alone they covered 93% (each assumes its model is the true one)."""
    n = len(residual)
    rank = min(1.0, math.ceil((n + 1) * level / 100.0) / n)  # the finite-sample conformal quantile
    conformal = float(np.quantile(residual, rank))
    widths = [c.upper - c.lower for c in candidates if float(np.max(c.upper - c.lower)) > 0.0]
    if not widths:
        return np.full(len(candidates[0].mean), conformal)
    model = np.median(widths, axis=0) / 2.0
    base = float(np.mean(model[:n]))
    shape = model / base if base > 0 else np.ones(len(model))
    return conformal * shape


def _flat(y: np.ndarray, horizon: int, level: int) -> Forecast:
    """Too little or constant data: the last value, with the spread of the steps seen so far."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 200.0)
    spread = float(np.std(np.diff(y))) if len(y) > 2 else 0.0
    steps = np.sqrt(np.arange(1, horizon + 1))
    mean = np.full(horizon, y[-1])
    return Forecast(mean, mean - z * spread * steps, mean + z * spread * steps, None)
