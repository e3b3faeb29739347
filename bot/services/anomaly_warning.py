"""What the anomaly watch warns of: the measures it watches, and one warning with its graph, as
stored while its post is pending (``to_post`` / ``from_post``: JSON values only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from bot.domain.graph import GraphSpec
from bot.domain.series import Series


@dataclass(frozen=True)
class Measure:
    key: str  # part of the store's series key
    words: str  # how people say it
    unit: str  # the graph's unit


CPU = Measure("cpu", "CPU use", "cores")
REQUESTS = Measure("requests", "request rate", "req/s")
ERRORS = Measure("errors", "error ratio", "ratio")
LATENCY = Measure("p95", "p95 latency", "s")
MEASURES = {m.key: m for m in (CPU, REQUESTS, ERRORS, LATENCY)}


@dataclass(frozen=True)
class AnomalyWarning:
    workload: str
    namespace: str  # "" when the metrics carry none
    measure: Measure
    at: datetime  # the first row of the run interval at or above the threshold
    score: float  # that row's anomaly score
    graph: GraphSpec

    @property
    def series_key(self) -> str:
        return f"{self.namespace}/{self.workload}/{self.measure.key}"

    @property
    def described(self) -> str:
        """For logs: the measure and the workload, e.g. "CPU use of checkout (payments)"."""
        return f"{self.measure.words} of {self.workload}" + (f" ({self.namespace})" if self.namespace else "")

    def to_post(self) -> dict[str, Any]:
        g = self.graph
        return {
            "workload": self.workload,
            "namespace": self.namespace,
            "measure": self.measure.key,
            "at": self.at.isoformat(),
            "score": self.score,
            "graph": {
                "name": g.name,
                "title": g.title,
                "unit": g.unit,
                "series": [_series(s) for s in g.series],
                "onset": g.onset.isoformat() if g.onset else None,
                "marks": _series(g.marks) if g.marks is not None else None,
            },
        }

    @classmethod
    def from_post(cls, post: dict[str, Any]) -> AnomalyWarning:
        g = post["graph"]
        graph = GraphSpec(
            name=g["name"],
            title=g["title"],
            unit=g["unit"],
            series=[_unseries(s) for s in g["series"]],
            onset=datetime.fromisoformat(g["onset"]) if g["onset"] else None,
            marks=_unseries(g["marks"]) if g["marks"] is not None else None,
        )
        at = datetime.fromisoformat(post["at"])
        return cls(post["workload"], post["namespace"], MEASURES[post["measure"]], at, post["score"], graph)


def _series(s: Series) -> dict[str, Any]:
    return {"labels": s.labels, "t": s.timestamps.tolist(), "v": s.values.tolist()}


def _unseries(s: dict[str, Any]) -> Series:
    return Series(dict(s["labels"]), np.asarray(s["t"], dtype=float), np.asarray(s["v"], dtype=float))
