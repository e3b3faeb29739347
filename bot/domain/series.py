"""Time series as the analysis sees them: labels plus aligned numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    timestamps: np.ndarray  # unix seconds, float64, ascending
    values: np.ndarray  # float64, NaN where missing
    query: str = field(default="", compare=False)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def name(self) -> str:
        return self.labels.get("__name__", "")
