from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib.image import imread

from bot.adapters.graphs import render_all
from bot.domain.graph import GraphSpec, Threshold
from bot.domain.series import Series


def test_renders_a_png_per_spec_with_safe_file_names(tmp_path: Path) -> None:
    t = np.arange(0, 3600, 30, dtype=float) + 1_790_000_000
    values = np.where(t < t[60], 0.5, 1.9)
    spec = GraphSpec(
        name="ledger/cpu usage",
        title="ledger: CPU usage vs limit",
        unit="cores",
        series=[Series({"pod": "ledger-1"}, t, values), Series({"pod": "ledger-2"}, t, values * 0.9)],
        onset=datetime.fromtimestamp(t[60], UTC),
        at=datetime.fromtimestamp(t[-1], UTC),
        thresholds=[Threshold(2.0, "CPU limit 2 cores")],
    )
    empty = GraphSpec(name="empty", title="no data", unit="ratio", series=[])
    paths = render_all([spec, empty], tmp_path / "graphs")
    assert [p.name for p in paths] == ["ledger-cpu-usage.png", "empty.png"]
    image = imread(paths[0])
    assert image.shape[0] >= 300 and image.shape[1] >= 800
    # the picture is not blank: several distinct colours (lines, onset, threshold)
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 20
