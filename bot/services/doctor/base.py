"""The pieces every doctor check shares: results, statuses and one-line reasons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.security.redact import redact

if TYPE_CHECKING:  # the CLI imports this package at start-up; pydantic loads when a check runs
    from bot.settings import Settings


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "not configured"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


Check = Callable[["Settings", float], CheckResult]


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.OK, detail)


def fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, redact(detail), fix)


def skipped(name: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.SKIPPED, "", fix)


def secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def reason(exc: BaseException) -> str:
    """One line, no traceback. The innermost cause is usually the telling one ("Connection
    refused"), unless an exception was raised ``from None`` to replace it with a better message."""
    chain: list[BaseException] = [exc]
    while True:
        inner = chain[-1].__cause__ or (None if chain[-1].__suppress_context__ else chain[-1].__context__)
        if inner is None or inner in chain:
            break
        chain.append(inner)
    texts = [str(e).strip() for e in reversed(chain) if str(e).strip()]
    text = texts[0].splitlines()[0] if texts else type(exc).__name__
    return redact(text[:300])


def egress_fix(what: str) -> str:
    return f"check DNS, proxies and the NetworkPolicy egress rule for {what}"
