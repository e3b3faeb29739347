"""One ASGI app (Starlette, served by uvicorn): Slack's request URL, the Alertmanager webhook,
health, readiness and metrics.

The event loop reads bodies and answers; parsing bodies over ``INLINE_BYTES``, the store and
Bolt's dispatch run in threads (``slack_edge.py`` for Slack), so a large or slow request never
holds up another.
Every malformed request gets a 4xx saying what is wrong (``limits.py``).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.adapters.http.limits import INLINE_BYTES, RequestRefused, media_type, parse_json, read_capped, utf8
from bot.domain.alert import AlertGroup, parse_alert_group
from bot.domain.errors import InvalidInput
from bot.observability.metrics import (
    ALERTS_RECEIVED,
    ALERTS_REJECTED,
    exposition,
    refresh_proposal_gauge,
)
from bot.ports.store import Store
from bot.services.incidents import IncidentService

log = logging.getLogger(__name__)
SLACK_PATH = "/slack/events"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class SlackFastPath:
    """``POST /slack/events`` goes straight to the edge, an ASGI app of its own that reads the
    scope's headers and sends pre-encoded answers (``slack_edge.py``), past Starlette's routing,
    request and response objects; everything else goes on to the router. Installed as the
    outermost user middleware, so only Starlette's error guard runs before it."""

    def __init__(self, app: ASGIApp, slack: ASGIApp | None) -> None:
        self.app, self.slack = app, slack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slack = self.slack
        if slack and scope["type"] == "http" and scope["path"] == SLACK_PATH and scope["method"] == "POST":
            await slack(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _alert_group(body: bytes, max_depth: int) -> AlertGroup:
    """The webhook body as an alert group (in a worker thread past INLINE_BYTES: bodies run to
    megabytes)."""
    data = parse_json(utf8(body), max_depth, "alert payload")
    try:
        return parse_alert_group(data)
    except InvalidInput as exc:
        raise RequestRefused(400, str(exc)) from None


def create_app(
    *,
    store: Store,
    incidents: IncidentService,
    slack_events: ASGIApp | None,
    alertmanager_token: str | None = None,
    alertmanager_max_body: int = 8 * 1024 * 1024,
    max_json_depth: int = 32,
    on_shutdown: Callable[[], None] | None = None,
    jobs_running: Callable[[], bool] = lambda: True,
) -> Starlette:
    async def slack(_: Request) -> Response:  # POST goes to the fast path when there is an edge
        return _error(404, "Slack events are not served over HTTP here (Socket Mode or no Slack app)")

    async def alertmanager(request: Request) -> Response:
        if alertmanager_token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {alertmanager_token}".encode()):
                ALERTS_REJECTED.labels(reason="unauthorised").inc()
                return _error(401, "missing or wrong bearer token (see alertmanager_token)")
        try:
            headers = request.headers
            if media_type(headers.get("content-type", "")) not in ("application/json", ""):  # Alertmanager's
                raise RequestRefused(415, "the webhook takes application/json (an Alertmanager webhook body)")
            length = headers.get("content-length", "")
            body = await read_capped(request.receive, length, alertmanager_max_body)
            if len(body) <= INLINE_BYTES:
                group = _alert_group(body, max_json_depth)
            else:
                group = await run_in_threadpool(_alert_group, body, max_json_depth)
        except RequestRefused as refused:
            reason = {413: "too_large", 415: "unsupported_type"}.get(refused.status, "malformed")
            ALERTS_REJECTED.labels(reason=reason).inc()
            return _error(refused.status, refused.message)
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
            Route(SLACK_PATH, slack, methods=["POST"]),
            Route("/alerts/alertmanager", alertmanager, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[Middleware(SlackFastPath, slack=slack_events)],
    )
