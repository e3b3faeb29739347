"""What the Slack listeners need, handed to them by the composition (never built here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bot.domain.alert import now_utc
from bot.domain.report import InvestigationReport
from bot.ports.chat import ChatNotifier
from bot.ports.gitrepo import GitHistory
from bot.ports.metrics import MetricsSource
from bot.ports.store import Store
from bot.services.incidents import IncidentService
from bot.services.proposals import ProposalWorkflow
from bot.settings import Settings


class Answerer(Protocol):
    """The seam to the assistant (``bot.assistant.service.Assistant``)."""

    def answer(
        self,
        question: str,
        thread_id: str,
        history: list[tuple[str, str]],
        report: InvestigationReport | None,
    ) -> Any: ...

    def explain(self, report: InvestigationReport) -> Any: ...


@dataclass
class SlackDeps:
    settings: Settings
    store: Store
    chat: ChatNotifier
    incidents: IncidentService
    workflow: ProposalWorkflow | None = None
    assistant: Answerer | None = None
    history: GitHistory | None = None
    # The GitOps repository's newest commit, fetched at each call (bot.adapters.git.workclone).
    checkout: Callable[[], Path] | None = None
    metrics: MetricsSource | None = None  # Prometheus, for forecasts and rightsizing
    clock: Callable[[], datetime] = field(default=now_utc)
