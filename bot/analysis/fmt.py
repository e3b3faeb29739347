"""Numbers and times in words, for evidence a person reads."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def hhmm(ts: float | None) -> str:
    if ts is None or not math.isfinite(ts):
        return "?"
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def pct(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    value = x * 100
    if value >= 10:
        return f"{value:.0f}%"
    return f"{value:.1f}%" if value >= 0.1 else f"{value:.2f}%"


def cores(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.2f} cores" if x < 10 else f"{x:.1f} cores"


def nbytes(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(x) >= size:
            return f"{x / size:.2f} {unit}" if x / size < 10 else f"{x / size:.0f} {unit}"
    return f"{x:.0f} B"


def rate(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.1f} req/s" if x < 100 else f"{x:.0f} req/s"


def seconds(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def minutes(delta_s: float) -> str:
    m = abs(delta_s) / 60
    return f"{m:.0f} min" if m >= 1 else f"{abs(delta_s):.0f} s"
