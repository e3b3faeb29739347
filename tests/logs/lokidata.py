"""The log streams and queries behind the Loki cassettes in tests/cassettes/loki/.

The same data is pushed to a real Loki before re-recording (``TUGBOAT_LOKI_URL`` set), so a
re-recorded cassette answers the same assertions as the hand-written one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.ports.logs import LineFilter, LogQuery, Matcher

# Playback URL: any host works, cassettes match on method, path and query only.
BASE_URL = "http://loki.tugboat.test:3100"
# 2026-11-24T23:00:00Z, the base of the hand-written cassettes.
T0_NS = 1_795_561_200_000_000_000
S = 10**9

Stream = tuple[dict[str, str], list[tuple[int, str]]]


def _labels(app: str, pod: str) -> dict[str, str]:
    return {"namespace": "shop", "app": app, "container": app, "pod": pod, "job": f"shop/{app}"}


def success_streams(t0: int = T0_NS) -> list[Stream]:
    """Two checkout pods and a cart pod, one line every few seconds, a health check to filter."""
    return [
        (
            _labels("checkout", "checkout-7d9f8b6c5-x2x4k"),
            [
                (t0 + 1 * S, "level=info method=POST path=/api/checkout status=200 duration=41ms"),
                (t0 + 4 * S + 250_000_000, 'level=error msg="unhandled exception" err="KeyError: \'sku\'"'),
                (t0 + 7 * S, "level=info method=GET path=/healthz status=200 duration=1ms"),
                (t0 + 9 * S + 1, 'level=error msg="unhandled exception" err="KeyError: \'sku\'"'),
            ],
        ),
        (
            _labels("checkout", "checkout-7d9f8b6c5-q8wzn"),
            [
                (t0 + 2 * S, "level=info method=POST path=/api/checkout status=200 duration=37ms"),
                (t0 + 5 * S, 'level=warn msg="slow request" duration=2.31s'),
            ],
        ),
        (
            _labels("cart", "cart-5c4b7f9d8-m2p7t"),
            [
                (t0 + 3 * S, "level=info method=GET path=/api/cart status=200 duration=12ms"),
                (t0 + 6 * S, 'level=error msg="upstream request failed" peer=checkout status=503'),
            ],
        ),
        (  # another namespace: must not be selected
            {"namespace": "shop-staging", "app": "checkout", "pod": "checkout-0"},
            [(t0 + 2 * S, "level=info msg=staging")],
        ),
    ]


def success_query() -> LogQuery:
    return LogQuery(
        (Matcher("namespace", "=", "shop"), Matcher("app", "=~", "checkout|cart")),
        (LineFilter("!=", "/healthz"),),
        limit=100,
    )


def paging_streams(t0: int = T0_NS) -> list[Stream]:
    """Eight lines over three streams; two share the 30 s timestamp, where the first page ends."""
    a, b, c = (_labels("ledger", f"ledger-6b7c9d-{p}") for p in ("a1", "b2", "c3"))
    return [
        (a, [(t0 + 10 * S, 'level=info msg="posted" n=1'), (t0 + 30 * S, 'level=info msg="posted" n=3')]),
        (b, [(t0 + 20 * S, 'level=info msg="posted" n=2'), (t0 + 40 * S, 'level=info msg="posted" n=5')]),
        (c, [(t0 + 30 * S, 'level=info msg="posted" n=4'), (t0 + 60 * S, 'level=info msg="posted" n=7')]),
        (a, [(t0 + 50 * S, 'level=info msg="posted" n=6'), (t0 + 70 * S, 'level=info msg="posted" n=8')]),
    ]


def paging_query(limit: int = 100) -> LogQuery:
    return LogQuery((Matcher("namespace", "=", "shop"), Matcher("app", "=", "ledger")), limit=limit)


def bad_regex_query() -> LogQuery:
    # Python's re accepts a negative lookahead; Loki's RE2 refuses it with a parse error.
    return LogQuery((Matcher("namespace", "=", "shop"), Matcher("app", "=~", "(?!canary).*")), limit=100)


def window(t0: int = T0_NS) -> tuple[int, int]:
    """[start, end] in ns: 90 s from t0."""
    return t0, t0 + 90 * S


def dt(ns: int) -> datetime:
    seconds, rest = divmod(ns, S)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
