"""bench/nab_score.py against a row-by-row reading of NAB's sweeper rules, on synthetic files."""

from __future__ import annotations

import importlib.util
import math
import sys
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import ROOT


def _scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nab_score", ROOT / "bench" / "nab_score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("nab_score", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _sigmoid_weight(position: float) -> float:
    return -1.0 if position >= 3.0 else 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def _reference(n: int, windows: list[tuple[int, int]], scores: np.ndarray, threshold: float) -> float:
    """NAB's per-file score, one row at a time: walk the rows keeping the current and previous
    window, give each row its sweep weight, then let the detections (score >= threshold) count:
    every detection outside a window adds its (negative) weight, each window adds its best
    detection weight or -1 when it has none. Probation rows are ignored."""
    probation = min(math.floor(0.15 * n), 0.15 * 5000)
    pending = list(windows)
    current: tuple[int, int] | None = None
    previous: tuple[int, int] | None = None  # (right edge, width)
    best: dict[int, float] = {}
    fp_total = 0.0
    max_tp = _sigmoid_weight(-1.0)
    for i in range(n):
        if pending and i == pending[0][0]:
            current = pending.pop(0)
        if current is not None:
            width = current[1] - current[0] + 1
            weight = _sigmoid_weight(-(current[1] - i + 1) / width) / max_tp
        else:
            past = 3.0 if previous is None else abs(previous[0] - i) / (previous[1] - 1)
            weight = 0.11 * _sigmoid_weight(past)
        if i >= probation:
            if current is not None:
                key = current[0]
                best.setdefault(key, -1.0)
                if scores[i] >= threshold:
                    best[key] = max(best[key], weight)
            elif scores[i] >= threshold:
                fp_total += weight
        if current is not None and i == current[1]:
            previous = (i, current[1] - current[0] + 1)
            current = None
    return fp_total + sum(best.values())


CASES = [
    (1000, [(100, 180)]),  # a window partly in probation (150 rows)
    (1000, [(300, 350), (351, 420), (700, 760)]),  # adjacent windows
    (6000, [(800, 1200), (3000, 3400), (5800, 5999)]),  # probation capped at 750, window at the end
    (500, []),  # no anomaly at all
]


@pytest.mark.parametrize(("n", "windows"), CASES)
def test_raw_score_matches_nab_rules_row_by_row(n: int, windows: list[tuple[int, int]]) -> None:
    nab = _scorer()
    rng = np.random.default_rng(n + len(windows))
    scores = rng.random(n) ** 8  # mostly low, a few high: detections both in and out of windows
    f = nab.NabFile("g/f.csv", np.arange(n).astype("datetime64[s]"), np.zeros(n), windows)
    for threshold in (0.999, 0.99, 0.9, 0.5, 0.0):
        expected = _reference(n, windows, scores, threshold)
        assert nab.raw_score(f, scores, threshold)[0] == pytest.approx(expected, abs=1e-9)


def test_threshold_sweep_finds_the_best_corpus_score() -> None:
    nab = _scorer()
    rng = np.random.default_rng(7)
    files, scores = [], []
    for n, windows in CASES:
        files.append(nab.NabFile("g/f.csv", np.arange(n).astype("datetime64[s]"), np.zeros(n), windows))
        scores.append(np.round(rng.random(n) ** 6, 3))  # ties: a threshold takes every equal score
    threshold, raw, _ = nab.optimise(files, scores)
    candidates = np.unique(np.concatenate(scores))

    def corpus(t: float) -> float:
        return sum(_reference(len(s), f.windows, s, t) for f, s in zip(files, scores, strict=True))

    assert raw == pytest.approx(max(max(corpus(t) for t in candidates), -sum(len(f.windows) for f in files)))
    assert corpus(threshold) == pytest.approx(raw)


def test_normalisation_counts_every_labelled_window_as_perfect() -> None:
    nab = _scorer()
    assert nab.normalised(-3.0, 3) == 0.0
    assert nab.normalised(3.0, 3) == 100.0
    # a fourth window lies wholly in probation: it is not scored, but the perfect score counts it
    assert nab.normalised(3.0, 3, labelled=4) == pytest.approx(100.0 * 6.0 / 7.0)
