"""Build the chat model from settings, retry its calls within the answer's budget, and describe
its failures in one line.

Retries are ours, not the OpenAI client's (its ``max_retries`` is 0): 408/409/429/5xx answers,
timeouts and connection errors are retried with exponential backoff (0.5 s doubling, at most
8 s, with jitter), honouring ``Retry-After``, at most ``llm_max_retries`` times and never past
the answer's deadline. The HTTP client is a plain ``httpx.Client`` (the OpenAI SDK accepts one)
whose transport ends every request with that deadline, a body still dripping in included; vcrpy
records its traffic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx
from langchain_core.language_models import BaseChatModel

from bot.adapters.http_budget import TotalTimeoutTransport, connection_failure
from bot.domain.deadline import Deadline
from bot.ports.llm import Failure, Retry
from bot.settings import Settings

_RETRIED_STATUS = {408, 409, 429}
_OPENAI = "https://api.openai.com/v1"


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``NO_PROXY``...)."""
    from urllib.request import getproxies, proxy_bypass

    parsed = httpx.URL(url)
    if proxy_bypass(parsed.host):
        return None
    return getproxies().get(parsed.scheme)


def build_chat_model(settings: Settings, deadline: Deadline | None = None) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    if settings.openai_api_key is None:
        raise ValueError("no OpenAI-compatible API key configured (OPENAI_API_KEY)")
    transport = None
    if deadline is not None:
        # A client given a transport ignores HTTPS_PROXY and the like: the inner one honours them.
        inner = httpx.HTTPTransport(proxy=env_proxy(settings.openai_base_url or _OPENAI))
        transport = TotalTimeoutTransport(deadline, inner)
    return ChatOpenAI(
        model=settings.llm_model,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=0,
        stream_usage=True,
        http_client=httpx.Client(timeout=settings.llm_timeout_s, transport=transport),
    )


def transient(exc: BaseException) -> bool:
    """Worth another attempt: a timeout, a lost connection, a rate limit or a server error."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRIED_STATUS or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)  # APITimeoutError is one


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if isinstance(response, httpx.Response) else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from model endpoints; the backoff applies


@dataclass(frozen=True)
class RetryPolicy:
    """The ``Retry`` port (bot/ports/llm.py) for OpenAI-compatible APIs: one model call is
    retried at most ``retries`` times, all within ``deadline``."""

    retries: int
    deadline: Deadline | None = None

    def wait_before_retry(self, exc: BaseException, failures: int) -> float | None:
        """Seconds to wait before attempt ``failures + 1``, or None when this failure is final."""
        if failures > self.retries or not transient(exc):
            return None
        asked = _retry_after(exc)
        wait = asked if asked is not None else min(0.5 * 2 ** (failures - 1), 8.0) + random.uniform(0, 0.25)
        if self.deadline is not None and wait >= self.deadline.remaining():
            return None  # the next attempt could not finish in time: say so now
        return wait


@dataclass(frozen=True)
class OpenAIChatModels:
    """The ``ChatModels`` port (bot/ports/llm.py) on an OpenAI-compatible API, as configured."""

    settings: Settings

    def model(self, deadline: Deadline) -> BaseChatModel | None:
        try:
            return build_chat_model(self.settings, deadline)
        except ValueError:  # no API key (the model's own settings checks raise it too)
            return None

    def retry(self, deadline: Deadline) -> Retry:
        return RetryPolicy(self.settings.llm_max_retries, deadline)

    def describe(self, failure: Failure) -> str:
        return describe_failure(failure, self.settings)


def describe_failure(failure: Failure, settings: Settings) -> str:
    """A short, secret-free reason: ``timed out after 30 s``, ``connection refused by ...``,
    ``rate limited (HTTP 429) after 3 attempts``, ``not found: ...``."""
    import openai

    exc = failure.exc
    after = f" after {failure.attempts} attempts" if failure.attempts > 1 else ""
    where = settings.openai_base_url or "the OpenAI API"
    if isinstance(exc, openai.APITimeoutError):
        if failure.deadline is not None and failure.deadline.expired:
            return f"timed out: {failure.deadline.describe()} ran out{after}"
        return f"timed out after {settings.llm_timeout_s:g} s{after}"
    if isinstance(exc, openai.AuthenticationError):
        return "authentication failed (HTTP 401): check OPENAI_API_KEY"
    if isinstance(exc, openai.RateLimitError):
        return f"rate limited (HTTP 429){after}"
    if isinstance(exc, openai.NotFoundError):
        return f"not found (HTTP 404) at {where}: check OPENAI_BASE_URL and llm_model ({settings.llm_model})"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}{after}"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect to {where}: {connection_failure(_transport_error(exc))}{after}"
    return f"{type(exc).__name__}"


def _transport_error(exc: BaseException) -> BaseException:
    """The httpx error under the SDK's and LangChain's wrappers: it says what the socket said."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TransportError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc
