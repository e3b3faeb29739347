"""Streaming anomaly scores: causal, bounded, identical row by row, and alert on what matters."""

from __future__ import annotations

import numpy as np
import pytest

from bot.foresight.anomaly import Setting, score_series
from bot.foresight.anomaly_stream import StreamingDetector

UNGATED = Setting(gate=None)  # stages 1-3 alone: the measure, its calibration, refractory damping
ALERT = 0.45  # the ALARM level the calibration aims at (before the per-series gate)


def _noise(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(50.0, 2.0, n), 1.7e9 + 60.0 * np.arange(n)


def _seasonal(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    return 100 + 30 * np.sin(2 * np.pi * i / 24) + rng.normal(0, 2, n), 1.7e9 + 3600.0 * i


@pytest.mark.parametrize("cut", [100, 777, 1024, 1500])
def test_scores_are_causal(cut: int) -> None:
    values, stamps = _seasonal(2000, 1)
    values[1200:] += 40
    values[700] += 80
    full = score_series(values, stamps)
    np.testing.assert_array_equal(score_series(values[:cut], stamps[:cut]), full[:cut])


def test_scores_are_bounded_one_per_row() -> None:
    values, stamps = _seasonal(1000, 2)
    values[500] = np.nan
    values[600] += 1e6
    scores = score_series(values, stamps)
    assert scores.shape == values.shape
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert len(score_series(np.array([]))) == 0


def test_streaming_update_matches_vectorised() -> None:
    values, stamps = _seasonal(500, 3)
    values[400:] -= 50
    detector = StreamingDetector()
    streamed = np.array([detector.update(v, t) for v, t in zip(values, stamps, strict=True)])
    np.testing.assert_array_equal(streamed, score_series(values, stamps))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quiet_on_stationary_noise(seed: int) -> None:
    values, stamps = _noise(1500, seed)
    scores = score_series(values, stamps)
    assert np.quantile(scores, 0.99) < 0.1
    assert scores.max() < ALERT


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("change", ["shift_up", "shift_down", "spike"])
def test_flags_an_injected_change_soon_after_it(seed: int, change: str) -> None:
    values, stamps = _noise(1200, seed)
    quiet = score_series(values, stamps)[100:900].max()
    if change == "spike":
        values[900] += 25.0
    else:
        values[900:] += 12.0 if change == "shift_up" else -12.0
    scores = score_series(values, stamps)
    assert scores[900:905].max() > max(quiet, ALERT)


def test_seasonal_peaks_are_not_anomalies_but_a_missing_peak_is() -> None:
    values, stamps = _seasonal(24 * 40, 4)
    calm = score_series(values, stamps)
    values[24 * 35 + 4 : 24 * 35 + 9] = 100.0  # the afternoon peak does not come
    hit = score_series(values, stamps)
    assert hit[24 * 35 + 4 : 24 * 35 + 9].max() > calm[24 * 20 :].max()


def test_bounded_history_gives_the_same_newest_score() -> None:
    """What a long-running StreamingDetector does after trimming its history to `keep` rows."""
    from bot.foresight.anomaly import DEFAULT, _pipeline
    from bot.foresight.anomaly_members import ALIGN, Layout

    values, stamps = _seasonal(DEFAULT.keep + 3 * ALIGN + 17, 5)
    values[-5] += 90
    full = score_series(values, stamps)
    for offset in (ALIGN, 3 * ALIGN):
        tail = _pipeline(values[offset:], stamps[offset:], offset, True, Layout.of(DEFAULT))["score"]
        assert tail[-1] == full[-1]
        assert tail[-6] == full[-6]


def test_a_burst_alarms_once() -> None:
    """Rows right after an alarm that rise further are its continuation, not new alarms."""
    values, stamps = _noise(1200, 6)
    values[900:906] += np.array([8.0, 12.0, 16.0, 20.0, 24.0, 28.0])  # a rising burst
    scores = score_series(values, stamps)
    alarms = np.flatnonzero(scores[880:] >= ALERT)
    assert len(alarms) == 1
    assert 900 <= 880 + alarms[0] <= 903


def test_jumps_that_every_cycle_makes_are_not_anomalies() -> None:
    """A noiseless daily square wave: its edges are predicted by the past cycles."""
    i = np.arange(288 * 14)
    values = np.where((i % 288) < 144, 20.0, 80.0)
    scores = score_series(values, 1.7e9 + 300.0 * i)
    assert scores[288 * 5 :].max() < 0.1
    values[288 * 10 + 50 : 288 * 10 + 60] = 80.0  # ... but an edge out of its time is
    stamps = 1.7e9 + 300.0 * i
    assert score_series(values, stamps, UNGATED)[288 * 10 + 50 : 288 * 10 + 55].max() > ALERT


def test_a_quantised_series_does_not_alarm_on_single_steps() -> None:
    """A flat gauge that now and then reads one step higher for a row: that step is its noise."""
    rng = np.random.default_rng(8)
    stamps = 1.7e9 + 300.0 * np.arange(3000)
    values = np.full(3000, 5.0)
    values[np.cumsum(rng.integers(10, 200, 40))[:30]] = 6.0
    assert score_series(values, stamps)[500:].max() < ALERT
    values[2500:] += 5.0  # a real change is still one
    assert score_series(values, stamps, UNGATED)[2500:2505].max() > ALERT
    detector = StreamingDetector()
    streamed = [detector.update(v, t) for v, t in zip(values[:700], stamps[:700], strict=True)]
    np.testing.assert_array_equal(streamed, score_series(values[:700], stamps[:700]))


@pytest.mark.parametrize("cut", [400, 1111, 2500])
def test_scores_are_causal_on_quantised_and_square_wave_series(cut: int) -> None:
    """The step floor and the seasonal jump check only look back too."""
    rng = np.random.default_rng(9)
    i = np.arange(3000)
    stamps = 1.7e9 + 300.0 * i
    for values in (np.round(rng.normal(5.0, 0.6, 3000)), np.where((i % 288) < 144, 20.0, 80.0)):
        values[2000:2010] += 7.0
        full = score_series(values, stamps)
        np.testing.assert_array_equal(score_series(values[:cut], stamps[:cut]), full[:cut])


def test_a_flat_series_that_jumped_once_still_alarms_on_a_smaller_step() -> None:
    """One earlier jump is no evidence that changes of that size are the series' noise."""
    stamps = 1.7e9 + 300.0 * np.arange(2000)
    values = np.full(2000, 3.0)
    values[800] = 300.0  # one reading far off, then back
    values[1500:] = 12.0
    scores = score_series(values, stamps, UNGATED)  # the gate would damp the second, smaller one
    assert scores[800] > ALERT
    assert scores[1500:1505].max() > ALERT


def test_online_gate_damps_what_is_ordinary_for_the_series() -> None:
    """The gate is causal, and a spike rare for its series keeps its full score."""
    rng = np.random.default_rng(8)
    i = np.arange(6000)
    values = 10 + np.sin(2 * np.pi * i / 288) + rng.normal(0, 0.2, len(i))
    values[5000] += 6.0
    stamps = 1.7e9 + 300.0 * i
    gated = score_series(values, stamps, Setting())
    plain = score_series(values, stamps, UNGATED)
    peak = 5000 + int(np.argmax(gated[5000:5004]))  # the short average can lag a row
    assert gated[peak] == plain[peak] and gated[peak] > 0.5
    assert np.all(gated <= plain) and np.any(gated < plain)  # the echoes after it are ordinary
    np.testing.assert_array_equal(score_series(values[:5001], stamps[:5001], Setting()), gated[:5001])


def test_the_record_gate_counts_only_what_beats_the_series_recent_scores() -> None:
    """Gate 1.0: a spike far smaller than one the series made in its last GATE_HISTORY rows is an
    echo of it; one as small after GATE_HISTORY rows without the big one counts in full."""
    from bot.foresight.anomaly_members import ECHO, GATE_HISTORY

    rng = np.random.default_rng(11)
    n = 3000 + GATE_HISTORY + 1000
    values = 50.0 + rng.normal(0.0, 1.0, n)
    stamps = 1.7e9 + 300.0 * np.arange(n)
    later = 3000 + GATE_HISTORY
    values[1000] += 200.0  # the record
    values[2000] += 12.0  # within GATE_HISTORY of it: ordinary for this series now
    values[later] += 12.0  # as small, but the record has left the gate's history
    record = Setting(gate=1.0)
    gated = score_series(values, stamps, record)
    plain = score_series(values, stamps, UNGATED)
    assert gated[1000] == plain[1000] > ALERT
    near = slice(2000, 2004)
    assert plain[near].max() > ALERT
    np.testing.assert_array_equal(gated[near], ECHO * plain[near])
    peak = later + int(np.argmax(plain[later : later + 4]))
    assert gated[peak] == plain[peak] > ALERT
    detector = StreamingDetector(record)
    streamed = [detector.update(v, t) for v, t in zip(values[:2100], stamps[:2100], strict=True)]
    np.testing.assert_array_equal(streamed, gated[:2100])
