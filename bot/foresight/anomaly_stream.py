"""`StreamingDetector`: the anomaly scores of `bot.foresight.anomaly`, one row at a time."""

from __future__ import annotations

import numpy as np

from bot.foresight.anomaly import (
    DEFAULT,
    SMOOTH,
    Detector,
    _calibrate,
    _measure,
    _pipeline,
    _short_mean,
)
from bot.foresight.anomaly_members import ALIGN, Layout, ensemble, extend
from bot.foresight.anomaly_stats import BLOCK


class StreamingDetector:
    """Scores one metric a row at a time, exactly as `score_series` scores the whole series.

    It keeps a bounded history (at most the detector's `keep` rows). The trailing statistics only
    change every BLOCK rows: at those rows an update runs the vectorised pass over the history
    (tens of ms); in between it reuses them and scores the new row alone."""

    def __init__(self, detector: Detector = DEFAULT) -> None:
        self._layout = Layout.of(detector)
        self._keep = ensemble(detector).keep
        self._values: list[float] = []
        self._stamps: list[float] = []
        self._offset = 0  # absolute index of the first kept row
        self._nonnegative = True  # every row dropped from the history was >= 0
        self._seen = (np.inf, -np.inf)  # the lowest and highest row dropped from the history
        self._stages: dict[str, np.ndarray] = {}  # the last full pass, extended row by row
        self._last = float("nan")

    def update(self, value: float, timestamp: float | None = None) -> float:
        value = float(value)
        if not np.isfinite(value):
            value = self._last if np.isfinite(self._last) else value
        self._last = value
        self._values.append(value)
        self._stamps.append(float("nan") if timestamp is None else float(timestamp))
        if len(self._values) >= self._keep + ALIGN:
            dropped = self._values[:ALIGN]
            self._nonnegative = self._nonnegative and min(dropped) >= 0.0
            gone = self._stages["raw"][:ALIGN]  # as the last pass filled them in
            self._seen = (min(self._seen[0], float(gone.min())), max(self._seen[1], float(gone.max())))
            del self._values[:ALIGN], self._stamps[:ALIGN]
            self._offset += ALIGN
            self._stages = {}
        row = len(self._values) - 1
        if row % BLOCK == 0 or not self._stages:
            stamps = np.array(self._stamps)
            self._stages = _pipeline(
                np.array(self._values),
                None if np.isnan(stamps).any() else stamps,
                self._offset,
                self._nonnegative,
                self._layout,
                self._seen,
            )
        else:
            self._extend(row)
        return float(self._stages["score"][row])

    def _extend(self, row: int) -> None:
        """Score the newest row with the statistics in force for its block."""
        nonneg = self._nonnegative and min(self._values) >= 0.0  # as _transform sees this row
        newest = np.array([self._values[row]])
        x_new = np.log1p(np.maximum(newest, 0.0)) if nonneg else newest
        i = np.array([row])
        # every stage grows by one row; statistics carry over from the row before
        stages = {k: np.concatenate((v, v[..., row - 1 : row]), axis=-1) for k, v in self._stages.items()}
        stages["x"][row] = x_new[0]
        stages["raw"][row] = newest[0]
        stages["range.lo"][row] = min(stages["range.lo"][row - 1], stages["raw"][row - 1])
        stages["range.hi"][row] = max(stages["range.hi"][row - 1], stages["raw"][row - 1])
        names = ("value", "diff", "season", "season_diff")
        stats = {k: (stages[k + ".centre"][i], stages[k + ".spread"][i]) for k in names}
        stages["measure"][row] = _measure(stages["x"], i, stages["period"][i], stats)[0]
        avg = _short_mean(stages["measure"], i, SMOOTH)
        base = _calibrate(avg, stages["cal.centre"][i], stages["cal.spread"][i], i + self._offset)
        stages["base"][row] = base[0]
        extend(stages, row, float(stages["base"][row]), row + self._offset, self._layout)
        self._stages = stages
