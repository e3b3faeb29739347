"""One ASGI app (Starlette, served by uvicorn): Slack's request URL, the Alertmanager webhook,
health, readiness and metrics.

Blocking work (Bolt's dispatch, the store) runs in Starlette's thread pool so the event loop
keeps accepting requests; Bolt answers as soon as a listener acks.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.domain.alert import parse_alert_group
from bot.domain.errors import InvalidInput
from bot.observability.metrics import (
    ALERTS_RECEIVED,
    ALERTS_REJECTED,
    SLACK_ACK_SECONDS,
    SLACK_UNAUTHENTICATED,
    exposition,
    refresh_proposal_gauge,
)
from bot.ports.store import Store
from bot.services.incidents import IncidentService

log = logging.getLogger(__name__)
MAX_ALERT_BODY = 8 * 1024 * 1024  # Alertmanager caps a group at max_alerts; this is far above


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None once it exceeds ``limit`` (declared or streamed, chunked or not)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _unauthenticated_reason(request: Request, window_s: int = 300) -> str:
    """Why Slack's signature check refused ``request`` (Bolt answers 401 alike for each)."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    if not request.headers.get("x-slack-signature") or not timestamp:
        return "unsigned"
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > window_s:
        return "stale_timestamp"
    return "bad_signature"


def create_app(
    *,
    store: Store,
    incidents: IncidentService,
    bolt: App | None,
    alertmanager_token: str | None = None,
    on_shutdown: Callable[[], None] | None = None,
    jobs_running: Callable[[], bool] = lambda: True,
) -> Starlette:
    async def slack_events(request: Request) -> Response:
        if bolt is None:
            return _error(404, "Slack events are not served over HTTP here (Socket Mode or no Slack app)")
        started = time.perf_counter()
        body = await request.body()
        bolt_request = to_bolt_request(request, body)
        if request.headers.get("content-type", "").startswith("application/json"):
            # Events: the retry dedup writes to the database, so off the event loop.
            response = await run_in_threadpool(bolt.dispatch, bolt_request)
        else:
            # Commands and interactions: verification and an ack with no I/O (the work is lazy),
            # well under a millisecond of CPU; a thread hop would only add GIL contention.
            response = bolt.dispatch(bolt_request)
        SLACK_ACK_SECONDS.observe(time.perf_counter() - started)
        if response.status == 401:  # Bolt's signature check refused it; no handler ran
            SLACK_UNAUTHENTICATED.labels(reason=_unauthenticated_reason(request)).inc()
        return to_starlette_response(response)

    async def alertmanager(request: Request) -> Response:
        if alertmanager_token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {alertmanager_token}".encode()):
                ALERTS_REJECTED.labels(reason="unauthorised").inc()
                return _error(401, "missing or wrong bearer token (see alertmanager_token)")
        body = await _read_capped(request, MAX_ALERT_BODY)
        if body is None:
            ALERTS_REJECTED.labels(reason="too_large").inc()
            return _error(413, f"payload larger than {MAX_ALERT_BODY} bytes")
        try:
            group = parse_alert_group(body)
        except InvalidInput as exc:
            ALERTS_REJECTED.labels(reason="malformed").inc()
            return _error(400, str(exc))
        ALERTS_RECEIVED.labels(status=group.status).inc()
        try:
            receipt = await run_in_threadpool(incidents.receive, group)
        except Exception as exc:  # not stored: a 5xx makes Alertmanager send it again
            log.error("could not store alert group: %s", type(exc).__name__)
            return _error(503, "the alert could not be stored right now; Alertmanager will retry")
        status = "duplicate" if receipt.duplicate else "accepted"
        return JSONResponse({"status": status, "groupKey": receipt.group_key})

    async def healthz(_: Request) -> Response:
        # A dead job worker does not come back by itself: failing liveness gets the pod restarted.
        if not jobs_running():
            return JSONResponse({"status": "the job worker stopped (see the log)"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        problems: list[str] = []
        try:
            await run_in_threadpool(store.get_incident, "readyz-probe")
        except Exception as exc:
            problems.append(
                f"database unreachable: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
            )
        if not incidents.running:
            problems.append("the incident service is shut down")
        if not jobs_running():
            problems.append("the job worker is not running (see the log for why)")
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(_: Request) -> Response:
        try:
            await run_in_threadpool(refresh_proposal_gauge, store)
        except Exception as exc:  # the other metrics are still worth serving
            log.warning("proposal gauge not refreshed: %s", type(exc).__name__)
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/alerts/alertmanager", alertmanager, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
