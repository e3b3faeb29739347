"""Socket Mode's edge: what ``/slack/events`` does for a request over HTTP
(``bot.adapters.http.slack_edge``), done for an envelope that came over the WebSocket.

1. The payload's shape. Bolt reads fields of a request before any middleware runs (``actions[0]``
   of a click, for instance), so a payload of a shape Slack does not send would fail inside Bolt
   with a traceback; here it is dropped with its reason logged, and acknowledged so that Slack
   does not send it again.
2. The journal (``journal.SlackJournal``), before the acknowledgement: once an envelope is
   acknowledged Slack never sends it again, so a process killed before its work is done would
   lose it. The envelope is marked done once the lazy work it started is over, and replayed at
   the next start (``replay``) through ``SocketIntake.replayable``.
3. The acknowledgement, computed here as over HTTP (a command's usage or "working on it", else
   empty), sent at once; Bolt's dispatch (middleware, the ack listener, whose answer is not
   needed, and the lazy work) runs after it on a thread of its own, once a lull in the envelopes
   comes (``gate``, the edge's ``QuietGate``). With Bolt's dispatch before the ack, a burst of 50
   commands waited on each other's dispatch and lazy work for the GIL: p50 57-67 ms
   (bench/bench_socket_ack.py, bench/RESULTS.md).

No Slack signature comes over the WebSocket, and the journal lies outside the process; so each
envelope is sealed as it is journaled (an HMAC-SHA256 keyed by the app token, which only the
process holds) and its seal is checked again before a replay. An envelope the journal cannot
keep (full) is left unacknowledged: Slack sends an event again, and shows a command or click as
failed, as a 503 over HTTP does.

4. Shutdown, in order (``CheckedSocketModeHandler.close``): the intake stops taking envelopes
   (one arriving now is left unacknowledged, for Slack to send elsewhere), the envelopes already
   taken finish their dispatch and their ack while the connection is still open, then the
   connection closes once the dispatches queued behind the gate have handed their lazy work to
   the listener pool, which drains after that (``Runtime.close``). An envelope whose
   lazy work the closed pool refused anyway stays in the journal, for the next start's replay.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.adapters.slack.journal import SEAL, SOCKET_MODE, Entry, SlackJournal
from bot.adapters.slack.listeners.commands import acknowledgement
from bot.adapters.slack.listeners.once import delivery_context
from bot.adapters.slack.payloads import WrongShape, check_command, check_event, check_interaction
from bot.adapters.slack.pool import ListenerPool, Started, when_all_done
from bot.adapters.slack.replay import Replayable
from bot.observability.metrics import SLACK_REQUESTS

log = logging.getLogger(__name__)

_CHECKS = {"events_api": check_event, "interactive": check_interaction, "slash_commands": check_command}


def check_envelope(req: SocketModeRequest) -> None:
    """Raises ``WrongShape`` for an envelope no listener could read."""
    check = _CHECKS.get(req.type)
    if check is None:
        raise WrongShape(f"not a Socket Mode request Tugboat takes ({req.type!r})")
    check(req.payload)


class Lull(Protocol):
    """When work may start without slowing acknowledgements (``slack_edge.QuietGate``)."""

    clock: Callable[[], float]

    def touch(self) -> None: ...

    def wait(self, since: float) -> None: ...


class SocketIntake:
    """Envelopes into Bolt: journaled (sealed) before their ack, marked done once their work is;
    and the replay path for the envelopes a killed process left unfinished."""

    def __init__(
        self,
        bolt: App,
        app_token: str,
        *,
        max_text_chars: int,
        journal: SlackJournal | None = None,
        listeners: ListenerPool | None = None,
        gate: Lull | None = None,
    ) -> None:
        """``listeners``: Bolt's listener executor, which tells when an envelope's lazy work
        is over; ``gate``: when an acknowledged envelope's dispatch starts (None: at once, on
        the thread that acknowledged it)."""
        self.bolt, self.journal, self.listeners, self.gate = bolt, journal, listeners, gate
        self.max_text_chars = max_text_chars
        self._later = ThreadPoolExecutor(1, thread_name_prefix="tugboat-socket-dispatch") if gate else None
        self._key = app_token.encode()
        self._taken = threading.Condition()
        self._in_flight = [0]  # envelopes between ``admitted`` and their ack
        self._closing = threading.Event()

    @contextmanager
    def admitted(self) -> Iterator[bool]:
        """Whether an envelope is taken (False once closing); ``close`` waits for those taken."""
        with self._taken:
            if self._closing.is_set():
                taken = False
            else:
                taken = True
                self._in_flight[0] += 1
        try:
            yield taken
        finally:
            if taken:
                with self._taken:
                    self._in_flight[0] -= 1
                    self._taken.notify_all()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def close(self, timeout_s: float = 10.0) -> bool:
        """Take no more envelopes and wait (up to ``timeout_s``) for those taken to be dispatched
        and acknowledged; False if some were still at it (they stay journaled)."""
        with self._taken:
            self._closing.set()
            drained = self._taken.wait_for(lambda: self._in_flight[0] == 0, timeout_s)
        if self._later is not None:  # the queued dispatches hand their work to the pool first
            self._later.shutdown(wait=True)
        return drained

    def answer(self, req: SocketModeRequest) -> SocketModeResponse:
        """The acknowledgement, as Bolt's ack listeners would give it: a command's ephemeral
        usage or "working on it", else empty."""
        if self.gate is not None:
            self.gate.touch()
        if req.type != "slash_commands":
            return SocketModeResponse(envelope_id=req.envelope_id)
        text = str(req.payload.get("text") or "")
        return SocketModeResponse(
            envelope_id=req.envelope_id, payload=acknowledgement(text, self.max_text_chars)
        )

    def dispatch_later(self, req: SocketModeRequest, entry: int) -> None:
        """An acknowledged envelope to Bolt, once the gate opens (at once without one). Refused
        by a closed intake, it stays in the journal for the next start."""
        if self._later is None or self.gate is None:
            self.dispatch(req, entry)
            return
        self.gate.touch()
        try:
            self._later.submit(self._after_lull, req, entry, self.gate.clock())
        except RuntimeError:
            log.warning("a Socket Mode request came as the intake closed; left for a replay")

    def _after_lull(self, req: SocketModeRequest, entry: int, since: float) -> None:
        if self.gate is not None:
            self.gate.wait(since)
        try:
            self.dispatch(req, entry)
        except Exception:  # Bolt reports listener errors itself; this is Bolt failing
            log.exception("dispatching a Socket Mode request failed")

    def record(self, req: SocketModeRequest) -> int | None:
        """The envelope's journal entry (0 without a journal), or None when it cannot be kept."""
        if self.journal is None:
            return 0
        raw = json.dumps(_envelope(req), separators=(",", ":"), ensure_ascii=False).encode()
        return self.journal.record({SEAL: self._seal(raw)}, raw, transport=SOCKET_MODE)

    def dispatch(self, req: SocketModeRequest, entry: int, *, replayed: str = "") -> BoltResponse:
        """Bolt's dispatch (the ack listener inline, the lazy work on ``listeners``); the entry is
        marked done once that work is over. The delivery (its claims' owner: the entry's origin,
        ``replayed`` for a replay) and the replay mark are in the context, which no request can
        set from outside."""
        started: Started | None = None
        journal = self.journal
        origin = replayed or (journal.origin(entry) if entry and journal is not None else None)
        request = BoltRequest(
            mode="socket_mode",
            body=req.payload,
            headers=build_headers(req),
            context=delivery_context(origin, replay=bool(replayed)),
        )
        try:
            if self.listeners is None:
                return self.bolt.dispatch(request)
            with self.listeners.collecting() as started:
                return self.bolt.dispatch(request)
        finally:
            if entry and journal is not None:
                when_all_done(started, lambda: journal.done(entry))

    def replayable(self, entry: Entry) -> Replayable | None:
        """The Socket Mode path of ``replay``: the envelope, its seal and shape checked again."""
        if not hmac.compare_digest(self._seal(entry.body), entry.headers.get(SEAL, "")):
            log.warning("a journaled Socket Mode request was dropped: its seal does not verify")
            return None
        try:
            message = json.loads(entry.body)
            req = SocketModeRequest.from_dict(message) if isinstance(message, dict) else None
            if req is None:
                raise WrongShape("not a Socket Mode envelope")
            check_envelope(req)
        except (ValueError, WrongShape) as exc:  # sealed by this app: a bug, not an attack
            log.warning("a journaled Socket Mode request was dropped: %s", exc)
            return None
        return req.payload, lambda: self._again(req, entry)

    def _again(self, req: SocketModeRequest, entry: Entry) -> bool:
        # Nobody to acknowledge to: the answer was sent (or lost) by the process that died.
        self.dispatch(req, entry.id, replayed=entry.origin)
        return True

    def _seal(self, raw: bytes) -> str:
        return hmac.new(self._key, raw, hashlib.sha256).hexdigest()


def _envelope(req: SocketModeRequest) -> dict[str, Any]:
    """What Slack sent, as ``SocketModeRequest.from_dict`` reads it (its ``to_dict`` drops the
    retry fields Bolt's middleware reads)."""
    return {
        "type": req.type,
        "envelope_id": req.envelope_id,
        "payload": req.payload,
        "accepts_response_payload": req.accepts_response_payload,
        "retry_attempt": req.retry_attempt,
        "retry_reason": req.retry_reason,
    }


class CheckedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, refusing payloads no listener could read and journaling the
    others before their acknowledgement (``SocketIntake``)."""

    def __init__(self, app: App, app_token: str, intake: SocketIntake) -> None:
        super().__init__(app, app_token)
        self.intake = intake

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        with self.intake.admitted() as taken:
            if not taken:
                SLACK_REQUESTS.labels(outcome="closing").inc()
                log.info("left a Socket Mode request unacknowledged: shutting down")
                return
            self._take(client, req)

    def close(self) -> None:
        """Stop taking envelopes, let those taken be dispatched and acknowledged, then close the
        connection (which waits for the client's threads)."""
        if not self.intake.close():
            log.warning("closing Socket Mode with envelopes still at work; they stay in the journal")
        super().close()

    def _take(self, client: SocketModeClient, req: SocketModeRequest) -> None:
        try:
            check_envelope(req)
        except WrongShape as exc:
            SLACK_REQUESTS.labels(outcome="wrong_shape").inc()
            log.warning("dropped a Socket Mode request: %s", exc)  # the reason names fields, not values
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        entry = self.intake.record(req)
        if entry is None:
            SLACK_REQUESTS.labels(outcome="busy").inc()
            log.error("left a Socket Mode request unacknowledged: the Slack journal cannot keep it")
            return
        client.send_socket_mode_response(self.intake.answer(req))
        self.intake.dispatch_later(req, entry)
