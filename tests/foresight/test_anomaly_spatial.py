"""Numenta's spatial rule in the anomaly scores: a level never seen before is news, noise is not."""

from __future__ import annotations

import numpy as np
import pytest

from bot.foresight.anomaly import DEFAULT, _pipeline, score_series
from bot.foresight.anomaly_members import ALIGN, SPATIAL_TOLERANCE, Layout, Setting, spatial
from bot.foresight.anomaly_stream import StreamingDetector

ALERT = 0.45
WITHOUT = Setting(spatial_warmup=10**9)  # the rule never counts
ONE = Setting()  # one member of the default ensemble: the rule counts from row 750


def _stages(
    values: np.ndarray,
    stamps: np.ndarray | None,
    detector: Setting = ONE,
    offset: int = 0,
    **seen: tuple[float, float],
) -> dict[str, np.ndarray]:
    """The stages of a lone setting, its member arrays as one row each."""
    stages = _pipeline(values, stamps, offset, True, Layout.of(detector), **seen)
    return {k: v[0] if v.ndim == 2 else v for k, v in stages.items()}


def _daily(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    return 100 + 10 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 1.0, n), 1.7e9 + 300.0 * i


def test_a_slow_climb_to_a_level_never_seen_alarms_when_it_leaves_the_range() -> None:
    values, stamps = _daily(3000, 3)
    i = np.arange(3000)
    values[2000:] += np.minimum(0.02 * (i[2000:] - 2000), 12.0)  # 12 units over 600 rows, no jump
    stages = _stages(values, stamps)
    first = int(np.flatnonzero(stages["spatial"])[0])
    lo, hi = values[:first].min(), values[:first].max()
    assert values[first] > hi + SPATIAL_TOLERANCE * (hi - lo)  # it is the first row past the margin
    assert values[2000:first].max() <= hi + SPATIAL_TOLERANCE * (hi - lo)
    scores = score_series(values, stamps)
    assert scores[first] == 1.0
    assert scores[800:2000].max() < 0.1  # quiet before the climb
    without = score_series(values, stamps, WITHOUT)
    late = np.flatnonzero(without[2000:] >= ALERT)
    assert len(late) == 0 or 2000 + late[0] > first + 50  # the measure alone sees it late, if at all


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_white_noise_sets_records_but_they_are_not_news(seed: int) -> None:
    """The published rule (5% of the range) fires on white noise; the margin's noise floor does not."""
    rng = np.random.default_rng(seed)
    values = rng.normal(50.0, 2.0, 20000)
    stages = _stages(values, None)
    lo, hi, rows = stages["range.lo"], stages["range.hi"], np.arange(len(values))
    bare = spatial(values, lo, hi, np.zeros(len(values)), rows, np.array([750]))[0]
    assert bare.sum() > 0
    assert stages["spatial"].sum() == 0
    assert score_series(values)[750:].max() < ALERT


def test_the_rule_waits_for_its_warmup() -> None:
    values, stamps = _daily(1500, 4)
    values[500] += 40.0  # far out of the range of the 500 rows before it
    early = _stages(values, stamps)["spatial"]
    assert early[500] == 0.0
    assert _stages(values, stamps, Setting(spatial_warmup=288))["spatial"][500] == 1.0


def test_the_range_of_rows_dropped_from_a_bounded_history_still_counts() -> None:
    """A value beyond the kept rows' range but within one seen long ago is not new."""
    values, stamps = _daily(DEFAULT.keep + 5 * ALIGN + 17, 5)
    values[1000] += 60.0  # long ago, the series went this high
    values[-5] += 30.0  # now it goes higher than anything kept, lower than that
    full = _stages(values, stamps)
    assert full["spatial"][-5] == 0.0
    offset = 5 * ALIGN  # the row 1000 is dropped
    seen = (float(values[:offset].min()), float(values[:offset].max()))
    tail = _stages(values[offset:], stamps[offset:], offset=offset, seen=seen)["score"]
    assert tail[-5] == full["score"][-5] and tail[-1] == full["score"][-1]
    forgot = _stages(values[offset:], stamps[offset:], offset=offset)
    assert forgot["spatial"][-5] == 1.0  # what forgetting the dropped rows would say


def test_streaming_update_matches_vectorised_with_the_rule_firing() -> None:
    values, stamps = _daily(1400, 6)
    values[1000:1100] += 25.0  # out of the range, a step
    values[1300] -= 30.0  # and below it
    detector = StreamingDetector()
    streamed = np.array([detector.update(v, t) for v, t in zip(values, stamps, strict=True)])
    np.testing.assert_array_equal(streamed, score_series(values, stamps))
    one = StreamingDetector(ONE)
    streamed = np.array([one.update(v, t) for v, t in zip(values, stamps, strict=True)])
    vectorised = score_series(values, stamps, ONE)
    np.testing.assert_array_equal(streamed, vectorised)
    assert vectorised[1000] == 1.0
    # the drop is new too, but the record gate reports it as an echo of the step's 1.0
    assert _stages(values, stamps)["calibrated"][1300] == 1.0
    assert vectorised[1300] == 0.25
