"""The local forecasting models, each scored on the series' own last windows before it forecasts.

Every candidate is a statsforecast model. It is fitted once, on the history without its last two
windows of `window` rows, and forecasts the earlier of the two (`earlier`); the same fitted
parameters then forecast the last window from the history before it (`validation`, the
cross-validation forecast the ensemble selects and weighs by) and the horizon from the whole
history (`forward`), so a candidate costs one fit and neither window was seen by it. Only the
most recent FIT_ROWS rows are fitted: enough for weekly cycles, and it bounds the cost of a long
history.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FIT_ROWS = 24 * 7 * 4  # four weeks of hourly data
MIN_WINDOW = 4  # a shorter validation window says nothing about a model
FIRST_SEASONAL_WINDOW = 11  # statsforecast's MSTL: seasonal window 7 + 4k for the k-th period


@dataclass(frozen=True)
class CandidateForecast:
    """One model's forecast of the validation window and of the horizon (with its interval)."""

    name: str
    earlier: np.ndarray  # forecast of the `window` rows before the last `window`, from the rows before
    validation: np.ndarray  # forecast of the last `window` rows of the history, from the rows before
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def model_specs(seasons: list[int]) -> dict[str, Callable[[], Any]]:
    """Candidate name -> factory. Seasonal models need at least one period in `seasons`."""
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta, Naive, SeasonalNaive

    def arima() -> Any:
        # a non-seasonal search: MSTL has taken the cycles out, and seasonal ARIMA at 24 costs
        # seconds per series
        return AutoARIMA(max_p=3, max_q=3, seasonal=False, approximation=True)

    if not seasons:
        return {
            "AutoETS": lambda: AutoETS(model="ZZN"),
            "AutoTheta": lambda: AutoTheta(season_length=1),
            "AutoARIMA": arima,
            "naive": Naive,
        }
    daily = seasons[0]
    jumps = stl_jumps(daily)
    return {
        "MSTL+AutoETS": lambda: MSTL(
            season_length=seasons, trend_forecaster=AutoETS(model="ZZN"), stl_kwargs=jumps
        ),
        # left out, from M4's hourly training series (each without its last 48 points): seasonal
        # AutoETS cost more than the rest together and was never among the best (its trend role
        # is MSTL's); MSTL with an AutoARIMA trend cost more than the other local models together
        # for 0.014 of MASE; seasonal AutoTheta was the dearest left (0.06 CPU-s per series) and
        # the ensemble was better without it (MASE 0.822 against 0.830) (bench/RESULTS.md)
        "seasonal naive": lambda: SeasonalNaive(season_length=daily),
    }


def stl_jumps(period: int) -> dict[str, int]:
    """R's `stl` defaults for the loess jumps of the trend and low-pass smoothers (a tenth of each
    window), which statsmodels leaves at 1: the smoothers are evaluated at every jump-th point and
    interpolated between.

    The windows are the shortest period's (statsmodels' defaults); MSTL passes the same arguments
    for every period, so a longer period's smoothers jump less than R would. On M4's hourly
    training series this made MSTL with daily and weekly cycles 2.4 times cheaper at the same
    error (bench/RESULTS.md). The seasonal smoother is left at every point: jumping it cost
    accuracy there."""
    trend = math.ceil(1.5 * period / (1.0 - 1.5 / FIRST_SEASONAL_WINDOW))
    trend += 1 - trend % 2  # statsmodels rounds the windows up to odd lengths
    low_pass = period + 1 + (1 - (period + 1) % 2)
    return {"trend_jump": math.ceil(trend / 10), "low_pass_jump": math.ceil(low_pass / 10)}


def run_candidates(
    y: np.ndarray, horizon: int, window: int, seasons: list[int], level: int, names: list[str] | None = None
) -> list[CandidateForecast]:
    """Fit every candidate on y[:-2 window]; forecast both windows, then the horizon from all of y."""
    out = []
    for name, make in model_specs(seasons).items():
        if names is not None and name not in names:
            continue
        result = _run_one(make, y, horizon, window, level)
        if result is not None:
            out.append(CandidateForecast(name, *result))
    return out


def _run_one(
    make: Callable[[], Any], y: np.ndarray, horizon: int, window: int, level: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    fit_on = y[: -2 * window][-FIT_ROWS:]
    before = y[:-window][-FIT_ROWS:]
    recent = y[-FIT_ROWS:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsforecast's optimiser notes: the validation judges the fit
        try:
            model = make().fit(y=fit_on)
            earlier = np.asarray(model.predict(h=window)["mean"], dtype=float)
            try:
                validation = model.forward(y=before, h=window)["mean"]
                out = model.forward(y=recent, h=horizon, level=[level])
            except (NotImplementedError, AttributeError):  # a model without `forward` is refitted
                validation = make().forecast(y=before, h=window)["mean"]
                out = make().forecast(y=recent, h=horizon, level=[level])
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError):
            return None  # a degenerate fit: the other candidates still answer
    validation = np.asarray(validation, dtype=float)
    mean = np.asarray(out["mean"], dtype=float)
    lower = np.asarray(out.get(f"lo-{level}", mean), dtype=float)
    upper = np.asarray(out.get(f"hi-{level}", mean), dtype=float)
    if not (np.isfinite(earlier).all() and np.isfinite(validation).all() and np.isfinite(mean).all()):
        return None
    lower = np.where(np.isfinite(lower), lower, mean)
    upper = np.where(np.isfinite(upper), upper, mean)
    return earlier, validation, mean, np.minimum(lower, mean), np.maximum(upper, mean)


def validation_window(length: int, horizon: int) -> int:
    """Rows in each of the two validation windows: the horizon, but at most a fifth of the history."""
    return max(0, min(horizon, length // 5))
