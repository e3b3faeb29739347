"""Logs: Loki-like streams selected by labels and filtered by line content."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, NamedTuple, Protocol, cast, get_args

from bot.domain.deadline import Deadline
from bot.domain.errors import InvalidInput

MatchOp = Literal["=", "!=", "=~", "!~"]
FilterOp = Literal["|=", "!=", "|~", "!~"]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Loki refuses larger pages by default (max_entries_limit_per_query); callers page instead.
MAX_LIMIT = 100_000


class Matcher(NamedTuple):
    """A stream matcher. Regexes use full-match semantics, as in Loki and Prometheus."""

    label: str
    op: MatchOp
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")  # an absent label matches like an empty one
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = _compiled(self.value).fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    @property
    def matches_empty(self) -> bool:
        return self.matches({})


class LineFilter(NamedTuple):
    """A line filter: ``|=`` contains, ``!=`` does not contain, ``|~``/``!~`` regex search."""

    op: FilterOp
    value: str

    def matches(self, line: str) -> bool:
        if self.op == "|=":
            return self.value in line
        if self.op == "!=":
            return self.value not in line
        hit = _compiled(self.value).search(line) is not None
        return hit if self.op == "|~" else not hit


@dataclass(frozen=True)
class LogQuery:
    """A LogQL-shaped selection: stream matchers plus line filters, all typed (never pasted text).

    ``limit`` caps the total number of lines returned; an adapter may page underneath. A result
    of exactly ``limit`` lines may have been cut: the oldest lines are kept.
    """

    # Plain tuples type-check too (a Matcher is a (label, op, value) tuple); they are turned
    # into Matcher and LineFilter on construction, see ``stream_matchers``/``line_filters``.
    matchers: tuple[tuple[str, MatchOp, str], ...]
    filters: tuple[tuple[FilterOp, str], ...] = ()
    limit: int = 5000

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(_as_matcher(m) for m in self.matchers))
        object.__setattr__(self, "filters", tuple(_as_filter(f) for f in self.filters))
        if not self.matchers:
            raise InvalidInput('a log query needs at least one stream matcher, e.g. app="checkout"')
        for m in self.stream_matchers:
            if not _LABEL_NAME.fullmatch(m.label):
                raise InvalidInput(f"not a valid label name in a log query: {m.label!r}")
            if m.op not in get_args(MatchOp):
                raise InvalidInput(f"unknown matcher operator {m.op!r}; use one of =, !=, =~, !~")
        for f in self.line_filters:
            if f.op not in get_args(FilterOp):
                raise InvalidInput(f"unknown line filter {f.op!r}; use one of |=, !=, |~, !~")
        # Loki's own rule: at least one matcher must select something non-empty.
        if all(m.matches_empty for m in self.stream_matchers):
            raise InvalidInput(
                "a log query needs at least one matcher that does not match the empty string "
                '(e.g. namespace="shop" or app=~".+")'
            )
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"log query limit must be between 1 and {MAX_LIMIT}, got {self.limit}")

    @classmethod
    def of(cls, limit: int = 5000, filters: dict[FilterOp, str] | None = None, **labels: str) -> LogQuery:
        """Equality matchers from keyword arguments: ``LogQuery.of(namespace="shop", app="api")``."""
        return cls(
            tuple(Matcher(k, "=", v) for k, v in labels.items()),
            tuple(LineFilter(op, v) for op, v in (filters or {}).items()),
            limit,
        )

    @property
    def stream_matchers(self) -> tuple[Matcher, ...]:
        return cast(tuple[Matcher, ...], self.matchers)

    @property
    def line_filters(self) -> tuple[LineFilter, ...]:
        return cast(tuple[LineFilter, ...], self.filters)

    def matches_stream(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.stream_matchers)

    def matches_line(self, line: str) -> bool:
        return all(f.matches(line) for f in self.line_filters)


@dataclass(frozen=True)
class LogLine:
    ts: datetime
    line: str
    labels: dict[str, str] = field(default_factory=dict)


class LogSource(Protocol):
    def query(
        self, q: LogQuery, start: datetime, end: datetime, deadline: Deadline | None = None
    ) -> list[LogLine]:
        """Lines in [start, end], oldest first, at most ``q.limit``.

        Raises ``SourceUnavailable`` when the backend cannot answer or refuses the query
        (with the backend's reason), ``InvalidInput`` for times or a source that cannot be used.
        A remote backend ends within its own budget, or by ``deadline`` when that comes first.
        """
        ...


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidInput(f"invalid regular expression {pattern!r} in a log query: {exc}") from None


def _as_matcher(raw: Any) -> Matcher:
    m = raw if isinstance(raw, Matcher) else Matcher(*raw)
    if m.op in ("=~", "!~"):
        _compiled(m.value)  # refuse a bad regex when the query is built, not when it runs
    return m


def _as_filter(raw: Any) -> LineFilter:
    f = raw if isinstance(raw, LineFilter) else LineFilter(*raw)
    if f.op in ("|~", "!~"):
        _compiled(f.value)
    return f
