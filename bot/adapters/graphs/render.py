"""Render a GraphSpec to PNG.

Uses matplotlib's object API with the Agg canvas (no pyplot), so rendering has no global state
and is safe from worker threads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.domain.graph import GraphSpec

_PALETTE = ["#3274D9", "#56A64B", "#E0B400", "#8F3BB8", "#FF780A", "#37872D", "#1F60C4"]
_MAX_LINES = 8  # more series than this is noise in a chat-sized picture


def _label(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("__name__", "job", "instance", "metrics_path")}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or labels.get("__name__", "value")


def _formatter(unit: str) -> FuncFormatter:
    def fmt(value: float, _pos: int) -> str:
        if unit == "bytes":
            for suffix, size in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
                if abs(value) >= size:
                    return f"{value / size:.1f}{suffix}"
            return f"{value:.0f}B"
        if unit == "ratio":
            return f"{value * 100:.0f}%"
        if unit == "s":
            return f"{value * 1000:.0f}ms" if abs(value) < 1 else f"{value:.1f}s"
        return f"{value:.3g}"

    return FuncFormatter(fmt)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "graph"


def render(spec: GraphSpec, path: Path) -> Path:
    """Draw the series, the onset (dashed red), the investigation time and threshold lines."""
    fig = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, series in enumerate(spec.series[:_MAX_LINES]):
        if not len(series):
            continue
        times = date2num([datetime.fromtimestamp(t, UTC) for t in series.timestamps])
        ax.plot(
            times,
            np.asarray(series.values),
            color=_PALETTE[i % len(_PALETTE)],
            lw=1.4,
            label=_label(series.labels),
        )
    if spec.marks is not None and len(spec.marks):
        marked = date2num([datetime.fromtimestamp(t, UTC) for t in spec.marks.timestamps])
        ax.scatter(
            marked,
            np.asarray(spec.marks.values),
            color="#C4162A",
            s=14,
            zorder=3,
            label=_label(spec.marks.labels),
        )
    for j, threshold in enumerate(spec.thresholds):
        ax.axhline(
            threshold.value, color="#C4162A" if j == 0 else "#FA6400", ls="--", lw=1.2, label=threshold.label
        )
    if spec.onset:
        ax.axvline(
            float(date2num(spec.onset)), color="#C4162A", ls=":", lw=1.5, label=f"onset {spec.onset:%H:%M}"
        )
    if spec.at:
        ax.axvline(float(date2num(spec.at)), color="#777777", ls="-", lw=0.8, alpha=0.6, label=spec.at_label)
    ax.set_title(spec.title, fontsize=10, loc="left")
    ax.yaxis.set_major_formatter(_formatter(spec.unit))
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))
    ax.grid(True, color="#DDDDDD", lw=0.6)
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def render_all(specs: Iterable[GraphSpec], directory: Path) -> list[Path]:
    return [render(spec, directory / f"{_safe_name(spec.name)}.png") for spec in specs]
