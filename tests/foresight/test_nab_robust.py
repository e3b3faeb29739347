"""bench/nab_robust.py: its score curves agree with the scorer, and its width 0 is NAB's rule."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import numpy as np

from tests.conftest import ROOT


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _corpus(seed: int) -> tuple[list, list[np.ndarray]]:
    """Synthetic files in three groups: noise scores, with a bump in each labelled window."""
    scorer = _load("nab_score")
    rng = np.random.default_rng(seed)
    files, scores = [], []
    for k in range(6):
        n = 1200 + 100 * k
        windows = [(600 + 10 * k, 660 + 10 * k), (900, 950)][: 1 + k % 2]
        s = rng.uniform(0.0, 0.6, n) ** 2
        for left, right in windows:
            s[left + rng.integers(0, right - left)] = rng.uniform(0.3, 0.9)
        stamps = np.arange(n).astype("datetime64[s]")
        files.append(scorer.NabFile(f"group{k % 3}/file{k}.csv", stamps, s, windows))
        scores.append(s)
    return files, scores


def test_curves_are_the_scorers_raw_scores_at_each_threshold() -> None:
    scorer, robust = _load("nab_score"), _load("nab_robust")
    files, scores = _corpus(1)
    curves, windows = robust.file_curves(files, scores)
    for j in (0, 300, 700, 900, 1100, len(robust.GRID) - 1):
        for k, (f, s) in enumerate(zip(files, scores, strict=True)):
            raw, n_windows = scorer.raw_score(f, s, float(robust.GRID[j]))
            assert np.isclose(curves[k, j], raw)
            assert windows[k] == n_windows


def test_width_zero_is_nabs_optimiser_and_a_width_averages_the_curve() -> None:
    scorer, robust = _load("nab_score"), _load("nab_robust")
    files, scores = _corpus(2)
    curves, _ = robust.file_curves(files, scores)
    train = [0, 2, 4]
    threshold, raw = robust.choose_threshold(files, scores, curves, train, 0.0)
    assert (threshold, raw) == scorer.optimise([files[k] for k in train], [scores[k] for k in train])[:2]
    total = curves[train].sum(axis=0)
    width = 0.1
    half = round(width / robust.STEP)
    chosen, objective = robust.choose_threshold(files, scores, curves, train, width)
    j = int(np.flatnonzero(chosen == robust.GRID)[0])
    assert half <= j < len(total) - half  # this corpus's optimum lies away from the grid's ends
    assert np.isclose(objective, total[j - half : j + half + 1].mean())
    assert objective <= total.max()  # the mean over a neighbourhood never beats the best case


def test_leave_one_group_out_never_looks_at_the_held_out_category() -> None:
    robust = _load("nab_robust")
    files, scores = _corpus(3)
    changed = [s.copy() for s in scores]
    for k, f in enumerate(files):
        if f.group == "group1":
            changed[k] = np.where(changed[k] > 0.2, 1.0 - changed[k], changed[k])  # another category
    choices = []
    for family in (scores, changed):
        rule = robust.Robust(files, {"a": family, "b": [np.sqrt(s) for s in family]})
        train = [k for k, f in enumerate(files) if f.group != "group1"]
        choices.append((rule.choose(train, nested=False), rule.threshold("a", train, 0.05)))
    assert choices[0] == choices[1]
