"""Score the streaming anomaly detector on the Numenta Anomaly Benchmark (standard profile).

A from-scratch implementation of NAB's published scoring rules:
- each labelled window rewards its first detection with a scaled sigmoid of the position in the
  window (earliest = +A_TP, right edge ~ 0); a window with no detection costs A_FN;
- a detection outside every window costs A_FP times a sigmoid of its distance past the previous
  window (-1 when there is none or it is far behind);
- the first 15% of each file (at most 750 rows) is probation and not scored;
- one threshold is optimised over the whole corpus (here exhaustively, over every distinct score);
- normalisation: a detector that never fires scores 0, a perfect one 100 (NAB's "perfect" counts
  every labelled window, also one lying wholly in probation, so such a window caps the score).

Checked against NAB's own sweeper (nab/sweeper.py: calcSweepScore, calcScoreByThreshold) and
runner normalisation; tests/foresight/test_anomaly_nab_scorer.py compares this vectorised version
with a row-by-row transcription of those rules.

`--split` also reports a fixed split-half check: the files are split by a hash of their name, the
threshold optimised on one half is applied to the other, which shows how well a design and its
threshold carry over to series they were not tuned on.

`--logo` is the headline: leave-one-group-out cross-validation over NAB's categories, each
held-out category scored with the detector's free choice and the threshold chosen on the others
(bench/nab_logo.py says how; the threshold rule that carries over is in bench/nab_robust.py).

Usage: python bench/nab_score.py [--data DIR] [--split] [--logo]
(DIR: the NAB subset, by default $TUGBOAT_BENCH_DATA/benchmarks/nab-subset)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inputs import NAB_SUBSET, bench_data, missing, present

A_TP, A_FP, A_FN = 1.0, 0.11, 1.0  # standard profile; costs are subtracted below
PROBATION_PERCENT = 0.15
DEFAULT_DATA = bench_data(*NAB_SUBSET)
PROBATION, OUTSIDE = -2, -1  # window ids for rows that are not inside a labelled window


@dataclass(frozen=True)
class NabFile:
    name: str  # "group/file.csv", the key used by combined_windows.json
    timestamps: np.ndarray  # datetime64[s]
    values: np.ndarray
    windows: list[tuple[int, int]]  # inclusive row indices

    @property
    def group(self) -> str:
        return self.name.split("/", 1)[0]


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """2*sigmoid(-5x) - 1, and -1 from 3 window-widths past a window on."""
    out = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position >= 3.0, -1.0, out)


def probation_length(n: int) -> int:
    return int(min(math.floor(PROBATION_PERCENT * n), PROBATION_PERCENT * 5000))


def row_weights(n: int, windows: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the score a detection there earns, and its window id (or OUTSIDE / PROBATION)."""
    weight = np.empty(n)
    window_id = np.full(n, OUTSIDE, dtype=np.int64)
    idx = np.arange(n, dtype=float)
    max_tp = float(scaled_sigmoid(np.array(-1.0)))
    prev_right: int | None = None  # the previous window's last row, and its width
    prev_width = 1.0
    cursor = 0
    for k, (left, right) in enumerate([*windows, (n, n)]):
        # rows between the previous window and this one are false positives
        gap = slice(cursor, left)
        if prev_right is None:
            weight[gap] = -1.0 * A_FP
        else:
            past = np.abs(prev_right - idx[gap]) / (prev_width - 1.0)
            weight[gap] = scaled_sigmoid(past) * A_FP
        if left >= n:
            break
        width = float(right - left + 1)
        inside = slice(left, right + 1)
        position = -(right - idx[inside] + 1.0) / width
        weight[inside] = scaled_sigmoid(position) * A_TP / max_tp
        window_id[inside] = k
        prev_right, prev_width, cursor = right, width, right + 1
    window_id[: probation_length(n)] = PROBATION
    return weight, window_id


def load_corpus(root: Path) -> list[NabFile]:
    labels = json.loads((root / "combined_windows.json").read_text())
    files = []
    for name in sorted(labels):
        raw = np.genfromtxt(root / "data" / name, delimiter=",", skip_header=1, dtype=str)
        stamps = np.array([s.replace(" ", "T") for s in raw[:, 0]], dtype="datetime64[s]")
        # as NAB: a window opens at the row whose timestamp is its start, and ends at the first row
        # with its end timestamp (labels are always timestamps of the file)
        windows = [(_row_of(stamps, start), _row_of(stamps, end)) for start, end in labels[name]]
        files.append(NabFile(name, stamps, raw[:, 1].astype(float), windows))
    return files


def _row_of(stamps: np.ndarray, label: str) -> int:
    when = np.datetime64(label.replace(" ", "T")[:19], "s")
    rows = np.flatnonzero(stamps == when)
    if len(rows) == 0:
        raise ValueError(f"label timestamp {label} is not a row of its file")
    return int(rows[0])


def split_half(name: str) -> int:
    """A fixed split of the corpus into two halves, by a hash of the file name."""
    return zlib.crc32(name.encode()) % 2


def category_splits(files: list[NabFile], within: list[int]) -> list[tuple[str, list[int], list[int]]]:
    """(category, the other categories' files, its files) for each category among `within`."""
    groups = sorted({files[k].group for k in within})
    return [
        (g, [k for k in within if files[k].group != g], [k for k in within if files[k].group == g])
        for g in groups
    ]


def _events(f: NabFile, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Score changes as the threshold sweeps down through each row's anomaly score.

    Returns (row scores, change in the file's raw score when that row becomes a detection,
    number of scored windows). A window's contribution is -A_FN until its first detection, then
    the best (earliest) detection weight so far."""
    weight, wid = row_weights(len(scores), f.windows)
    keep = wid != PROBATION
    s, w, wid = scores[keep], weight[keep], wid[keep]
    order = np.argsort(-s, kind="stable")
    s, w, wid = s[order], w[order], wid[order]
    delta = np.where(wid == OUTSIDE, w, 0.0)
    scored_windows = np.unique(wid[wid >= 0])
    for k in scored_windows:
        rows = np.flatnonzero(wid == k)
        best = np.maximum.accumulate(w[rows])
        delta[rows] = np.diff(np.concatenate(([-A_FN], best)))
    return s, delta, len(scored_windows)


def optimise(files: list[NabFile], scores: list[np.ndarray]) -> tuple[float, float, int]:
    """The threshold (detections are rows with score >= threshold) that maximises the corpus score.

    Returns (threshold, raw score, number of scored windows)."""
    parts = [_events(f, s) for f, s in zip(files, scores, strict=True)]
    all_s = np.concatenate([p[0] for p in parts])
    all_d = np.concatenate([p[1] for p in parts])
    n_windows = sum(p[2] for p in parts)
    order = np.argsort(-all_s, kind="stable")
    all_s, total = all_s[order], np.cumsum(all_d[order]) - A_FN * n_windows
    last_of_value = np.flatnonzero(np.append(all_s[1:] != all_s[:-1], True))
    best = last_of_value[int(np.argmax(total[last_of_value]))]
    if total[best] <= -A_FN * n_windows:
        return float("inf"), -A_FN * n_windows, n_windows
    return float(all_s[best]), float(total[best]), n_windows


def raw_score(f: NabFile, scores: np.ndarray, threshold: float) -> tuple[float, int]:
    s, delta, n_windows = _events(f, scores)
    return float(delta[s >= threshold].sum() - A_FN * n_windows), n_windows


def normalised(raw: float, n_windows: int, labelled: int | None = None) -> float:
    """NAB's 100 * (raw - null) / (perfect - null): the null detector misses every scored window,
    the perfect one earns A_TP for every labelled window (`labelled`, default `n_windows`)."""
    null, perfect = -A_FN * n_windows, A_TP * (n_windows if labelled is None else labelled)
    return 100.0 * (raw - null) / (perfect - null) if n_windows else float("nan")


def detect(values: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """The shipped detector's scores."""
    from bot.foresight.anomaly import score_series

    return score_series(values, _seconds(timestamps))


def detect_members(f: NabFile) -> np.ndarray:
    """(members, rows): every grid setting's scores of a file, from one ensemble pass."""
    from bot.foresight.anomaly import _pipeline
    from bot.foresight.anomaly_members import Ensemble, Layout

    return _pipeline(f.values, _seconds(f.timestamps), 0, True, Layout.of(Ensemble()))["member"]


def _seconds(timestamps: np.ndarray) -> np.ndarray:
    return timestamps.astype("datetime64[s]").astype(np.int64).astype(float)


def _streaming_cost(f: NabFile, rows: int = 4000) -> float:
    """Mean CPU seconds per `update`, block refreshes included, over the first rows of a file."""
    from bot.foresight.anomaly_stream import StreamingDetector

    detector = StreamingDetector()
    stamps = _seconds(f.timestamps[:rows])
    started = time.process_time()
    for value, stamp in zip(f.values[:rows], stamps, strict=True):
        detector.update(value, stamp)
    return (time.process_time() - started) / min(rows, len(f.values))


def command_rate(files: list[NabFile]) -> tuple[int, float, float]:
    """`tugboat anomaly-scores` end to end on one CSV of every file's rows, one after another
    (5-minute steps): (rows, wall seconds, CPU seconds), start-up and CSV I/O included."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.csv"
        with path.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(("timestamp", "value"))
            values = np.concatenate([f.values for f in files])
            out.writerows((1_400_000_000 + 300 * k, repr(float(v))) for k, v in enumerate(values))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", "anomaly-scores", "--input", str(path)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return len(values), wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", action="store_true", help="also report the split-half check")
    parser.add_argument("--logo", action="store_true", help="also report leave-one-group-out")
    args = parser.parse_args()
    if not present(args.data):
        parser.exit(2, missing("the NAB subset", "--data") + "\n")
    files = load_corpus(args.data)
    if args.logo:
        from nab_logo import leave_one_group_out

        leave_one_group_out(files, detect_members)
    # CPU time, not wall time: the development machines are shared and often busy
    started, cpu_started = time.perf_counter(), time.process_time()
    scores = [detect(f.values, f.timestamps) for f in files]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    rows = sum(len(f.values) for f in files)
    streaming = _streaming_cost(files[-1])
    threshold, total, n_windows = optimise(files, scores)
    labelled = sum(len(f.windows) for f in files)
    print(f"files {len(files)}, rows {rows}, windows {n_windows} scored of {labelled} labelled")
    print(f"detector speed: {rows / cpu:,.0f} rows per CPU-second ({cpu:.2f} CPU-s, {elapsed:.2f} s wall)")
    print(f"StreamingDetector.update: {streaming * 1e3:.2f} ms of CPU per row on average ({files[-1].name})")
    count, wall, cpu_cmd = command_rate(files)
    print(
        f"tugboat anomaly-scores on all {count} rows as one CSV: {count / cpu_cmd:,.0f} rows per CPU-second, "
        f"{count / wall:,.0f} rows/s wall ({cpu_cmd:.1f} CPU-s, {wall:.1f} s)"
    )
    print(f"threshold {threshold:.4f}")
    print(f"NAB standard score: {normalised(total, n_windows, labelled):.1f}")
    groups: dict[str, list[tuple[float, int, int]]] = {}
    for f, s in zip(files, scores, strict=True):
        raw, nw = raw_score(f, s, threshold)
        _, wid = row_weights(len(s), f.windows)
        fps = int(((s >= threshold) & (wid == OUTSIDE)).sum())
        groups.setdefault(f.group, []).append((raw, nw, fps))
    for group, items in groups.items():
        raw = sum(i[0] for i in items)
        nw = sum(i[1] for i in items)
        fps = sum(i[2] for i in items)
        score = normalised(raw, nw)
        print(f"  {group:24s} windows {nw:3d}  raw {raw:7.2f}  normalised {score:6.1f}  FP rows {fps}")
    for kind in ("artificial", "real"):
        chosen = [k for k, f in enumerate(files) if f.group.startswith(kind)]
        print(f"  {kind} only, own threshold: {_subset_score(files, scores, chosen):.1f}")
    if args.split:
        _report_split(files, scores)


def _subset_score(files: list[NabFile], scores: list[np.ndarray], chosen: list[int]) -> float:
    _, raw, n_windows = optimise([files[k] for k in chosen], [scores[k] for k in chosen])
    return normalised(raw, n_windows, sum(len(files[k].windows) for k in chosen))


def _report_split(files: list[NabFile], scores: list[np.ndarray]) -> None:
    """Each half scored with its own optimal threshold, and with the other half's."""
    for half in (0, 1):
        mine = [k for k, f in enumerate(files) if split_half(f.name) == half]
        other = [k for k, f in enumerate(files) if split_half(f.name) != half]
        foreign, _, _ = optimise([files[k] for k in other], [scores[k] for k in other])
        raw = sum(raw_score(files[k], scores[k], foreign)[0] for k in mine)
        n_windows = sum(raw_score(files[k], scores[k], foreign)[1] for k in mine)
        labelled = sum(len(files[k].windows) for k in mine)
        print(
            f"  half {half} ({len(mine)} files, {labelled} windows): own threshold "
            f"{_subset_score(files, scores, mine):.1f}, other half's threshold ({foreign:.3f}) "
            f"{normalised(raw, n_windows, labelled):.1f}"
        )


if __name__ == "__main__":
    main()
