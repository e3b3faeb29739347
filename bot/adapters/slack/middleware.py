"""Global Bolt middleware: hand listeners their dependencies (their posts found, not repeated,
when a delivery is replayed: ``once.RepliesOnce``), drop Slack's event retries, log requests
without their bodies.

Runs after Bolt's own request verification, so a forged request never claims a key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse

from bot.adapters.slack.listeners.once import REPLAY, RepliesOnce, claimed, delivery_of
from bot.observability.metrics import SLACK_REQUESTS
from bot.ports.store import Store

log = logging.getLogger(__name__)


def _header(request: BoltRequest, name: str) -> str | None:
    values = request.headers.get(name) or []
    return values[0] if values else None


def _kind(body: dict[str, Any]) -> str:
    if body.get("command"):
        return "command"
    if body.get("type") == "event_callback":
        return f"event:{(body.get('event') or {}).get('type', '?')}"
    return str(body.get("type") or "unknown")


def provide(deps: Any) -> Callable[..., None]:
    """Put ``deps`` (``SlackDeps``) in each request's context, where Bolt's argument injection
    finds it for every listener that takes an argument named ``deps``; for a journaled delivery,
    a copy whose chat is that delivery's ``RepliesOnce``."""

    def inject(context: BoltContext, next: Callable[[], None]) -> None:
        delivery = delivery_of(context)
        context["deps"] = (
            deps if delivery is None else replace(deps, chat=RepliesOnce(deps.chat, deps.store, delivery))
        )
        next()

    return inject


def dedupe_event_retries(store: Store) -> Callable[..., BoltResponse | None]:
    """Slack re-sends an event (same ``event_id``, with ``X-Slack-Retry-Num`` over HTTP,
    ``retry_attempt`` over Socket Mode) when our ack was late or lost; across replicas only the
    first delivery is handled. A replay from the request journal is handled when the claim it
    finds is its own attempt's (``once.claimed``), or when there is none."""

    def dedupe(body: dict[str, Any], request: BoltRequest, next: Callable[[], None]) -> BoltResponse | None:
        kind = _kind(body)
        retry = _header(request, "x-slack-retry-num")
        # Never the body: it carries user text, trigger ids and response URLs.
        log.info("slack request %s%s", kind, f" (retry {retry})" if retry else "")
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not claimed(store, f"slack-event:{event_id}", request.context):
            SLACK_REQUESTS.labels(outcome="duplicate").inc()
            if request.context.get(REPLAY):
                log.info("a replayed event was handled by another delivery of it; not again")
            return BoltResponse(status=200, body="")
        SLACK_REQUESTS.labels(outcome="handled").inc()
        next()
        return None

    return dedupe


class NoBodies(logging.Filter):
    """Bolt's debug messages and its "Unhandled request" warning include request bodies; keep
    them out of every handler (the edge logs the unhandled kind). Also drops Bolt's note that
    SLACK_BOT_TOKEN in the environment is unused (we hand it a client)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG and not str(record.msg).startswith(
            ("As you gave `client`", "Unhandled request")
        )
