"""One gradient-boosted model over many series: mlforecast with LightGBM on lags and calendar.

Each series is differenced at its daily lag and standardised on its own, so one model learns the
shapes that many series share (the daily profile's drift, the week's rhythm, recovery after a
dip) while each keeps its level and scale. The model is trained once, on every series without its
last two windows of `window` rows; the same trees forecast the earlier window, the last one (the
validation forecast that the ensemble weighs it by) and the horizon from the whole history.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bot.foresight.candidates import CandidateForecast

NAME = "LightGBM (global)"
DAY = 86_400.0
RECENT_LAGS = 24  # the last rows, whatever the sampling step
MIN_WEEKS = 3  # a series shorter than this after validation is left to the local models
MIN_TOTAL_ROWS = 2000  # fewer training rows than this: too little for trees
TREES, LEAVES, RATE = 250, 63, 0.05
# absolute error (the median), not squared: forecasts are scored by absolute error (MASE), and ops
# series have bursts that a squared loss chases (on M4's training series: MASE 0.926 alone against
# 0.943, and 0.823 against 0.857 in the ensemble, for the same cost)
OBJECTIVE = "l1"
# one thread: the local models already run one process per core, and OpenMP threads that spin
# while other work holds the cores cost more CPU than they save


def daily_lag(step: float) -> int:
    return max(1, round(DAY / step))


def usable(length: int, window: int, step: float) -> bool:
    return length - 2 * window >= MIN_WEEKS * 7 * daily_lag(step)


def _hour(ds: np.ndarray) -> np.ndarray:
    return (ds // 3600) % 24


def _weekday(ds: np.ndarray) -> np.ndarray:
    return (ds // 86_400) % 7


def global_forecasts(
    series: Mapping[str, tuple[np.ndarray, np.ndarray]], horizon: int, window: int, step: float
) -> dict[str, CandidateForecast]:
    """Validation and horizon forecasts per series (name -> (values, unix-second timestamps))."""
    import lightgbm as lgb
    import pandas as pd
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import Differences, LocalStandardScaler

    daily = daily_lag(step)
    names = [n for n, (y, _) in series.items() if usable(len(y), window, step)]
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
        lags=sorted({*range(1, RECENT_LAGS + 1), *(k * daily for k in (1, 2, 3, 4, 5, 6, 7, 14))}),
        lag_transforms={1: [RollingMean(window_size=daily)], daily: [RollingMean(window_size=7 * daily)]},
        date_features=[_hour, _weekday],
        target_transforms=[Differences([daily]), LocalStandardScaler()],
    )
    model.fit(frame(2 * window), static_features=[])
    earlier = _by_series(model.predict(window))
    validation = _by_series(model.predict(window, new_df=frame(window)))
    ahead = _by_series(model.predict(horizon, new_df=frame(0)))
    parts = (earlier, validation, ahead)
    return {
        n: CandidateForecast(NAME, earlier[n], validation[n], ahead[n], ahead[n], ahead[n])
        for n in names
        if all(n in part and np.isfinite(part[n]).all() for part in parts)
    }


def _by_series(frame: object) -> dict[str, np.ndarray]:
    return {str(n): g["lgb"].to_numpy(dtype=float) for n, g in frame.groupby("unique_id", sort=False)}  # type: ignore[attr-defined]
