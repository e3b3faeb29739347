"""The manifests against the cluster: a value the files resolve to that kube-state-metrics does not
report is a sign the edit would land in the wrong place (or change nothing), so no diff is drafted.

``current`` is what the cluster runs (limits, requests, spec replicas, HPA bounds, as the sizing
read them); ``effective`` what the repository's files resolve to for the same field.
"""

from __future__ import annotations

import math
from typing import Any

from bot.analysis import fmt

TOLERANCE = 0.02  # quantities round-trip through text ("1.5Gi", "300m"); counts must match exactly


def _show(field: str, value: Any) -> str:
    if field in ("cpu", "cpu_request"):
        return fmt.cores(float(value))
    if field in ("memory", "memory_request"):
        return fmt.nbytes(float(value))
    return str(value)


def disagreement(field: str, effective: Any, current: Any, where: str) -> str | None:
    """Why the files and the cluster disagree on ``field``, or None when they agree (or either is unknown)."""
    try:
        eff, cur = float(effective), float(current)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(eff) and math.isfinite(cur)) or cur <= 0:
        return None
    exact = field in ("replicas", "hpa.maxReplicas", "hpa.minReplicas")
    if (eff == cur) if exact else abs(eff - cur) <= TOLERANCE * cur:
        return None
    return (
        f"the manifests resolve {field} to {_show(field, effective)} ({where}) but the cluster runs "
        f"{_show(field, current)}: the change would not land where the value is set, so no diff is proposed"
    )


def no_op(field: str, before: Any, after: Any) -> str | None:
    if before is not None and before == after:
        return f"{field} is already {_show(field, after)} in the manifests: there is nothing to change"
    return None
