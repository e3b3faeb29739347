"""Tool output as the model should see it: statistics and templates, never raw floods.

Series become one line each (min/median/max/last, onset, trend); logs become templates with
counts (drain3, via ``bot.analysis.logtemplates``). Everything is redacted and cut to a token
budget before it is fenced into the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from bot.analysis.logtemplates import summarize
from bot.analysis.onset import detect_shift
from bot.domain.series import Series
from bot.ports.logs import LogLine
from bot.ports.tokens import truncate_to_tokens
from bot.security.redact import redact

MAX_SERIES = 8
MAX_TEMPLATES = 8


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "nan"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:.4g}"


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def _trend(ts: np.ndarray, values: np.ndarray) -> str:
    """rising/falling/flat: the fitted change over the window relative to the median level."""
    ok = np.isfinite(values)
    if ok.sum() < 3:
        return "n/a"
    slope = np.polyfit(ts[ok] - ts[ok][0], values[ok], 1)[0]
    change = slope * (ts[ok][-1] - ts[ok][0])
    scale = max(abs(float(np.median(values[ok]))), 1e-9)
    if abs(change) / scale < 0.1:
        return "flat"
    return "rising" if change > 0 else "falling"


def _onset(ts: np.ndarray, values: np.ndarray) -> str:
    if len(values) < 6:
        return ""
    try:
        shift = detect_shift(ts, values, float(ts[len(ts) // 3]))
    except (ValueError, IndexError):
        return ""
    if not shift.elevated or shift.onset is None:
        return ""
    return f" onset={_hhmm(shift.onset)} (baseline {_fmt(shift.baseline)}, peak {_fmt(shift.peak)})"


def summarise_series(series: Sequence[Series], max_series: int = MAX_SERIES) -> str:
    """One line per series, the most extreme (by last value) first."""
    if not series:
        return "no data (the query matched no series in the window)"

    def last(s: Series) -> float:
        finite = s.values[np.isfinite(s.values)]
        return float(finite[-1]) if finite.size else float("-inf")

    ordered = sorted(series, key=last, reverse=True)
    lines = []
    for s in ordered[:max_series]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "__name__")
        name = s.labels.get("__name__", "")
        head = f"{name}{{{labels}}}" if name else f"{{{labels}}}"
        finite = s.values[np.isfinite(s.values)]
        if finite.size == 0:
            lines.append(f"{head}: no finite values")
            continue
        if len(s.values) == 1:
            lines.append(f"{head}: {_fmt(float(finite[0]))}")
            continue
        lines.append(
            f"{head}: min={_fmt(float(finite.min()))} median={_fmt(float(np.median(finite)))}"
            f" max={_fmt(float(finite.max()))} last={_fmt(last(s))}"
            f" trend={_trend(s.timestamps, s.values)}{_onset(s.timestamps, s.values)}"
            f" ({_hhmm(float(s.timestamps[0]))}-{_hhmm(float(s.timestamps[-1]))}, {len(s.values)} points)"
        )
    if len(ordered) > max_series:
        lines.append(f"... and {len(ordered) - max_series} more series")
    return "\n".join(lines)


def summarise_logs(lines: Sequence[LogLine], max_templates: int = MAX_TEMPLATES) -> str:
    if not lines:
        return "no matching log lines in the window"
    summary = summarize(lines, onset=None, max_templates=max_templates)
    out = [f"{summary.total} lines, {summary.template_count} templates (most severe first):"]
    for stat in summary.templates:
        out.append(f"- [{stat.level}] {summary.observation(stat)}")
    if summary.dropped:
        out.append(f"... {summary.dropped} lines in other templates")
    return "\n".join(out)


def for_model(text: str, budget_tokens: int) -> str:
    """Redacted, then cut to the budget (redaction first: a cut must never split a secret)."""
    return truncate_to_tokens(redact(text), budget_tokens)
