"""Causal streaming anomaly scores for one metric.

Four stages, each a function of a bounded trailing window (but for the range the series has
spanned so far), so the score of row i depends only on rows 0..i:

1. A raw anomaly measure: the largest robust z-score among a few views of the newest value, each
   against median/MAD statistics of the HISTORY rows before it: the value itself, its first
   difference (spikes), a short mean (level shifts) and, once a daily or weekly period shows in
   the autocorrelation, its difference from the median of the last CYCLES cycles at that phase.
   Series that have never gone negative (counts, volumes, latencies) are judged in log space,
   where their changes are multiplicative. With a period, a jump is only news if the past cycles
   did not make it too (when they explain the jumps at all). No scale is taken below half the
   smallest step the series has made (once it has made MIN_STEPS changes): a quantised gauge's
   single step is its noise.
2. Calibration, after Numenta's anomaly likelihood: the short-term average of log(1 + measure) is
   compared with its own recent distribution (median and upper quartile), so a series that is
   always jumpy does not alarm all the time, and mapped into [0, 1).
   Numenta's spatial rule, from its NAB detector, joins it there: a value outside the range of
   every earlier row by more than SPATIAL_TOLERANCE of that range scores 1.0, whatever the
   measure makes of it (a slow climb to a level never seen is as much news as a jump), once the
   series has had `spatial_warmup` rows to show its range. The margin is at least one robust
   scale of the row-to-row change, so white noise setting small records is not news.
3. Refractory damping: a score that does not beat every score of the last `refractory` rows is an
   echo of an alarm already raised, and is reported at ECHO times its value. So is one that comes
   within SILENCE rows of an alarm (a row that was news at ALARM or above): an alert system pages
   once for a burst, not for every higher row of it.
4. A threshold learned online per series: a score at or below the `gate` quantile of the series'
   own last GATE_HISTORY scores is ordinary for that series, and reported at ECHO times its value
   (1.0 is a record rule: only a score above every one of the series' last GATE_HISTORY counts in
   full). The one corpus-wide threshold then only has to separate each series' rare scores,
   whatever their usual level.

Stages 3 and 4 and the spatial rule's warm-up each have a free choice (a `Setting`). The default
detector is an `Ensemble` of every setting of a fixed grid, combined by their power mean
(`bot.foresight.anomaly_members`): cross-validation over NAB's categories chose a different
setting in most folds, and averaging them generalised better than choosing one
(bench/nab_score.py --logo).

The one threshold on the final score (`anomaly_threshold`, 0.40) is NAB's optimum on its public
subset. It is also the threshold a rule built to carry over to series it was not chosen on picks
for this detector: the best score averaged over thresholds within 5% of it, so it
keeps away from the edge where one more window would be lost (bench/nab_robust.py).

Trailing statistics are refreshed every BLOCK rows from the rows before the block, which keeps
the vectorised path fast; `anomaly_stream.StreamingDetector` refreshes them at the same rows with
the same code, so `update` and `score_series` agree exactly.
"""

from __future__ import annotations

import numpy as np

from bot.foresight.anomaly_members import Ensemble, Layout, Setting, members
from bot.foresight.anomaly_stats import (
    CALIBRATION,
    HISTORY,
    PERIOD_EVERY,
    SMOOTH,
    _block_stats,
    _periods,
    _row_stats,
    _seasonal_reference,
    _seasonal_stats,
    _step_stats,
    _tail_stats,
)

SHIFT_ROWS = 8  # rows in the short mean that reveals level shifts
SHIFT_GAIN = 0.5  # of the sqrt(SHIFT_ROWS) a mean of independent rows would earn: rows are not
JUMP_EXPLAINED = 0.5  # past cycles explain the jumps when they shrink their spread this much
QUANTUM = 0.5  # floor on every robust scale, in steps of a quantised series (its smallest change)
MIN_STEPS = 8  # changes in the history before its smallest one is trusted as the series' step
HALF_SCORE = 4.0  # spreads above the median that score 0.5: where the alert threshold belongs
WARMUP = 64  # rows scored 0 while the statistics settle

Detector = Setting | Ensemble
DEFAULT = Ensemble()


def _short_mean(series: np.ndarray, i: np.ndarray, rows: int) -> np.ndarray:
    total = series[np.maximum(i, 0)].copy()
    for lag in range(1, rows):
        total += series[np.maximum(i - lag, 0)]
    return total / rows


def _zscore(value: np.ndarray, med: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = np.abs(value - med) / scale
    return np.where(np.isfinite(z), z, 0.0)


def _calibrate(measure_avg: np.ndarray, med: np.ndarray, spread: np.ndarray, index: np.ndarray) -> np.ndarray:
    """0 up to the measure's recent median, 0.5 at HALF_SCORE spreads above it, towards 1 beyond."""
    u4 = (np.where(np.isfinite(med), np.maximum(measure_avg - med, 0.0) / spread, 0.0) / HALF_SCORE) ** 4
    return np.where(index < WARMUP, 0.0, u4 / (u4 + 1.0))


def _ffill(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float).copy()
    bad = ~np.isfinite(values)
    if bad.all():
        return np.zeros_like(values)
    if bad.any():
        idx = np.where(bad, 0, np.arange(len(values)))
        np.maximum.accumulate(idx, out=idx)
        values = values[idx]
        values[: int(np.argmax(~bad))] = values[int(np.argmax(~bad))]
    return values


def _measure(
    x: np.ndarray, i: np.ndarray, period: np.ndarray, stats: dict[str, tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Raw anomaly measure for rows i of x, given each row's trailing statistics."""
    prev = x[np.maximum(i - 1, 0)]
    z_value = _zscore(x[i], *stats["value"])
    z_diff = _zscore(x[i] - prev, *stats["diff"])
    z_shift = _zscore(_short_mean(x, i, SHIFT_ROWS), *stats["value"]) * np.sqrt(SHIFT_ROWS) * SHIFT_GAIN
    seasonal = x[i] - _seasonal_reference(x, i, period)
    z_season = _zscore(seasonal, *stats["season"])
    prev_seasonal = prev - _seasonal_reference(x, np.maximum(i - 1, 0), period)
    z_season_diff = _zscore(seasonal - prev_seasonal, *stats["season_diff"])
    # with a known period the level is judged against past cycles: a daily peak is no anomaly,
    # and neither is a jump that the past cycles made too
    z_level = np.where(period > 0, z_season, np.maximum(z_value, z_shift))
    explained = (period > 0) & (stats["season_diff"][1] < JUMP_EXPLAINED * stats["diff"][1])
    z_jump = np.where(explained, np.minimum(z_diff, z_season_diff), z_diff)
    return np.log1p(np.maximum(z_level, z_jump))


def score_series(
    values: np.ndarray, timestamps: np.ndarray | None = None, detector: Detector = DEFAULT
) -> np.ndarray:
    """Anomaly scores in [0, 1] for a whole series, as `StreamingDetector` gives them row by row."""
    values = np.asarray(values, dtype=float)
    return _pipeline(values, timestamps, 0, True, Layout.of(detector))["score"]


NOTHING_SEEN = (np.inf, -np.inf)  # the range of no rows at all


def _ranges(raw: np.ndarray, seen: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the lowest and highest value of every row before it (and of the `seen` ones)."""
    lo = np.minimum.accumulate(np.concatenate(([seen[0]], raw[:-1])))
    hi = np.maximum.accumulate(np.concatenate(([seen[1]], raw[:-1])))
    return lo[: len(raw)], hi[: len(raw)]


def _transform(x: np.ndarray, nonnegative: bool) -> np.ndarray:
    """Counts and volumes vary multiplicatively: judge them in log space while they stay >= 0."""
    nonneg = np.minimum.accumulate(x) >= 0.0 if nonnegative else np.zeros(len(x), dtype=bool)
    return np.where(nonneg, np.log1p(np.maximum(x, 0.0)), x)


def _pipeline(
    values: np.ndarray,
    timestamps: np.ndarray | None,
    offset: int,
    nonnegative: bool,
    layout: Layout,
    seen: tuple[float, float] = NOTHING_SEEN,
) -> dict[str, np.ndarray]:
    """Every stage's per-row output: what `StreamingDetector` caches between block refreshes.
    `offset` is the absolute index of the first row, `nonnegative` tells whether every earlier
    row was >= 0, `seen` is the (lowest, highest) of the earlier rows.

    Rows that are at least the detector's `span` rows into `values` get the same score as in the
    whole series, as long as `offset` is a multiple of ALIGN. Member stages (`members`) are
    (distinct warm-ups | distinct pairs | members, rows) arrays; the others one row each."""
    raw = _ffill(values)
    x = _transform(raw, nonnegative)
    n = len(x)
    t = None if timestamps is None else np.asarray(timestamps, dtype=float)
    i = np.arange(n)
    diff = np.concatenate(([0.0], np.diff(x)))
    period_rows = np.repeat(_periods(x, t), PERIOD_EVERY)[:n]
    value = _row_stats(_block_stats(x, 0, HISTORY), n)
    change = _row_stats(_block_stats(diff, 1, HISTORY), n)
    season, season_diff = _seasonal_stats(x, period_rows)
    stats = {"value": value, "diff": change, "season": season, "season_diff": season_diff}
    if QUANTUM > 0.0:
        # a quantised series (integer counts, rounded gauges) cannot change by less than its step:
        # a change of a step or two is its ordinary noise, however flat it was before
        changes = np.where(diff != 0.0, np.abs(diff), np.inf)
        steps = _row_stats(_block_stats(changes, 1, HISTORY, _step_stats), n)
        floor = np.where(np.isfinite(steps[0]) & (steps[1] >= MIN_STEPS), QUANTUM * steps[0], 0.0)
        stats = {k: (centre, np.fmax(spread, floor)) for k, (centre, spread) in stats.items()}
    measure = _measure(x, i, period_rows, stats)
    avg = _short_mean(measure, i, SMOOTH)
    calibration = _row_stats(_block_stats(avg, 0, CALIBRATION, _tail_stats), n)
    lo, hi = _ranges(raw, seen)
    noise = _row_stats(_block_stats(np.concatenate(([0.0], np.diff(raw))), 1, HISTORY), n)[1]
    base = _calibrate(avg, calibration[0], calibration[1], i + offset)
    stages = {"raw": raw, "range.lo": lo, "range.hi": hi, "range.noise": noise, "x": x, "period": period_rows}
    stages |= {"measure": measure, "base": base}
    for name, (centre, spread) in stats.items():
        stages[name + ".centre"], stages[name + ".spread"] = centre, spread
    stages["cal.centre"], stages["cal.spread"] = calibration
    return stages | members(base, raw, (lo, hi, noise), i + offset, layout)
