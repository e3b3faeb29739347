"""``tugboat serve``: the Slack bot and the HTTP server (alerts, health, metrics).

Transport: Socket Mode when ``SLACK_APP_TOKEN`` is set and ``--http`` is not given (or
``transport: socket``); otherwise Slack posts to ``/slack/events``. The HTTP server runs in
both modes, since Alertmanager, health checks and Prometheus need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bot.domain.errors import InvalidInput

if TYPE_CHECKING:  # pydantic loads when the server starts, not at start-up of every command
    from bot.settings import Settings


def choose_transport(settings: Settings, force_http: bool) -> str:
    """``socket`` or ``http``, with a clear error when the needed token is missing."""
    has_app_token = settings.slack_app_token is not None and bool(settings.slack_app_token.get_secret_value())
    mode = settings.transport
    if force_http:
        mode = "http"
    elif mode == "auto":
        mode = "socket" if has_app_token else "http"
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        raise InvalidInput("SLACK_BOT_TOKEN is not set: export the bot token (xoxb-...) of the Slack app")
    if mode == "socket" and not has_app_token:
        raise InvalidInput("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-...)")
    if mode == "http" and (
        settings.slack_signing_secret is None or not settings.slack_signing_secret.get_secret_value()
    ):
        raise InvalidInput(
            "SLACK_SIGNING_SECRET is not set: HTTP mode verifies Slack's signatures with it "
            "(or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    return mode


def serve(
    http: bool = typer.Option(
        False, "--http", help="Receive Slack events over HTTP even if SLACK_APP_TOKEN is set."
    ),
    port: int | None = typer.Option(None, "--port", help="HTTP port (default: http_port, 8080)."),
    host: str | None = typer.Option(None, "--host", help="HTTP bind address (default: http_host)."),
    workers: int = typer.Option(1, "--workers", min=1, max=32, help="HTTP mode: worker processes."),
) -> None:
    """Run the Slack bot, the Alertmanager webhook, /healthz, /readyz and /metrics."""
    import uvicorn

    from bot.observability.logging import configure_logging
    from bot.settings import load_settings
    from bot.wiring.serve import build_runtime, settle_heap, socket_mode_handler

    settings = load_settings(http_port=port, http_host=host)
    configure_logging(settings)  # JSON lines (or text), secrets redacted, for every library
    mode = choose_transport(settings, http)
    if workers > 1:
        if mode != "http":
            raise InvalidInput("--workers needs HTTP mode: add --http (Socket Mode runs in one process)")
        if not settings.database_url.startswith("postgresql"):
            raise InvalidInput(
                "--workers needs PostgreSQL (database_url): worker processes share the job queue "
                "through it, while on SQLite each process would run its own"
            )
        _serve_workers(settings, workers)
        return
    runtime = build_runtime(settings, socket_mode=mode == "socket")
    settle_heap()
    if mode == "socket":
        socket_handler = socket_mode_handler(runtime, settings)
        socket_handler.connect()  # returns at once; events arrive on the client's threads
        runtime.stop_intake.append(socket_handler.close)
    typer.echo(
        f"tugboat serving on http://{settings.http_host}:{settings.http_port} "
        f"(Slack over {'Socket Mode' if mode == 'socket' else 'HTTP at /slack/events'})",
        err=True,
    )
    # log_config=None: uvicorn's records go through our redacting handler, not its own
    config = uvicorn.Config(
        runtime.http,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
        log_config=None,
    )
    try:
        uvicorn.Server(config).run()  # returns on SIGINT/SIGTERM after the lifespan shutdown
    finally:
        runtime.close()  # idempotent: the lifespan shutdown has normally drained everything


def _serve_workers(settings: Settings, workers: int) -> None:
    """Several processes on one socket, each a full replica built from the environment."""
    import uvicorn

    from bot import wiring

    # Migrate once here: workers racing to create the schema would crash and be restarted.
    store = wiring.store(settings)
    close = getattr(store, "close", None)
    if callable(close):
        close()

    typer.echo(
        f"tugboat serving on http://{settings.http_host}:{settings.http_port} ({workers} workers)", err=True
    )
    uvicorn.run(
        "bot.wiring.serve:asgi_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=workers,
        log_level="warning",
        access_log=False,
        log_config=None,
    )
