"""The local forecasting models, each scored on the series' own last window before it forecasts.

Every candidate is a statsforecast model. It is fitted once, on the history without its last
`window` rows, and forecasts that window (the cross-validation forecast the ensemble weighs it
by); the same fitted parameters then forecast the horizon from the whole history (`forward`), so
a candidate costs one fit. Only the most recent FIT_ROWS rows are fitted: enough for weekly
cycles, and it bounds the cost of a long history.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FIT_ROWS = 24 * 7 * 4  # four weeks of hourly data
MIN_WINDOW = 4  # a shorter validation window says nothing about a model


@dataclass(frozen=True)
class CandidateForecast:
    """One model's forecast of the validation window and of the horizon (with its interval)."""

    name: str
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
    return {
        "MSTL+AutoETS": lambda: MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN")),
        # left out, from M4's hourly training series: seasonal AutoETS cost more than the rest
        # together and was never among the best (its trend role is MSTL's); MSTL with an AutoARIMA
        # trend cost more than the other local models together for 0.014 of MASE (bench/RESULTS.md)
        "AutoTheta": lambda: AutoTheta(season_length=daily),
        "seasonal naive": lambda: SeasonalNaive(season_length=daily),
    }


def run_candidates(
    y: np.ndarray, horizon: int, window: int, seasons: list[int], level: int, names: list[str] | None = None
) -> list[CandidateForecast]:
    """Fit every candidate on y[:-window], forecast the window, then the horizon from all of y."""
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    fit_on = y[:-window][-FIT_ROWS:]
    recent = y[-FIT_ROWS:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsforecast's optimiser notes: the validation judges the fit
        try:
            model = make().fit(y=fit_on)
            validation = np.asarray(model.predict(h=window)["mean"], dtype=float)
            try:
                out = model.forward(y=recent, h=horizon, level=[level])
            except (NotImplementedError, AttributeError):  # a model without `forward` is refitted
                out = make().forecast(y=recent, h=horizon, level=[level])
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError):
            return None  # a degenerate fit: the other candidates still answer
    mean = np.asarray(out["mean"], dtype=float)
    lower = np.asarray(out.get(f"lo-{level}", mean), dtype=float)
    upper = np.asarray(out.get(f"hi-{level}", mean), dtype=float)
    if not (np.isfinite(validation).all() and np.isfinite(mean).all()):
        return None
    lower = np.where(np.isfinite(lower), lower, mean)
    upper = np.where(np.isfinite(upper), upper, mean)
    return validation, mean, np.minimum(lower, mean), np.maximum(upper, mean)


def validation_window(length: int, horizon: int) -> int:
    """Rows held out of the history for validation: the horizon, but at most a fifth of it."""
    return max(0, min(horizon, length // 5))
