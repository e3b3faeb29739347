"""Claims and replays: a second delivery of a request does nothing, while a replay from the
request journal acts in place of the attempt cut short. A claim's owner is the delivery's journal
entry (its origin, in the Bolt context, which no request can set), so a replay acts where its own
attempt claimed, or where nobody did, and never where another delivery (Slack's retry, handled
by another replica) claimed first. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import BoltRequest

from bot.adapters.slack.listeners.once import acts_now, command_key, delivery_context
from bot.adapters.slack.middleware import dedupe_event_retries
from bot.adapters.store import SqlStore
from testkit import slack_requests as sr


def _event(context: dict[str, Any] | None, event_id: str = "EvReplay") -> tuple[dict[str, Any], BoltRequest]:
    body = {"type": "event_callback", "event_id": event_id, "event": {"type": "app_mention"}}
    return body, BoltRequest(body=body, headers={}, context=context, mode="socket_mode")


Deliveries = list[tuple[str, dict[str, Any] | None]]


def _handled(store: SqlStore, deliveries: Deliveries, event_id: str) -> list[str]:
    dedupe = dedupe_event_retries(store)
    handled: list[str] = []
    for name, context in deliveries:
        body, request = _event(context, event_id)
        dedupe(body, request, lambda name=name: handled.append(name))  # type: ignore[misc]
    return handled


def test_an_event_replayed_from_the_journal_passes_the_retry_filter(store: SqlStore) -> None:
    deliveries = [
        ("first", delivery_context("p1-a:1")),
        ("retry", delivery_context("p1-a:2")),  # Slack's retry, to the same process
        ("replay", delivery_context("p1-a:1", replay=True)),  # the first one, cut short
    ]
    assert _handled(store, deliveries, "EvReplay") == ["first", "replay"]


def test_a_replay_does_not_act_where_slacks_retry_was_handled_elsewhere(store: SqlStore) -> None:
    """Killed after the journal write, before its dispatch: the retry reached another replica,
    which claimed the event; the dead process's replay then finds a claim that is not its own."""
    deliveries = [
        ("retry on the other replica", delivery_context("p2-b:7")),
        ("replay of the one cut short", delivery_context("p1-a:1", replay=True)),
    ]
    assert _handled(store, deliveries, "EvElsewhere") == ["retry on the other replica"]


def test_a_replay_acts_where_its_attempt_never_claimed(store: SqlStore) -> None:
    deliveries = [("replay", delivery_context("p1-a:3", replay=True))]
    assert _handled(store, deliveries, "EvUnclaimed") == ["replay"]


def test_a_command_acts_once_unless_replayed(store: SqlStore) -> None:
    body, _ = sr.command("status", user="UASKER")
    command = dict(parse_qsl(body.decode()))
    other = dict(parse_qsl(sr.command("status", user="UASKER")[0].decode()))
    key = command_key(command)
    assert key != command_key(other)  # each invocation has its own trigger_id
    assert acts_now(store, key, delivery_context("p1-a:1"), "command")
    assert not acts_now(store, key, delivery_context("p1-a:2"), "command")  # delivered again: nothing
    assert not acts_now(store, key, None, "command")  # nor without a journal
    assert not acts_now(store, key, delivery_context("p2-b:1", replay=True), "command")  # another's
    assert acts_now(store, key, delivery_context("p1-a:1", replay=True), "command")  # its own, cut short
    assert acts_now(store, command_key(other), None, "command")
    assert not acts_now(store, command_key(other), delivery_context("p1-a:9", replay=True), "command")


def test_claims_for_an_owner(store: SqlStore) -> None:
    assert store.claim_for("slack-event:Ev1", "p1-a:1")
    assert store.claim_for("slack-event:Ev1", "p1-a:1"), "its owner holds it still"
    assert not store.claim_for("slack-event:Ev1", "p2-b:1")
    assert store.claim_once("plain")
    assert not store.claim_for("plain", "p1-a:1"), "a key claimed without an owner is nobody's"
    assert store.is_claimed("slack-event:Ev1")
