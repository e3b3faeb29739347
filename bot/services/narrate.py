"""Put the model's plain-words explanation on top of a deterministic report.

The model only replaces the summary text. Root causes and the proposal stay exactly as the
deterministic analysis produced them; when the model is off or fails, the deterministic summary
stays and a note says why. What the model cost is reported whether its answer arrived or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.domain.report import InvestigationReport

if TYPE_CHECKING:  # the assistant pulls in langchain: loaded only when a model explains
    from bot.assistant.service import Answer


class Explainer(Protocol):
    """The assistant (``bot.assistant.service.Assistant``), as narration uses it."""

    def explain(self, report: InvestigationReport) -> Answer: ...


def narrate(report: InvestigationReport, assistant: Explainer) -> InvestigationReport:
    answer = assistant.explain(report)
    update: dict[str, object] = {"notes": [*report.notes, *answer.notes]}
    if answer.usage.spent:
        update["llm"] = answer.usage
    if not answer.fallback and answer.text.strip():
        update["summary"] = answer.text
    return report.model_copy(update=update)
