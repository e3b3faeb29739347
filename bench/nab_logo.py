"""Leave-one-group-out cross-validation of the anomaly detector over NAB's categories
(`python bench/nab_score.py --logo`).

The candidates are every setting of the detector's grid alone (`anomaly_members.grid()`) and the
grid's ensemble at each power of `POWERS` (the shipped detector is the ensemble at
`anomaly_members.POWER`). All come from one pass per file: the ensemble's member scores are the
settings' own scores.

For each category, a candidate and the corpus threshold are chosen on the OTHER categories, and the
held-out category is scored with them. Reported per family of candidates (the ensembles, whose only
free choice is the power: the headline; the single settings, the previous rounds' protocol; both):
each category's held-out score, their mean and spread, and the pooled held-out score (every file
scored with its own fold's choice, normalised over the whole corpus). The candidate is chosen
in-sample on the other categories (the headline) or, nested, by leave-one-group-out among them.
A second pass scores the held-out category as NAB itself would: the candidate still chosen on the
other categories, the one threshold optimised by NAB's rule over the whole corpus scored (the
benchmark, not the detector, picks it). Then each candidate's own cross-validated score (only the
threshold chosen on the other categories): the shipped candidate is among the best of these, so
its own figure is optimistic; the chosen-on-the-others figures are the unbiased ones.

The headline's threshold rule is the shift-robust one of `nab_robust` (the threshold that
maximises the other categories' score averaged over thresholds within a factor exp(+-width) of
it, the width chosen by leave-one-group-out among them); the passes above use NAB's own rule
(width 0) and are printed first, for comparison with the previous rounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from nab_robust import Robust, robust_logo
from nab_score import NabFile, category_splits, normalised, optimise, raw_score

POWERS = (1.0, 1.5, 2.0, 3.0, 4.0, math.inf)  # the mean, ..., the maximum
Scores = dict[str, list[np.ndarray]]


def _label(setting: object) -> str:
    gate, refractory, warmup = (getattr(setting, k) for k in ("gate", "refractory", "spatial_warmup"))
    return f"gate {'none' if gate is None else f'{gate:g}':5s} refractory {refractory:3d} warm-up {warmup:4d}"


def ensemble_label(power: float) -> str:
    return f"ensemble, power {power:g}"


def candidates(
    files: list[NabFile], detect_members: Callable[[NabFile], np.ndarray]
) -> tuple[Scores, Scores]:
    """(single settings, ensembles): label -> per-file scores. `detect_members` gives a file's
    (members, rows) scores under the ensemble of the whole grid."""
    from bot.foresight.anomaly_members import combine, grid

    members = [detect_members(f) for f in files]
    singles = {_label(s): [m[j] for m in members] for j, s in enumerate(grid())}
    ensembles = {ensemble_label(p): [combine(m, p) for m in members] for p in POWERS}
    return singles, ensembles


def _fold(
    files: list[NabFile], scores: list[np.ndarray], train: list[int], test: list[int]
) -> tuple[float, float, int]:
    """(threshold, raw, windows): the test files scored at the threshold optimised on the train files."""
    threshold = optimise([files[k] for k in train], [scores[k] for k in train])[0]
    parts = [raw_score(files[k], scores[k], threshold) for k in test]
    return threshold, sum(p[0] for p in parts), sum(p[1] for p in parts)


def _cross_validated(files: list[NabFile], scores: list[np.ndarray], within: list[int]) -> float:
    """Pooled raw score of leave-one-group-out over the files `within`."""
    return sum(_fold(files, scores, train, test)[1] for _, train, test in category_splits(files, within))


def _choose(files: list[NabFile], scores: Scores, train: list[int], nested: bool) -> str:
    """The candidate that scores best on the train files: cross-validated over their categories
    (`nested`), or in-sample (its threshold optimised on all of them)."""
    if nested:
        return max(scores, key=lambda c: _cross_validated(files, scores[c], train))
    return max(scores, key=lambda c: optimise([files[k] for k in train], [scores[c][k] for k in train])[1])


def held_out(files: list[NabFile], scores: Scores, nested: bool, nab_threshold: bool) -> float:
    """Print each category's held-out score under the candidate chosen on the others; return the
    pooled held-out score."""
    everything = list(range(len(files)))
    labelled = sum(len(f.windows) for f in files)
    pooled_raw, pooled_windows, held = 0.0, 0, []
    for group, train, test in category_splits(files, everything):
        chosen = _choose(files, scores, train, nested)
        threshold, raw, windows = _fold(files, scores[chosen], everything if nab_threshold else train, test)
        pooled_raw, pooled_windows = pooled_raw + raw, pooled_windows + windows
        if windows:
            held.append(normalised(raw, windows))
        result = f"held-out {normalised(raw, windows):6.1f}" if windows else "no windows"
        print(f"    {group:24s} {chosen:42s} threshold {threshold:.3f}  {result}  raw {raw:7.2f}")
    pooled = normalised(pooled_raw, pooled_windows, labelled)
    print(f"    held-out mean {np.mean(held):.1f} (sd {np.std(held, ddof=1):.1f}, min {min(held):.1f}, "
          f"max {max(held):.1f}); pooled {pooled:.1f}")  # fmt: skip
    return pooled


def leave_one_group_out(files: list[NabFile], detect_members: Callable[[NabFile], np.ndarray]) -> None:
    singles, ensembles = candidates(files, detect_members)
    families = (("ensembles (the power)", ensembles), ("single settings", singles),
                ("both", singles | ensembles))  # fmt: skip
    for name, scores in families:
        for nab_threshold in (False, True):
            for nested in (False, True):
                how = "by leave-one-group-out within them" if nested else "in-sample on them"
                threshold = "NAB's optimiser on the whole corpus" if nab_threshold else "on them"
                print(f"{name}: candidate chosen on the other categories {how}, threshold {threshold}:")
                held_out(files, scores, nested, nab_threshold)
    robust_logo(files, ensembles)
    print("shift-robust threshold, the single settings as candidates (the previous rounds' family):")
    Robust(files, singles).report(False)
    everything = list(range(len(files)))
    labelled = sum(len(f.windows) for f in files)
    print("each candidate cross-validated (threshold chosen on the other categories) and in-sample:")
    for label, s in (singles | ensembles).items():
        folds = [_fold(files, s, train, test) for _, train, test in category_splits(files, everything)]
        per = " ".join(f"{normalised(f[1], f[2]):5.1f}" for f in folds if f[2])
        pooled = normalised(sum(f[1] for f in folds), sum(f[2] for f in folds), labelled)
        _, raw, n_windows = optimise(files, s)
        print(f"  {label:42s}: cross-validated {pooled:5.1f} (per category {per}), "
              f"in-sample {normalised(raw, n_windows, labelled):5.1f}")  # fmt: skip
