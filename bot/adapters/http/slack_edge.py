"""Slack's request URL (``POST /slack/events``): refuse, acknowledge, then hand over to Bolt.

In order, each step answering a clear 4xx when it fails, and nothing parsed before the
signature is checked:

1. the content type is one Slack sends (415) and the body fits ``slack_max_body_bytes`` (413);
2. the signature and its timestamp, on the raw bytes (401);
3. UTF-8, form or JSON within ``http_max_json_depth``, and the payload's shape (400);
4. the acknowledgement, answered at once: the slash command's usage or "working on it", the
   URL-verification challenge, or an empty 200;
5. Bolt's dispatch (middleware, listeners and their lazy work), on a small pool of threads
   after the answer, so concurrent requests are dispatched concurrently and none waits for
   another's listener; a dispatcher waits for a lull in the acknowledgements (``QuietGate``).

Steps 3 and 4 run in a worker thread for bodies over ``INLINE_BYTES``, so a large body never
holds up ``/healthz`` or the other requests; on the loop, each request costs a bounded amount
of work: reading the body, one HMAC, and checking at most ``INLINE_BYTES``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.adapters.http.limits import (
    INLINE_BYTES,
    RequestRefused,
    media_type,
    parse_form,
    parse_json,
    read_capped,
    utf8,
)
from bot.adapters.slack.listeners.commands import acknowledgement
from bot.adapters.slack.payloads import (
    EventCallback,
    UrlVerification,
    WrongShape,
    check_command,
    check_event,
    check_interaction,
)
from bot.observability.metrics import SLACK_REQUESTS, SLACK_UNAUTHENTICATED
from bot.settings import Settings

log = logging.getLogger(__name__)
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
DISPATCH_THREADS = 4  # Bolt's dispatch is ~1 ms of CPU; more threads would only contend for the GIL
DISPATCH_BACKLOG = 512  # acknowledged requests waiting for Bolt; past it, 503 (Slack retries events)
SIGNATURE_WINDOW_S = 300  # Slack's own replay window
_REFUSED = {401: "unauthorised", 413: "too_large", 415: "unsupported_type", 400: "malformed"}


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
    """A verified, well-formed request: the answer to send now and the body Bolt gets after."""

    answer: dict[str, str] | None
    body: dict[str, Any] | None  # None: nothing for Bolt (URL verification, rate-limit notice)


class SlackEdge:
    def __init__(self, bolt: App, settings: Settings) -> None:
        secret = settings.slack_signing_secret
        self.verifier = SignatureVerifier(secret.get_secret_value() if secret else "-")
        self.bolt = bolt
        self.max_body = settings.slack_max_body_bytes
        self.max_depth = settings.http_max_json_depth
        self.max_chars = settings.slack_max_text_chars
        self._pool = ThreadPoolExecutor(DISPATCH_THREADS, thread_name_prefix="tugboat-dispatch")
        self._waiting = threading.BoundedSemaphore(DISPATCH_BACKLOG)
        self.gate = QuietGate()

    async def __call__(self, request: Request) -> Response:
        self.gate.touch()
        try:
            return await self._answer(request)
        finally:
            self.gate.touch()

    async def _answer(self, request: Request) -> Response:
        try:
            kind = media_type(request)
            if kind not in (FORM, JSON):
                raise RequestRefused(415, f"Slack posts {FORM} or {JSON}, not {kind or 'an untyped body'}")
            raw = await read_capped(request, self.max_body)
            self._verify(request, raw)
            if len(raw) <= INLINE_BYTES:
                accepted = self.accept(kind, raw)
            else:
                accepted = await run_in_threadpool(self.accept, kind, raw)
        except RequestRefused as refused:
            SLACK_REQUESTS.labels(outcome=_REFUSED.get(refused.status, "refused")).inc()
            return JSONResponse({"error": refused.message}, status_code=refused.status)
        # items(), not dict(request.headers): that looks each name up again by a linear scan
        headers: dict[str, str | Sequence[str]] = dict(request.headers.items())
        if accepted.body is not None and not self._dispatch_later(accepted.body, headers):
            SLACK_REQUESTS.labels(outcome="busy").inc()
            return JSONResponse(
                {"error": "Tugboat is busy; try again"}, status_code=503, headers={"Retry-After": "1"}
            )
        return JSONResponse(accepted.answer) if accepted.answer else Response(status_code=200)

    def _verify(self, request: Request, raw: bytes) -> None:
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
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
            form = parse_form(text)
            if "payload" in form:
                payload = parse_json(form["payload"], self.max_depth, "the interaction payload")
                check_interaction(payload)
                return Accepted(None, payload)
            if "command" in form:
                command = check_command(form)
                return Accepted(acknowledgement(command.text, self.max_chars), dict(form))
            if form.get("ssl_check"):
                return Accepted(None, None)
        except WrongShape as exc:
            raise RequestRefused(400, str(exc)) from None
        raise RequestRefused(400, "neither a slash command nor an interaction payload (`payload=`)")

    def _event(self, body: Any) -> Accepted:
        event = check_event(body)
        if isinstance(event, UrlVerification):
            return Accepted({"challenge": event.challenge}, None)
        return Accepted(None, body if isinstance(event, EventCallback) else None)

    def _dispatch_later(self, body: dict[str, Any], headers: dict[str, str | Sequence[str]]) -> bool:
        if not self._waiting.acquire(blocking=False):
            return False
        try:
            self._pool.submit(self._dispatch, body, headers, self.gate.clock())
        except RuntimeError:  # shutting down: the pool takes nothing new
            self._waiting.release()
            return False
        return True

    def _dispatch(self, body: dict[str, Any], headers: dict[str, str | Sequence[str]], since: float) -> None:
        self.gate.wait(since)
        try:
            # Bolt takes a parsed body only in its socket_mode; the signature was verified above
            # on the raw bytes, which is what Bolt's HTTP mode would redo after a second parse.
            response = self.bolt.dispatch(BoltRequest(body=body, headers=headers, mode="socket_mode"))
            if response.status == 404:
                log.info("no Tugboat listener for this Slack request (%s)", body.get("type") or "command")
        except Exception:  # Bolt reports listener errors itself; this is Bolt failing
            log.exception("dispatching a Slack request failed")
        finally:
            self._waiting.release()

    def close(self) -> None:
        """Finish dispatching what was acknowledged (its lazy work goes to Bolt's executor)."""
        self._pool.shutdown(wait=True)
