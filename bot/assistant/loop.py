"""The one agent loop: model call, tool calls, repeat, under hard caps.

Caps: at most ``max_calls`` model calls, ``max_tool_calls`` tool executions and
``max_prompt_tokens`` prompt tokens over all calls, all before ``deadline``. When a cap is
reached the loop asks for a final answer with tools switched off (``tool_choice="none"``) if that
still fits, and otherwise stops with what it has. A model call that fails is retried under the
``retry`` policy; a failure that is final ends the loop with the usage spent so far and the
failure, never an exception. Streaming and non-streaming callers use the same generator; only how
a model call is made differs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage

from bot.assistant.tools import PROPOSE_CHANGE, AssistantTool, run_tool
from bot.domain.deadline import Deadline
from bot.domain.report import LLMUsage
from bot.ports.llm import Failure, NoRetry, Retry
from bot.ports.tokens import count_message_tokens, count_tokens
from bot.security.fence import Fence

ProposalHandler = Callable[[dict[str, Any]], str]


@dataclass
class LoopResult:
    text: str = ""
    usage: LLMUsage = field(default_factory=LLMUsage)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str | None = None  # why the loop ended early, e.g. "stopped by the tool-call limit (4)"
    failure: Failure | None = None  # the model call that failed for good, if one did


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolEvent:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Done:
    result: LoopResult


Event = TextDelta | ToolEvent | Done


def _content(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in message.content)


def _estimate(messages: list[BaseMessage], tools: list[AssistantTool]) -> int:
    schemas = sum(count_tokens(json.dumps(t.openai_schema())) for t in tools)
    texts = [
        _content(m) + (json.dumps(m.tool_calls) if isinstance(m, AIMessage) and m.tool_calls else "")
        for m in messages
    ]
    return count_message_tokens(texts) + schemas


def run_loop(
    model: BaseChatModel,
    messages: list[BaseMessage],
    tools: dict[str, AssistantTool],
    *,
    fence: Fence,
    max_tool_calls: int,
    max_prompt_tokens: int,
    max_calls: int = 3,
    tool_output_tokens: int,
    on_proposal: ProposalHandler | None = None,
    stream: bool = False,
    retry: Retry | None = None,
    deadline: Deadline | None = None,
) -> Iterator[Event]:
    """Yield text deltas (when streaming) and tool events, then ``Done`` with the result."""
    result = LoopResult()
    messages = list(messages)
    used_tools = False
    retry = retry or NoRetry()
    while True:
        last_call = result.usage.calls + 1 >= max_calls
        can_call_tools = len(result.tool_calls) < max_tool_calls and not last_call
        offer = list(tools.values()) if tools and can_call_tools else []
        # Why no tools are offered, for the note if the model asks for one anyway.
        no_tools = (
            "no tools are offered for this answer"
            if not tools
            else f"the tool-call limit ({max_tool_calls}) was reached"
            if len(result.tool_calls) >= max_tool_calls
            else f"the model-call limit ({max_calls}) was reached"
        )
        estimate = _estimate(messages, offer or (list(tools.values()) if used_tools else []))
        if offer and result.usage.prompt_tokens + estimate + tool_output_tokens > max_prompt_tokens:
            offer = []  # no room for another tool round trip: answer now
            no_tools = f"the prompt token budget ({max_prompt_tokens}) leaves no room for tools"
            estimate = _estimate(messages, list(tools.values()) if used_tools else [])
        if result.usage.prompt_tokens + estimate > max_prompt_tokens:
            result.stopped_by = f"stopped by the prompt token budget ({max_prompt_tokens})"
            break
        if deadline is not None and deadline.expired:
            result.stopped_by = f"stopped by {deadline.describe()}"
            break
        if offer:
            bound: Any = model.bind_tools([t.openai_schema() for t in offer])
        elif used_tools:  # the history holds tool calls: keep the schemas, forbid new calls
            bound = model.bind_tools([t.openai_schema() for t in tools.values()], tool_choice="none")
        else:
            bound = model
        started = time.perf_counter()
        failures = 0
        while True:
            shown: list[str] = []
            try:
                if stream:
                    acc: AIMessageChunk | None = None
                    for chunk in bound.stream(messages):
                        acc = chunk if acc is None else acc + chunk
                        if delta := _content(chunk):
                            shown.append(delta)
                            yield TextDelta(delta)
                    ai: AIMessage = acc if acc is not None else AIMessage(content="")
                else:
                    ai = bound.invoke(messages)
                break
            except Exception as exc:  # the endpoint's failure: retried, or the end of the answer
                failures += 1
                result.usage.failed_calls += 1
                wait = None if shown else retry.wait_before_retry(exc, failures)
                if wait is None:
                    result.failure = Failure(exc, failures, deadline)
                    result.usage.latency_s = round(result.usage.latency_s + time.perf_counter() - started, 3)
                    yield Done(result)
                    return
                time.sleep(wait)
        _account(result.usage, ai, estimate, time.perf_counter() - started)
        messages.append(ai)
        if not ai.tool_calls or not offer:
            result.text = _content(ai)
            if ai.tool_calls and not offer:
                asked = ", ".join(sorted({c["name"] for c in ai.tool_calls}))
                result.stopped_by = result.stopped_by or f"the model asked for {asked} although {no_tools}"
            break
        used_tools = True
        for call in ai.tool_calls:
            name, args, call_id = call["name"], call.get("args") or {}, call.get("id") or ""
            if len(result.tool_calls) >= max_tool_calls:
                out = "not run: the tool-call limit is reached; answer with the evidence you have"
                result.stopped_by = f"stopped by the tool-call limit ({max_tool_calls})"
            elif name == PROPOSE_CHANGE and on_proposal is not None:
                out = on_proposal(args)
                result.tool_calls.append({"name": name, "args": args})
            elif name in tools:
                yield ToolEvent(name, args)
                out = fence.wrap(name, run_tool(tools[name], args, tool_output_tokens))
                result.tool_calls.append({"name": name, "args": args})
            else:
                out = f"error: no tool named {name!r}"
            messages.append(ToolMessage(content=out, tool_call_id=call_id))
            result.usage.tool_calls = len(result.tool_calls)
    yield Done(result)


def _account(usage: LLMUsage, ai: AIMessage, estimate: int, seconds: float) -> None:
    meta: dict[str, Any] = dict(ai.usage_metadata or {})
    usage.calls += 1
    # Some OpenAI-compatible servers report no usage; count the prompt ourselves then.
    usage.prompt_tokens += int(meta.get("input_tokens") or estimate)
    usage.completion_tokens += int(meta.get("output_tokens") or count_tokens(_content(ai)))
    usage.latency_s = round(usage.latency_s + seconds, 3)
    model = (ai.response_metadata or {}).get("model_name") or (ai.response_metadata or {}).get("model")
    if model:
        usage.model = str(model)


def collect(events: Iterator[Event]) -> LoopResult:
    for event in events:
        if isinstance(event, Done):
            return event.result
    raise RuntimeError("the agent loop ended without a result")
