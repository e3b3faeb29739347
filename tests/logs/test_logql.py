"""LogQL rendering: typed parts in, a query whose structure no value can change out."""

from __future__ import annotations

import random
import re

import pytest

from bot.adapters.logs.logql import quote, render, selector
from bot.domain.errors import InvalidInput
from bot.ports.logs import LineFilter, LogQuery, Matcher

HOSTILE = [
    '"',
    "\\",
    '\\"',
    "\n",
    "\r\n",
    "}",
    '"} |= "x',
    'x"}\n{app=~".+',
    "`backtick`",
    "\t\x00\x07\x1b\x7f",
    "\u2028\u0085",
    "ünïcødé 🚢",
    "a\\nb",  # a backslash and an n, not a newline
    "",
]

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}


def go_unquote(text: str, pos: int) -> tuple[str, int]:
    """Read a Go interpreted string literal at ``text[pos]`` (as Loki's lexer does); return
    its value and the position after it. Raises ValueError where Go would refuse it."""
    if text[pos] != '"':
        raise ValueError(f"expected a string literal at {pos}")
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\n":
            raise ValueError("newline in string literal")
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = text[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        elif e in "01234567":
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{e}")
    raise ValueError("unterminated string literal")


_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)")
_FILTER = re.compile(r" (\|=|!=|\|~|!~) ")


def parse(logql: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """A strict parser for the subset we render: selector, then line filters."""
    assert logql.startswith("{")
    matchers, pos = [], 1
    while True:
        m = _MATCHER.match(logql, pos)
        assert m, f"no matcher at {pos} in {logql!r}"
        value, pos = go_unquote(logql, m.end())
        matchers.append((m.group(1), m.group(2), value))
        if logql.startswith(", ", pos):
            pos += 2
            continue
        assert logql[pos] == "}", f"selector not closed at {pos} in {logql!r}"
        pos += 1
        break
    filters = []
    while pos < len(logql):
        f = _FILTER.match(logql, pos)
        assert f, f"no line filter at {pos} in {logql!r}"
        value, pos = go_unquote(logql, f.end())
        filters.append((f.group(1), value))
    return matchers, filters


def test_renders_selector_and_filters_in_order() -> None:
    q = LogQuery(
        (
            Matcher("namespace", "=", "shop"),
            Matcher("app", "=~", "api|web"),
            Matcher("pod", "!~", "canary-.*"),
        ),
        (
            LineFilter("|=", "error"),
            LineFilter("!=", "healthz"),
            LineFilter("|~", "status=5.."),
            LineFilter("!~", "^DEBUG"),
        ),
    )
    assert render(q) == (
        '{namespace="shop", app=~"api|web", pod!~"canary-.*"} '
        '|= "error" != "healthz" |~ "status=5.." !~ "^DEBUG"'
    )
    assert selector(q) == '{namespace="shop", app=~"api|web", pod!~"canary-.*"}'


def test_plain_tuples_become_typed_parts() -> None:
    q = LogQuery((("app", "=", "api"),), (("|=", "boom"),))
    assert q.stream_matchers == (Matcher("app", "=", "api"),)
    assert q.line_filters == (LineFilter("|=", "boom"),)
    assert render(q) == '{app="api"} |= "boom"'
    assert render(LogQuery.of(namespace="shop", app="api")) == '{namespace="shop", app="api"}'


def test_regex_backslashes_are_escaped_once() -> None:
    q = LogQuery((Matcher("app", "=", "x"),), (LineFilter("|~", r"took \d+\.\d+s"),))
    assert render(q) == r'{app="x"} |~ "took \\d+\\.\\d+s"'
    assert parse(render(q))[1] == [("|~", r"took \d+\.\d+s")]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_cannot_change_the_structure(value: str) -> None:
    q = LogQuery(
        (Matcher("namespace", "=", "shop"), Matcher("app", "!=", value)),
        (LineFilter("|=", value), LineFilter("!=", value)),
    )
    logql = render(q)
    assert "\n" not in logql
    matchers, filters = parse(logql)
    assert matchers == [("namespace", "=", "shop"), ("app", "!=", value)]
    assert filters == [("|=", value), ("!=", value)]


def test_random_text_round_trips() -> None:
    rnd = random.Random(20261126)
    alphabet = "\"\\{}|=~!`'\n\r\t\x00 ,abc€🚢\u2028"
    for _ in range(500):
        value = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 20)))
        q = LogQuery((Matcher("app", "=", "x"), Matcher("pod", "!=", value)), (LineFilter("|=", value),))
        assert parse(render(q)) == ([("app", "=", "x"), ("pod", "!=", value)], [("|=", value)])


def test_quote_is_a_go_string_literal() -> None:
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert quote("a\nb") == '"a\\nb"'
    assert quote("\x00") == '"\\u0000"'
    assert quote("\ud800") == '"\ufffd"'  # a lone surrogate cannot travel as UTF-8


@pytest.mark.parametrize(
    ("matchers", "message"),
    [
        ((), "at least one stream matcher"),
        ((Matcher("app", "=", ""),), "does not match the empty string"),
        ((Matcher("app", "=~", ".*"), Matcher("pod", "!=", "x")), "does not match the empty string"),
        ((Matcher("bad-label", "=", "x"),), "not a valid label name"),
        ((Matcher('app"}', "=", "x"),), "not a valid label name"),
        ((Matcher("app", "==", "x"),), "unknown matcher operator"),  # type: ignore[arg-type]
        ((Matcher("app", "=~", "(unclosed"),), "invalid regular expression"),
    ],
)
def test_invalid_queries_are_refused_before_rendering(matchers: tuple[Matcher, ...], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        LogQuery(matchers)


def test_invalid_filters_and_limits_are_refused() -> None:
    ok = (Matcher("app", "=", "x"),)
    with pytest.raises(InvalidInput, match="unknown line filter"):
        LogQuery(ok, (LineFilter("|", "x"),))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="invalid regular expression"):
        LogQuery(ok, (LineFilter("|~", "[a-"),))
    with pytest.raises(InvalidInput, match="limit"):
        LogQuery(ok, limit=0)
