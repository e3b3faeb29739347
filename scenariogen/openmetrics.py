"""An in-memory series store that renders OpenMetrics text with explicit timestamps.

Counters are kept as their cumulative values (resets included), so the same store serves the
file writer and the Python-side evaluation that picks alert thresholds.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    values: np.ndarray  # NaN where the series has no sample


@dataclass
class Family:
    name: str
    type: str  # counter | gauge | histogram | unknown
    series: list[Series] = field(default_factory=list)


class Store:
    def __init__(self, timestamps: np.ndarray) -> None:
        self.ts = timestamps
        self.families: dict[str, Family] = {}
        self.gaps: set[int] = set()  # sample indices lost for every target (a Prometheus restart)
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], list[Series]] = {}

    def add(self, family: str, type_: str, name: str, labels: dict[str, str], values: np.ndarray) -> None:
        self._cache.clear()
        fam = self.families.setdefault(family, Family(family, type_))
        fam.series.append(Series(name, dict(labels), np.asarray(values, dtype=float)))

    def select(self, name: str, **match: str) -> list[Series]:
        key = (name, tuple(sorted(match.items())))
        if key not in self._cache:
            self._cache[key] = self._select(name, **match)
        return self._cache[key]

    def _select(self, name: str, **match: str) -> list[Series]:
        out = []
        for fam in self.families.values():
            for s in fam.series:
                if s.name == name and all(s.labels.get(k) == v for k, v in match.items()):
                    out.append(s)
        return out

    def lines(self) -> Iterable[str]:
        ts = [str(int(t)) for t in self.ts]
        for fam in sorted(self.families.values(), key=lambda f: f.name):
            if fam.type != "unknown":
                yield f"# TYPE {fam.name} {fam.type}\n"
            for s in sorted(fam.series, key=lambda s: (s.name, _label_key(s.labels))):
                head = (
                    s.name + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items())) + "}"
                )
                for i in np.flatnonzero(~np.isnan(s.values)):
                    if i in self.gaps:
                        continue
                    yield f"{head} {_fmt(s.values[i])} {ts[i]}\n"
        yield "# EOF\n"

    def write(self, path: Path) -> int:
        count = 0
        chunk: list[str] = []
        # mtime=0 keeps the bytes a pure function of the seed
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as f:
            for line in self.lines():
                chunk.append(line)
                count += 1
                if len(chunk) >= 5000:
                    f.write("".join(chunk).encode())
                    chunk.clear()
            f.write("".join(chunk).encode())
        return count


def _label_key(labels: dict[str, str]) -> tuple[tuple[str, float | str], ...]:
    # le sorts numerically so histogram buckets read in order
    return tuple((k, float(v) if k == "le" else v) for k, v in sorted(labels.items()))


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _fmt(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    # exporters print full precision; two decimals keep rates exact enough and the files small
    return f"{round(v, 2):.12g}" if abs(v) >= 100 else f"{v:.6g}"


def counter(
    increments: np.ndarray, resets: np.ndarray | None = None, offset: float = 0.0, integer: bool = False
) -> np.ndarray:
    """Cumulative counter from per-step increments; restarts (a rising restart count) reset it to 0."""
    inc = np.nan_to_num(np.asarray(increments, dtype=float))
    out = np.empty_like(inc)
    total = offset
    prev = resets[0] if resets is not None and len(resets) else 0
    for i, x in enumerate(inc):
        if resets is not None and resets[i] != prev:
            total, prev = 0.0, resets[i]
        total += x
        out[i] = total
    # event counters (requests, CFS periods) are whole numbers; flooring the running sum keeps them monotonic
    return np.floor(out) if integer else out


def increase(values: np.ndarray, i: int, window: int) -> float:
    """Counter increase over the samples in (i-window, i], reset-aware, without extrapolation."""
    seg = values[max(0, i - window) : i + 1]
    seg = seg[~np.isnan(seg)]
    if len(seg) < 2:
        return 0.0
    d = np.diff(seg)
    return float(np.where(d >= 0, d, seg[1:]).sum())
