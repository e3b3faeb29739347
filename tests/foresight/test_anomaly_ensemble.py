"""The default detector: every setting of the grid, combined by their power mean."""

from __future__ import annotations

import math

import numpy as np

from bot.foresight.anomaly import DEFAULT, _pipeline, score_series
from bot.foresight.anomaly_members import POWER, Ensemble, Layout, Setting, grid
from bot.foresight.anomaly_stream import StreamingDetector


def _series() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    i = np.arange(3000)
    values = 100 + 10 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 1.0, len(i))
    values[1500:1510] += 30.0  # a burst
    values[2400:] -= 15.0  # and a level shift
    return values, 1.7e9 + 300.0 * i


def test_the_default_is_the_power_mean_of_every_setting_of_the_grid() -> None:
    values, stamps = _series()
    members = np.stack([score_series(values, stamps, s) for s in grid()])
    assert Ensemble(grid(), POWER) == DEFAULT and len(DEFAULT.members) == 45
    expected = np.mean(members**POWER, axis=0) ** (1 / POWER)
    np.testing.assert_allclose(score_series(values, stamps), expected, rtol=1e-12, atol=1e-15)
    # the members' own scores are the ones each setting gives alone
    stages = _pipeline(values, stamps, 0, True, Layout.of(DEFAULT))
    np.testing.assert_array_equal(stages["member"], members)


def test_the_power_runs_from_the_mean_to_the_maximum() -> None:
    values, stamps = _series()
    members = np.stack([score_series(values, stamps, s) for s in grid()])
    mean = score_series(values, stamps, Ensemble(power=1.0))
    most = score_series(values, stamps, Ensemble(power=math.inf))
    np.testing.assert_allclose(mean, members.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(most, members.max(axis=0))
    default = score_series(values, stamps)
    assert np.all(mean <= default + 1e-12) and np.all(default <= most + 1e-12)


def test_an_ensemble_of_one_is_that_setting() -> None:
    values, stamps = _series()
    one = Setting(gate=0.999, refractory=128, spatial_warmup=288)
    alone = score_series(values, stamps, one)
    np.testing.assert_array_equal(score_series(values, stamps, Ensemble((one,))), alone)


def test_members_that_share_a_warmup_and_refractory_share_their_work() -> None:
    layout = Layout.of(DEFAULT)
    assert list(layout.warmups) == [288, 750, 2048]
    assert len(layout.pairs) == 9  # 3 warm-ups x 3 refractory windows, for 45 members
    assert np.bincount(layout.pair_of).tolist() == [5] * 9  # each pair carries the 5 gates


def test_the_ensemble_streams_as_it_scores_a_whole_series() -> None:
    values, stamps = _series()
    detector = StreamingDetector()
    streamed = np.array([detector.update(v, t) for v, t in zip(values[:1600], stamps[:1600], strict=True)])
    scores = score_series(values[:1600], stamps[:1600])
    np.testing.assert_array_equal(streamed, scores)
    assert scores[1500:1504].max() > 0.5 > scores[800:1500].max()  # the burst is news, the days are not


def test_the_gates_quantiles_are_numpys_over_each_blocks_history() -> None:
    """The running top that spares a quantile call per early block gives np.quantile exactly."""
    from bot.foresight.anomaly_members import GATE_HISTORY, GATES, upper_quantiles
    from bot.foresight.anomaly_stats import BLOCK, MIN_HISTORY

    rng = np.random.default_rng(5)
    scores = rng.random(GATE_HISTORY + 900) ** 6
    scores[rng.random(len(scores)) < 0.3] = 0.0  # damped scores repeat values
    quantiles = [q for q in GATES if q is not None]
    got = upper_quantiles(scores, GATE_HISTORY, quantiles)
    for k, start in enumerate(range(0, len(scores), BLOCK)):
        window = scores[max(0, start - GATE_HISTORY) : start]
        expected = np.quantile(window, quantiles) if start >= MIN_HISTORY else np.full(len(quantiles), np.nan)
        np.testing.assert_array_equal(got[:, k], expected)
