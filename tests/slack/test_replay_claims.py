"""Claims and replays: a second delivery of a request does nothing, while a replay from the
request journal (marked in its Bolt context, which no request can set) acts in place of the
attempt cut short, whose claim it finds. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltRequest

from bot.adapters.slack.listeners.once import REPLAY, acts_now, command_key
from bot.adapters.slack.middleware import dedupe_event_retries
from bot.adapters.store import SqlStore
from testkit import slack_requests as sr


def _event(context: dict[str, Any] | None) -> tuple[dict[str, Any], BoltRequest]:
    body = {"type": "event_callback", "event_id": "EvReplay", "event": {"type": "app_mention"}}
    return body, BoltRequest(body=body, headers={}, context=context, mode="socket_mode")


def test_an_event_replayed_from_the_journal_passes_the_retry_filter(store: SqlStore) -> None:
    dedupe = dedupe_event_retries(store)
    handled: list[str] = []
    for name, context in (("first", None), ("retry", None), ("replay", {REPLAY: True})):
        body, request = _event(context)
        dedupe(body, request, lambda name=name: handled.append(name))  # type: ignore[misc]
    assert handled == ["first", "replay"]


def test_a_command_acts_once_unless_replayed(store: SqlStore) -> None:
    from urllib.parse import parse_qsl

    body, _ = sr.command("status", user="UASKER")
    command = dict(parse_qsl(body.decode()))
    other = dict(parse_qsl(sr.command("status", user="UASKER")[0].decode()))
    key = command_key(command)
    assert key != command_key(other)  # each invocation has its own trigger_id
    assert acts_now(store, key, None, "command")
    assert not acts_now(store, key, None, "command")  # delivered again: nothing
    assert not acts_now(store, key, {"tugboat_replay": False}, "command")
    assert acts_now(store, key, {REPLAY: True}, "command")  # the journal says it never finished
    assert acts_now(store, command_key(other), None, "command")
