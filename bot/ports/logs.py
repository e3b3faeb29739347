"""Logs: Loki-like streams selected by labels and filtered by line content."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

MatchOp = Literal["=", "!=", "=~", "!~"]
FilterOp = Literal["|=", "!=", "|~", "!~"]


@dataclass(frozen=True)
class LogQuery:
    """A LogQL-shaped selection: stream matchers plus line filters, all typed (never pasted text)."""

    matchers: tuple[tuple[str, MatchOp, str], ...]
    filters: tuple[tuple[FilterOp, str], ...] = ()
    limit: int = 5000


@dataclass(frozen=True)
class LogLine:
    ts: datetime
    line: str
    labels: dict[str, str] = field(default_factory=dict)


class LogSource(Protocol):
    def query(self, q: LogQuery, start: datetime, end: datetime) -> list[LogLine]:
        """Lines in [start, end], oldest first, at most ``q.limit``."""
        ...
