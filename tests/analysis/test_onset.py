"""Onset detection: sustained shifts against a robust baseline, not single points."""

from __future__ import annotations

import numpy as np
import pytest

from bot.analysis.onset import detect_shift, robust_baseline

T0 = 1_800_000_000.0
STEP = 30.0


def _grid(n: int = 240) -> np.ndarray:
    return T0 + STEP * np.arange(n)


def _noise(n: int, level: float, spread: float, seed: int = 1) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0, spread, n)


def test_step_change_is_found_at_its_onset_with_its_magnitude() -> None:
    ts = _grid()
    values = _noise(240, 0.003, 0.0005)
    values[180:] = _noise(60, 0.14, 0.01, seed=2)
    shift = detect_shift(ts, values, baseline_end=ts[120], rel=2.0, abs_min=0.01)
    assert shift.elevated and shift.ongoing and not shift.cleared
    assert shift.onset == ts[180]
    assert 0.002 < shift.baseline < 0.004
    assert shift.peak > 0.13 and shift.ratio > 30


def test_single_spikes_and_noise_are_not_episodes() -> None:
    ts = _grid()
    values = _noise(240, 100.0, 5.0)
    values[[150, 170, 200]] = 400.0  # three isolated scrape glitches
    shift = detect_shift(ts, values, baseline_end=ts[120], rel=0.4)
    assert not shift.elevated and shift.onset is None


def test_episode_that_ended_is_cleared() -> None:
    ts = _grid()
    values = _noise(240, 0.5, 0.02)
    values[160:175] = 4.8
    shift = detect_shift(ts, values, baseline_end=ts[120], rel=0.5, abs_min=0.05)
    assert shift.elevated and shift.cleared and not shift.ongoing
    assert shift.onset == ts[160] and shift.end == ts[174]
    assert shift.current < 1.0


def test_floor_makes_a_high_absolute_level_abnormal_even_from_a_noisy_baseline() -> None:
    ts = _grid()
    values = np.concatenate([np.linspace(0.2, 0.7, 150), np.full(90, 0.95)])  # a slow ramp into the limit
    shift = detect_shift(ts, values, baseline_end=ts[100], rel=0.25, abs_min=0.1, floor=0.85)
    assert shift.elevated and shift.ongoing
    assert ts[150] <= shift.onset <= ts[151]


@pytest.mark.parametrize("fill", [np.nan, 0.0])
def test_missing_or_flat_series_have_no_shift(fill: float) -> None:
    ts = _grid(60)
    shift = detect_shift(ts, np.full(60, fill), baseline_end=ts[30])
    assert not shift.elevated


def test_robust_baseline_ignores_outliers() -> None:
    values = np.array([1.0, 1.1, 0.9, 1.0, 50.0, 1.05, np.nan])
    med, mad = robust_baseline(values)
    assert med == pytest.approx(1.025, abs=0.03)
    assert mad < 0.2


def test_step_across_compares_the_minutes_before_a_moment_with_the_time_after() -> None:
    from bot.analysis.onset import step_across

    ts = np.arange(0.0, 1800.0, 30.0)
    values = np.where(ts < 600, 0.08, 0.34)  # slow from 10 min on
    values = np.where(ts >= 900, 0.36, values)  # ... and barely slower from 15 min
    assert step_across(ts, values, 900.0, 300.0, 1800.0) == pytest.approx(0.02)  # already slow before
    assert step_across(ts, values, 600.0, 300.0, 900.0) == pytest.approx(0.26)
    values[(ts >= 300) & (ts < 600)] = np.nan
    assert np.isnan(step_across(ts, values, 600.0, 300.0, 900.0))  # nothing to compare with
