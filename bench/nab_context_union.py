"""The contextual sequence-surprise experiment (bench/RESULTS.md, "tried and not kept").

Scores every (member variant, setting) pair on the NAB subset, then reports leave-one-group-out
over their union (the variant chosen on the other categories like any other setting) and each
variant against no member, setting by setting. A variant is the member's module constants
(LEVELS, ORDER, COLLAPSE, UNIT), set here before scoring: this is an experiment script.

Usage: python bench/nab_context_union.py compute off v1 v2 v3 v4
       python bench/nab_context_union.py union off,v1,v2,v3,v4
       python bench/nab_context_union.py paired v1,v2,v3,v4
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab_score as bench

from bot.foresight import anomaly_context

STRICT = float(np.log(2048.0)) / 4.0  # a surprise 1 in 2,048 beyond the median scores 0.5
VARIANTS: dict[str, tuple[int, int, bool, float] | None] = {  # LEVELS, ORDER, COLLAPSE, UNIT
    "off": None,
    "v1": (4, 3, True, 1.0),
    "v2": (4, 3, True, STRICT),
    "v3": (3, 5, True, STRICT),
    "v4": (4, 3, False, STRICT),
}
CACHE = Path("/tmp/nab_context")


def compute(name: str, files: list[bench.NabFile]) -> None:
    variant = VARIANTS[name]
    if variant is not None:
        anomaly_context.LEVELS, anomaly_context.ORDER, anomaly_context.COLLAPSE, anomaly_context.UNIT = (
            variant
        )
    out = {
        (s.gate, s.refractory, s.spatial_warmup): [bench.detect(f.values, f.timestamps, s) for f in files]
        for s in bench.settings(context=variant is not None)
    }
    CACHE.mkdir(exist_ok=True)
    (CACHE / f"{name}.pkl").write_bytes(pickle.dumps(out))


def _load(name: str) -> dict[tuple, list[np.ndarray]]:
    return pickle.loads((CACHE / f"{name}.pkl").read_bytes())


def union(names: list[str], files: list[bench.NabFile]) -> None:
    scores = {(n, *k): v for n in names for k, v in _load(n).items()}
    everything = list(range(len(files)))
    labelled = sum(len(f.windows) for f in files)
    for nested in (True, False):
        pooled, windows, held = 0.0, 0, []
        for group, train, test in bench._splits(files, everything):
            if nested:
                choice = max(scores, key=lambda c: bench._cross_validated(files, scores[c], train)[0])
            else:
                choice = max(
                    scores,
                    key=lambda c: bench.optimise([files[k] for k in train], [scores[c][k] for k in train])[1],
                )
            threshold, raw, w = bench._fold(files, scores[choice], train, test)
            pooled, windows = pooled + raw, windows + w
            if w:
                held.append(bench.normalised(raw, w))
            figure = f"held-out {bench.normalised(raw, w):.1f}" if w else f"raw {raw:.2f}"
            print(f"  {group:24s} {choice} threshold {threshold:.3f} {figure}")
        print(
            f"  {'nested' if nested else 'in-sample choice'}: pooled held-out "
            f"{bench.normalised(pooled, windows, labelled):.1f}, per category {min(held):.1f}-{max(held):.1f}"
        )


def _figures(files: list[bench.NabFile], s: list[np.ndarray]) -> tuple[float, float]:
    everything = list(range(len(files)))
    labelled = sum(len(f.windows) for f in files)
    folds = [bench._fold(files, s, train, test) for _, train, test in bench._splits(files, everything)]
    _, raw, n_windows = bench.optimise(files, s)
    cv = bench.normalised(sum(f[1] for f in folds), sum(f[2] for f in folds), labelled)
    return cv, bench.normalised(raw, n_windows, labelled)


def paired(names: list[str], files: list[bench.NabFile]) -> None:
    base = {k: _figures(files, v) for k, v in _load("off").items()}
    for name in names:
        mine = {k: _figures(files, v) for k, v in _load(name).items()}
        cv = np.array([mine[k][0] - base[k][0] for k in base])
        ins = np.array([mine[k][1] - base[k][1] for k in base])
        print(
            f"{name}: per setting, cross-validated {cv.mean():+.1f} (better in {(cv > 0).sum()}/{len(cv)}), "
            f"in-sample {ins.mean():+.1f}; best cross-validated {max(v[0] for v in mine.values()):.1f} "
            f"(none: {max(v[0] for v in base.values()):.1f})"
        )


if __name__ == "__main__":
    corpus = bench.load_corpus(bench.DEFAULT_DATA)
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "compute":
        for variant_name in rest:
            compute(variant_name, corpus)
    else:
        (union if command == "union" else paired)(rest[0].split(","), corpus)
