"""What a graph of evidence shows; rendering it (matplotlib) is an adapter's job."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.series import Series


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str  # e.g. "CPU limit 2 cores"


@dataclass(frozen=True)
class GraphSpec:
    """A dashboard-like panel: the decisive series, the onset, and limit lines."""

    name: str  # file stem, e.g. "checkout-memory"
    title: str
    unit: str  # "cores", "bytes", "req/s", "ratio", "s", "" ...
    series: list[Series]
    onset: datetime | None = None
    at: datetime | None = None
    thresholds: list[Threshold] = field(default_factory=list)
    evidence_id: str | None = None
    at_label: str | None = None  # names the ``at`` line in the legend, e.g. "merged 10:42"
    marks: Series | None = None  # rows drawn as dots on the line, e.g. the anomalous ones
