"""``app_mention``: a question in an incident thread, answered by the assistant in that thread.

The assistant gets the thread's history and the incident's stored report; what the model cost
is recorded in the audit trail (never the text). Without an assistant the report's summary is
the answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App

from bot.adapters.slack import blocks
from bot.adapters.slack.deps import SlackDeps
from bot.domain.errors import TugboatError
from bot.ports.chat import ChatMessage
from bot.security.inert import inert_mrkdwn

log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
HISTORY_MESSAGES = 30


def question_of(text: str) -> str:
    return _MENTION.sub("", text or "").strip()


def history_of(messages: list[ChatMessage], skip_ts: str) -> list[tuple[str, str]]:
    return [
        ("tugboat" if m.is_bot else f"<@{m.user}>", m.text) for m in messages if m.ts != skip_ts and m.text
    ]


def mentioned(event: dict[str, Any], deps: SlackDeps) -> None:
    channel, ts = event.get("channel", ""), event.get("ts", "")
    thread = event.get("thread_ts") or ts
    question = question_of(event.get("text", ""))
    try:
        answer_in_thread(deps, channel, thread, ts, question, in_thread=bool(event.get("thread_ts")))
    except TugboatError as exc:
        deps.chat.post_message(channel, f":warning: {exc}", thread_ts=thread)
    except Exception:
        log.exception("answering a mention failed")
        deps.chat.post_message(
            channel, ":warning: I could not answer that; see Tugboat's log", thread_ts=thread
        )


def just_ack(ack: Ack) -> None:
    ack()


def register(app: App) -> None:
    app.event("app_mention")(ack=just_ack, lazy=[mentioned])


def answer_in_thread(
    deps: SlackDeps, channel: str, thread: str, ts: str, question: str, *, in_thread: bool
) -> None:
    incident = deps.incidents.by_thread(channel, thread) if in_thread else None
    report = incident.report if incident else None
    if not question:
        deps.chat.post_message(
            channel, "Ask me about this incident, e.g. _why did it start?_", thread_ts=thread
        )
        return
    limit = deps.settings.slack_max_text_chars
    if len(question) > limit:
        deps.chat.post_message(
            channel,
            f"That question is {len(question)} characters long; I read at most {limit}.",
            thread_ts=thread,
        )
        return
    if deps.assistant is None:
        text = inert_mrkdwn(report.summary) if report else "No investigation is attached to this thread."
        deps.chat.post_message(channel, text, thread_ts=thread)
        return
    history = history_of(deps.chat.thread_replies(channel, thread, HISTORY_MESSAGES), ts) if in_thread else []
    answer = deps.assistant.answer(question, f"{channel}:{thread}", history, report)
    text = inert_mrkdwn(str(getattr(answer, "text", ""))) or "I have no answer to that."
    notes = [inert_mrkdwn(str(n)) for n in getattr(answer, "notes", [])]
    body = [blocks.section(text)] + ([blocks.context(*notes[:3])] if notes else [])
    if not getattr(answer, "fallback", True):  # the model's words, not the deterministic report
        body.append(blocks.model_label(str(getattr(getattr(answer, "usage", None), "model", "") or "")))
    deps.chat.post_message(channel, text, body, thread_ts=thread)
    event = getattr(answer, "audit_event", None)
    if callable(event):
        deps.store.append_audit(event(deps.clock()))
