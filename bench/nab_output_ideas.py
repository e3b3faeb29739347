"""Experiment, not shipped: ways to make the ensemble's output carry one threshold across series,
measured by leave-one-group-out with NAB's threshold rule and with the shift-robust one
(bench/RESULTS.md, "tried and not kept").

Every family below is built from the 45 members' scores of the shipped grid (one pass per file),
at each power of `nab_logo.POWERS` where it has one, and the power is chosen on the other
categories like the headline's:
- `vote`: the fraction of members whose score reaches ALARM (0.5, the level the calibration aims
  a news score at), alone, and averaged half and half with the power mean;
- `scaled`: the power mean times 0.5 / max(0.5, q), q the 0.99 or 0.999 quantile of the series'
  own last GATE_HISTORY combined scores: a series whose ordinary high scores pass 0.5 has its
  scale brought back to the others';
- `output gate`: the members' gate applied to the combined score (a score no higher than that
  quantile of the series' own last GATE_HISTORY combined scores reported at ECHO times itself).

Usage: python bench/nab_output_ideas.py [--data DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inputs import missing, present
from nab_logo import POWERS, ensemble_label, held_out
from nab_robust import WIDTHS, Robust
from nab_score import DEFAULT_DATA, NabFile, detect_members, load_corpus

from bot.foresight.anomaly_members import ALARM, ECHO, GATE_HISTORY, combine, upper_quantiles
from bot.foresight.anomaly_stats import _rows

Scores = dict[str, list[np.ndarray]]


def _own_quantile(score: np.ndarray, q: float) -> np.ndarray:
    """Per row: the q quantile of the series' own last GATE_HISTORY scores (NaN at first)."""
    return _rows(upper_quantiles(score, GATE_HISTORY, [q])[0], len(score))


def families(members: list[np.ndarray]) -> dict[str, Scores]:
    means = {ensemble_label(p): [combine(m, p) for m in members] for p in POWERS}
    votes = [np.mean(m >= ALARM, axis=0) for m in members]

    def each(transform: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Scores:
        return {
            label: [transform(s, v) for s, v in zip(s_all, votes, strict=True)]
            for label, s_all in means.items()
        }

    out: dict[str, Scores] = {"shipped (the power mean)": means, "vote alone": {"vote": votes}}
    out["(vote + power mean) / 2"] = each(lambda s, v: 0.5 * v + 0.5 * s)
    for q in (0.99, 0.999):
        out[f"scaled by the own {q:g} quantile"] = each(
            lambda s, _, q=q: s * 0.5 / np.maximum(0.5, np.nan_to_num(_own_quantile(s, q)))
        )
    for q in (0.999, 1.0):
        out[f"output gate {q:g}"] = each(
            lambda s, _, q=q: np.where(np.isfinite(g := _own_quantile(s, q)) & (s <= g), ECHO * s, s)
        )
    return out


def report(files: list[NabFile], name: str, scores: Scores) -> None:
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:
        nab = [
            held_out(files, scores, nested, threshold)
            for threshold in (False, True)
            for nested in (False, True)
        ]
        robust = Robust(files, scores)
        shifted = [robust.report(False), robust.report(True), robust.report(False, nab_threshold=True)]
        sweep = [robust.report(False, width=w) for w in WIDTHS[1:]]
    print(
        f"{name:34s} NAB's rule: {nab[0]:5.1f} (nested {nab[1]:5.1f}; "
        f"as NAB scores it {nab[2]:5.1f} / {nab[3]:5.1f})"
        f" | shift-robust: {shifted[0]:5.1f} (nested {shifted[1]:5.1f}; as NAB scores it {shifted[2]:5.1f};"
        f" fixed widths {min(sweep):5.1f}-{max(sweep):5.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not present(args.data):
        parser.exit(2, missing("the NAB subset", "--data") + "\n")
    files = load_corpus(args.data)
    members = [detect_members(f) for f in files]
    print(
        "pooled held-out, leave-one-group-out over the 5 categories "
        "(power and threshold chosen on the others):"
    )
    for name, scores in families(members).items():
        report(files, name, scores)


if __name__ == "__main__":
    main()
