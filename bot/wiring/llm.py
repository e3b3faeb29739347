"""The assistant and what it reads: the model through its port, and the tools' sources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain.alert import now_utc
from bot.domain.report import InvestigationReport
from bot.services.investigate import Investigator
from bot.settings import Settings

if TYPE_CHECKING:  # the assistant pulls in langchain: loaded only when a model is asked
    from bot.assistant.service import Answer, Assistant
    from bot.assistant.tools import ToolContext
    from bot.assistant.toolsets import ToolSpec


def assistant(
    settings: Settings, *, context: ToolContext | None = None, toolsets: dict[str, ToolSpec] | None = None
) -> Assistant:
    """The assistant on the configured OpenAI-compatible model; ``context`` is what its tools
    read (``tool_context``), ``toolsets`` replaces the configured tool sets."""
    from bot.adapters.llm.chat import OpenAIChatModels
    from bot.assistant.service import Assistant

    return Assistant(settings, OpenAIChatModels(settings), context=context, toolsets=toolsets)


def tool_context(
    settings: Settings,
    at: datetime,
    investigator: Investigator | None = None,
    report: InvestigationReport | None = None,
) -> ToolContext:
    """What the assistant's tools read as of ``at``: the sources ``investigator`` reads, if any."""
    from bot.assistant.tools import ToolContext

    inv = investigator
    return ToolContext(
        at=at,
        report=report,
        metrics=inv.metrics if inv else None,
        logs=inv.logs if inv else None,
        git=inv.history if inv else None,
        repo_dir=inv.repo_root if inv else None,
        workspace=inv.workspace if inv else None,
        output_tokens=settings.llm_tool_output_tokens,
    )


class AssistantPerQuestion:
    """The assistant, built per question so its tools read as of that moment (the repository
    fetched then): the ``Answerer`` the Slack listeners use."""

    def __init__(
        self,
        settings: Settings,
        investigator: Callable[[], Investigator] | None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.settings, self.investigator, self.clock = settings, investigator, clock

    def _assistant(self) -> Assistant:
        inv = self.investigator() if self.investigator is not None else None
        return assistant(self.settings, context=tool_context(self.settings, self.clock(), inv))

    def answer(
        self,
        question: str,
        thread_id: str,
        history: list[tuple[str, str]],
        report: InvestigationReport | None,
    ) -> Answer:
        return self._assistant().answer(question, thread_id, history, report)

    def explain(self, report: InvestigationReport) -> Answer:
        return self._assistant().explain(report)
