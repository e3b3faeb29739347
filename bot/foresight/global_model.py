"""Gradient-boosted models over many series: mlforecast with LightGBM on lags and calendar.

Two models, each over all the series, each series standardised on its own so that one model
learns the shapes that many series share (the daily profile's drift, the week's rhythm, recovery
after a dip) while each keeps its level and scale:

- on the series differenced at the daily lag (it extrapolates a level the trees never saw);
- on the levels themselves (it pulls a forecast back towards what the series has done).

They err differently, so the ensemble gains from having both (on M4's hourly training series,
each without its last 48 points: ensemble MASE 0.802 with the first model, 0.776 with both;
bench/RESULTS.md). Each is trained once, on every series without its last two windows of
`window` rows; the same trees forecast the earlier window, the last one (the validation forecast
that the ensemble weighs it by) and the horizon from the whole history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bot.foresight.candidates import CandidateForecast

NAME = "LightGBM (global)"
LEVELS_NAME = "LightGBM (global, levels)"
DAY = 86_400.0
MAX_WEEKS = 3  # weekly lags reach this many weeks back when the histories are long enough
MIN_WEEKS = 3  # a series shorter than this after validation is left to the local models
MIN_TRAIN_DAYS = 2  # rows a series keeps for training after its longest lag
MIN_TOTAL_ROWS = 2000  # fewer history rows than this: too little for trees
TREES, LEAVES, RATE = 250, 63, 0.05
# absolute error (the median), not squared: forecasts are scored by absolute error (MASE), and ops
# series have bursts that a squared loss chases (on M4's training series: MASE 0.926 alone against
# 0.943, and 0.823 against 0.857 in the ensemble, for the same cost)
OBJECTIVE = "l1"
# one thread: the local models already run one process per core, and OpenMP threads that spin
# while other work holds the cores cost more CPU than they save


def daily_lag(step: float) -> int:
    return max(1, round(DAY / step))


def weeks_of_lags(lengths: list[int], daily: int) -> int:
    """Weekly lags to use (1..MAX_WEEKS): as many as leave the median series a week to train on."""
    median = float(np.median(lengths)) if lengths else 0.0
    return max(1, min(MAX_WEEKS, int(median // (7 * daily)) - 1))


def lags(daily: int, weeks: int) -> list[int]:
    """The last day, the rows beside one and two days back, eight days and the weeks back.

    The neighbours of the seasonal lags let the trees see whether the cycle runs early or late
    (on M4's training series the global model alone went from MASE 0.929 to 0.876 with them)."""
    week = 7 * daily
    near = {*range(1, daily + 2), 2 * daily - 1, 2 * daily + 1, week - 1, week + 1}
    return sorted({*near, *(k * daily for k in range(1, 9)), *(k * week for k in range(1, weeks + 1))} - {0})


def usable(length: int, window: int, step: float, weeks: int = MAX_WEEKS) -> bool:
    daily = daily_lag(step)
    rows = length - 2 * window
    return rows >= MIN_WEEKS * 7 * daily and rows >= weeks * 7 * daily + MIN_TRAIN_DAYS * daily


def _hour(ds: np.ndarray) -> np.ndarray:
    return (ds // 3600) % 24


def _weekday(ds: np.ndarray) -> np.ndarray:
    return (ds // 86_400) % 7


def global_forecasts(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]], horizon: int, window: int, step: float
) -> dict[str, list[CandidateForecast]]:
    """Both models' validation and horizon forecasts per series (name -> (values, unix seconds))."""
    import pandas as pd
    from mlforecast.target_transforms import Differences, LocalStandardScaler

    daily = daily_lag(step)
    weeks = weeks_of_lags([len(y) - 2 * window for y, _ in series.values()], daily)
    names = [n for n, (y, _) in series.items() if usable(len(y), window, step, weeks)]
    if sum(len(series[n][0]) - 2 * window for n in names) < MIN_TOTAL_ROWS:
        return {}

    def frame(cut: int) -> pd.DataFrame:
        parts = []
        for n in names:
            y, t = series[n]
            end = len(y) - cut
            # integer seconds on a regular grid that ends where the series ends
            ds = (np.round(t[end - 1] / step) * step + step * np.arange(-end + 1, 1)).astype(np.int64)
            parts.append(pd.DataFrame({"unique_id": n, "ds": ds, "y": y[:end]}))
        return pd.concat(parts, ignore_index=True)

    frames = (frame(2 * window), frame(window), frame(0))
    out: dict[str, list[CandidateForecast]] = {n: [] for n in names}
    for name, transforms in (
        (NAME, [Differences([daily]), LocalStandardScaler()]),
        (LEVELS_NAME, [LocalStandardScaler()]),
    ):
        for n, candidate in _one_model(
            name, transforms, frames, horizon, window, step, lags(daily, weeks)
        ).items():
            out[n].append(candidate)
    return {n: found for n, found in out.items() if found}


def _one_model(
    name: str, transforms: list[Any], frames: tuple[Any, Any, Any], horizon: int, window: int,
    step: float, lag_rows: list[int],
) -> dict[str, CandidateForecast]:  # fmt: skip
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    daily = daily_lag(step)
    model = MLForecast(
        models={
            "lgb": lgb.LGBMRegressor(
                n_estimators=TREES,
                num_leaves=LEAVES,
                learning_rate=RATE,
                objective=OBJECTIVE,
                n_jobs=1,
                verbosity=-1,
            )
        },
        freq=int(step),
        lags=lag_rows,
        lag_transforms={1: [RollingMean(window_size=daily)], daily: [RollingMean(window_size=7 * daily)]},
        date_features=[_hour, _weekday],
        target_transforms=transforms,
    )
    train, before, whole = frames
    model.fit(train, static_features=[])
    earlier = _by_series(model.predict(window))
    validation = _by_series(model.predict(window, new_df=before))
    ahead = _by_series(model.predict(horizon, new_df=whole))
    parts = (earlier, validation, ahead)
    return {
        n: CandidateForecast(name, earlier[n], validation[n], ahead[n], ahead[n], ahead[n])
        for n in ahead
        if all(n in part and np.isfinite(part[n]).all() for part in parts)
    }


def _by_series(frame: object) -> dict[str, np.ndarray]:
    return {str(n): g["lgb"].to_numpy(dtype=float) for n, g in frame.groupby("unique_id", sort=False)}  # type: ignore[attr-defined]
