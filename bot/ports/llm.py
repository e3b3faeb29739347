"""What the assistant needs from a chat model besides the model itself: how a call is retried
and what ended an answer early. The OpenAI-compatible adapter is bot/adapters/llm/chat.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.deadline import Deadline


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
