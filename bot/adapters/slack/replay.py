"""At start, the Slack requests a killed process acknowledged and never finished are dispatched
again, oldest first, each through the path of the transport it came by (``SlackEdge`` for HTTP,
``socket_mode.SocketIntake`` for Socket Mode), into the same Bolt app; those older than
``slack_replay_max_age_s`` are skipped, logged and audited: a stale command is worse than none.

A path rereads an entry as untrusted (the journal lies outside the process: its signature or
seal is checked again, its shape too) and dispatches it marked as a replay, which acts in place
of the attempt cut short and of nothing else (``listeners.once``). An entry whose transport this
process does not take is left in the journal for a start that does, until it is too old."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.adapters.slack.journal import HTTP, SOCKET_MODE, Entry, SlackJournal
from bot.domain.audit import AuditEvent, AuditKind
from bot.ports.store import Store

log = logging.getLogger(__name__)
_TRANSPORT_WORDS = {HTTP: "over HTTP", SOCKET_MODE: "over Socket Mode"}


# A journaled request verified again: what Bolt gets (for the log and the audit trail, as data)
# and how to dispatch it once more, as a replay (False when the path cannot take it now). A plain
# pair, so each transport's adapter makes its own without building another package's class.
Replayable = tuple[dict[str, Any], Callable[[], bool]]


class ReplayPath(Protocol):
    def replayable(self, entry: Entry) -> Replayable | None:
        """The entry verified and checked again, or None (dropped, the reason logged)."""


def replay(
    paths: Mapping[str, ReplayPath],
    journal: SlackJournal,
    entries: Sequence[Entry],
    max_age_s: float,
    store: Store,
    clock: Callable[[], float] = time.time,
) -> int:
    """Returns how many requests were dispatched again; every other entry is marked done, but
    for those of a transport ``paths`` lacks, kept while younger than ``max_age_s``."""
    dispatched = 0
    for entry in entries:
        age = clock() - entry.received_at
        path = paths.get(entry.transport)
        if path is None:
            _no_path(journal, entry, age, max_age_s)
            continue
        again = path.replayable(entry)
        if again is None:
            journal.done(entry.id)
            continue
        body, dispatch = again
        if age > max_age_s:
            journal.done(entry.id)
            at = datetime.fromtimestamp(clock(), UTC)
            _skipped(store, described(body), entry.received_at, age, at)
            continue
        if dispatch():
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


def _no_path(journal: SlackJournal, entry: Entry, age: float, max_age_s: float) -> None:
    """Unverifiable here (no signing secret or app token for it): kept, or dropped once stale."""
    came = _TRANSPORT_WORDS.get(entry.transport, "by a transport this version does not know")
    if age > max_age_s:
        journal.done(entry.id)
        log.warning("dropped a journaled Slack request that came %s, %.0f s ago: never replayed", came, age)
        return
    log.warning("kept a journaled Slack request that came %s for a start that takes Slack that way", came)


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
