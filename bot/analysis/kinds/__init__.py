"""The registry of root-cause kinds. A new kind is one module here and one line in ``KINDS``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from bot.analysis.kinds.bad_deploy import BadDeploy
from bot.analysis.kinds.base import BaseKind, KindSettings, RemediationIntent
from bot.analysis.kinds.cpu_limit import CpuLimit
from bot.analysis.kinds.memory_limit import MemoryLimit
from bot.analysis.kinds.traffic_surge import TrafficSurge
from bot.analysis.kinds.transient import Transient
from bot.domain.errors import InvalidInput, validation_problems
from bot.domain.report import CauseKind

__all__ = ["KINDS", "BaseKind", "KindSettings", "Kinds", "RemediationIntent", "configured", "kind", "label"]

Kinds = Mapping[CauseKind, BaseKind]

KINDS: Kinds = {
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


def configured(overrides: Mapping[str, Mapping[str, Any]]) -> Kinds:
    """The registry with each named kind's thresholds replaced by ``overrides`` (the setting
    ``analysis_kinds``); InvalidInput naming the kind and field when one does not fit."""
    unknown = sorted(set(overrides) - {name.value for name in KINDS})
    if unknown:
        known = ", ".join(sorted(name.value for name in KINDS))
        raise InvalidInput(f"analysis_kinds: no cause kind named {', '.join(unknown)} (the kinds: {known})")
    out = dict(KINDS)
    for name, values in overrides.items():
        default = KINDS[CauseKind(name)]
        try:
            settings = default.settings_type.model_validate(values)  # unnamed fields keep their defaults
        except ValidationError as exc:
            raise InvalidInput(f"analysis_kinds.{name}: {validation_problems(exc, 'value')}") from None
        out[default.name] = type(default)(settings)
    return out
