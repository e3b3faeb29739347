"""Investigations end within their budgets against real loopback servers that are slow on
purpose, and say which source was slow and how."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from bot import wiring
from bot.adapters.prometheus import PrometheusMetrics
from bot.domain.alert import AlertGroup, parse_alert_group
from bot.domain.errors import SourceTimedOut
from bot.settings import Settings
from tests.support.promserver import free_port
from tests.support.slow_servers import dripping_server, elapsed, hanging_server

AT = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)


def alert(labels: dict[str, str], starts: datetime = AT) -> AlertGroup:
    body = {
        "version": "4",
        "status": "firing",
        "groupKey": "{}",
        "commonLabels": labels,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {},
                "startsAt": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom/graph?g0.expr=up%20%3D%3D%200",
            }
        ],
    }
    return parse_alert_group(body)


CHECKOUT = {"alertname": "HighErrorRate", "namespace": "shop", "app": "checkout"}


def test_a_hanging_prometheus_ends_within_the_query_budget_and_is_named_as_slow() -> None:
    settings = Settings(prometheus_timeout_s=30, prometheus_budget_s=1.5, investigation_budget_s=20)
    with hanging_server() as prom:
        inv = wiring.investigator(settings, prometheus_url=prom.url)
        t0 = time.monotonic()
        report = inv.run(alert(CHECKOUT), AT)
        took = elapsed(t0)
    # One wave of parallel queries waits out its budget; the queries behind it are not sent.
    assert took < 1.5 + 1.0, took
    assert prom.connections <= 8
    status = {s.name: s for s in report.sources}
    detail = status["prometheus"].detail
    assert not status["prometheus"].ok
    assert (
        f"Prometheus at {prom.url} accepted the connection but sent no answer: timed out after 1." in detail
    )
    assert "cannot connect" not in detail
    assert any(
        "more queries not sent: Prometheus answered none of the first queries" in n for n in report.notes
    )


def test_the_investigation_budget_cuts_a_longer_query_budget_short() -> None:
    settings = Settings(prometheus_timeout_s=60, prometheus_budget_s=60, investigation_budget_s=2)
    with hanging_server() as prom:
        inv = wiring.investigator(settings, prometheus_url=prom.url)
        t0 = time.monotonic()
        report = inv.run(alert(CHECKOUT), AT)
        took = elapsed(t0)
    assert took < 2 + 1.0, took
    detail = next(s.detail for s in report.sources if s.name == "prometheus")
    assert "timed out after 2." in detail and "when the 2 s budget of the investigation ran out" in detail
    assert (
        "the 2 s budget of the investigation ran out; the report uses what had arrived by then"
        in report.notes
    )


def test_a_dripping_prometheus_is_cut_off_at_the_budget() -> None:
    def body(_: bytes) -> bytes:
        return json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()

    with dripping_server(body, interval_s=0.3) as prom:
        metrics = PrometheusMetrics(prom.url, timeout_s=10, budget_s=1.2)
        t0 = time.monotonic()
        with pytest.raises(SourceTimedOut) as err:
            metrics.instant("up", AT)
        took = elapsed(t0)
    # Each byte came well within the 10 s read timeout: only the total budget ends the call.
    assert took < 1.2 + 0.5, took
    assert "accepted the connection but sent no answer: timed out after 1." in str(err.value)


def test_a_refused_connection_is_called_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    inv = wiring.investigator(Settings(), prometheus_url=url)
    t0 = time.monotonic()
    report = inv.run(alert(CHECKOUT), AT)
    assert elapsed(t0) < 5
    detail = next(s.detail for s in report.sources if s.name == "prometheus")
    assert f"cannot connect to Prometheus at {url}: connection refused" in detail
