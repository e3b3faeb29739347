"""Experiment, not shipped: a window-novelty member after Adaptive Resonance Theory (the idea of
ARTime), maxed into the detector's calibrated score, measured with `nab_score.py --logo`.

The member (`ArtNovelty`, written from the fuzzy-ART equations, Carpenter, Grossberg & Rosen
1991): at every POOL-th row the feature vector is the last WINDOW means of POOL rows, in the
detector's space (log1p while the series has never gone negative). Complement coded against the
range the series has spanned so far, a fuzzy-ART category is a hyperbox, and a window's match
with a category is 1 minus the mean extent (per point, in units of that range) of the box grown to
hold it. The vigilance test asks that extent to stay within the tolerance (1 - vigilance, 0.1 at
first); among the categories that pass, the choice function |I ^ w| / (CHOICE + |w|) picks the
one that learns (fast learning: its box grows to hold the window). The boxes are kept in the
series' own units, so a new extreme shrinks them with the window instead of moving them.

A window that no category accepts founds a new one and scores from the nearest box's extent, in
tolerances: 0.5 at `--half` tolerances (2: a weak, graded signal; 1: every new category is an
alarm, ARTime's signal). At most CATEGORIES are kept: a new one then replaces the one that
resonated longest ago and the tolerance widens by WIDEN (`--widen-every`: on every new category),
a causal, self-adjusting vigilance. `--shape` removes each window's mean (novelty of the shape
alone). The member's score counts from the spatial rule's warm-up row on, and joins the spatial
rule and the calibrated measure by max, before the refractory and gate stages, for every one of
the bench's settings.

Usage: python bench/nab_art.py [--half 1] [--shape] [--pool 4] [--widen-every] [--noise]
(`--noise`: only count the member's alarms on artificialNoAnomaly, no leave-one-group-out).
Results: bench/RESULTS.md, NAB section, "tried and not kept".
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nab_logo
import nab_score
from inputs import missing, present

from bot.foresight import anomaly_members

WINDOW = 8  # points in a feature window
CATEGORIES = 64  # cap on the learned categories
TOLERANCE = 0.1  # initial 1 - vigilance: the conventional fuzzy-ART vigilance of 0.9
WIDEN = 2.0 ** (1.0 / 8.0)  # tolerance growth per widening: 8 of them double it
CHOICE = 1e-3  # the choice function's small alpha


@dataclass(frozen=True)
class Member:
    pool: int = 4  # rows averaged into each point: a window spans 32 rows, one statistics BLOCK
    half: float = 2.0  # extent, in tolerances, at which a new category scores 0.5
    shape_only: bool = False
    widen_every: bool = False


class ArtNovelty:
    """The novelty of each row's window, one row at a time (0.0 between feature steps)."""

    def __init__(self, member: Member) -> None:
        self._m = member
        self._nonnegative = True
        self._last = math.nan
        self._rows = 0
        self._points: deque[float] = deque(maxlen=WINDOW)
        self._reset()

    def _reset(self) -> None:
        self._lo, self._hi, self._sum = math.inf, -math.inf, 0.0
        self._points.clear()
        self._lower, self._upper = np.empty((0, WINDOW)), np.empty((0, WINDOW))
        self._used = np.empty(0)
        self._tolerance = TOLERANCE

    def update(self, value: float) -> float:
        value = float(value) if math.isfinite(value) else self._last
        self._rows += 1
        if not math.isfinite(value):
            return 0.0
        self._last = value
        if self._nonnegative and value < 0.0:
            self._nonnegative = False  # the series leaves log space: what was learned no longer applies
            self._reset()
        z = math.log1p(value) if self._nonnegative else value
        self._lo, self._hi = min(self._lo, z), max(self._hi, z)
        self._sum += z
        if self._rows % self._m.pool:
            return 0.0
        self._points.append(self._sum / self._m.pool)
        self._sum = 0.0
        if len(self._points) < WINDOW or self._hi <= self._lo:
            return 0.0
        window = np.array(self._points)
        return self._step(window - window.mean() if self._m.shape_only else window, self._hi - self._lo)

    def _step(self, window: np.ndarray, span: float) -> float:
        step = float(self._rows)
        score = 1.0
        if len(self._used):
            low, high = np.minimum(self._lower, window), np.maximum(self._upper, window)
            grown = (high - low).mean(axis=1) / span
            passing = grown <= self._tolerance
            if passing.any():
                own = (self._upper - self._lower).mean(axis=1) / span
                choice = np.where(passing, (1.0 - grown) / (CHOICE + 1.0 - own), -np.inf)
                j = int(np.argmax(choice))
                self._lower[j], self._upper[j], self._used[j] = low[j], high[j], step
                return 0.0
            excess = float(grown.min()) / self._tolerance
            u4 = max(excess - (self._m.half - 1.0), 0.0) ** 4
            score = u4 / (u4 + 1.0)
        replaced = len(self._used) == CATEGORIES
        if replaced:
            j = int(np.argmin(self._used))
            self._lower[j], self._upper[j], self._used[j] = window, window, step
        else:
            self._lower = np.vstack((self._lower, window))
            self._upper = np.vstack((self._upper, window))
            self._used = np.append(self._used, step)
        if replaced or self._m.widen_every:
            self._tolerance *= WIDEN
        return score


def art_scores(values: np.ndarray, member: Member) -> np.ndarray:
    art = ArtNovelty(member)
    return np.array([art.update(v) for v in np.asarray(values, dtype=float)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=nab_score.DEFAULT_DATA)
    parser.add_argument("--half", type=float, default=2.0)
    parser.add_argument("--pool", type=int, default=4)
    parser.add_argument("--shape", action="store_true")
    parser.add_argument("--widen-every", action="store_true")
    parser.add_argument("--noise", action="store_true")
    args = parser.parse_args()
    if not present(args.data):
        parser.exit(2, missing("the NAB subset", "--data") + "\n")
    member = Member(args.pool, args.half, args.shape, args.widen_every)
    files = nab_score.load_corpus(args.data)
    art = {f.name: art_scores(f.values, member) for f in files}
    if args.noise:
        for f in files:
            if f.group == "artificialNoAnomaly":
                late = art[f.name][nab_score.probation_length(len(f.values)) :]
                print(f"{f.name}: {int((late >= 0.5).sum())} alarms after probation, max {late.max():.3f}")
        return
    spatial = anomaly_members.spatial
    current: dict[str, np.ndarray] = {}  # the member's scores of the file being scored

    def with_member(
        raw: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        noise: np.ndarray,
        index: np.ndarray,
        warmups: np.ndarray,
    ) -> np.ndarray:
        counted = np.where(index >= np.asarray(warmups)[:, None], current["art"], 0.0)
        return np.maximum(spatial(raw, lo, hi, noise, index, warmups), counted)

    def detect_with_member(f: nab_score.NabFile) -> np.ndarray:
        current["art"] = art[f.name]
        return nab_score.detect_members(f)

    anomaly_members.spatial = with_member  # type: ignore[assignment]  # the experiment's member joins the rule
    nab_logo.leave_one_group_out(files, detect_with_member)


if __name__ == "__main__":
    main()
