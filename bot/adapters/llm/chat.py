"""Build the chat model from settings, and describe its failures in one line.

Retries: the OpenAI client retries 408/409/429/5xx and connection errors itself, with
exponential backoff (0.5 s doubling, at most 8 s, with jitter) and it honours ``Retry-After``;
``llm_max_retries`` sets how many times. The HTTP client is a plain ``httpx.Client`` (the OpenAI
SDK accepts one), which keeps one timeout for connect and read and lets vcrpy record the traffic.
"""

from __future__ import annotations

import httpx
from langchain_core.language_models import BaseChatModel

from bot.settings import Settings


def build_chat_model(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    if settings.openai_api_key is None:
        raise ValueError("no OpenAI-compatible API key configured (OPENAI_API_KEY)")
    return ChatOpenAI(
        model=settings.llm_model,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        temperature=0,
        stream_usage=True,
        http_client=httpx.Client(timeout=settings.llm_timeout_s),
    )


def describe_failure(exc: BaseException, settings: Settings) -> str:
    """A short, secret-free reason, e.g. ``timeout after 30s`` or ``HTTP 500 after 3 retries``."""
    import openai

    retries = settings.llm_max_retries
    after = f" after {retries} retries" if retries else ""
    if isinstance(exc, openai.APITimeoutError):
        return f"timeout after {settings.llm_timeout_s:g}s{after}"
    if isinstance(exc, openai.AuthenticationError):
        return "authentication failed (HTTP 401): check OPENAI_API_KEY"
    if isinstance(exc, openai.RateLimitError):
        return f"rate limited (HTTP 429){after}"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}{after}"
    if isinstance(exc, openai.APIConnectionError):
        return f"endpoint unreachable{after}"
    return f"{type(exc).__name__}"
