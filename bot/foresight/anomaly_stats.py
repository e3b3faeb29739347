"""The trailing robust statistics the anomaly detector scores against: per block of rows, the
median and scale of the rows before it, and the seasonal period and residual statistics of a
series with a cycle. Both the vectorised pass and the streaming detector use these."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bot.foresight.season import autocorrelation, detect_period

StatsFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
BLOCK = 32  # rows between refreshes of the trailing statistics
HISTORY = 2048  # rows behind the robust statistics: days to weeks, so a burst is judged by the long run
MIN_HISTORY = 32  # fewer rows than this: no statistic yet, score 0
CYCLES = 3  # past cycles whose median is the seasonal reference
PERIOD_EVERY = 256  # rows between seasonal period checks
PERIOD_HISTORY = 4096  # rows the period check looks at
CALIBRATION = 2048  # rows of the measure's own history used to calibrate it
SMOOTH = 3  # rows in the short-term average of the measure
TAIL = 0.75  # quantile of the measure's recent history that sets its spread
MIN_SPREAD = 0.25  # floor on that spread (log units): a tiny spread is no evidence of calm


def _stats(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and a robust scale (MAD, floored by the mean absolute deviation) of each row."""
    med = np.median(windows, axis=1)
    dev = np.abs(windows - med[:, None])
    scale = np.maximum(1.4826 * np.median(dev, axis=1), 1.2533 * np.mean(dev, axis=1))
    return med, np.maximum(scale, 1e-9 * (1.0 + np.abs(med)))


def _tail_stats(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of each row, and how far its upper tail (TAIL quantile) lies above the median."""
    q = np.quantile(windows, [0.5, TAIL], axis=1)
    return q[0], np.maximum(q[1] - q[0], MIN_SPREAD)


def _step_stats(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest finite value of each row, and how many finite values it has."""
    return windows.min(axis=1), np.isfinite(windows).sum(axis=1).astype(float)


def _block_stats(
    series: np.ndarray, first: int, length: int, stats: StatsFn = _stats, wanted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per block start s: stats of series[max(first, s - length):s] (NaN when too few rows, or
    when the block is not `wanted`)."""
    centre, scale = _per_block(series, first, length, lambda w: np.stack(stats(w)), 2, wanted)
    return centre, scale


def _per_block(
    series: np.ndarray,
    first: int,
    length: int,
    summary: Callable[[np.ndarray], np.ndarray],
    outputs: int,
    wanted: np.ndarray | None = None,
) -> np.ndarray:
    """(outputs, blocks): per block start s, `summary` (windows -> (outputs, windows)) of
    series[max(first, s - length):s]; NaN when too few rows, or when the block is not `wanted`."""
    starts = np.arange(0, len(series), BLOCK)
    out = np.full((outputs, len(starts)), np.nan)
    wanted = np.ones(len(starts), dtype=bool) if wanted is None else wanted
    full = (starts - length >= first) & wanted
    if full.any():
        out[:, full] = summary(sliding_window_view(series, length)[starts[full] - length])
    for k in np.flatnonzero(~full & wanted & (starts - first >= MIN_HISTORY)):
        out[:, k : k + 1] = summary(series[first : starts[k]][None, :])
    return out


def _rows(per_block: np.ndarray, n: int) -> np.ndarray:
    return np.repeat(per_block, BLOCK)[:n]


def _row_stats(per_block: tuple[np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    return _rows(per_block[0], n), _rows(per_block[1], n)


def _periods(values: np.ndarray, timestamps: np.ndarray | None) -> np.ndarray:
    """The period in force at each PERIOD_EVERY block (0 for none), from the rows before it."""
    starts = np.arange(0, len(values), PERIOD_EVERY)
    out = np.zeros(len(starts), dtype=np.int64)
    for k, s in enumerate(starts):
        out[k] = _period_at(values, timestamps, int(s))
    return out


def _period_at(values: np.ndarray, timestamps: np.ndarray | None, end: int) -> int:
    lo = max(0, end - PERIOD_HISTORY)
    if end - lo < 4 * MIN_HISTORY:
        return 0
    stamps = None if timestamps is None else timestamps[lo:end]
    period = detect_period(values[lo:end], stamps)
    if period is None or autocorrelation(values[lo:end], period) <= 0.0:
        return 0
    return period


def _seasonal_reference(x: np.ndarray, i: np.ndarray, period: np.ndarray | int) -> np.ndarray:
    """Median of the values one, two and three periods ago: one odd past cycle does not count."""
    lags = [x[np.maximum(i - k * period, i % np.maximum(period, 1))] for k in range(1, CYCLES + 1)]
    return np.median(np.stack(lags), axis=0)


def _seasonal_stats(x: np.ndarray, period_rows: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per row: the robust stats of the seasonal residual, and of its first difference."""
    n = len(x)
    out = tuple((np.full(n, np.nan), np.full(n, np.nan)) for _ in range(2))
    block_period = period_rows[::BLOCK]
    idx = np.arange(n)
    for p in np.unique(block_period[block_period > 0]):
        seasonal = np.where(idx >= p, x - _seasonal_reference(x, idx, int(p)), 0.0)
        step = np.concatenate(([0.0], np.diff(seasonal)))
        use = _rows(block_period == p, n)
        for (med, scale), series, first in ((out[0], seasonal, int(p)), (out[1], step, int(p) + 1)):
            m, s = _block_stats(series, first, HISTORY, wanted=block_period == p)
            med[use], scale[use] = _rows(m, n)[use], _rows(s, n)[use]
    return out
