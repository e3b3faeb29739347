"""Rank hypotheses into root causes with calibrated confidences and citable evidence ids.

Each workload's kind is decided from its own evidence first (its strongest hypothesis); its other
kinds stay in the list below it as alternatives. Confidence is a tempered softmax over the ranked
scores and a "none of these" score, so it is ordered like the ranking and sums to at most one;
its temperature was fitted on generated incidents (bench/rca_eval.py reports the calibration error).
"""

from __future__ import annotations

import math

from bot.analysis.hypotheses import Candidate
from bot.domain.report import RootCause

MAX_CAUSES = 5
MIN_SCORE = 0.08
TEMPERATURE = 0.1
NONE_OF_THESE = 0.55  # the score at which a cause is as likely as an explanation we do not list


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Best first; one entry per (kind, workload), keeping its strongest form."""
    best: dict[tuple[str, str], Candidate] = {}
    for cand in candidates:
        key = (cand.kind.value, cand.workload)
        if key not in best or cand.score > best[key].score:
            best[key] = cand
    # A workload's weaker kinds never outrank its strongest: the evidence is its, not split.
    strongest: dict[str, float] = {}
    for cand in best.values():
        strongest[cand.workload] = max(strongest.get(cand.workload, 0.0), cand.score)
    ordered = sorted(
        best.values(),
        key=lambda c: (-c.score, c.score < strongest[c.workload], c.kind.value, c.workload),
    )
    return [c for c in ordered if c.score >= MIN_SCORE][:MAX_CAUSES]


def confidences(ranked: list[Candidate]) -> list[float]:
    """The chance that each cause is the one: a softmax over the scores beside "none of these"."""
    weights = [math.exp(c.score / TEMPERATURE) for c in ranked]
    total = sum(weights) + math.exp(NONE_OF_THESE / TEMPERATURE)
    return [round(max(0.01, min(0.97, w / total)), 3) for w in weights]


def to_root_causes(ranked: list[Candidate], namespace: str | None) -> list[RootCause]:
    causes = []
    counter = 0
    for cand, conf in zip(ranked, confidences(ranked), strict=True):
        evidence = []
        seen: set[str] = set()
        for item in cand.evidence:
            if item.observation in seen:
                continue
            seen.add(item.observation)
            counter += 1
            evidence.append(item.model_copy(update={"id": f"E{counter}"}))
        causes.append(
            RootCause(
                kind=cand.kind,
                service=cand.workload,
                namespace=namespace,
                confidence=conf,
                commit=cand.change.sha if cand.change is not None else None,
                evidence=evidence,
            )
        )
    return causes
