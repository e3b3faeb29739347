"""A delivery's posts found, not repeated (``once.RepliesOnce``), over the real Slack notifier
and the mock Web API: its replay finds each message its first attempt posted (by the metadata
it was posted with), in order; another delivery posts its own. And the middleware hands a
journaled delivery's listeners that chat, and anything else the plain one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.adapters.slack.app import web_client
from bot.adapters.slack.listeners.once import RepliesOnce, delivery_context
from bot.adapters.slack.middleware import provide
from bot.adapters.slack.notifier import SlackNotifier
from bot.adapters.store import SqlStore
from bot.ports.chat import ChatNotifier
from bot.settings import Settings
from testkit.slack_api import SlackApi, running_slack_api


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with running_slack_api() as mock:
        yield mock


@pytest.fixture
def chat(api: SlackApi) -> SlackNotifier:
    return SlackNotifier(web_client(Settings(slack_bot_token="xoxb-test", slack_api_url=api.base_url)))


def test_a_replay_finds_the_posts_of_its_attempt_and_posts_the_rest(
    api: SlackApi, chat: SlackNotifier, store: SqlStore
) -> None:
    first = RepliesOnce(chat, store, "p1-a:1")
    answer = first.post_message("C1", "the answer", thread_ts="5.1")
    # cut short here: the second post never went out
    replay = RepliesOnce(chat, store, "p1-a:1")
    assert replay.post_message("C1", "the answer, said again", thread_ts="5.1") == answer
    follow_up = replay.post_message("C1", "a follow-up", thread_ts="5.1")
    assert follow_up != answer
    other = RepliesOnce(chat, store, "p2-b:1").post_message(
        "C1", "another question's answer", thread_ts="5.1"
    )
    texts = [c.args["text"] for c in api.of("chat.postMessage")]
    assert texts == ["the answer", "a follow-up", "another question's answer"]
    assert other not in (answer, follow_up)
    assert api.of("conversations.replies")  # looked for, in the thread


@dataclass
class Deps:
    chat: ChatNotifier
    store: SqlStore


def _provided(deps: Deps, context: dict[str, Any]) -> Any:
    provide(deps)(context, lambda: None)  # type: ignore[arg-type]
    return context["deps"]


def test_the_middleware_gives_a_journaled_delivery_its_own_chat(chat: SlackNotifier, store: SqlStore) -> None:
    deps = Deps(chat, store)
    journaled = _provided(deps, dict(delivery_context("p1-a:7") or {}))
    assert isinstance(journaled.chat, RepliesOnce) and journaled.chat.delivery == "p1-a:7"
    assert journaled.store is store and deps.chat is chat  # a copy; the shared deps untouched
    assert _provided(deps, {}) is deps  # no journal: the plain chat
