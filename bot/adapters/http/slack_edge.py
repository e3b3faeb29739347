"""Slack's request URL (``POST /slack/events``): refuse, acknowledge, then hand over to Bolt.

In order, each step answering a clear 4xx when it fails, and nothing parsed before the
signature is checked:

1. the content type is one Slack sends (415) and the body fits ``slack_max_body_bytes`` (413);
2. the signature and its timestamp, on the raw bytes (401);
3. UTF-8, form or JSON within ``http_max_json_depth``, and the payload's shape (400);
4. the request journaled (``journal.SlackJournal``: one append, no fsync), then the
   acknowledgement, answered at once: the slash command's usage or "working on it", the
   URL-verification challenge, or an empty 200;
5. Bolt's dispatch (middleware, listeners and their lazy work), on a small pool of threads
   after the answer, so concurrent requests are dispatched concurrently and none waits for
   another's listener; one feeder thread hands them to the pool after a lull in the
   acknowledgements (``QuietGate``), so an ack never wakes a thread. Once the lazy work it
   started is over (``ListenerPool``), the request is marked done in the journal; at start,
   ``replay`` dispatches again what a killed process left unfinished.

The edge is an ASGI app of its own, reached before Starlette's routing (``server.SlackFastPath``):
headers straight from the scope, answers sent as encoded bytes. A form's values stay
percent-encoded on the loop (``limits.encoded_form``) except the command's text; Bolt's copy is
decoded in full on a dispatch thread.

Steps 3 and 4 run in a worker thread for bodies over ``INLINE_BYTES``, so a large body never
holds up ``/healthz`` or the other requests; on the loop, each request costs a bounded amount
of work: reading the body, one HMAC, and checking at most ``INLINE_BYTES``.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from bot.adapters.http.limits import (
    INLINE_BYTES,
    RequestRefused,
    encoded_form,
    media_type,
    parse_form,
    parse_json,
    read_capped,
    utf8,
)
from bot.adapters.slack.journal import Entry, SlackJournal
from bot.adapters.slack.listeners.commands import acknowledgement
from bot.adapters.slack.listeners.once import delivery_context
from bot.adapters.slack.payloads import (
    EventCallback,
    UrlVerification,
    WrongShape,
    check_command,
    check_event,
    check_interaction,
)
from bot.adapters.slack.pool import ListenerPool, Started, when_all_done
from bot.adapters.slack.replay import Replayable
from bot.observability.metrics import SLACK_ACK_SECONDS, SLACK_REQUESTS, SLACK_UNAUTHENTICATED
from bot.settings import Settings

log = logging.getLogger(__name__)
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
DISPATCH_THREADS = 4  # Bolt's dispatch is ~1 ms of CPU; more threads would only contend for the GIL
DISPATCH_BACKLOG = 512  # acknowledged requests waiting for Bolt; past it, 503 (Slack retries events)
SIGNATURE_WINDOW_S = 300  # Slack's own replay window
# One encoder, made once: json.dumps builds a new one per call whenever an option is given.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_BUSY = b'{"error":"Tugboat is busy; try again"}'
_REFUSED = {401: "unauthorised", 413: "too_large", 415: "unsupported_type", 400: "malformed"}
# What the feeder hands to the pool: the request, its headers, when it was queued, its journal
# entry (0: none) and, for a replay, the entry's origin (empty: a first delivery).
Queued = tuple["Accepted", dict[str, str | Sequence[str]], float, int, str]


def _encode(answer: dict[str, str]) -> bytes:
    return _encoder.encode(answer).encode()


class QuietGate:
    """Work yields to acknowledgements: a request's dispatch starts once no request has come or
    gone for ``quiet_s``, or ``patience_s`` after it was acknowledged at the latest (counted from
    then, so steady traffic delays the work but never caps its rate). Without it, a burst of 50
    commands is answered while Bolt dispatches the first ones, every thread taking its turn at
    the GIL."""

    def __init__(
        self,
        quiet_s: float = 0.005,
        patience_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.quiet_s, self.patience_s, self.clock, self.sleep = quiet_s, patience_s, clock, sleep
        self.last = 0.0

    def touch(self) -> None:
        self.last = self.clock()

    def wait(self, since: float) -> None:
        deadline = since + self.patience_s
        while (idle := self.clock() - self.last) < self.quiet_s and self.clock() < deadline:
            self.sleep(max(0.0005, min(self.quiet_s - idle, deadline - self.clock())))


@dataclass(frozen=True)
class Accepted:
    """A verified, well-formed request: the answer to send now and what Bolt gets after."""

    answer: bytes  # the JSON answer, encoded; empty for an empty 200
    body: dict[str, Any] | None  # None: nothing for Bolt (URL verification, rate-limit notice)
    form: str | None = None  # a slash command's body, decoded in full off the loop, for Bolt

    def for_bolt(self) -> dict[str, Any] | None:
        return dict(parse_form(self.form)) if self.form is not None else self.body


class SlackEdge:
    """The ASGI app of ``POST /slack/events`` (``server.SlackFastPath`` routes to it)."""

    def __init__(
        self,
        bolt: App,
        settings: Settings,
        *,
        journal: SlackJournal | None = None,
        listeners: ListenerPool | None = None,
    ) -> None:
        """``journal``: where requests are recorded before their ack; ``listeners``: Bolt's
        listener executor, which tells when a request's lazy work is over."""
        secret = settings.slack_signing_secret
        self.verifier = SignatureVerifier(secret.get_secret_value() if secret else "-")
        self.bolt, self.journal, self.listeners = bolt, journal, listeners
        self.max_body = settings.slack_max_body_bytes
        self.max_depth = settings.http_max_json_depth
        self.max_chars = settings.slack_max_text_chars
        self._pool = ThreadPoolExecutor(DISPATCH_THREADS, thread_name_prefix="tugboat-dispatch")
        self._waiting = threading.BoundedSemaphore(DISPATCH_BACKLOG)
        self.gate = QuietGate()
        self._backlog: deque[Queued] = deque()
        self._lock = threading.Lock()
        self._queued = threading.Event()
        self._closing = False
        self._feeder = threading.Thread(target=self._feed, name="tugboat-dispatch-feed", daemon=True)
        self._feeder.start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Timed from the moment uvicorn hands the request over (headers read, body not yet) to
        the answer's first byte: the body, verification, parsing and any wait included."""
        started = time.perf_counter()
        self.gate.touch()
        try:
            status, answer, extra = await self._answer(scope, receive)
        except ClientDisconnect:  # nobody left to answer
            return
        finally:
            self.gate.touch()
        head = [(b"content-length", str(len(answer)).encode())]
        if answer:
            head.append((b"content-type", b"application/json"))
        SLACK_ACK_SECONDS.observe(time.perf_counter() - started)
        await send({"type": "http.response.start", "status": status, "headers": head + extra})
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        # One pass over the raw headers; the last of a repeated header wins, as in Bolt's view.
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            kind = media_type(headers.get("content-type", ""))
            if kind not in (FORM, JSON):
                raise RequestRefused(415, f"Slack posts {FORM} or {JSON}, not {kind or 'an untyped body'}")
            raw = await read_capped(receive, headers.get("content-length", ""), self.max_body)
            self._verify(headers, raw)
            if len(raw) <= INLINE_BYTES:
                accepted = self.accept(kind, raw)
            else:
                accepted = await run_in_threadpool(self.accept, kind, raw)
        except RequestRefused as refused:
            SLACK_REQUESTS.labels(outcome=_REFUSED.get(refused.status, "refused")).inc()
            return refused.status, _encode({"error": refused.message}), []
        if accepted.body is not None or accepted.form is not None:
            # Recorded before the answer: once acknowledged, Slack never sends it again.
            entry = self.journal.record(headers, raw) if self.journal is not None else 0
            if entry is None or not self._dispatch_later(accepted, dict(headers), entry):
                if entry and self.journal is not None:
                    self.journal.done(entry)
                SLACK_REQUESTS.labels(outcome="busy").inc()
                return 503, _BUSY, [(b"retry-after", b"1")]
        return 200, accepted.answer, []

    def _verify(self, headers: dict[str, str], raw: bytes) -> None:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        # Refused before any handler runs, so counted in /metrics rather than audited.
        if not timestamp.isdigit() or not signature.startswith("v0="):
            SLACK_UNAUTHENTICATED.labels(reason="unsigned").inc()
            raise RequestRefused(401, "missing or malformed X-Slack-Signature / X-Slack-Request-Timestamp")
        if abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW_S:
            SLACK_UNAUTHENTICATED.labels(reason="stale_timestamp").inc()
            raise RequestRefused(401, "the request's timestamp is older than 5 minutes (a replay?)")
        # The SDK hashes text; a body that is not UTF-8 cannot come from Slack, signed or not.
        if not self.verifier.is_valid(utf8(raw), timestamp, signature):
            SLACK_UNAUTHENTICATED.labels(reason="bad_signature").inc()
            raise RequestRefused(401, "invalid Slack signature")

    def accept(self, kind: str, raw: bytes) -> Accepted:
        """Parse and check a verified body and compute its acknowledgement (on the loop up to
        INLINE_BYTES, else in a worker thread)."""
        text = utf8(raw)
        try:
            if kind == JSON:
                return self._event(parse_json(text, self.max_depth))
            # Values still encoded where that is enough to check the shape; decoded when needed.
            encoded = encoded_form(text)
            form = encoded if encoded is not None else parse_form(text)
            value = unquote_plus if encoded is not None else str
            if "payload" in form:
                payload = parse_json(value(form["payload"]), self.max_depth, "the interaction payload")
                check_interaction(payload)
                return Accepted(b"", payload)
            if "command" in form:
                check_command(form)  # every value a string, each non-empty iff its decoding is
                answer = _encode(acknowledgement(value(form.get("text", "")), self.max_chars))
                return Accepted(answer, None, text) if encoded is not None else Accepted(answer, form)
            if form.get("ssl_check"):
                return Accepted(b"", None)
        except WrongShape as exc:
            raise RequestRefused(400, str(exc)) from None
        raise RequestRefused(400, "neither a slash command nor an interaction payload (`payload=`)")

    def _event(self, body: Any) -> Accepted:
        event = check_event(body)
        if isinstance(event, UrlVerification):
            return Accepted(_encode({"challenge": event.challenge}), None)
        return Accepted(b"", body if isinstance(event, EventCallback) else None)

    def _dispatch_later(
        self,
        accepted: Accepted,
        headers: dict[str, str | Sequence[str]],
        entry: int,
        *,
        replayed: str = "",
    ) -> bool:
        """On the loop: queue the request for the feeder, waking it only if it sleeps (no thread
        wakes per request: a wake-up per ack cost the loop ~40 us, the woken thread's GIL turn).
        A replay (``replayed``: its entry's origin) waits for room in the backlog instead."""
        if not self._waiting.acquire(blocking=bool(replayed)):
            return False
        with self._lock:
            if self._closing:  # shutting down: nothing new is taken
                self._waiting.release()
                return False
            self._backlog.append((accepted, headers, self.gate.clock(), entry, replayed))
        if not self._queued.is_set():
            self._queued.set()
        return True

    def _feed(self) -> None:
        """The feeder thread: once a lull in the acknowledgements comes (``QuietGate``), hands
        the queued requests to the dispatch pool, oldest first."""
        while True:
            self._queued.wait()
            self._queued.clear()  # before draining: an append from now on sets it again
            while True:
                with self._lock:
                    if not self._backlog:
                        if self._closing:
                            return
                        break
                    queued = self._backlog[0]
                self.gate.wait(queued[2])
                self._pool.submit(self._dispatch, *queued)
                self._backlog.popleft()

    def _dispatch(
        self,
        accepted: Accepted,
        headers: dict[str, str | Sequence[str]],
        _since: float,
        entry: int,
        replayed: str,
    ) -> None:
        started: Started | None = None
        journal = self.journal
        try:
            body = accepted.for_bolt()
            assert body is not None  # only requests with something for Bolt are dispatched
            # Bolt takes a parsed body only in its socket_mode; the signature was verified above
            # on the raw bytes, which is what Bolt's HTTP mode would redo after a second parse.
            # The delivery (its claims' owner) and the replay mark are in the context.
            origin = replayed or (journal.origin(entry) if entry and journal is not None else None)
            context = delivery_context(origin, replay=bool(replayed))
            request = BoltRequest(body=body, headers=headers, context=context, mode="socket_mode")
            if self.listeners is not None:
                with self.listeners.collecting() as started:
                    response = self.bolt.dispatch(request)
            else:
                response = self.bolt.dispatch(request)
            if response.status == 404:
                log.info("no Tugboat listener for this Slack request (%s)", body.get("type") or "command")
        except Exception:  # Bolt reports listener errors itself; this is Bolt failing
            log.exception("dispatching a Slack request failed")
        finally:
            self._waiting.release()
            if entry and journal is not None:
                when_all_done(started, lambda: journal.done(entry))

    def replayable(self, entry: Entry) -> Replayable | None:
        """The HTTP path of ``replay``: a journaled request verified again, to queue again."""
        accepted = self.reread(entry)
        body = accepted.for_bolt() if accepted is not None else None
        if accepted is None or body is None:
            return None
        return body, lambda: self.redispatch(accepted, entry)

    def redispatch(self, accepted: Accepted, entry: Entry) -> bool:
        """Queue a journaled request again, as a replay: its listeners act where the attempt cut
        short had claimed the request (the claims' owner is the entry's origin)."""
        headers: dict[str, str | Sequence[str]] = dict(entry.headers)
        return self._dispatch_later(accepted, headers, entry.id, replayed=entry.origin)

    def reread(self, entry: Entry) -> Accepted | None:
        """A journaled request, verified and checked again, or None. The journal lies outside the
        process, so its signature is checked again (the 5-minute window aside: it is a replay)
        and its body goes through the same checks as when it arrived."""
        timestamp = entry.headers.get("x-slack-request-timestamp", "")
        signature = entry.headers.get("x-slack-signature", "")
        try:
            text = utf8(entry.body)
            expected = self.verifier.generate_signature(timestamp=timestamp, body=text)
            if not timestamp.isdigit() or not hmac.compare_digest(expected or "", signature):
                raise RequestRefused(401, "its signature does not verify")
            return self.accept(media_type(entry.headers.get("content-type", "")), entry.body)
        except RequestRefused as refused:
            log.warning("a journaled Slack request was dropped: %s", refused.message)
            return None

    def close(self) -> None:
        """Finish dispatching what was acknowledged (its lazy work goes to Bolt's executor)."""
        with self._lock:
            self._closing = True
        self._queued.set()
        self._feeder.join()
        self._pool.shutdown(wait=True)
