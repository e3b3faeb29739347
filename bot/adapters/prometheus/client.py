"""MetricsSource over a real Prometheus, with bounded and memoised queries."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import numpy as np
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from requests.adapters import BaseAdapter
from urllib3.util.retry import Retry

from bot.domain.errors import SourceUnavailable
from bot.domain.series import Series

# Prometheus refuses range queries above 11,000 points per series; stay well below.
MAX_POINTS = 2000


class PrometheusMetrics:
    """Thread-safe: investigations query in parallel. Identical queries are answered once."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        transport: BaseAdapter | None = None,
    ) -> None:
        """``transport`` replaces the HTTP adapter, e.g. to replay recorded responses in the demo."""
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        # Few, quick retries: an unreachable Prometheus should degrade the report in seconds.
        retry = Retry(total=2, connect=1, backoff_factor=0.2, status_forcelist=(502, 503, 504))
        self._client = PrometheusConnect(url=self.url, headers=headers or None, retry=retry)
        self._session: requests.Session = self._client._session
        if transport is not None:
            self._session.mount(self.url, transport)
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self.queries_run = 0

    # -- MetricsSource -------------------------------------------------------------------
    def instant(self, promql: str, at: datetime) -> list[Series]:
        key = ("instant", promql, at.timestamp())
        return self._memo(key, lambda: self._instant(promql, at))

    def range(self, promql: str, start: datetime, end: datetime, step_s: float) -> list[Series]:
        span = max(end.timestamp() - start.timestamp(), 0.0)
        step_s = max(step_s, span / MAX_POINTS, 1.0)
        key = ("range", promql, start.timestamp(), end.timestamp(), step_s)
        return self._memo(key, lambda: self._range(promql, start, end, step_s))

    def series(self, match: str, start: datetime, end: datetime) -> list[dict[str, str]]:
        key = ("series", match, start.timestamp(), end.timestamp())
        params = {"match[]": match, "start": start.timestamp(), "end": end.timestamp()}
        return self._memo(key, lambda: self._get("/api/v1/series", params))

    def metric_names(self, start: datetime, end: datetime) -> list[str]:
        key = ("names", start.timestamp(), end.timestamp())
        params = {"start": start.timestamp(), "end": end.timestamp()}
        return self._memo(key, lambda: sorted(self._get("/api/v1/label/__name__/values", params)))

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

    def _instant(self, promql: str, at: datetime) -> list[Series]:
        params = {"time": at.timestamp(), "timeout": f"{self.timeout_s:g}s"}
        try:
            data = self._client.custom_query(query=promql, params=params, timeout=self.timeout_s)
        except Exception as exc:  # the client raises several types; all mean the same to us
            raise self._unavailable(exc, promql) from None
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

    def _range(self, promql: str, start: datetime, end: datetime, step_s: float) -> list[Series]:
        try:
            data = self._client.custom_query_range(
                query=promql,
                start_time=start,
                end_time=end,
                step=f"{step_s:g}",
                params={"timeout": f"{self.timeout_s:g}s"},
                timeout=self.timeout_s,
            )
        except Exception as exc:
            raise self._unavailable(exc, promql) from None
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

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            resp = self._session.get(
                self.url + path, params=params, headers=self._client.headers, timeout=self.timeout_s
            )
            resp.raise_for_status()
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise self._unavailable(exc, path) from None
        if body.get("status") != "success":
            raise SourceUnavailable(f"Prometheus refused {path}: {body.get('error', 'unknown error')}")
        return body.get("data") or []

    def _unavailable(self, exc: Exception, what: str) -> SourceUnavailable:
        if isinstance(exc, requests.ConnectionError):
            reason = f"cannot connect to Prometheus at {self.url}"
        elif isinstance(exc, requests.Timeout):
            reason = f"Prometheus at {self.url} did not answer within {self.timeout_s:g}s"
        elif isinstance(exc, PrometheusApiClientException):
            reason = f"Prometheus at {self.url} refused the query: {exc}"
        else:
            reason = f"Prometheus at {self.url} failed: {type(exc).__name__}: {exc}"
        return SourceUnavailable(f"{reason} (query: {what[:200]})")


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
