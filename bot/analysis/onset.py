"""Onset detection against a robust baseline: median/MAD plus a sustained-shift rule.

A signal has an episode when it stays above its baseline threshold for ``min_run`` consecutive
points; single spikes are ignored. The onset is where the largest such run begins, and the
episode has cleared when the last ``min_run`` points are back under the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# MAD to standard deviation for normally distributed noise.
_MAD_SCALE = 1.4826


@dataclass(frozen=True)
class Shift:
    """How one signal moved away from its own baseline."""

    baseline: float  # median over the baseline period
    threshold: float
    elevated: bool  # a sustained episode exists
    onset: float | None = None  # unix seconds, start of the main episode
    end: float | None = None  # last elevated point of the main episode
    peak: float = float("nan")  # max over the main episode
    current: float = float("nan")  # median of the last few points
    ongoing: bool = False  # the last points are still elevated
    elevated_fraction: float = 0.0  # share of points after the onset that are elevated
    starts: tuple[float, ...] = ()  # where every sustained run begins, merged or not, in order

    @property
    def cleared(self) -> bool:
        return self.elevated and not self.ongoing

    @property
    def ratio(self) -> float:
        """Peak over baseline (inf when the baseline is zero)."""
        if not np.isfinite(self.peak):
            return float("nan")
        return self.peak / self.baseline if self.baseline > 0 else float("inf")


NO_SHIFT = Shift(baseline=float("nan"), threshold=float("nan"), elevated=False)


def robust_baseline(values: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based scale of the finite values (nan, nan when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    med = float(np.median(finite))
    mad = float(np.median(np.abs(finite - med))) * _MAD_SCALE
    return med, mad


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of consecutive True values."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, flag in enumerate(mask):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def detect_shift(
    ts: np.ndarray,
    values: np.ndarray,
    baseline_end: float,
    *,
    k: float = 6.0,
    rel: float = 0.5,
    abs_min: float = 0.0,
    floor: float | None = None,
    min_run: int = 4,
    tail: int = 4,
) -> Shift:
    """Find a sustained upward shift of ``values`` after ``baseline_end``.

    The threshold is the largest of: median + k*MAD, median*(1+rel), median+abs_min and
    ``floor`` (an absolute level that always counts as abnormal, e.g. 80% of a limit).
    """
    if values.size == 0 or not np.isfinite(values).any():
        return NO_SHIFT
    base_mask = ts <= baseline_end
    if base_mask.sum() < 5:
        base_mask = np.arange(values.size) < max(values.size // 3, 1)
    med, mad = robust_baseline(values[base_mask])
    if not np.isfinite(med):
        if floor is None:  # the series begins after the baseline: there is nothing it rose from
            return NO_SHIFT
        med, mad = 0.0, 0.0  # only the absolute level can say it is abnormal
    threshold = max(med + k * mad, med * (1 + rel), med + abs_min)
    if floor is not None:
        threshold = min(threshold, floor) if med < floor else threshold
    after = ts > baseline_end
    mask = np.where(np.isfinite(values), values > threshold, False) & after
    runs = [r for r in _runs(mask) if r[1] - r[0] + 1 >= min_run]
    finite_tail = values[-tail:][np.isfinite(values[-tail:])]
    current = float(np.median(finite_tail)) if finite_tail.size else float("nan")
    if not runs:
        return Shift(baseline=med, threshold=threshold, elevated=False, current=current)

    # The main episode is the one with the largest excess area over the threshold.
    def area(run: tuple[int, int]) -> float:
        seg = values[run[0] : run[1] + 1]
        return float(np.nansum(seg - threshold))

    main = max(runs, key=area)
    onset_idx = main[0]
    # An episode may be interrupted by a dip; take the earliest run that merges into it.
    for run in runs:
        if run[0] < onset_idx and main[0] - run[1] <= 2 * min_run:
            onset_idx = run[0]
    last_run = runs[-1]
    ongoing = bool(mask[-min(tail, mask.size) :].sum() >= min(tail, mask.size) - 1) or (
        last_run[1] == mask.size - 1 and last_run[1] - last_run[0] + 1 >= min(min_run, tail)
    )
    seg = values[onset_idx : main[1] + 1]
    post = mask[onset_idx:]
    return Shift(
        baseline=med,
        threshold=threshold,
        elevated=True,
        onset=float(ts[onset_idx]),
        end=float(ts[last_run[1]]) if ongoing else float(ts[main[1]]),
        peak=float(np.nanmax(seg)),
        current=current,
        ongoing=ongoing,
        elevated_fraction=float(post.mean()) if post.size else 0.0,
        starts=tuple(float(ts[r[0]]) for r in runs),
    )


def elevated_share(ts: np.ndarray, values: np.ndarray, threshold: float, lo: float, hi: float) -> float:
    """Share of the finite points in [lo, hi) above ``threshold`` (0 when there are none)."""
    sel = values[(ts >= lo) & (ts < hi) & np.isfinite(values)]
    return float((sel > threshold).mean()) if sel.size else 0.0


def level_after(ts: np.ndarray, values: np.ndarray, since: float, q: float = 50) -> float:
    """A percentile of the finite values at or after ``since`` (nan when there are none)."""
    sel = values[(ts >= since) & np.isfinite(values)]
    return float(np.percentile(sel, q)) if sel.size else float("nan")


def step_across(ts: np.ndarray, values: np.ndarray, at: float, before_s: float, until: float) -> float:
    """How far the median of [at, until] lies above that of the ``before_s`` seconds before ``at``
    (nan when either holds no finite point)."""
    before = values[(ts >= at - before_s) & (ts < at) & np.isfinite(values)]
    after = values[(ts >= at) & (ts <= until) & np.isfinite(values)]
    if not before.size or not after.size:
        return float("nan")
    return float(np.median(after) - np.median(before))


def level_before(ts: np.ndarray, values: np.ndarray, until: float, q: float = 50) -> float:
    sel = values[(ts <= until) & np.isfinite(values)]
    return float(np.percentile(sel, q)) if sel.size else float("nan")
