"""What the Slack listeners need, handed to them by the composition (never built here).

The app's middleware puts the one ``SlackDeps`` in each request's Bolt context as ``deps``, and
Bolt injects it by name into any listener that takes a ``deps`` argument."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.adapters.slack.decisions import SlackDecisions
from bot.domain.alert import now_utc
from bot.domain.report import InvestigationReport
from bot.ports.chat import ChatNotifier
from bot.ports.metrics import MetricsSource
from bot.ports.store import Store
from bot.ports.workspace import CurrentWorkspace
from bot.services.change_requests import ChangeRequests
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
    change_requests: ChangeRequests
    decisions: SlackDecisions  # shows each decision's outcome on the message that asked
    workflow: ProposalWorkflow | None = None
    assistant: Answerer | None = None
    # The manifests at the GitOps repository's newest commit, fetched at each call.
    workspace: CurrentWorkspace | None = None
    metrics: MetricsSource | None = None  # Prometheus, for forecasts and rightsizing
    clock: Callable[[], datetime] = field(default=now_utc)

    def __deepcopy__(self, memo: dict[int, Any]) -> SlackDeps:
        """Bolt deep-copies a request's context for its lazy listeners; the services are shared
        (a store, a pool, clients), so the copy is this same object."""
        return self
