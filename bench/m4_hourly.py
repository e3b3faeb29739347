"""M4 Hourly through `tugboat forecast`: MASE, sMAPE, 80% interval coverage and the run's time.

M4's data has no license and is not shipped: pass the directory that holds the competition's
`Hourly-train.csv` and `Hourly-test.csv` (Mcompetitions/M4-methods, Dataset/Train and
Dataset/Test). Two protocols:

- `--split dev` (development): each training series without its last 48 points is the history,
  those 48 points the actual future. Every choice in the forecaster was made this way.
- `--split test` (the report, run once): the whole training series is the history, the test
  file the future.

The series are written to one long CSV (hourly timestamps ending at the same hour: M4 gives no
start dates) and forecast by the `tugboat forecast` command in a subprocess, timed end to end
(interpreter start, imports, CSV in and out). Scores as M4: MASE scaled by the in-sample seasonal
naive (lag 24) MAE, sMAPE in percent; both averaged over series.

Usage: python bench/m4_hourly.py DIR [--split dev|test] [--every N]
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HORIZON, LAG, LEVEL = 48, 24, 80
END = 1_700_000_000.0  # the last history row's timestamp (arbitrary; M4 has no dates)


def read_m4(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return {row[0]: np.array([float(x) for x in row[1:] if x.strip()]) for row in reader}


def split(root: Path, which: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    train = read_m4(root / "Hourly-train.csv")
    if which == "dev":
        return {k: v[:-HORIZON] for k, v in train.items()}, {k: v[-HORIZON:] for k, v in train.items()}
    test = read_m4(root / "Hourly-test.csv")
    return train, {k: test[k][:HORIZON] for k in train}


def run_cli(history: dict[str, np.ndarray], workdir: Path) -> tuple[dict[str, np.ndarray], ...]:
    source = workdir / "m4.csv"
    with source.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(("series", "timestamp", "value"))
        for name, y in history.items():
            stamps = END - 3600.0 * np.arange(len(y))[::-1]
            out.writerows((name, int(t), repr(float(v))) for t, v in zip(stamps, y, strict=True))
    command = [sys.executable, "-m", "bot", "forecast", "--input", str(source), "--horizon", str(HORIZON)]
    started = time.perf_counter()
    done = subprocess.run([*command, "--level", str(LEVEL)], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"tugboat forecast failed:\n{done.stderr[-2000:]}")
    print(f"tugboat forecast, {len(history)} series x h={HORIZON}: {wall:.1f} s wall, "
          f"{cpu.ru_utime + cpu.ru_stime:.1f} CPU-s")  # fmt: skip
    columns: dict[str, dict[str, list[float]]] = {}
    for row in csv.DictReader(done.stdout.splitlines()):
        entry = columns.setdefault(row["series"], {"forecast": [], "lower": [], "upper": []})
        for key in entry:
            entry[key].append(float(row[key]))
    return tuple({k: np.array(v[key]) for k, v in columns.items()} for key in ("forecast", "lower", "upper"))


def smape(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean(200.0 * np.abs(forecast - actual) / (np.abs(forecast) + np.abs(actual))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("data", type=Path, help="directory with Hourly-train.csv and Hourly-test.csv")
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--every", type=int, default=1, help="use every Nth series (a quick look)")
    args = parser.parse_args()
    history, future = split(args.data, args.split)
    history = {k: history[k] for k in list(history)[:: args.every]}
    with tempfile.TemporaryDirectory() as tmp:
        mean, lower, upper = run_cli(history, Path(tmp))
    rows = []
    for name, y in history.items():
        actual = future[name]
        scale = float(np.mean(np.abs(y[LAG:] - y[:-LAG])))
        naive = np.tile(y[-LAG:], HORIZON // LAG)
        covered = (actual >= lower[name]) & (actual <= upper[name])
        mase = np.mean(np.abs(actual - mean[name])) / scale
        naive_mase = np.mean(np.abs(actual - naive)) / scale
        rows.append((mase, smape(mean[name], actual), naive_mase, smape(naive, actual), np.mean(covered)))
    m = np.mean(rows, axis=0)
    print(
        f"M4 Hourly ({args.split}, {len(rows)} series, h={HORIZON}): MASE {m[0]:.3f}, sMAPE {m[1]:.2f}, "
        f"80% interval coverage {m[4]:.3f}; seasonal naive MASE {m[2]:.3f}, sMAPE {m[3]:.2f}"
    )


if __name__ == "__main__":
    main()
