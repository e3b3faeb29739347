"""A PyGithub client from Settings: App or token auth, bounded retries, GHES base URLs."""

from __future__ import annotations

import time
from typing import Any

from github import Auth, Github, GithubRetry
from urllib3.response import BaseHTTPResponse

from bot.domain.errors import InvalidInput, SourceUnavailable
from bot.settings import Settings

# 5xx answers are retried with backoff; 403 and 429 only when GitHub says they are rate limits
# (GithubRetry inspects Retry-After and the body). Non-idempotent POSTs that are retried after a
# 5xx are safe here: blobs, trees and commits are content-addressed, and a second ref or pull
# request is refused with 422, which the host resolves by finding the first.
_RETRY_STATUSES = [429, *range(500, 600)]


class RateLimitWaitTooLong(SourceUnavailable):
    """GitHub asked for a longer wait than ``github_max_wait_s``: fail instead of hanging."""


class BoundedRetry(GithubRetry):
    """GithubRetry with every wait capped, including the Retry-After header.

    urllib3 sleeps for whatever Retry-After says; GithubRetry's ``max_rate_limit_wait`` only
    caps waits it computes itself. A secondary rate limit answering ``Retry-After: 3600`` must
    not park a Slack click for an hour, so the header is checked here too.
    """

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        wait = super().get_retry_after(response)
        headers = response.headers
        if wait is None and response.status in (403, 429) and headers.get("x-ratelimit-remaining") == "0":
            # GitHub's documented fallback: no Retry-After, quota spent -> wait until the reset.
            reset = headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                wait = max(1.0, int(reset) - time.time())
        limit = self.max_rate_limit_wait
        if wait is not None and limit is not None and wait > limit:
            raise RateLimitWaitTooLong(
                f"GitHub rate-limited Tugboat and asked it to wait {wait:.0f} s, longer than "
                f"github_max_wait_s ({limit:.0f} s); nothing was changed. Try again later."
            )
        return wait


def retry_policy(settings: Settings) -> BoundedRetry:
    return BoundedRetry(
        total=settings.github_max_retries,
        status_forcelist=list(_RETRY_STATUSES),
        backoff_factor=1.0,
        backoff_max=min(30.0, settings.github_max_wait_s),
        respect_retry_after_header=True,
        raise_on_status=False,  # the final answer reaches PyGithub, which raises a typed error
        secondary_rate_wait=min(60.0, settings.github_max_wait_s),
        max_rate_limit_wait=settings.github_max_wait_s,
    )


def github_auth(settings: Settings) -> Auth.Auth:
    """An installation token (refreshed by PyGithub before it expires) or a fine-grained token."""
    app_id, key, installation = (
        settings.github_app_id,
        settings.github_app_private_key,
        settings.github_installation_id,
    )
    if app_id is not None and key is not None and installation is not None:
        return Auth.AppAuth(app_id, key.get_secret_value()).get_installation_auth(installation)
    if any(v is not None for v in (app_id, key, installation)):
        raise InvalidInput(
            "GitHub App credentials are incomplete: set all of TUGBOAT_GITHUB_APP_ID, "
            "TUGBOAT_GITHUB_APP_PRIVATE_KEY and TUGBOAT_GITHUB_INSTALLATION_ID (or use GITHUB_TOKEN)"
        )
    if settings.github_token is not None and settings.github_token.get_secret_value():
        return Auth.Token(settings.github_token.get_secret_value())
    raise InvalidInput("no GitHub credentials: set GITHUB_TOKEN or the GitHub App settings")


def github_configured(settings: Settings) -> bool:
    has_token = settings.github_token is not None and bool(settings.github_token.get_secret_value())
    has_app = None not in (
        settings.github_app_id,
        settings.github_app_private_key,
        settings.github_installation_id,
    )
    return bool(settings.github_repo) and (has_token or has_app)


def github_client(settings: Settings, **overrides: Any) -> Github:
    options: dict[str, Any] = {
        "auth": github_auth(settings),
        "base_url": settings.github_api_url.rstrip("/"),
        "timeout": int(max(1, settings.github_timeout_s)),
        "retry": retry_policy(settings),
        "seconds_between_requests": None,
        "seconds_between_writes": settings.github_seconds_between_writes or None,
        "lazy": True,  # no request until an attribute is needed: fewer calls, clearer cassettes
        "user_agent": "tugboat",
    }
    options.update(overrides)
    return Github(**options)
