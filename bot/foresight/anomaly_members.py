"""Stages 3 and 4 of the anomaly detector (the spatial rule's warm-up, refractory damping and the
per-series gate) for each member setting of an ensemble, and the members' combination into one
score.

The three stages each have a free choice (a `Setting`). Choosing one setting by cross-validation
over NAB's categories proved unstable: the folds chose four different settings out of five, and
that choice cost more than any stage gained (bench/RESULTS.md). An `Ensemble` scores every setting
of a fixed grid and reports their power mean, so there is no setting left to choose. Members that
share a warm-up, or a warm-up and a refractory window, share that work (`Layout`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bot.foresight.anomaly_stats import (
    BLOCK,
    CALIBRATION,
    CYCLES,
    HISTORY,
    MIN_HISTORY,
    PERIOD_EVERY,
    PERIOD_HISTORY,
    SMOOTH,
    _rows,
)

REFRACTORY = 64  # rows over which an alarm must beat the previous ones to be news
ECHO = 0.25  # damping of an alarm that is not news
ALARM = 0.5  # a news score at or above this is an alarm (the level the calibration aims at)
SILENCE = 16  # rows after an alarm in which no further news is reported
SPATIAL_TOLERANCE = 0.05  # of the range seen so far, beyond which a value is new (Numenta's NAB value)
SPATIAL_WARMUP = 750  # rows that learn the range before it counts (NAB's longest probation)
GATE = 1.0  # quantile of a series' own recent scores that a score must beat to count in full
GATE_HISTORY = 4096  # rows of scores behind that quantile
ALIGN = PERIOD_EVERY  # trims of the streaming history keep block boundaries where they were

# The grid the ensemble spans: every choice cross-validation used to pick one of
GATES: tuple[float | None, ...] = (None, 0.99, 0.995, 0.999, 1.0)
REFRACTORIES = (64, 128, 256)
SPATIAL_WARMUPS = (288, 750, 2048)  # a day of 5-minute rows, NAB's longest probation, HISTORY
POWER = 2.0  # the members' power mean: between their mean (1) and their maximum (infinity)


@dataclass(frozen=True)
class Setting:
    """One member's free choices: the gate's quantile (None: no gate), the rows over which an
    alarm must beat the previous ones to be news, and the rows before the spatial rule counts."""

    gate: float | None = GATE
    refractory: int = REFRACTORY
    spatial_warmup: int = SPATIAL_WARMUP

    @property
    def span(self) -> int:
        """Rows of history that the newest score depends on."""
        return (
            GATE_HISTORY
            + BLOCK
            + SILENCE
            + self.refractory
            + CALIBRATION
            + SMOOTH
            + 2 * BLOCK
            + 1  # the seasonal difference looks at the previous row's reference
            + max(HISTORY + CYCLES * PERIOD_HISTORY // 3, PERIOD_HISTORY + PERIOD_EVERY)
        )


def grid() -> tuple[Setting, ...]:
    """Every setting of GATES x REFRACTORIES x SPATIAL_WARMUPS."""
    choices = [(g, r, w) for g in GATES for r in REFRACTORIES for w in SPATIAL_WARMUPS]
    return tuple(Setting(gate=g, refractory=r, spatial_warmup=w) for g, r, w in choices)


@dataclass(frozen=True)
class Ensemble:
    """Member settings whose scores combine by their power mean (`power`: 1 the mean, math.inf
    the maximum)."""

    members: tuple[Setting, ...] = field(default_factory=grid)
    power: float = POWER

    @property
    def span(self) -> int:
        return max(m.span for m in self.members)

    @property
    def keep(self) -> int:
        """Rows a streaming detector keeps."""
        return self.span + ALIGN


def ensemble(detector: Setting | Ensemble) -> Ensemble:
    """A lone setting is an ensemble of one."""
    return detector if isinstance(detector, Ensemble) else Ensemble((detector,))


@dataclass(frozen=True)
class Layout:
    """The work members share: one spatial rule per distinct warm-up, one refractory damping per
    distinct (warm-up, refractory) pair, then one gate per member."""

    warmups: np.ndarray  # (W,) distinct warm-ups
    pairs: tuple[tuple[int, int], ...]  # per distinct pair: (index into warmups, refractory rows)
    pair_of: np.ndarray  # (M,) each member's pair
    gates: tuple[float | None, ...]  # (M,) each member's gate quantile
    power: float

    @classmethod
    def of(cls, detector: Setting | Ensemble) -> Layout:
        members = ensemble(detector)
        warmups = sorted({m.spatial_warmup for m in members.members})
        pairs = sorted({(warmups.index(m.spatial_warmup), m.refractory) for m in members.members})
        pair_of = [pairs.index((warmups.index(m.spatial_warmup), m.refractory)) for m in members.members]
        return cls(
            warmups=np.array(warmups),
            pairs=tuple(pairs),
            pair_of=np.array(pair_of),
            gates=tuple(m.gate for m in members.members),
            power=members.power,
        )


def spatial(
    raw: np.ndarray, lo: np.ndarray, hi: np.ndarray, noise: np.ndarray, index: np.ndarray, warmups: np.ndarray
) -> np.ndarray:
    """(warm-ups, rows): 1.0 where a value leaves the range [lo, hi] of the rows before it by more
    than SPATIAL_TOLERANCE of that range (Numenta's spatial anomaly), from row `warmup` on.

    The margin is never below `noise`, the robust scale of the row-to-row change: white noise
    keeps setting small records (the range of n rows grows like sqrt(log n)), and a record by
    less than one ordinary change is no news."""
    margin = np.fmax(SPATIAL_TOLERANCE * (hi - lo), noise)
    new = ((raw > hi + margin) | (raw < lo - margin)) & (hi > lo)
    return (new & (index >= np.asarray(warmups)[:, None])).astype(float)


def members(
    base: np.ndarray,
    raw: np.ndarray,
    ranges: tuple[np.ndarray, np.ndarray, np.ndarray],
    index: np.ndarray,
    layout: Layout,
) -> dict[str, np.ndarray]:
    """Every member's stages 3 and 4 over a whole series, from the calibrated measure `base`, the
    values and their (lowest, highest, noise) ranges; `score` is their combination."""
    n = len(base)
    out = {"spatial": spatial(raw, *ranges, index, layout.warmups)}
    out["calibrated"] = np.maximum(base, out["spatial"])
    alarm, damped = np.zeros((len(layout.pairs), n)), np.zeros((len(layout.pairs), n))
    for p, (w, refractory) in enumerate(layout.pairs):
        cal = out["calibrated"][w]
        padded = np.concatenate((np.zeros(refractory), cal))
        recent_max = sliding_window_view(padded, refractory)[:n].max(axis=1)
        alarm[p] = _alarm(cal, recent_max)
        silenced = sliding_window_view(np.concatenate((np.zeros(SILENCE), alarm[p])), SILENCE)[:n].max(axis=1)
        damped[p] = _refractory(cal, recent_max, silenced)
    out["alarm"], out["damped"] = alarm, damped
    out["gate"] = _gates(damped, layout, n)
    out["member"] = _gated(damped[layout.pair_of], out["gate"])
    out["score"] = combine(out["member"], layout.power)
    return out


def _gates(damped: np.ndarray, layout: Layout, n: int) -> np.ndarray:
    """(members, rows): each member's gate, the quantile of its pair's last GATE_HISTORY damped
    scores (refreshed every BLOCK rows), NaN for a member with no gate."""
    gate = np.full((len(layout.gates), n), np.nan)
    for p in range(len(layout.pairs)):
        gated = {int(j): q for j in np.flatnonzero(layout.pair_of == p) if (q := layout.gates[j]) is not None}
        if not gated:
            continue
        quantiles = sorted(set(gated.values()))
        per_block = upper_quantiles(damped[p], GATE_HISTORY, quantiles)
        for j, q in gated.items():
            gate[j] = _rows(per_block[quantiles.index(q)], n)
    return gate


def upper_quantiles(series: np.ndarray, length: int, quantiles: list[float]) -> np.ndarray:
    """(quantiles, blocks): per block start s, np.quantile of series[max(0, s - length):s] (NaN
    for fewer than MIN_HISTORY rows).

    The blocks before the first full window would each cost a whole np.quantile call; there a
    running top of the rows keeps only the values a quantile as high as these can reach."""
    starts = np.arange(0, len(series), BLOCK)
    out = np.full((len(quantiles), len(starts)), np.nan)
    full = starts >= length
    if full.any():
        windows = sliding_window_view(series, length)[starts[full] - length]
        out[:, full] = np.quantile(windows, quantiles, axis=1)
    keep = math.ceil((1.0 - min(quantiles)) * length) + 2
    top, seen = np.empty(0), 0
    for k in np.flatnonzero(~full & (starts >= MIN_HISTORY)):
        top = np.sort(np.concatenate((top, series[seen : starts[k]])))[-keep:]
        seen = int(starts[k])
        out[:, k] = _linear_quantiles(top, seen, np.array(quantiles))
    return out


def _linear_quantiles(top: np.ndarray, count: int, quantiles: np.ndarray) -> np.ndarray:
    """np.quantile's default ('linear') of `count` values, given their highest ones `top` (sorted)."""
    virtual = quantiles * (count - 1)
    below = np.minimum(np.floor(virtual), count - 1).astype(int)
    above = np.minimum(below + 1, count - 1)
    first = count - len(top)  # the rank of top[0] among all the values
    a, b = top[below - first], top[above - first]
    t = virtual - below
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1.0 - t), a + diff * t)  # numpy's own lerp


def extend(stages: dict[str, np.ndarray], row: int, base: float, index: int, layout: Layout) -> None:
    """Every member's stages 3 and 4 for the newest `row` of `stages` (extended in place), given
    its calibrated measure `base` and the gates in force for its block."""
    i = np.array([row])
    new = spatial(stages["raw"][i], stages["range.lo"][i], stages["range.hi"][i], stages["range.noise"][i],
                  np.array([index]), layout.warmups)[:, 0]  # fmt: skip
    stages["spatial"][:, row] = new
    stages["calibrated"][:, row] = np.maximum(base, new)
    for p, (w, refractory) in enumerate(layout.pairs):
        cal = stages["calibrated"][w, row : row + 1]
        recent = stages["calibrated"][w, max(0, row - refractory) : row]
        recent_max = np.array([max(float(recent.max()) if len(recent) else 0.0, 0.0)])
        stages["alarm"][p, row] = _alarm(cal, recent_max)[0]
        alarms = stages["alarm"][p, max(0, row - SILENCE) : row]
        silenced = np.array([max(float(alarms.max()) if len(alarms) else 0.0, 0.0)])
        stages["damped"][p, row] = _refractory(cal, recent_max, silenced)[0]
    stages["member"][:, row] = _gated(stages["damped"][layout.pair_of, row], stages["gate"][:, row])
    stages["score"][row] = combine(stages["member"][:, row : row + 1], layout.power)[0]


def combine(scores: np.ndarray, power: float) -> np.ndarray:
    """Per row, the power mean of the members' scores (members along the first axis)."""
    if len(scores) == 1:  # a lone setting's scores, exactly
        return np.asarray(scores[0])
    if math.isinf(power):
        return np.asarray(scores.max(axis=0))
    # a running sum adds the members in one order, so a row sums the same alone as in a series
    total = np.cumsum(scores**power, axis=0)[-1]
    return np.asarray((total / len(scores)) ** (1.0 / power))


def _gated(score: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """A score no higher than the series' own recent `gate` quantile is ordinary for it: damped."""
    return np.where(np.isfinite(gate) & (score <= gate), ECHO * score, score)


def _alarm(score: np.ndarray, recent_max: np.ndarray) -> np.ndarray:
    """1.0 where a row is news (beats the recent scores) at or above the ALARM level, else 0.0."""
    return ((score > recent_max) & (score >= ALARM)).astype(float)


def _refractory(score: np.ndarray, recent_max: np.ndarray, silenced: np.ndarray) -> np.ndarray:
    """A score that does not beat the recent ones is an echo of them, and one that follows an alarm
    closely is its continuation: report both damped."""
    return np.where((score > recent_max) & (silenced == 0.0), score, ECHO * score)
