"""MetricsSource over a real Prometheus, with bounded and memoised queries.

Each query has a total budget (``budget_s``), attempts and waits included; the caller's
deadline, when it ends sooner, cuts it shorter. A 429 or 503 answer's ``Retry-After`` is honoured
when the wait fits in what is left of the budget; otherwise the query gives up at once. Failures
say what happened: refused, timed out after N s, rate limited, or not found at that URL.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import numpy as np
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from requests.adapters import BaseAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
)
from urllib3.util.retry import Retry

from bot.adapters.http_budget import TotalTimeoutAdapter, connection_failure
from bot.domain.deadline import Deadline, soonest
from bot.domain.errors import SourceTimedOut, SourceUnavailable, SourceUnreachable
from bot.domain.series import Series

# Prometheus refuses range queries above 11,000 points per series; stay well below.
MAX_POINTS = 2000
# Few, quick retries: an unreachable Prometheus should degrade the report in seconds.
ATTEMPTS = 3
_RETRIED_STATUS = {429, 502, 503, 504}
_ASKS_TO_WAIT = {429, 503}  # the statuses whose Retry-After says when to come back
_BACKOFF = wait_exponential(multiplier=0.2, max=2.0)
_STATUS = re.compile(r"HTTP Status Code (\d+) \((.*)\)$", re.S)
T = TypeVar("T")


class _HTTPStatus(Exception):
    def __init__(self, code: int, body: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {code}")
        self.code, self.body, self.retry_after = code, body, retry_after


class PrometheusMetrics:
    """Thread-safe: investigations query in parallel. Identical queries are answered once."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        transport: BaseAdapter | None = None,
        budget_s: float | None = None,
    ) -> None:
        """``timeout_s`` bounds one attempt, ``budget_s`` (default: the same) the whole query.
        ``transport`` replaces the HTTP adapter, e.g. to replay recorded responses in the demo."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.budget_s = budget_s or timeout_s
        # Retries are ours (below), inside the budget; the client's adapter makes none.
        self._client = PrometheusConnect(url=self.url, headers=headers or None, retry=Retry(0, read=False))
        self._session: requests.Session = self._client._session
        self._session.mount(self.url, transport if transport is not None else TotalTimeoutAdapter())
        # Every answer passes here, whichever call sent it: a refusal keeps its Retry-After,
        # which the client library's own error would drop.
        self._session.hooks["response"].append(_refuse_unless_ok)
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self.queries_run = 0

    # -- MetricsSource -------------------------------------------------------------------
    def instant(self, promql: str, at: datetime, deadline: Deadline | None = None) -> list[Series]:
        key = ("instant", promql, at.timestamp())
        return self._memo(key, lambda: self._call(promql, deadline, lambda t: self._instant(promql, at, t)))

    def range(
        self, promql: str, start: datetime, end: datetime, step_s: float, deadline: Deadline | None = None
    ) -> list[Series]:
        span = max(end.timestamp() - start.timestamp(), 0.0)
        step_s = max(step_s, span / MAX_POINTS, 1.0)
        key = ("range", promql, start.timestamp(), end.timestamp(), step_s)
        return self._memo(
            key, lambda: self._call(promql, deadline, lambda t: self._range(promql, start, end, step_s, t))
        )

    def series(
        self, match: str, start: datetime, end: datetime, deadline: Deadline | None = None
    ) -> list[dict[str, str]]:
        key = ("series", match, start.timestamp(), end.timestamp())
        params = {"match[]": match, "start": start.timestamp(), "end": end.timestamp()}
        path = "/api/v1/series"
        return self._memo(key, lambda: self._call(match, deadline, lambda t: self._get(path, params, t)))

    def metric_names(self, start: datetime, end: datetime, deadline: Deadline | None = None) -> list[str]:
        key = ("names", start.timestamp(), end.timestamp())
        params = {"start": start.timestamp(), "end": end.timestamp()}
        path = "/api/v1/label/__name__/values"
        return self._memo(
            key, lambda: sorted(self._call(path, deadline, lambda t: self._get(path, params, t)))
        )

    # -- internals -----------------------------------------------------------------------
    def _memo(self, key: tuple[Any, ...], compute: Any) -> Any:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
            self.queries_run += 1
        return value

    def _call(self, what: str, deadline: Deadline | None, fetch: Callable[[float], T]) -> T:
        """``fetch(timeout)`` with retries of transient failures, all within the query's budget."""
        budget = soonest(self.budget_s, "one Prometheus query", deadline)
        started, attempts = time.monotonic(), 0
        try:
            for attempt in Retrying(
                # the wait counts against the budget: a Retry-After beyond it ends the query now
                stop=stop_after_attempt(ATTEMPTS) | stop_before_delay(budget.remaining()),
                wait=_pause,
                retry=retry_if_exception(_transient),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    if budget.expired:
                        raise requests.ReadTimeout("the budget was spent before this attempt")
                    return fetch(budget.clip(self.timeout_s))
        except Exception as exc:  # the client raises several types; all become one clear error
            waited = _waited(time.monotonic() - started, budget, attempts)
            raise self._unavailable(exc, what, waited, attempts) from None
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    def _instant(self, promql: str, at: datetime, timeout: float) -> list[Series]:
        params = {"time": at.timestamp(), "timeout": f"{self.timeout_s:g}s"}
        data = _checked(lambda: self._client.custom_query(query=promql, params=params, timeout=timeout))
        out = []
        for item in data:
            if "value" not in item:
                continue
            ts, val = item["value"]
            out.append(
                Series(
                    labels=dict(item.get("metric", {})),
                    timestamps=np.array([float(ts)]),
                    values=np.array([_float(val)]),
                    query=promql,
                )
            )
        return out

    def _range(
        self, promql: str, start: datetime, end: datetime, step_s: float, timeout: float
    ) -> list[Series]:
        data = _checked(
            lambda: self._client.custom_query_range(
                query=promql,
                start_time=start,
                end_time=end,
                step=f"{step_s:g}",
                params={"timeout": f"{self.timeout_s:g}s"},
                timeout=timeout,
            )
        )
        out = []
        for item in data:
            values = item.get("values") or []
            out.append(
                Series(
                    labels=dict(item.get("metric", {})),
                    timestamps=np.array([float(t) for t, _ in values], dtype=float),
                    values=np.array([_float(v) for _, v in values], dtype=float),
                    query=promql,
                )
            )
        return out

    def _get(self, path: str, params: dict[str, Any], timeout: float) -> Any:
        resp = self._session.get(
            self.url + path, params=params, headers=self._client.headers, timeout=timeout
        )
        try:
            body = resp.json()
        except ValueError:
            raise SourceUnavailable(
                f"Prometheus at {self.url} answered {path} with something that is not JSON "
                f"({resp.headers.get('Content-Type', 'no content type')}); is that Prometheus's URL?"
            ) from None
        if body.get("status") != "success":
            raise SourceUnavailable(f"Prometheus refused {path}: {body.get('error', 'unknown error')}")
        return body.get("data") or []

    def _unavailable(self, exc: Exception, what: str, waited: str, attempts: int) -> SourceUnavailable:
        query = f" (query: {what[:200]})"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, SourceUnavailable):
            return exc
        if isinstance(exc, requests.ConnectTimeout):
            return SourceTimedOut(
                f"Prometheus at {self.url} did not accept a connection: timed out after {waited}{query}"
            )
        if isinstance(exc, requests.Timeout):
            return SourceTimedOut(
                f"Prometheus at {self.url} accepted the connection but sent no answer: "
                f"timed out after {waited}{query}"
            )
        if isinstance(exc, requests.ConnectionError):
            return SourceUnreachable(f"cannot connect to Prometheus at {self.url}: {connection_failure(exc)}")
        if isinstance(exc, _HTTPStatus):
            return SourceUnavailable(_status_reason(self.url, exc, tries) + query)
        return SourceUnavailable(f"Prometheus at {self.url} failed: {type(exc).__name__}: {exc}{query}")


def _checked(call: Callable[[], T]) -> T:
    """The client's answer, with its non-200 error turned into the status it stands for (the
    response hook has already done so for answers that came through the session)."""
    try:
        return call()
    except PrometheusApiClientException as exc:
        match = _STATUS.search(str(exc))
        if match is None:
            raise
        raise _HTTPStatus(int(match.group(1)), match.group(2)) from None


def _refuse_unless_ok(resp: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    if resp.status_code < 400:
        return resp  # an answer, or a redirect for requests to follow
    asked = _retry_after(resp.headers.get("Retry-After")) if resp.status_code in _ASKS_TO_WAIT else None
    raise _HTTPStatus(resp.status_code, resp.text, asked)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _pause(state: RetryCallState) -> float:
    """The backoff, or longer when the server said when to come back."""
    exc = state.outcome.exception() if state.outcome is not None else None
    asked = exc.retry_after if isinstance(exc, _HTTPStatus) else None
    return max(_BACKOFF(state), asked or 0.0)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, _HTTPStatus):
        return exc.code in _RETRIED_STATUS
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def _waited(seconds: float, budget: Deadline, attempts: int) -> str:
    """``10.0 s (3 attempts)``, naming the caller's budget when that is what ran out."""
    text = f"{seconds:.1f} s"
    if attempts > 1:
        text += f" ({attempts} attempts)"
    if budget.expired and budget.what != "one Prometheus query":
        text += f", when {budget.describe()} ran out"
    return text


def _status_reason(url: str, exc: _HTTPStatus, tries: str) -> str:
    body = _error_text(exc.body)
    asked = f" and asked to wait {exc.retry_after:.0f} s" if exc.retry_after is not None else ""
    if exc.code == 429:
        return f"Prometheus at {url} is rate limiting queries (HTTP 429){tries}{asked}"
    if exc.code == 404:
        return f"Prometheus at {url} answered HTTP 404 (not found there): is {url} Prometheus's base URL?"
    if exc.code in (401, 403):
        return f"Prometheus at {url} refused the credentials (HTTP {exc.code}); check prometheus_headers"
    if exc.code >= 500:
        return f"Prometheus at {url} failed while answering (HTTP {exc.code}){tries}{asked}: {body}"
    return f"Prometheus at {url} refused the query (HTTP {exc.code}): {body}"


def _error_text(body: str) -> str:
    """Prometheus's own ``error`` field when the body is its JSON error, else the text, short."""
    found = re.search(r'"error"\s*:\s*"((?:[^"\\]|\\.)*)"', body)
    return (found.group(1) if found else body).strip()[:300] or "no error text"


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
