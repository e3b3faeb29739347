"""At start, the Slack requests a killed process acknowledged and never finished are dispatched
again, oldest first, through the same edge and Bolt app (``SlackEdge.redispatch``); those older
than ``slack_replay_max_age_s`` are skipped, logged and audited: a stale command is worse than
none."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.adapters.http.slack_edge import SlackEdge
from bot.adapters.slack.journal import Entry, SlackJournal
from bot.domain.audit import AuditEvent, AuditKind
from bot.ports.store import Store

log = logging.getLogger(__name__)


def replay(
    edge: SlackEdge,
    journal: SlackJournal,
    entries: Sequence[Entry],
    max_age_s: float,
    store: Store,
    clock: Callable[[], float] = time.time,
) -> int:
    """Returns how many requests were dispatched again; every other entry is marked done."""
    dispatched = 0
    for entry in entries:
        accepted = edge.reread(entry)
        body = accepted.for_bolt() if accepted is not None else None
        if accepted is None or body is None:
            journal.done(entry.id)
            continue
        age = clock() - entry.received_at
        if age > max_age_s:
            journal.done(entry.id)
            _skipped(store, described(body), entry.received_at, age, datetime.fromtimestamp(clock(), UTC))
            continue
        if edge.redispatch(accepted, entry):
            dispatched += 1
    if dispatched:
        log.info("replaying %d Slack request(s) acknowledged by a killed process, never finished", dispatched)
    return dispatched


def described(body: dict[str, Any]) -> dict[str, str]:
    """What a request was, in a few words for the log and the audit trail: never its text."""
    if body.get("command"):
        words = str(body.get("text") or "").split()
        command = _id(words[0][:32]) if words else "help"
        return {"request": "command", "command": command, "user": _id(body.get("user_id"))}
    if body.get("type") == "event_callback":
        return {"request": f"event:{_id((body.get('event') or {}).get('type'))}"}
    user = body.get("user")
    user = user if isinstance(user, dict) else {}
    action = (body.get("actions") or [{}])[0] if isinstance(body.get("actions"), list) else {}
    return {
        "request": _id(body.get("type")),
        "action": _id(action.get("action_id") if isinstance(action, dict) else ""),
        "user": _id(user.get("id")),
    }


def _id(value: Any) -> str:
    """A Slack identifier as data: short, and nothing but letters, digits and ``._-:``."""
    return "".join(c for c in str(value or "")[:64] if c.isalnum() or c in "._-:")


def _skipped(store: Store, what: dict[str, str], received_at: float, age: float, now: datetime) -> None:
    log.warning(
        "skipped a journaled Slack %s received %.0f s ago (older than slack_replay_max_age_s)",
        what.get("command") or what.get("action") or what["request"],
        age,
    )
    store.append_audit(
        AuditEvent(
            at=now,
            kind=AuditKind.SLACK_REQUEST_SKIPPED,
            actor=what.get("user") or "tugboat",
            data={
                **what,
                "received_at": datetime.fromtimestamp(received_at, UTC).isoformat(),
                "age_s": round(age),
            },
        )
    )
