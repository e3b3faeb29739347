"""LogSource over Loki's HTTP API (``GET /loki/api/v1/query_range``), paging forward in time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from bot.adapters.http_budget import TotalTimeoutAdapter, connection_failure
from bot.adapters.logs.logql import render
from bot.domain.deadline import Deadline, soonest
from bot.domain.errors import InvalidInput, SourceTimedOut, SourceUnavailable, SourceUnreachable
from bot.ports.logs import LogLine, LogQuery

QUERY_RANGE = "/loki/api/v1/query_range"
# Loki's default max_entries_limit_per_query is 5000; a page never asks for more.
DEFAULT_PAGE_SIZE = 5000
MAX_PAGES = 200


def to_ns(t: datetime) -> int:
    if t.tzinfo is None:
        raise InvalidInput(f"log query times must carry a timezone, got naive {t.isoformat()}")
    # Integer arithmetic keeps microseconds exact (a float timestamp loses them).
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def from_ns(ns: int) -> datetime:
    seconds, rest = divmod(ns, 10**9)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


class LokiLogSource:
    """Reads lines oldest first. A query that hits the page size is continued from the last
    timestamp seen, until ``q.limit`` lines or the end of the range. ``timeout_s`` bounds one
    request; ``budget_s`` (default: the same) the whole query, all its pages."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        tenant: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        budget_s: float | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.budget_s = budget_s or timeout_s
        self.page_size = page_size
        self.headers = dict(headers or {})
        if tenant:
            self.headers["X-Scope-OrgID"] = tenant  # Loki's multi-tenancy header
        self._session = requests.Session()
        self._session.mount(self.url, TotalTimeoutAdapter())  # a dripping answer ends with the budget
        self.requests_made = 0

    def query(
        self, q: LogQuery, start: datetime, end: datetime, deadline: Deadline | None = None
    ) -> list[LogLine]:
        logql = render(q)
        budget = soonest(self.budget_s, "one log query", deadline)
        start_ns, end_ns = to_ns(start), to_ns(end)
        if end_ns < start_ns:
            raise InvalidInput(f"log query ends before it starts ({start.isoformat()} > {end.isoformat()})")
        out: list[LogLine] = []
        # Lines at the page boundary's timestamp that we already hold: the next page starts at
        # that same nanosecond (Loki's start is inclusive) so that none are skipped.
        boundary_ns, seen_at_boundary = -1, set[tuple[str, str]]()
        page_start = start_ns
        for _ in range(MAX_PAGES):
            # Lines already held at page_start come back first: ask for room beyond them.
            repeats = len(seen_at_boundary) if page_start == boundary_ns else 0
            want = min(self.page_size, q.limit - len(out) + repeats)
            # Loki's end is exclusive; the port's is inclusive.
            if budget.expired:
                raise SourceTimedOut(
                    f"Loki at {self.url} did not send all pages within {budget.describe()}: timed out "
                    f"after {len(out)} lines (query: {logql[:200]})"
                )
            page = self._fetch(logql, page_start, end_ns + 1, want, budget.clip(self.timeout_s))
            fresh = [
                (ns, key, line)
                for ns, key, line in page
                if not (ns == boundary_ns and (key, line.line) in seen_at_boundary)
            ]
            for ns, key, line in fresh:
                if ns != boundary_ns:
                    boundary_ns, seen_at_boundary = ns, set()
                seen_at_boundary.add((key, line.line))
                out.append(line)
                if len(out) >= q.limit:
                    return out
            if len(page) < want:
                return out  # Loki had no more lines in the range
            # A full page of lines all at one nanosecond would repeat forever: step past it.
            page_start = boundary_ns if fresh else boundary_ns + 1
        raise SourceUnavailable(
            f"Loki at {self.url} returned more than {MAX_PAGES} pages for {logql}; narrow the query"
        )

    # -- internals -----------------------------------------------------------------------
    def _fetch(
        self, logql: str, start_ns: int, end_ns: int, limit: int, timeout: float
    ) -> list[tuple[int, str, LogLine]]:
        params: dict[str, str | int] = {
            "query": logql,
            "start": start_ns,
            "end": end_ns,
            "limit": limit,
            "direction": "forward",
        }
        self.requests_made += 1
        try:
            resp = self._session.get(
                self.url + QUERY_RANGE, params=params, headers=self.headers, timeout=timeout
            )
        except requests.Timeout:
            raise SourceTimedOut(
                f"Loki at {self.url} did not answer within {timeout:.1f}s: timed out (query: {logql[:200]})"
            ) from None
        except requests.ConnectionError as exc:
            raise SourceUnreachable(
                f"cannot connect to Loki at {self.url}: {connection_failure(exc)}; check the Loki URL setting"
            ) from None
        except requests.RequestException as exc:
            raise SourceUnavailable(f"request to Loki at {self.url} failed: {exc}") from None
        if resp.status_code >= 400:
            raise SourceUnavailable(_http_error(self.url, resp, logql))
        try:
            body = resp.json()
        except ValueError:
            raise SourceUnavailable(
                f"Loki at {self.url} answered with something that is not JSON "
                f"(HTTP {resp.status_code}, {resp.headers.get('Content-Type', 'no content type')})"
            ) from None
        return parse_streams(body, self.url)


def parse_streams(body: Any, where: str = "Loki") -> list[tuple[int, str, LogLine]]:
    """(ns, stream key, line) for every entry of a ``streams`` result, merged oldest first."""
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "unknown error") if isinstance(body, dict) else "not a JSON object"
        raise SourceUnavailable(f"Loki at {where} refused the query: {error}")
    data = body.get("data") or {}
    if data.get("resultType") != "streams":
        raise SourceUnavailable(
            f"Loki at {where} returned a {data.get('resultType')!r} result; log queries expect streams"
        )
    entries: list[tuple[int, str, LogLine]] = []
    try:
        for stream in data.get("result") or []:
            labels = {str(k): str(v) for k, v in (stream.get("stream") or {}).items()}
            key = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            for value in stream.get("values") or []:
                # [ts, line] or, with structured metadata, [ts, line, {metadata}].
                ns = int(value[0])
                entries.append((ns, key, LogLine(ts=from_ns(ns), line=str(value[1]), labels=dict(labels))))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise SourceUnavailable(f"Loki at {where} sent a malformed streams result: {exc!r}") from None
    entries.sort(key=lambda e: e[0])  # stable: lines of one stream keep their order
    return entries


def _http_error(url: str, resp: requests.Response, logql: str) -> str:
    # Loki writes errors as plain text (Go's http.Error); some proxies answer JSON.
    text = resp.text.strip()
    try:
        body = resp.json()
        if isinstance(body, dict):
            text = str(body.get("error") or body.get("message") or text)
    except ValueError:
        pass
    text = text[:500] or resp.reason or "no error text"
    code = resp.status_code
    if code == 400:
        hint = "Loki refused the query"
    elif code in (401, 403):
        hint = "Loki refused the credentials; check the Authorization header and tenant"
    elif code == 429:
        hint = "Loki is rate limiting queries; retry later or narrow the time range"
    elif code >= 500:
        hint = "Loki failed while answering"
    else:
        hint = "Loki refused the request"
    return f"{hint} (HTTP {code} from {url}): {text} (query: {logql[:200]})"
