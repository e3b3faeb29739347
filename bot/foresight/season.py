"""Seasonal period detection for ops metrics: daily and weekly cycles, chosen by autocorrelation."""

from __future__ import annotations

import numpy as np

DAY = 86_400.0
WEEK = 7 * DAY
MIN_CYCLES = 3  # a period is only trusted after this many full cycles of data
MIN_ACF = 0.3
WEEKLY_GAIN = 0.9


def sampling_interval(timestamps: np.ndarray | None) -> float | None:
    """The typical spacing of the timestamps (unix seconds), or None when it cannot be told."""
    if timestamps is None or len(timestamps) < 3:
        return None
    step = float(np.median(np.diff(timestamps)))
    return step if np.isfinite(step) and step > 0 else None


def autocorrelation(values: np.ndarray, lag: int) -> float:
    y = values - values.mean()
    denom = float(y @ y)
    if lag <= 0 or lag >= len(y) or denom <= 0.0:
        return 0.0
    return float(y[lag:] @ y[:-lag]) / denom


def acf_peak(values: np.ndarray, max_lag: int) -> int | None:
    """The lag of the highest local autocorrelation peak (FFT), if it clears MIN_ACF."""
    y = values - values.mean()
    n = len(y)
    spectrum = np.fft.rfft(y, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: max_lag + 1]
    if acf[0] <= 0.0:
        return None
    acf = acf / acf[0]
    peaks = np.flatnonzero((acf[1:-1] > acf[:-2]) & (acf[1:-1] >= acf[2:])) + 1
    peaks = peaks[peaks >= 4]
    if len(peaks) == 0:
        return None
    best = int(peaks[np.argmax(acf[peaks])])
    return best if acf[best] >= MIN_ACF else None


def detect_period(values: np.ndarray, timestamps: np.ndarray | None = None) -> int | None:
    """The seasonal period in rows, or None.

    With timestamps, only the daily and weekly cycles are candidates (what ops data has); the one
    with the stronger autocorrelation wins if it clears MIN_ACF. Without timestamps, the highest
    autocorrelation peak is used."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    if n < 4 * MIN_CYCLES or float(np.ptp(values)) == 0.0:
        return None
    step = sampling_interval(timestamps)
    if step is None:
        return acf_peak(values, n // MIN_CYCLES)
    periods = detect_periods(values, step)
    return periods[-1] if periods else None


def detect_periods(values: np.ndarray, step: float) -> list[int]:
    """The daily and/or weekly periods (in rows, ascending) that the data shows.

    Each must show an autocorrelation of at least MIN_ACF. A weekly lag is also a whole number of
    days, so it is added only when it predicts clearly better than the daily one (its seasonal
    differences are WEEKLY_GAIN smaller): that is when the days of the week differ."""
    found: list[int] = []
    for cycle in (DAY, WEEK):
        lag = round(cycle / step)
        if lag < 2 or abs(lag * step - cycle) > 0.05 * cycle or lag * MIN_CYCLES > len(values):
            continue
        if autocorrelation(values, lag) < MIN_ACF:
            continue
        if found:
            recent = values[lag:]
            week = _spread(recent - values[:-lag])
            day = _spread(recent - values[lag - found[0] : -found[0]])
            if week > WEEKLY_GAIN * day:
                continue
        found.append(lag)
    return found


def _spread(differences: np.ndarray) -> float:
    """Mean absolute seasonal difference around its median, so that a trend does not count."""
    return float(np.mean(np.abs(differences - np.median(differences))))
