"""Forecasts: shape, honest intervals on seasonal load, and season detection."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from bot.domain.errors import InvalidInput
from bot.foresight.candidates import CandidateForecast
from bot.foresight.forecast import combine, forecast, forecast_many
from bot.foresight.season import detect_period

HOUR = 3600.0


def _load(days: int, seed: int, weekly: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    i = np.arange(days * 24)
    y = 200 + 60 * np.sin(2 * np.pi * i / 24) + 0.05 * i + rng.normal(0, 8, len(i))
    if weekly:
        y -= np.where((i // 24) % 7 >= 5, 70.0, 0.0)
    return y, 1.7e9 + HOUR * i


def test_forecast_shape_and_ordering() -> None:
    y, t = _load(20, 0)
    fc = forecast(y, 36, timestamps=t)
    assert fc.mean.shape == fc.lower.shape == fc.upper.shape == (36,)
    assert np.all(fc.lower <= fc.mean) and np.all(fc.mean <= fc.upper)
    assert fc.season == 24


def test_intervals_hold_about_80_percent_of_held_out_points() -> None:
    inside, total, errors = 0, 0, []
    for seed in range(12):
        y, t = _load(28, seed)
        fc = forecast(y[:-48], 48, timestamps=t[:-48])
        actual = y[-48:]
        inside += int(np.sum((actual >= fc.lower) & (actual <= fc.upper)))
        total += 48
        errors.append(np.mean(np.abs(actual - fc.mean)))
    assert 0.65 <= inside / total <= 0.95
    assert np.mean(errors) < 12.0  # noise alone has a mean absolute error of 6.4


def test_season_is_detected_from_hourly_timestamps() -> None:
    y, t = _load(21, 1)
    assert detect_period(y, t) == 24
    weekly, tw = _load(35, 2, weekly=True)
    assert detect_period(weekly, tw) == 168
    noise = np.random.default_rng(3).normal(0, 1, 24 * 21)
    assert detect_period(noise, t) is None


def test_explicit_season_and_no_season() -> None:
    y, _ = _load(14, 4)
    assert forecast(y, 12, season=24).season == 24
    assert forecast(y, 12, season=1).season is None
    flat = forecast(np.full(50, 3.0), 5)
    np.testing.assert_array_equal(flat.mean, np.full(5, 3.0))


def test_bad_horizon_is_refused() -> None:
    with pytest.raises(InvalidInput, match="horizon"):
        forecast(np.arange(30.0), 0)


def test_many_series_in_parallel_match_one_by_one() -> None:
    series = {f"s{k}": _load(10, k) for k in range(4)}
    together = forecast_many(series, 24, workers=2)
    for name, (y, t) in series.items():
        np.testing.assert_allclose(together[name].mean, forecast(y, 24, timestamps=t).mean)


def test_ensemble_beats_seasonal_naive_on_a_growing_seasonal_series() -> None:
    ours, naive = [], []
    for seed in range(4):
        y, t = _load(35, 10 + seed, weekly=True)
        history, actual = y[:-48], y[-48:]
        fc = forecast(history, 48, timestamps=t[:-48])
        ours.append(np.mean(np.abs(actual - fc.mean)))
        naive.append(np.mean(np.abs(actual - np.tile(history[-24:], 2))))
        assert fc.models and all(isinstance(m, str) for m in fc.models)
    assert np.mean(ours) < 0.8 * np.mean(naive)


def _candidate(name: str, earlier: np.ndarray, validation: np.ndarray, mean: float) -> CandidateForecast:
    return CandidateForecast(
        name, earlier, validation, np.full(5, mean), np.full(5, mean - 1.0), np.full(5, mean + 1.0)
    )


def test_combination_weights_the_candidate_that_validated_best() -> None:
    actual = np.arange(10.0)
    earlier = np.zeros(10)
    good = _candidate("good", earlier, actual + 0.1, 1.0)
    fair = _candidate("fair", earlier, actual + 1.0, 5.0)
    poor = _candidate("poor", earlier, actual + 2.0, 9.0)
    bad = _candidate("bad", earlier, actual + 9.0, 99.0)
    fc = combine([bad, poor, fair, good], np.concatenate([earlier + 1.0, actual]), 80, None)
    assert fc.models == ("good", "fair", "poor")
    # inverse-square-error weights 100:1:1/4 among the three best; the worst is left out
    np.testing.assert_allclose(fc.mean, (100 * 1.0 + 1 * 5.0 + 0.25 * 9.0) / 101.25)
    assert np.all(fc.lower < fc.mean) and np.all(fc.upper > fc.mean)


def test_interval_is_calibrated_on_the_window_the_choice_did_not_see() -> None:
    """Perfect on the last window, errors 0..9 on the earlier one: the interval is their quantile."""
    actual = np.arange(10.0)
    earlier = np.full(10, 50.0)
    chosen = _candidate("chosen", earlier, actual, 3.0)
    fc = combine([chosen], np.concatenate([earlier + np.arange(10.0), actual]), 80, None)
    # the finite-sample conformal rank: ceil(11 x 0.8) / 10 = the 0.9 quantile of 0..9
    np.testing.assert_allclose(fc.upper - fc.mean, np.quantile(np.arange(10.0), 0.9))
    np.testing.assert_allclose(fc.mean - fc.lower, np.quantile(np.arange(10.0), 0.9))


def test_80_percent_interval_covers_80_percent_where_the_truth_is_known() -> None:
    """Daily cycles plus Gaussian noise of sigma 10: the ideal 80% interval is +-12.8 and covers
    exactly 80%. Many series at once, so the global model takes part as on M4."""
    rng = np.random.default_rng(42)
    sigma, horizon = 10.0, 48
    series, future = {}, {}
    for k in range(16):
        i = np.arange(28 * 24)
        level = rng.uniform(100, 300)
        y = (
            level
            + 0.3 * level * np.sin(2 * np.pi * (i + rng.integers(24)) / 24)
            + rng.normal(0, sigma, len(i))
        )
        series[f"s{k}"] = (y[:-horizon], 1.7e9 + HOUR * i[:-horizon])
        future[f"s{k}"] = y[-horizon:]
    out = forecast_many(series, horizon, workers=2)
    covered = [np.mean((future[n] >= fc.lower) & (future[n] <= fc.upper)) for n, fc in out.items()]
    assert 0.72 <= float(np.mean(covered)) <= 0.88
    ideal = NormalDist().inv_cdf(0.9) * sigma
    width = float(np.median([np.median(fc.upper - fc.mean) for fc in out.values()]))
    assert 0.8 * ideal <= width <= 1.3 * ideal


def test_validation_uses_only_the_history() -> None:
    """The forecast from a history does not depend on what follows it."""
    y, t = _load(28, 5)
    first = forecast(y[:-48], 24, timestamps=t[:-48])
    changed = y.copy()
    changed[-48:] += 500.0
    second = forecast(changed[:-48], 24, timestamps=t[:-48])
    np.testing.assert_array_equal(first.mean, second.mean)


def test_global_models_join_when_there_are_enough_series() -> None:
    series = {f"s{k}": _load(28, 20 + k) for k in range(4)}
    from bot.foresight.candidates import validation_window
    from bot.foresight.global_model import LEVELS_NAME, NAME, global_forecasts

    window = validation_window(28 * 24, 24)
    out = global_forecasts(series, 24, window, HOUR)
    assert set(out) == set(series)
    for name, (y, _) in series.items():
        assert [c.name for c in out[name]] == [NAME, LEVELS_NAME]
        for candidate in out[name]:
            assert candidate.mean.shape == (24,) and candidate.validation.shape == (window,)
            assert candidate.earlier.shape == (window,)
            # it learned the daily cycle: its validation beats a flat line at the window's mean
            actual = y[-window:]
            flat = np.mean(np.abs(actual - actual.mean()))
            assert np.mean(np.abs(candidate.validation - actual)) < 0.5 * flat


def test_weekly_lags_reach_as_far_as_the_histories_allow() -> None:
    from bot.foresight.global_model import lags, usable, weeks_of_lags

    assert weeks_of_lags([24 * 26] * 4, 24) == 2  # 26 days: two weeks back leave a week to train on
    assert weeks_of_lags([24 * 40] * 4, 24) == 3
    assert weeks_of_lags([24 * 400] * 4, 24) == 3
    week_lags = lags(24, 3)
    assert {23, 24, 25, 47, 48, 49, 167, 168, 169, 336, 504} <= set(week_lags)
    assert max(lags(24, 2)) == 336
    # a series must keep two days of rows to train on beyond its longest lag
    assert usable(504 + 48 + 2 * 48, 48, HOUR, 3) and not usable(504 + 47 + 2 * 48, 48, HOUR, 3)


def test_stl_jumps_are_r_defaults_for_the_shortest_period() -> None:
    from bot.foresight.candidates import stl_jumps

    # trend window 43 and low-pass window 25 for a daily period of 24 hourly rows
    assert stl_jumps(24) == {"trend_jump": 5, "low_pass_jump": 3}


def test_jumped_mstl_forecasts_like_the_full_decomposition() -> None:
    """The loess jumps interpolate the smoothers: the forecast barely moves, at a fraction of the cost."""
    from statsforecast.models import MSTL, AutoETS

    from bot.foresight.candidates import stl_jumps

    y, _ = _load(35, 30, weekly=True)
    full = MSTL(season_length=[24, 168], trend_forecaster=AutoETS(model="ZZN")).forecast(y=y, h=48)["mean"]
    jumped = MSTL(season_length=[24, 168], trend_forecaster=AutoETS(model="ZZN"), stl_kwargs=stl_jumps(24))
    fast = jumped.forecast(y=y, h=48)["mean"]
    # within a fortieth of the noise (sigma 8)
    assert float(np.mean(np.abs(np.asarray(fast) - np.asarray(full)))) < 0.2
