"""Series on an investigation's time grid: aligned to its steps, and without the warm-up of a
rate that begins inside the window."""

from __future__ import annotations

import numpy as np

from bot.domain.series import Series


def to_grid(series: Series, grid: np.ndarray, step: float) -> np.ndarray:
    out = np.full(grid.shape, np.nan)
    if len(series) == 0:
        return out
    idx = np.rint((series.timestamps - grid[0]) / step).astype(int)
    ok = (idx >= 0) & (idx < grid.size)
    out[idx[ok]] = series.values[ok]
    return out


def without_warmup(values: np.ndarray, step: float, warmup_s: float) -> np.ndarray:
    """A rate that begins inside the window covers less than its range at first and reads low:
    its first ``warmup_s`` are dropped, so a new pod or a new series is no rise from a false baseline."""
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0 or finite[0] == 0:
        return values
    out = values.copy()
    out[finite[0] : finite[0] + int(np.ceil(warmup_s / step))] = np.nan
    return out
