"""Build PromQL from typed parts. Label values are always escaped, never pasted."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Aggregation = Literal["sum", "max", "count"]
RangeFunction = Literal["rate", "increase", "max_over_time"]

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def quote(value: str) -> str:
    """A PromQL double-quoted string literal for any text."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def regex_literal(values: Iterable[str]) -> str:
    """An RE2 alternation that matches exactly the given strings."""
    return "|".join(re.escape(v) for v in values)


def metric_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a valid metric name: {name!r}")
    return name


def label_name(name: str) -> str:
    if not _LABEL.match(name):
        raise ValueError(f"not a valid label name: {name!r}")
    return name


@dataclass(frozen=True)
class Matcher:
    label: str
    value: str
    op: Literal["=", "!=", "=~", "!~"] = "="

    def render(self) -> str:
        return f"{label_name(self.label)}{self.op}{quote(self.value)}"


def selector(metric: str | None, *matchers: Matcher | None) -> str:
    """``metric{a="b",...}``; ``None`` matchers are skipped so callers can pass optional ones."""
    parts = ",".join(m.render() for m in matchers if m is not None)
    name = metric_name(metric) if metric else ""
    if not name and not parts:
        raise ValueError("a selector needs a metric name or at least one matcher")
    return f"{name}{{{parts}}}" if parts or not name else name


def by(labels: Iterable[str]) -> str:
    return ", ".join(label_name(label) for label in labels)


def duration(seconds: float) -> str:
    """A PromQL duration in whole seconds, at least one (``0s`` is not a valid range)."""
    return f"{max(int(seconds), 1)}s"


def over_range(function: RangeFunction, series: str, seconds: float) -> str:
    """``function(series[window])``: a range-vector function over a selector."""
    return f"{function}({series}[{duration(seconds)}])"


def aggregate(operator: Aggregation, expression: str, labels: Iterable[str] = ()) -> str:
    """``operator by (labels) (expression)``, or over everything when no label is given."""
    grouping = tuple(labels)
    return f"{operator} by ({by(grouping)}) ({expression})" if grouping else f"{operator} ({expression})"


def histogram_quantile(quantile: float, buckets: str) -> str:
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"a quantile lies between 0 and 1, not {quantile}")
    return f"histogram_quantile({quantile:g}, {buckets})"
