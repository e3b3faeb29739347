"""How the assistant reaches a chat model: the model for one answer, how its calls are retried,
and what ended an answer early, in words. The OpenAI-compatible adapter is
bot/adapters/llm/chat.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.domain.deadline import Deadline

if TYPE_CHECKING:  # langchain is loaded only when a model is asked
    from langchain_core.language_models import BaseChatModel


class Retry(Protocol):
    def wait_before_retry(self, exc: BaseException, failures: int) -> float | None:
        """Seconds to wait before attempt ``failures + 1``, or None when this failure is final."""
        ...


class NoRetry:
    """Every failure is final."""

    def wait_before_retry(self, exc: BaseException, failures: int) -> float | None:
        return None


@dataclass(frozen=True)
class Failure:
    """What ended a model answer early, as spoken to people."""

    exc: BaseException
    attempts: int
    deadline: Deadline | None = None


class ChatModels(Protocol):
    """Where the assistant's model comes from (built in the composition root)."""

    def model(self, deadline: Deadline) -> BaseChatModel | None:
        """The model for one answer, its requests ended by ``deadline``; None when no model
        is configured (no API key)."""
        ...

    def retry(self, deadline: Deadline) -> Retry:
        """How that answer's calls are retried, all within ``deadline``."""
        ...

    def describe(self, failure: Failure) -> str:
        """A short, secret-free reason for people: ``timed out after 30 s``, ``rate limited``."""
        ...
