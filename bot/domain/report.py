"""What an investigation finds: evidence, ranked root causes, and the report."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.proposal import Proposal


class CauseKind(StrEnum):
    TRAFFIC_SURGE = "traffic_surge"
    CPU_LIMIT = "cpu_limit"
    MEMORY_LIMIT = "memory_limit"
    BAD_DEPLOY = "bad_deploy"
    TRANSIENT = "transient"


EvidenceSource = Literal["prometheus", "logs", "git", "manifest", "analysis"]


class Evidence(BaseModel):
    """One fact, with how it was obtained. ``id`` lets a narrative cite it (e.g. ``E3``)."""

    model_config = ConfigDict(frozen=True)

    id: str = ""
    source: EvidenceSource
    observation: str
    query: str | None = None
    commit: str | None = None
    graph: str | None = None  # file name of a rendered PNG, when one exists

    def public(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude_defaults=False)


class RootCause(BaseModel):
    kind: CauseKind
    service: str
    namespace: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    commit: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind.value,
            "service": self.service,
            "namespace": self.namespace,
            "confidence": round(self.confidence, 3),
        }
        if self.commit:
            data["commit"] = self.commit
        data["evidence"] = [e.public() for e in self.evidence]
        return data


class SourceStatus(BaseModel):
    """Whether a source answered; a failed source degrades the report instead of failing it."""

    name: str
    ok: bool
    detail: str = ""


class LLMUsage(BaseModel):
    model: str = ""
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    tool_calls: int = 0
    failed_calls: int = 0  # attempts that ended in an error or a timeout (no tokens counted)

    @property
    def spent(self) -> bool:
        return bool(self.calls or self.failed_calls)

    def line(self) -> str:
        """``model m: 1 call(s), 2 failed, 812 prompt + 64 completion tokens, 3.1s``."""
        failed = f", {self.failed_calls} failed" if self.failed_calls else ""
        return (
            f"model {self.model}: {self.calls} call(s){failed}, {self.prompt_tokens} prompt + "
            f"{self.completion_tokens} completion tokens, {self.latency_s:.1f}s"
        )


class InvestigationReport(BaseModel):
    alert_name: str
    service: str | None = None
    namespace: str | None = None
    at: datetime
    summary: str
    root_causes: list[RootCause] = Field(default_factory=list)
    proposal: Proposal | None = None
    sources: list[SourceStatus] = Field(default_factory=list)
    graphs: list[str] = Field(default_factory=list)
    duration_s: float = 0.0
    llm: LLMUsage | None = None
    notes: list[str] = Field(default_factory=list)

    @property
    def top(self) -> RootCause | None:
        return self.root_causes[0] if self.root_causes else None

    def all_evidence(self) -> list[Evidence]:
        return [e for rc in self.root_causes for e in rc.evidence]

    def public(self) -> dict[str, Any]:
        """The JSON document of the ``investigate --json`` contract."""
        data: dict[str, Any] = {
            "summary": self.summary,
            "root_causes": [rc.public() for rc in self.root_causes],
            "proposal": self.proposal.public() if self.proposal else None,
            "alert": self.alert_name,
            "at": self.at.isoformat(),
            "sources": [s.model_dump() for s in self.sources],
            "graphs": self.graphs,
            "duration_s": round(self.duration_s, 3),
        }
        if self.notes:
            data["notes"] = self.notes
        if self.llm:
            data["llm"] = self.llm.model_dump()
        return data
