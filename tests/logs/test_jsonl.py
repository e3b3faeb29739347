"""JsonlLogSource: the same selection as Loki, over a JSON Lines file."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.logs.jsonl import JsonlLogSource, parse_rfc3339
from bot.domain.errors import InvalidInput
from bot.ports.logs import LineFilter, LogQuery, Matcher

T0 = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
ALL = (T0 - timedelta(days=1), T0 + timedelta(days=1))


def row(seconds: float, line: str, **labels: str) -> str:
    ts = (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    return json.dumps({"ts": ts, "labels": labels, "line": line})


ROWS = [
    row(30, "level=error msg=boom status=500", namespace="shop", app="checkout", pod="checkout-1"),
    row(10, "level=info msg=ok status=200", namespace="shop", app="checkout", pod="checkout-1"),
    row(20, "level=info msg=ok status=200", namespace="shop", app="checkout-canary", pod="checkout-canary-1"),
    row(40, "level=warn msg=slow", namespace="shop", app="cart"),  # no pod label
    row(50, "GET /healthz 200", namespace="shop", app="cart", pod="cart-1"),
    row(60, "level=error msg=boom status=503", namespace="staging", app="checkout", pod="checkout-2"),
]


@pytest.fixture
def source(tmp_path: Path) -> JsonlLogSource:
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join(ROWS) + "\n")
    return JsonlLogSource(path)


def lines(
    src: JsonlLogSource, *matchers: Matcher, filters: tuple[LineFilter, ...] = (), limit: int = 100
) -> list[str]:
    return [x.line for x in src.query(LogQuery(matchers, filters, limit), *ALL)]


def test_equality_and_oldest_first(source: JsonlLogSource) -> None:
    got = source.query(LogQuery((Matcher("app", "=", "checkout"),)), *ALL)
    assert [x.ts for x in got] == [T0 + timedelta(seconds=s) for s in (10, 30, 60)]  # file order was 30, 10
    assert got[0].labels == {"namespace": "shop", "app": "checkout", "pod": "checkout-1"}


def test_regex_matchers_are_fully_anchored(source: JsonlLogSource) -> None:
    assert lines(source, Matcher("app", "=~", "check")) == []
    assert len(lines(source, Matcher("app", "=~", "check.*"))) == 4
    assert len(lines(source, Matcher("app", "=~", "checkout|cart"))) == 5
    assert lines(source, Matcher("namespace", "=", "shop"), Matcher("app", "!~", "check.*")) == [
        "level=warn msg=slow",
        "GET /healthz 200",
    ]


def test_absent_labels_match_as_empty(source: JsonlLogSource) -> None:
    assert lines(source, Matcher("app", "=", "cart"), Matcher("pod", "=", "")) == ["level=warn msg=slow"]
    assert lines(source, Matcher("app", "=", "cart"), Matcher("pod", "!=", "")) == ["GET /healthz 200"]
    assert lines(source, Matcher("app", "=", "cart"), Matcher("pod", "=~", "cart-.*|")) == [
        "level=warn msg=slow",
        "GET /healthz 200",
    ]


def test_line_filters(source: JsonlLogSource) -> None:
    shop = Matcher("namespace", "=", "shop")
    assert lines(source, shop, filters=(LineFilter("|=", "level=error"),)) == [
        "level=error msg=boom status=500"
    ]
    assert len(lines(source, shop, filters=(LineFilter("!=", "level="),))) == 1
    # |~ searches anywhere in the line (unanchored), like Loki.
    assert lines(source, shop, filters=(LineFilter("|~", "status=5[0-9]{2}"),)) == [
        "level=error msg=boom status=500"
    ]
    assert len(lines(source, shop, filters=(LineFilter("!~", "^level=(info|warn)"),))) == 2
    both = (LineFilter("|=", "msg="), LineFilter("!~", "info"))
    assert lines(source, shop, filters=both) == ["level=error msg=boom status=500", "level=warn msg=slow"]


def test_time_range_is_inclusive_and_limit_keeps_the_oldest(source: JsonlLogSource) -> None:
    q = LogQuery((Matcher("app", "=~", ".+"),))
    got = source.query(q, T0 + timedelta(seconds=20), T0 + timedelta(seconds=40))
    assert [x.ts.second for x in got] == [20, 30, 40]
    capped = source.query(LogQuery((Matcher("app", "=~", ".+"),), limit=2), *ALL)
    assert [x.ts.second for x in capped] == [10, 20]
    assert source.query(q, T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == []


def test_returned_labels_are_copies(source: JsonlLogSource) -> None:
    first = source.query(LogQuery((Matcher("app", "=", "cart"),)), *ALL)
    first[0].labels["app"] = "mutated"
    again = source.query(LogQuery((Matcher("app", "=", "cart"),)), *ALL)
    assert again[0].labels["app"] == "cart"


def test_malformed_lines_are_counted_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "logs.jsonl"
    bad = [
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"labels": {"app": "x"}, "line": "no ts"}),
        json.dumps({"ts": "yesterday", "labels": {"app": "x"}, "line": "bad ts"}),
        json.dumps({"ts": "2026-11-24T23:00:00Z", "labels": "app=x", "line": "labels not an object"}),
        json.dumps({"ts": "2026-11-24T23:00:00Z", "labels": {"app": "x"}, "line": 42}),
    ]
    path.write_text("\n".join([ROWS[0], *bad, "", ROWS[1]]) + "\n")
    src = JsonlLogSource(path)
    with caplog.at_level(logging.WARNING):
        assert len(lines(src, Matcher("app", "=~", ".+"))) == 2
    assert src.malformed == 6 and src.first_malformed == 2 and src.total == 2
    assert "skipped 6 malformed line(s)" in caplog.text


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        JsonlLogSource(tmp_path / "nope.jsonl")
    with pytest.raises(InvalidInput, match="not a file"):
        JsonlLogSource(tmp_path)


def test_reads_lazily_and_once(tmp_path: Path) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text("")
    src = JsonlLogSource(path)
    path.write_text(ROWS[0] + "\n")  # written after construction: still seen, nothing was read yet
    assert len(lines(src, Matcher("app", "=~", ".+"))) == 1
    path.write_text("\n".join(ROWS) + "\n")  # after the first query the index is kept
    assert len(lines(src, Matcher("app", "=~", ".+"))) == 1


def test_gzip_files_and_timestamp_forms(tmp_path: Path) -> None:
    path = tmp_path / "logs.jsonl.gz"
    entries = [
        {"ts": "2026-11-24T23:00:01.123456789Z", "labels": {"app": "a"}, "line": "nanoseconds"},
        {"ts": "2026-11-25T01:00:00+02:00", "labels": {"app": "a"}, "line": "offset"},
        {"ts": "2026-11-24T23:00:00.5", "labels": {"app": "a"}, "line": "naive means UTC"},
    ]
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(json.dumps(e) for e in entries))
    got = JsonlLogSource(path).query(LogQuery((Matcher("app", "=", "a"),)), *ALL)
    assert [x.line for x in got] == ["offset", "naive means UTC", "nanoseconds"]
    assert got[2].ts == datetime(2026, 11, 24, 23, 0, 1, 123456, tzinfo=UTC)
    assert parse_rfc3339("2026-11-25T01:00:00+02:00") == T0


def test_naive_query_times_are_refused(source: JsonlLogSource) -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        source.query(LogQuery((Matcher("app", "=", "x"),)), datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(InvalidInput, match="ends before it starts"):
        source.query(LogQuery((Matcher("app", "=", "x"),)), T0, T0 - timedelta(seconds=1))


@pytest.mark.shared
def test_reads_the_example_scenarios(shared_dir: Path) -> None:
    for path in sorted((shared_dir / "scenarios" / "examples").glob("*/logs.jsonl.gz")):
        with gzip.open(path, "rt") as fh:
            expected = sum(1 for raw in fh if raw.strip())
        src = JsonlLogSource(path)
        everything = src.query(LogQuery((Matcher("namespace", "=~", ".+"),), limit=100_000), *_wide())
        assert len(everything) == expected and src.malformed == 0, path
        assert all(a.ts <= b.ts for a, b in itertools.pairwise(everything))


def _wide() -> tuple[datetime, datetime]:
    return datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
