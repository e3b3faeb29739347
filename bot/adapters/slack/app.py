"""The one Bolt app: a Web API client that honours rate limits, our middleware, the listeners.

Every listener is a module-level ack function that only acknowledges (or answers a usage error)
plus lazy functions that do the work; Bolt injects ``deps`` (the services) by name. With
``process_before_response`` the ack runs inline in the request's thread, so the answer to Slack
never waits behind a busy executor or Bolt's 10 ms ack polling;
the lazy work runs on ``executor``, a pool the caller owns and shuts down gracefully.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.listeners import actions as action_listeners
from bot.adapters.slack.listeners import commands as command_listeners
from bot.adapters.slack.listeners import events as event_listeners
from bot.adapters.slack.middleware import NoBodies, dedupe_event_retries, provide
from bot.domain.errors import InvalidInput
from bot.settings import Settings

SLACK_TIMEOUT_S = 15


def web_client(settings: Settings, max_rate_limit_retries: int = 3) -> WebClient:
    """The bot's Web API client; a 429 waits for Retry-After and tries again (up to the cap)."""
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        raise InvalidInput("SLACK_BOT_TOKEN is not set: export the bot token (xoxb-...) of the Slack app")
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_S,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries),
            ConnectionErrorRetryHandler(max_retry_count=1),
        ],
    )


def bolt_logger() -> logging.Logger:
    logger = logging.getLogger("tugboat.slack.bolt")
    if not any(isinstance(f, NoBodies) for f in logger.filters):
        logger.addFilter(NoBodies())
    return logger


def build_app(deps: SlackDeps, client: WebClient, executor: Executor, *, socket_mode: bool = False) -> App:
    """Bolt with signature verification (HTTP mode), retry dedup, and Tugboat's listeners."""
    secret = deps.settings.slack_signing_secret
    if not socket_mode and (secret is None or not secret.get_secret_value()):
        raise InvalidInput(
            "SLACK_SIGNING_SECRET is not set: copy it from the Slack app's Basic Information page"
        )
    try:
        app = App(
            client=client,
            signing_secret=secret.get_secret_value() if secret else "",
            process_before_response=True,
            listener_executor=executor,
            logger=bolt_logger(),
            name="tugboat",
            # Socket Mode requests come over an authenticated WebSocket and carry no signature.
            request_verification_enabled=not socket_mode,
        )
    except (BoltError, SlackClientError, OSError) as exc:
        raise InvalidInput(
            f"Slack refused the bot token ({exc}); check SLACK_BOT_TOKEN and TUGBOAT_SLACK_API_URL"
        ) from None
    app.use(dedupe_event_retries(deps.store))
    app.use(provide(deps))
    command_listeners.register(app)
    action_listeners.register(app)
    event_listeners.register(app)
    return app
