"""Rank hypotheses into root causes with calibrated confidences and citable evidence ids."""

from __future__ import annotations

from bot.analysis.hypotheses import Candidate
from bot.domain.report import RootCause

MAX_CAUSES = 5
MIN_SCORE = 0.08


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Best first; one entry per (kind, workload), keeping its strongest form."""
    best: dict[tuple[str, str], Candidate] = {}
    for cand in candidates:
        key = (cand.kind.value, cand.workload)
        if key not in best or cand.score > best[key].score:
            best[key] = cand
    ordered = sorted(best.values(), key=lambda c: (-c.score, c.kind.value, c.workload))
    return [c for c in ordered if c.score >= MIN_SCORE][:MAX_CAUSES]


def confidences(ranked: list[Candidate]) -> list[float]:
    """Scores tempered by how clearly each beats the next one: a close race is less certain."""
    out = []
    for i, cand in enumerate(ranked):
        nxt = ranked[i + 1].score if i + 1 < len(ranked) else 0.0
        margin = (cand.score - nxt) / cand.score if cand.score > 0 else 0.0
        out.append(max(0.01, min(0.97, cand.score * (0.8 + 0.2 * margin))))
    return out


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
