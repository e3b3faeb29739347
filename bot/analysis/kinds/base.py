"""The interface every root-cause kind implements, and the remediation it sizes.

A kind is one class (in the manner of KRR's strategies behind ``BaseStrategy``): the words
people read about it, its thresholds as a typed settings model, the candidates its evidence
supports, and how it sizes the fix for a top cause of its kind. The registry in
``bot.analysis.kinds`` lists the kinds; ``bot.analysis.hypotheses`` weighs them against each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from bot.analysis.context import Context
from bot.analysis.evidence import EvidenceBuilder
from bot.analysis.signals import WorkloadSignals
from bot.analysis.symptoms import Candidate
from bot.domain.proposal import Action
from bot.domain.report import CauseKind
from bot.settings import ApprovalPolicy


@dataclass(frozen=True)
class RemediationIntent:
    action: Action
    workload: str
    field: str | None = None
    value: float | int | None = None
    current: float | int | None = None
    commit: str | None = None
    rationale: str = ""
    reverted: tuple[dict[str, Any], ...] = ()  # for a revert: the commit's field changes, as described


class KindSettings(BaseModel):
    """The thresholds of one kind. Each kind subclasses it with its own typed fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


S = TypeVar("S", bound=KindSettings)


class BaseKind(ABC, Generic[S]):
    """One root-cause kind: its name, its words, its thresholds and its remediation."""

    name: ClassVar[CauseKind]
    label: ClassVar[str]  # short, for lists: "memory limit too low"
    phrase: ClassVar[
        str
    ]  # completes "... is most likely caused by": "a memory limit below the working set of"
    settings_type: ClassVar[type[KindSettings]]

    def __init__(self, settings: S | None = None) -> None:
        self.settings: S = settings if settings is not None else self.settings_type()  # type: ignore[assignment]

    def sentence(self, top: Candidate) -> str:
        """What caused it, in words: ``a memory limit below the working set of payments``."""
        return f"{self.phrase} {top.workload}"

    def candidates(self, sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
        """This kind's hypotheses for one workload, scored from its own evidence."""
        return []

    def unexplained(self, sig: WorkloadSignals, ctx: Context, ev: EvidenceBuilder) -> list[Candidate]:
        """Hypotheses for a workload for which no kind's ``candidates`` found anything."""
        return []

    def episode(self, ctx: Context, ev: EvidenceBuilder, others: list[Candidate]) -> list[Candidate]:
        """Hypotheses about the incident as a whole, once every workload's ``others`` are known."""
        return []

    @abstractmethod
    def size_remediation(self, top: Candidate, policy: ApprovalPolicy) -> RemediationIntent:
        """The change that fixes a top cause of this kind, bounded by the approval policy."""


def nothing(top: Candidate, reason: str) -> RemediationIntent:
    return RemediationIntent(Action.NONE, top.workload, rationale=f"no change proposed: {reason}")
