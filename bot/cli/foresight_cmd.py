"""``tugboat anomaly-scores`` and ``tugboat forecast``: the numeric engines on CSV files."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import typer

from bot.domain.errors import InvalidInput


def anomaly_scores(
    input_path: Path = typer.Option(
        ..., "--input", "-i", help="CSV with a header and columns timestamp,value."
    ),
) -> None:
    """Score each row of a metric for anomaly (0..1), using only the rows up to it.

    Prints CSV timestamp,value,anomaly_score on stdout, one row per input row."""
    import numpy as np  # imported here: start-up time of every other command

    from bot.foresight.anomaly import score_series
    from bot.foresight.table import numbers, read_columns, unix_seconds

    rows = read_columns(input_path, ("timestamp", "value"))
    values = numbers(rows, "value")
    stamps = unix_seconds(rows)
    scores = score_series(values, stamps if np.all(np.diff(stamps) > 0) else None)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("timestamp", "value", "anomaly_score"))
    for stamp, value, score in zip(rows.columns["timestamp"], rows.columns["value"], scores, strict=True):
        out.writerow((stamp, value, f"{score:.6f}"))


def forecast(
    input_path: Path = typer.Option(
        ..., "--input", "-i", help="Long CSV with a header and columns series,timestamp,value."
    ),
    horizon: int = typer.Option(..., "--horizon", help="Steps to forecast past each series' last row."),
    season: int | None = typer.Option(
        None, "--season", help="Seasonal period in rows (1 = none). Default: daily/weekly, detected."
    ),
    level: int = typer.Option(80, "--level", help="Prediction interval, in percent."),
) -> None:
    """Forecast every series in a file, with a prediction interval.

    Each series gets the statsforecast models (and, with enough history, two LightGBM models over
    all the series) that forecast its own most recent rows best. Prints CSV
    series,step,forecast,lower,upper on stdout."""
    import numpy as np  # imported here: start-up time of every other command

    from bot.foresight.forecast import forecast_many
    from bot.foresight.table import numbers, read_columns, unix_seconds

    if horizon <= 0:
        raise InvalidInput(f"--horizon must be a positive number of steps, got {horizon}")
    if season is not None and season < 1:
        raise InvalidInput(f"--season must be a period of at least 1 row, got {season}")
    if not 0 < level < 100:
        raise InvalidInput(f"--level must be a percentage between 0 and 100, got {level}")
    rows = read_columns(input_path, ("series", "timestamp", "value"))
    values = numbers(rows, "value")
    stamps = unix_seconds(rows)
    groups: dict[str, list[int]] = {}
    for k, name in enumerate(rows.columns["series"]):
        groups.setdefault(name, []).append(k)
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, members in groups.items():
        picked = np.array(members)
        order = np.argsort(stamps[picked], kind="stable")
        v, t = values[picked][order], stamps[picked][order]
        if not np.isfinite(v).any():
            raise InvalidInput(f"{input_path}: series {name!r} has no numeric values")
        series[name] = (v, t)
    if not series:
        raise InvalidInput(f"{input_path}: no data rows")
    results = forecast_many(series, horizon, season=season, level=level)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("series", "step", "forecast", "lower", "upper"))
    for name in series:
        fc = results[name]
        for step in range(horizon):
            out.writerow((name, step + 1, _num(fc.mean[step]), _num(fc.lower[step]), _num(fc.upper[step])))


def _num(x: float) -> str:
    return f"{x:.6g}"
