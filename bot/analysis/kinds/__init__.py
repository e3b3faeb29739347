"""The registry of root-cause kinds. A new kind is one module here and one line in ``KINDS``."""

from __future__ import annotations

from bot.analysis.kinds.bad_deploy import BadDeploy
from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent
from bot.analysis.kinds.cpu_limit import CpuLimit
from bot.analysis.kinds.memory_limit import MemoryLimit
from bot.analysis.kinds.traffic_surge import TrafficSurge
from bot.analysis.kinds.transient import Transient
from bot.domain.report import CauseKind

__all__ = ["KINDS", "BaseKind", "KindSettings", "RemediationIntent", "kind", "label"]

KINDS: dict[CauseKind, BaseKind] = {
    k.name: k
    for k in (
        TrafficSurge(),
        CpuLimit(),
        MemoryLimit(),
        BadDeploy(),
        Transient(),
    )
}


def kind(name: CauseKind | str) -> BaseKind:
    """The kind registered under ``name`` (a ``CauseKind`` or its value)."""
    return KINDS[CauseKind(name)]


def label(name: CauseKind | str) -> str:
    """The words people read for a kind: ``memory limit too low``."""
    return kind(name).label
