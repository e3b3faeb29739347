"""Each Slack request acts once: claimed in the database by a key unique to it, so a second
delivery (a retry, a replay inside the signature window, another replica) does nothing.

The one exception is a replay from the request journal (``bot.adapters.slack.journal``): the
journal says the process that took the request died before its work was done, so a claim it
finds is that dead attempt's own, and the replay acts in its place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.observability.metrics import SLACK_REQUESTS
from bot.ports.store import Store

log = logging.getLogger(__name__)
REPLAY = "tugboat_replay"  # in a Bolt request's context: dispatched again from the journal
KEY_CHARS = 512


def acts_now(store: Store, key: str, context: Mapping[str, Any] | None, what: str) -> bool:
    """True when this delivery should do the work claimed by ``key``."""
    if store.claim_once(key[:KEY_CHARS]):
        return True
    if context is not None and context.get(REPLAY):
        log.info("replaying a %s whose earlier attempt was cut short", what)
        return True
    SLACK_REQUESTS.labels(outcome=f"duplicate_{what}").inc()
    log.info("a %s was delivered again; it already acted once", what)
    return False


def command_key(command: Mapping[str, Any]) -> str:
    """A slash command's identity: who asked, and Slack's ``trigger_id`` for this invocation (its
    ``response_url`` where a trigger id is missing); both are unique to one invocation."""
    unique = command.get("trigger_id") or command.get("response_url") or ""
    return f"command:{command.get('team_id', '')}:{command.get('user_id', '')}:{unique}"
