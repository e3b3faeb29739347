"""Render a typed LogQuery as LogQL. Every value goes through ``quote``; nothing is pasted."""

from __future__ import annotations

import json
import re

from bot.ports.logs import LineFilter, LogQuery, Matcher

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def quote(value: str) -> str:
    """A Go double-quoted string literal (what Loki's lexer unquotes) for any text.

    JSON string escaping is a subset of Go's: ``\\"``, ``\\\\``, ``\\n``, ``\\t``, ``\\uXXXX``
    for control characters; everything else stays as UTF-8. A quote, backslash, newline or
    brace in ``value`` therefore stays inside the literal. Lone surrogates cannot be sent
    as UTF-8, so they become U+FFFD.
    """
    return json.dumps(_LONE_SURROGATE.sub("\ufffd", value), ensure_ascii=False)


def render_matcher(m: Matcher) -> str:
    return f"{m.label}{m.op}{quote(m.value)}"


def render_filter(f: LineFilter) -> str:
    return f"{f.op} {quote(f.value)}"


def selector(q: LogQuery) -> str:
    """The stream selector alone: ``{namespace="shop", app=~"api|web"}``."""
    return "{" + ", ".join(render_matcher(m) for m in q.stream_matchers) + "}"


def render(q: LogQuery) -> str:
    """The full log query: selector followed by its line filters, in order."""
    # LogQuery validated label names and operators on construction, so only values vary.
    return " ".join([selector(q), *(render_filter(f) for f in q.line_filters)])
