"""The assistant's plain interface: ``explain`` a report, ``answer`` a question in a thread.

Without a model (no key, ``--no-llm``, or any model failure) the deterministic narrative is the
answer, with a one-line note saying why. The model's text is checked for citations and redacted
before it is returned; its change suggestions go through ``validate_model_proposal`` and never
touch the report's deterministic proposal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import ValidationError

from bot.assistant.context import check_citations, deterministic_narrative, numbered_evidence, report_context
from bot.assistant.loop import Done, Event, LoopResult, TextDelta, run_loop
from bot.assistant.prompts import render_prompt
from bot.assistant.proposals import ModelProposal, known_workloads, repo_facts, validate_model_proposal
from bot.assistant.tools import ToolContext, build_tools
from bot.assistant.toolsets import ToolSpec, load_toolsets
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.deadline import Deadline
from bot.domain.report import InvestigationReport, LLMUsage
from bot.observability.metrics import MODEL_CALLS, MODEL_COST, MODEL_TOKENS
from bot.ports.llm import ChatModels, Failure
from bot.ports.tokens import truncate_to_tokens
from bot.security.fence import Fence
from bot.security.redact import StreamRedactor, redact
from bot.settings import Settings

log = logging.getLogger(__name__)
# Shares of the prompt budget, so a small-context local model gets a smaller report, not an overflow.
REPORT_TOKENS = 2500
HISTORY_TOKENS = 800
QUESTION_TOKENS = 300
_DISABLED, _NO_KEY = "disabled", "no API key configured"
_FALLBACK_NOTES = {
    _DISABLED: "LLM disabled (--no-llm or llm_enabled: false); showing the deterministic analysis",
    _NO_KEY: "LLM not configured (no OPENAI_API_KEY); showing the deterministic analysis",
}


@dataclass
class Answer:
    text: str
    citations: list[str] = field(default_factory=list)
    usage: LLMUsage = field(default_factory=LLMUsage)
    fallback: bool = False
    proposal_suggestion: ModelProposal | None = None
    notes: list[str] = field(default_factory=list)
    unknown_citations: int = 0
    grounded: bool = True
    rejected_proposals: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    thread_id: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": self.citations,
            "grounded": self.grounded,
            "unknown_citations": self.unknown_citations,
            "fallback": self.fallback,
            "notes": self.notes,
            "proposal_suggestion": self.proposal_suggestion.model_dump()
            if self.proposal_suggestion
            else None,
            "rejected_proposals": self.rejected_proposals,
            "tool_calls": self.tool_calls,
            "llm": self.usage.model_dump(),
        }

    def audit_event(self, at: datetime, proposal_id: str | None = None) -> AuditEvent:
        """A ``model.call`` event: what the model cost and did (never its text or prompts)."""
        return AuditEvent(
            at=at,
            kind=AuditKind.MODEL_CALL,
            proposal_id=proposal_id,
            data={
                "thread_id": self.thread_id,
                "llm": self.usage.model_dump(),
                "fallback": self.fallback,
                "citations": self.citations,
                "unknown_citations": self.unknown_citations,
                "tools": [c["name"] for c in self.tool_calls],
                "rejected_proposals": self.rejected_proposals,
                "notes": self.notes,
            },
        )


class Assistant:
    def __init__(
        self,
        settings: Settings,
        models: ChatModels,
        *,
        context: ToolContext | None = None,
        toolsets: dict[str, ToolSpec] | None = None,
    ) -> None:
        """``models`` is how the model is reached (bot/ports/llm.py); ``context`` what its tools
        read (without one, only the report's evidence)."""
        self.settings = settings
        self.models = models
        self.context = context
        self._toolsets = toolsets

    # -- public interface -----------------------------------------------------------------

    def explain(self, report: InvestigationReport) -> Answer:
        """The investigation summary, in one model call with no tools (cheap)."""
        fence = Fence()
        prompt = self._prompt("explain_alert", report=report_context(report, fence, self._report_budget))
        return self._run(prompt, fence, report, tools=False, thread_id=None)

    def answer(
        self,
        question: str,
        thread_id: str,
        history: list[tuple[str, str]],
        report: InvestigationReport | None,
    ) -> Answer:
        """Answer a question in an incident thread, using tools within the caps."""
        fence, prompt = self._thread_prompt(question, history, report)
        return self._run(prompt, fence, report, tools=True, thread_id=thread_id)

    def stream_answer(
        self,
        question: str,
        thread_id: str,
        history: list[tuple[str, str]],
        report: InvestigationReport | None,
    ) -> Iterator[str | Answer]:
        """Text deltas as the model writes them, then the checked ``Answer`` (the same loop)."""
        fence, prompt = self._thread_prompt(question, history, report)
        yield from self._stream(prompt, fence, report, tools=True, thread_id=thread_id)

    # -- internals ------------------------------------------------------------------------

    @property
    def _report_budget(self) -> int:
        return min(REPORT_TOKENS, self.settings.llm_max_prompt_tokens // 4)

    def _thread_prompt(
        self, question: str, history: list[tuple[str, str]], report: InvestigationReport | None
    ) -> tuple[Fence, str]:
        fence = Fence()
        ctx = report_context(report, fence, self._report_budget) if report else "(no investigation report)"
        past = "\n".join(f"{who}: {text}" for who, text in history[-10:])
        prompt = self._prompt(
            "thread_answer",
            report=ctx,
            history=fence.wrap(
                "thread",
                truncate_to_tokens(past, min(HISTORY_TOKENS, self.settings.llm_max_prompt_tokens // 10)),
            )
            if past
            else "(none)",
            question=truncate_to_tokens(redact(question), QUESTION_TOKENS),
        )
        return fence, prompt

    def _prompt(self, name: str, **values: str) -> str:
        return render_prompt(name, self.settings.prompts_dir, **values)

    def _fallback(self, report: InvestigationReport | None, reason: str, thread_id: str | None) -> Answer:
        """The deterministic analysis, with one line saying why the model's answer is absent."""
        text = deterministic_narrative(report) if report else "No investigation is attached to this thread."
        return Answer(
            text=text,
            citations=[e.id for e in numbered_evidence(report)] if report else [],
            usage=LLMUsage(model=self.settings.llm_model),
            fallback=True,
            notes=[
                _FALLBACK_NOTES.get(reason, f"LLM unavailable ({reason}); showing the deterministic analysis")
            ],
            thread_id=thread_id,
        )

    def _run(
        self,
        prompt: str,
        fence: Fence,
        report: InvestigationReport | None,
        *,
        tools: bool,
        thread_id: str | None,
    ) -> Answer:
        return collect_answer(
            self._stream(prompt, fence, report, tools=tools, thread_id=thread_id, stream=False)
        )

    def _stream(
        self,
        prompt: str,
        fence: Fence,
        report: InvestigationReport | None,
        *,
        tools: bool,
        thread_id: str | None,
        stream: bool = True,
    ) -> Iterator[str | Answer]:
        s = self.settings
        if not s.llm_enabled:
            yield self._fallback(report, _DISABLED, thread_id)
            return
        deadline = Deadline(s.llm_answer_budget_s, "the model answer")
        model = self.models.model(deadline)
        if model is None:
            yield self._fallback(report, _NO_KEY, thread_id)
            return
        suggestions: list[ModelProposal] = []
        rejected: list[str] = []

        def on_proposal(args: dict[str, Any]) -> str:
            try:
                mp = ModelProposal.model_validate(args)
            except ValidationError as exc:
                rejected.append(f"malformed: {exc.errors()[0]['msg']}")
                return f"rejected: malformed proposal ({exc.errors()[0]['msg']})"
            repo = self.context.repo_dir if self.context else None
            names, current = (
                repo_facts(self.context.workspace if self.context else None, mp.workload, mp.field)
                if mp.workload not in known_workloads(report)
                else (set(), {})
            )
            check = validate_model_proposal(
                mp, report, s.policy, repo_root=repo, repo_workloads=names, current=current
            )
            if not check.ok:
                rejected.append("; ".join(check.errors))
                return "rejected: " + "; ".join(check.errors)
            suggestions.append(mp)
            return "recorded as a suggestion for people to review; it is not applied"

        available = {}
        if tools:
            # A per-call copy: one Assistant serves many threads, each with its own report.
            base = self.context or ToolContext(at=report.at if report else datetime.now().astimezone())
            ctx = replace(
                base, report=report or base.report, output_tokens=s.llm_tool_output_tokens, deadline=deadline
            )
            specs = self._toolsets if self._toolsets is not None else load_toolsets(s.toolsets_dir)
            available = build_tools(ctx, specs, allow_proposals=True)
        messages: list[BaseMessage] = [
            SystemMessage(content=self._prompt("system")),
            HumanMessage(content=prompt),
        ]
        events: Iterator[Event] = run_loop(
            model,
            messages,
            available,
            fence=fence,
            max_tool_calls=s.llm_max_tool_calls,
            max_calls=s.llm_max_calls,
            max_prompt_tokens=s.llm_max_prompt_tokens,
            tool_output_tokens=s.llm_tool_output_tokens,
            on_proposal=on_proposal,
            stream=stream,
            retry=self.models.retry(deadline),
            deadline=deadline,
        )
        streamed = StreamRedactor()
        try:
            result: LoopResult | None = None
            for event in events:
                if isinstance(event, TextDelta) and stream:
                    if ready := streamed.feed(event.text):
                        yield ready
                elif isinstance(event, Done):
                    result = event.result
                    if tail := streamed.flush():
                        yield tail
        except Exception as exc:  # anything else that broke the answer: the deterministic analysis stands
            MODEL_CALLS.labels(outcome="failed").inc()
            reason = self.models.describe(Failure(exc, 1, deadline))
            log.warning("LLM answer failed: %s", reason)
            yield self._fallback(report, reason, thread_id)
            return
        assert result is not None
        if result.failure is not None:
            yield self._failed(result, report, thread_id)
            return
        yield self._finish(result, report, suggestions, rejected, thread_id)

    def _failed(
        self, result: LoopResult, report: InvestigationReport | None, thread_id: str | None
    ) -> Answer:
        """The deterministic analysis, with what the failed answer cost and why it failed."""
        assert result.failure is not None
        reason = self.models.describe(result.failure)
        log.warning("LLM call failed: %s", reason)
        if not result.usage.model:
            result.usage.model = self.settings.llm_model
        _count(result.usage)
        answer = self._fallback(report, reason, thread_id)
        answer.usage = result.usage
        answer.tool_calls = result.tool_calls
        return answer

    def _finish(
        self,
        result: LoopResult,
        report: InvestigationReport | None,
        suggestions: list[ModelProposal],
        rejected: list[str],
        thread_id: str | None,
    ) -> Answer:
        if not result.usage.model:
            result.usage.model = self.settings.llm_model
        _count(result.usage)
        if not result.text.strip():
            answer = self._fallback(
                report, f"no answer: {result.stopped_by or 'the model returned no text'}", thread_id
            )
            answer.usage = result.usage
            return answer
        valid = {e.id for e in numbered_evidence(report)} if report else set()
        check = check_citations(redact(result.text), valid)
        answer = Answer(
            text=check.text,
            citations=check.cited,
            usage=result.usage,
            proposal_suggestion=suggestions[-1] if suggestions else None,
            unknown_citations=len(check.unknown),
            grounded=check.grounded or not valid,
            rejected_proposals=rejected,
            tool_calls=result.tool_calls,
            thread_id=thread_id,
        )
        if check.unknown:
            answer.notes.append(f"removed {len(check.unknown)} citation(s) of unknown evidence")
        if valid and not check.grounded:
            answer.notes.append("this answer cites no evidence: treat it as unverified")
        if result.stopped_by:
            answer.notes.append(result.stopped_by)
        return answer


def _count(usage: LLMUsage) -> None:
    """What the model cost, for /metrics (the audit trail records it per answer)."""
    MODEL_CALLS.labels(outcome="ok").inc(usage.calls)
    MODEL_CALLS.labels(outcome="failed").inc(usage.failed_calls)
    MODEL_TOKENS.labels(kind="prompt").inc(usage.prompt_tokens)
    MODEL_TOKENS.labels(kind="completion").inc(usage.completion_tokens)
    if usage.cost_usd:
        MODEL_COST.inc(usage.cost_usd)


def collect_answer(items: Iterator[str | Answer]) -> Answer:
    for item in items:
        if isinstance(item, Answer):
            return item
    raise RuntimeError("the assistant produced no answer")


def default_repo_dir(path: str | None) -> Path | None:
    return Path(path) if path and Path(path).is_dir() else None
