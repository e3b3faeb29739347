"""A threshold that carries over to a category it was not chosen on (`nab_score.py --logo`).

NAB's optimiser picks the threshold with the best corpus score. On the categories a fold trains
on, that optimum often sits on a cliff's edge: one window's best score lies just below it, and a
held-out category whose scores are a little lower loses its windows (realTraffic held out: 0.419
chosen, 70.2 at 0.399, 63.2 at 0.419). A category the threshold was not chosen on differs from
the training ones by an unknown shift of its scores' scale. So the rule here picks the threshold
that maximises the training score AVERAGED over thresholds within a factor exp(+-width) of it
(a uniform prior on that shift, in log-threshold): the expected training score under it, rather
than its best case. Width 0 is NAB's own rule.

The width is not chosen by looking at the held-out category: it is chosen by leave-one-group-out
among the training categories (each inner held-out category scored at the threshold this rule
picks on the inner training ones). The candidate (the ensemble's power) is then chosen by the
same smoothed objective on all the training categories, or, nested, jointly with the width by
that inner leave-one-group-out.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from nab_score import A_FN, NabFile, _events, category_splits, normalised, optimise, raw_score

WIDTHS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)  # half-widths, in log-threshold
GRID = np.exp(np.linspace(np.log(0.05), np.log(1.0), 1201))  # steps of 0.25% in the threshold
STEP = float(np.log(GRID[1] / GRID[0]))
Curves = np.ndarray  # (files, GRID): each file's raw score at each grid threshold


def file_curves(files: list[NabFile], scores: list[np.ndarray]) -> tuple[Curves, np.ndarray]:
    """(files, GRID) raw scores (detections: rows with score >= threshold), and each file's scored
    windows."""
    out, windows = np.empty((len(files), len(GRID))), np.empty(len(files), dtype=np.int64)
    for k, (f, s) in enumerate(zip(files, scores, strict=True)):
        row_scores, delta, n_windows = _events(f, s)
        order = np.argsort(row_scores, kind="stable")
        ascending, delta = row_scores[order], delta[order]
        top = np.concatenate(([0.0], np.cumsum(delta[::-1])))  # the gain of the j highest rows
        out[k] = top[len(ascending) - np.searchsorted(ascending, GRID, side="left")] - A_FN * n_windows
        windows[k] = n_windows
    return out, windows


def smoothed(total: np.ndarray, width: float) -> np.ndarray:
    """The mean of `total` over the grid thresholds within exp(+-width) of each one (the ends
    extended flat)."""
    half = round(width / STEP)
    if half == 0:
        return total
    padded = np.concatenate((np.full(half, total[0]), total, np.full(half, total[-1])))
    return np.convolve(padded, np.full(2 * half + 1, 1.0 / (2 * half + 1)), mode="valid")


def choose_threshold(
    files: list[NabFile], scores: list[np.ndarray], curves: Curves, train: list[int], width: float
) -> tuple[float, float]:
    """(threshold, smoothed raw score) on the train files. Width 0 is NAB's exact optimiser."""
    if width == 0.0:
        threshold, raw, _ = optimise([files[k] for k in train], [scores[k] for k in train])
        return threshold, raw
    objective = smoothed(curves[train].sum(axis=0), width)
    best = int(np.argmax(objective))
    return float(GRID[best]), float(objective[best])


class Robust:
    """Leave-one-group-out with the shift-robust threshold, over one family of candidates."""

    def __init__(self, files: list[NabFile], scores: dict[str, list[np.ndarray]]) -> None:
        self.files, self.scores = files, scores
        self.curves = {c: file_curves(files, s)[0] for c, s in scores.items()}
        self.labelled = sum(len(f.windows) for f in files)
        self._thresholds: dict[tuple[str, tuple[int, ...], float], tuple[float, float]] = {}

    def threshold(self, candidate: str, train: list[int], width: float) -> tuple[float, float]:
        key = (candidate, tuple(train), width)
        if key not in self._thresholds:  # the nested passes ask for the same ones many times
            scores, curves = self.scores[candidate], self.curves[candidate]
            self._thresholds[key] = choose_threshold(self.files, scores, curves, train, width)
        return self._thresholds[key]

    def held(
        self, candidate: str, train: list[int], test: list[int], width: float
    ) -> tuple[float, float, int]:
        """(threshold, raw, windows): the test files at the threshold the rule picks on train."""
        threshold = self.threshold(candidate, train, width)[0]
        parts = [raw_score(self.files[k], self.scores[candidate][k], threshold) for k in test]
        return threshold, sum(p[0] for p in parts), sum(p[1] for p in parts)

    def in_sample(self, train: list[int], width: float) -> str:
        """The candidate with the best smoothed score on the train files."""
        return max(self.scores, key=lambda c: self.threshold(c, train, width)[1])

    def inner(self, within: list[int], width: float, candidate: str | None = None) -> float:
        """Pooled raw held-out score of leave-one-group-out among `within`: each inner fold's
        candidate (`candidate`, or the best in-sample on its train files) and threshold by the rule."""
        total = 0.0
        for _, train, test in category_splits(self.files, within):
            chosen = candidate if candidate is not None else self.in_sample(train, width)
            total += self.held(chosen, train, test, width)[1]
        return total

    def choose(self, train: list[int], nested: bool) -> tuple[str, float]:
        """(candidate, width) for a fold that trains on `train`."""
        if nested:
            pairs = [(c, w) for w in WIDTHS for c in self.scores]
            return max(pairs, key=lambda cw: self.inner(train, cw[1], cw[0]))
        width = max(WIDTHS, key=lambda w: self.inner(train, w))
        return self.in_sample(train, width), width

    def report(self, nested: bool, nab_threshold: bool = False, width: float | None = None) -> float:
        """Print each category's held-out score; return the pooled one. `width` fixes the width
        (otherwise chosen by the inner leave-one-group-out); `nab_threshold` scores the held-out
        category at NAB's optimum over the whole corpus, the candidate still chosen by the rule."""
        everything = list(range(len(self.files)))
        pooled_raw, pooled_windows, held = 0.0, 0, []
        for group, train, test in category_splits(self.files, everything):
            if width is None:
                chosen, w = self.choose(train, nested)
            elif nested:
                chosen, w = max(self.scores, key=lambda c: self.inner(train, width, c)), width
            else:
                chosen, w = self.in_sample(train, width), width
            threshold, raw, windows = self.held(chosen, everything if nab_threshold else train, test,
                                                0.0 if nab_threshold else w)  # fmt: skip
            pooled_raw, pooled_windows = pooled_raw + raw, pooled_windows + windows
            if windows:
                held.append(normalised(raw, windows))
            result = f"held-out {normalised(raw, windows):6.1f}" if windows else "no windows"
            print(f"    {group:24s} {chosen:22s} width {w:5.3f} threshold {threshold:.3f}  {result}  "
                  f"raw {raw:7.2f}")  # fmt: skip
        pooled = normalised(pooled_raw, pooled_windows, self.labelled)
        print(f"    held-out mean {np.mean(held):.1f} (sd {np.std(held, ddof=1):.1f}, min {min(held):.1f}, "
              f"max {max(held):.1f}); pooled {pooled:.1f}")  # fmt: skip
        return pooled

    def whole_corpus(self) -> tuple[str, float, float]:
        """(candidate, width, threshold) the rule picks on all the files: what would ship."""
        everything = list(range(len(self.files)))
        width = max(WIDTHS, key=lambda w: self.inner(everything, w))
        chosen = self.in_sample(everything, width)
        return chosen, width, self.threshold(chosen, everything, width)[0]


def robust_logo(files: list[NabFile], scores: dict[str, list[np.ndarray]]) -> None:
    """The shift-robust threshold rule's leave-one-group-out passes, and its fixed-width sweep."""
    robust = Robust(files, scores)
    for nested, how in ((False, "the power in-sample on them"), (True, "the power with the width, nested")):
        print(f"shift-robust threshold: width by leave-one-group-out within the other categories, {how}:")
        robust.report(nested)
    print("shift-robust rule choosing the power, threshold by NAB's optimiser on the whole corpus:")
    robust.report(False, nab_threshold=True)
    chosen, width, threshold = robust.whole_corpus()
    print(f"on all {len(files)} files the rule picks {chosen}, width {width:g}, threshold {threshold:.3f}")
    print("each power alone (only the width and the threshold chosen on the other categories by the rule):")
    for candidate, series in scores.items():
        alone = Robust(files, {candidate: series})
        with contextlib.redirect_stdout(io.StringIO()):
            pooled = alone.report(False)
        _, width, threshold = alone.whole_corpus()
        print(f"  {candidate:22s}: pooled held-out {pooled:5.1f}; on all the files: width {width:g}, "
              f"threshold {threshold:.3f}")  # fmt: skip
    print("each fixed width (the power and the threshold chosen on the other categories by the rule):")
    for w in WIDTHS:
        with contextlib.redirect_stdout(io.StringIO()):
            strict, nested = robust.report(False, width=w), robust.report(True, width=w)
        print(f"  width {w:5.3f}: pooled held-out {strict:5.1f}, power nested {nested:5.1f}")
