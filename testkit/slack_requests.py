"""Requests shaped and signed exactly as Slack sends them to a request URL.

Signature: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` with the signing secret.
Slash commands and interactions are form-encoded (interactions in a ``payload`` field),
events are JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

SECRET = "test-signing-secret"
TEAM = "T1"
_CLICKS = itertools.count(1)


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def command(
    text: str,
    user: str = "UASKER",
    channel: str = "CINC",
    response_url: str = "http://127.0.0.1:9/commands/unused",
    **extra: str,
) -> tuple[bytes, dict[str, str]]:
    fields = {
        "token": "legacy",
        "team_id": TEAM,
        "team_domain": "example",
        "channel_id": channel,
        "channel_name": "incidents",
        "user_id": user,
        "user_name": "someone",
        "command": "/tugboat",
        "text": text,
        "api_app_id": "A1",
        "response_url": response_url,
        "trigger_id": trigger_id(),  # unique to each invocation, as Slack's are
        **extra,
    }
    return urlencode(fields).encode(), {"Content-Type": "application/x-www-form-urlencoded"}


def _form(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded"}


def trigger_id() -> str:
    """A fresh ``trigger_id``: Slack gives each command invocation its own."""
    return f"{int(time.time())}.{next(_CLICKS)}.trigger"


def action_ts() -> str:
    """A fresh ``action_ts``, as each real click carries its own."""
    return f"{time.time():.6f}{next(_CLICKS):04d}"


def button(
    action_id: str,
    value: str,
    *,
    user: str,
    channel: str,
    message_ts: str,
    thread_ts: str | None = None,
    clicked_at: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A click on a button; pass the same ``clicked_at`` to deliver one click twice."""
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": "proposal"}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return _form(
        {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "example"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A1",
            "trigger_id": "1.2.trigger",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "channel": {"id": channel, "name": "incidents"},
            "message": message,
            "response_url": "http://127.0.0.1:9/actions/unused",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": value,
                    "action_ts": clicked_at or action_ts(),
                }
            ],
        }
    )


def view_submission(
    callback_id: str, private_metadata: str, values: dict[str, Any], user: str
) -> tuple[bytes, dict[str, str]]:
    return _form(
        {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "example"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A1",
            "trigger_id": trigger_id(),  # each submission its own, as Slack's
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": values},
                "team_id": TEAM,
            },
        }
    )


def app_mention(
    text: str, *, user: str, channel: str, ts: str, thread_ts: str | None = None, event_id: str = "Ev1"
) -> tuple[bytes, dict[str, str]]:
    event: dict[str, Any] = {"type": "app_mention", "user": user, "text": text, "channel": channel, "ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    body = {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": "UTUGBOAT", "is_bot": True}],
        "event": event,
    }
    return json.dumps(body).encode(), {"Content-Type": "application/json"}
