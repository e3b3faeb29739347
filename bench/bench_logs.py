"""How fast logs become evidence: JSONL indexing and template summaries over 100k lines.

Run as a script (``.venv/bin/python bench/bench_logs.py [LINES]``) or under pytest-benchmark
(``.venv/bin/pytest bench/bench_logs.py --benchmark-only``). Figures live here, never in
timed test assertions.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.logs.jsonl import JsonlLogSource
from bot.analysis.logtemplates import summarize
from bot.ports.logs import LogLine, LogQuery, Matcher

START = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
ONSET = START + timedelta(minutes=60)
SPAN_S = 7200


def synthetic_lines(n: int, seed: int = 7) -> list[LogLine]:
    """A realistic mix: access logs, steady warnings, and a new exception after the onset."""
    rnd = random.Random(seed)
    apps = ["gateway", "cart", "checkout", "search", "ledger"]
    paths = ["/api/items", "/api/cart", "/api/orders/{}", "/healthz", "/api/users/me"]
    out = []
    for i in range(n):
        ts = START + timedelta(seconds=SPAN_S * i / n)
        app = rnd.choice(apps)
        pod = f"{app}-7d9f{rnd.randrange(16**4):04x}-{rnd.choice('abcdefgh')}{rnd.randrange(100)}"
        roll = rnd.random()
        if roll < 0.85:
            path = rnd.choice(paths).format(rnd.randrange(10**6))
            line = (
                f"level=info method=GET path={path} status=200 duration={rnd.randrange(1, 900)}ms "
                f"trace_id={uuid.UUID(int=rnd.getrandbits(128))} "
                f"client={rnd.randrange(256)}.0.2.{rnd.randrange(256)}"
            )
        elif roll < 0.95:
            line = (
                f'level=warn msg="slow request" duration={rnd.random() * 5:.2f}s queued={rnd.randrange(50)}'
            )
        elif ts >= ONSET and app == "checkout":
            line = (
                f'level=error msg="unhandled exception" err="KeyError: {rnd.randrange(10**4)}" '
                f"request_id={rnd.getrandbits(64):016x}"
            )
        else:
            line = json.dumps({"level": "error", "msg": "upstream request failed", "peer": rnd.choice(apps)})
        out.append(LogLine(ts=ts, line=line, labels={"namespace": "shop", "app": app, "pod": pod}))
    return out


def write_jsonl(lines: list[LogLine], path: Path) -> None:
    with path.open("w") as fh:
        for entry in lines:
            ts = entry.ts.isoformat().replace("+00:00", "Z")
            fh.write(json.dumps({"ts": ts, "labels": entry.labels, "line": entry.line}) + "\n")


def run(n: int) -> dict[str, Any]:
    lines = synthetic_lines(n)
    t0 = time.perf_counter()
    summary = summarize(lines, ONSET)
    summarize_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "logs.jsonl"
        write_jsonl(lines, path)
        source = JsonlLogSource(path)
        t0 = time.perf_counter()
        got = source.query(
            LogQuery((Matcher("namespace", "=", "shop"),), limit=n), START, START + timedelta(hours=3)
        )
        load_query_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        errors = source.query(
            LogQuery((Matcher("app", "=~", "check.*"),), (("|=", "level=error"),), limit=n),
            START,
            START + timedelta(hours=3),
        )
        indexed_query_s = time.perf_counter() - t0
    return {
        "lines": n,
        "summarize_s": round(summarize_s, 3),
        "jsonl_load_and_query_s": round(load_query_s, 3),
        "jsonl_indexed_query_s": round(indexed_query_s, 3),
        "templates": summary.template_count,
        "top": summary.observation(summary.templates[0]),
        "returned": len(got),
        "checkout_errors": len(errors),
    }


def test_summarize_100k(benchmark: Any) -> None:
    lines = synthetic_lines(100_000)
    summary = benchmark.pedantic(summarize, args=(lines, ONSET), rounds=3, iterations=1)
    assert summary.templates[0].is_new and "unhandled exception" in summary.templates[0].template


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
