"""Each Slack delivery acts once: claimed in the database by a key unique to it, so a second
delivery (Slack's retry of an event, a replay inside the signature window, another replica)
does nothing.

A claim names its owner: the journal entry the delivery was written as
(``SlackJournal.origin``, in the Bolt context as ``DELIVERY``). A replay from the journal
(``bot.adapters.slack.replay``) keeps its entry's origin, so it acts where the attempt cut short
had claimed, or had not got that far, and never where another delivery claimed first: Slack's
retry of an event the killed process journaled but never acknowledged, handled by another
replica meanwhile, is acted on by that replica alone.

A delivery's posts are found, not repeated (``RepliesOnce``): a replay that reaches a post its
first attempt may have made looks for it in the channel or thread first (``ChatSteps``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

from bot.observability.metrics import SLACK_REQUESTS
from bot.ports.chat import Attachment, Block, ChatMessage, ChatNotifier
from bot.ports.store import Store
from bot.services.chat_steps import ChatSteps

log = logging.getLogger(__name__)
REPLAY = "tugboat_replay"  # in a Bolt request's context: dispatched again from the journal
DELIVERY = "tugboat_delivery"  # in a Bolt request's context: the origin of its journal entry
KEY_CHARS = 512


def delivery_of(context: Mapping[str, Any] | None) -> str | None:
    """The journal origin a request was dispatched with (None without a journal)."""
    owner = context.get(DELIVERY) if context is not None else None
    return owner if isinstance(owner, str) and owner else None


def delivery_context(origin: str | None, *, replay: bool = False) -> dict[str, Any] | None:
    """The Bolt context a request is dispatched with: its journal entry's origin, and whether it
    is a replay (no request can set a context from outside)."""
    if origin is None:
        return {REPLAY: True} if replay else None
    return {DELIVERY: origin, REPLAY: True} if replay else {DELIVERY: origin}


def claimed(store: Store, key: str, context: Mapping[str, Any] | None) -> bool:
    """Whether this delivery holds ``key``: claimed now, or by its own earlier attempt."""
    owner = delivery_of(context)
    return store.claim_for(key[:KEY_CHARS], owner) if owner else store.claim_once(key[:KEY_CHARS])


def acts_now(store: Store, key: str, context: Mapping[str, Any] | None, what: str) -> bool:
    """True when this delivery should do the work claimed by ``key``."""
    replay = context is not None and bool(context.get(REPLAY))
    if claimed(store, key, context):
        if replay:
            log.info("replaying a %s whose earlier attempt was cut short", what)
        return True
    SLACK_REQUESTS.labels(outcome=f"duplicate_{what}").inc()
    if replay:
        log.info("a replayed %s was acted on by another delivery of it; not again", what)
    else:
        log.info("a %s was delivered again; it already acted once", what)
    return False


def command_key(command: Mapping[str, Any]) -> str:
    """A slash command's identity: who asked, and Slack's ``trigger_id`` for this invocation (its
    ``response_url`` where a trigger id is missing); both are unique to one invocation."""
    unique = command.get("trigger_id") or command.get("response_url") or ""
    return f"command:{command.get('team_id', '')}:{command.get('user_id', '')}:{unique}"


class RepliesOnce:
    """The chat as one delivery's listeners see it: its n-th post is the step
    ``reply:<delivery>:<n>`` of ``ChatSteps.find_or_post``, marked with Slack message metadata,
    so a replay finds what its first attempt posted instead of posting it again. Everything else
    goes straight through (an ephemeral answer cannot be looked for: it may repeat)."""

    def __init__(self, chat: ChatNotifier, store: Store, delivery: str) -> None:
        self.chat, self.delivery = chat, delivery
        self.steps = ChatSteps(store, chat)
        self._posts = itertools.count()

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
        *,
        marker: str | None = None,
    ) -> str:
        if marker is not None:  # a step of its own already
            return self.chat.post_message(channel, text, blocks, thread_ts, marker=marker)
        step = f"reply:{self.delivery}:{next(self._posts)}"
        return self.steps.find_or_post(step, channel, text, blocks, thread_ts)

    def find_marked(
        self, channel: str, marker: str, *, thread_ts: str | None = None, since: float | None = None
    ) -> str | None:
        return self.chat.find_marked(channel, marker, thread_ts=thread_ts, since=since)

    def find_uploaded(
        self, channel: str, filenames: set[str], *, thread_ts: str | None = None, since: float | None = None
    ) -> set[str]:
        return self.chat.find_uploaded(channel, filenames, thread_ts=thread_ts, since=since)

    def update_message(self, channel: str, ts: str, text: str, blocks: list[Block] | None = None) -> None:
        self.chat.update_message(channel, ts, text, blocks)

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
    ) -> None:
        self.chat.post_ephemeral(channel, user, text, blocks, thread_ts)

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[Attachment], comment: str | None = None
    ) -> None:
        self.chat.upload_files(channel, thread_ts, files, comment)

    def thread_replies(self, channel: str, thread_ts: str, limit: int = 50) -> list[ChatMessage]:
        return self.chat.thread_replies(channel, thread_ts, limit)

    def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        self.chat.open_modal(trigger_id, view)
