"""Contextual sequence surprise: is the newest value's level what usually follows the last few?

A member of the anomaly detector that sees patterns rather than sizes. Each row's value is
quantised into LEVELS equal-mass levels by the quartiles of the HISTORY rows before its block (so a
level is a rank, the same in log or raw space). The level sequence is collapsed into its changes:
a row where the level moves is an event, and its context is the levels of the ORDER runs before it.
A variable-order context model counts, over the events of the last WINDOW rows, which level
followed each context, and blends the orders Witten-Bell style: the order-k estimate is
(n(c, s) + d(c) P_{k-1}(s)) / (n(c) + d(c)), where d(c) is the number of different levels seen
after c, down to a uniform guess among the levels the series can move to. An event's surprise is
-log of that probability; a row whose level does not move has none. A move never seen after this
context is news even when the value stays inside the series' normal range.

Collapsing into changes is what makes slow series work: a sampled sine stays in a level for tens
of rows, so a model of rows would find every routine crossing surprising (1 in 70), while the
order of the crossings is perfectly predictable.

Causal and bounded: an event's context only reaches back to runs that began within WINDOW rows of
it, so the surprise of row i depends on rows from i - 2 * WINDOW - HISTORY - BLOCK on.

Choices: LEVELS and ORDER such that the LEVELS * (LEVELS - 1) ** ORDER (context, move) patterns
(96 here; 108 with four levels and order three) fit many times in a window; the window is the
detector's HISTORY (a week of 5-minute rows). The surprise is calibrated like the raw measure
(median and upper quartile of its last CALIBRATION rows) but with a spread of at least UNIT, so
that a 0.5 needs a move about 1 in 2,048 less likely than the series' usual ones. COLLAPSE=False
models the rows themselves (the literal design). The experiment and its figures:
bench/RESULTS.md, bench/nab_context_union.py.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bot.foresight.anomaly_stats import BLOCK, HISTORY, MIN_HISTORY

LEVELS = 3  # equal-mass levels of the value
ORDER = 5  # runs of context, at most
WINDOW = HISTORY  # rows whose events the model counts
SPAN = 2 * WINDOW + HISTORY + BLOCK + 1  # rows of history the newest surprise depends on
COLLAPSE = True  # model the sequence of level changes (else: of rows)
UNIT = float(np.log(2048.0)) / 4.0  # nats: least spread; the calibration's 4 spreads = 1 in 2,048
DIRECT = 64  # rows to score at most before counting by sorting instead of scanning


def cuts(x: np.ndarray) -> np.ndarray:
    """Per row, the LEVELS - 1 quantiles of the HISTORY rows before its block (NaN early on):
    shape (LEVELS - 1, len(x))."""
    n = len(x)
    starts = np.arange(0, n, BLOCK)
    qs = np.arange(1, LEVELS) / LEVELS
    out = np.full((LEVELS - 1, len(starts)), np.nan)
    full = starts >= HISTORY
    if full.any():
        windows = sliding_window_view(x, HISTORY)[starts[full] - HISTORY]
        out[:, full] = np.quantile(windows, qs, axis=1)
    for k in np.flatnonzero(~full & (starts >= MIN_HISTORY)):
        out[:, k] = np.quantile(x[: starts[k]], qs)
    return np.repeat(out, BLOCK, axis=1)[:, :n]


def levels(x: np.ndarray, row_cuts: np.ndarray) -> np.ndarray:
    """The level of each value: how many of its row's cuts it lies above (0 while there are none)."""
    return (x[None, :] > row_cuts).sum(axis=0)


def surprise(level: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """-log P(level of row i | the levels of the runs before it), for the rows asked; 0 where the
    level does not move."""
    n = len(level)
    idx = np.arange(n)
    if COLLAPSE:
        event = np.concatenate(([False], level[1:] != level[:-1]))
        run_start = np.maximum.accumulate(np.where(event, idx, 0))
    else:  # every row is an event, its own run
        event, run_start = idx >= 1, idx
    contexts = _contexts(level, event, run_start)
    rows = np.asarray(rows, dtype=np.int64)
    moved = event[rows]
    prev = level[np.maximum(rows - 1, 0)]
    p = np.full(len(rows), 1.0 / (LEVELS - 1 if COLLAPSE else LEVELS))
    for ctx in contexts:
        count = _counter(np.where(ctx >= 0, ctx * LEVELS + level, -1), rows)
        counts = np.stack([count(ctx[rows] * LEVELS + s) for s in range(LEVELS)])
        if COLLAPSE:
            counts = np.where(np.arange(LEVELS)[:, None] == prev[None, :], 0, counts)  # it moved: not prev
        counts = np.where(ctx[rows][None, :] >= 0, counts, 0)
        total, kinds = counts.sum(axis=0), (counts > 0).sum(axis=0)
        mine = np.take_along_axis(counts, level[rows][None, :], axis=0)[0]
        p = np.where(total > 0, (mine + kinds * p) / np.maximum(total + kinds, 1), p)
    return np.where(moved, -np.log(p), 0.0)


def surprise_stats(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of each row of surprises, and how far its upper quartile lies above it (at least
    UNIT): the scale against which a surprise is calibrated."""
    q = np.quantile(windows, [0.5, 0.75], axis=1)
    return q[0], np.maximum(q[1] - q[0], UNIT)


def _contexts(level: np.ndarray, event: np.ndarray, run_start: np.ndarray) -> list[np.ndarray]:
    """Per order 0..ORDER, each event row's context code (-1 where the runs reach too far back)."""
    n = len(level)
    idx = np.arange(n)
    code = np.zeros(n, dtype=np.int64)
    valid = event.copy()
    out = [np.where(valid, code, -1)]
    back = idx - 1  # a row of the run before
    for order in range(ORDER):
        ok = valid & (back >= 0) & (back >= idx - WINDOW)
        safe = np.maximum(back, 0)
        code = np.where(ok, code + level[safe] * LEVELS**order, -1)
        valid = ok
        out.append(np.where(valid, code, -1))
        back = np.where(ok, run_start[safe] - 1, -1)
    return out


def _counter(codes: np.ndarray, rows: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """For each row in `rows`: how many of the WINDOW rows before it carry a given code (>= 0)."""
    first = np.maximum(rows - WINDOW, 0)
    if len(rows) <= DIRECT:
        windows = [codes[a:b] for a, b in zip(first, rows, strict=True)]
        return lambda query: np.array([np.count_nonzero(w == q) for w, q in zip(windows, query, strict=True)])
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    keys = codes[order] * n + order  # grouped by code, each group in row order
    return lambda query: np.searchsorted(keys, query * n + rows) - np.searchsorted(keys, query * n + first)
