"""Investigations end within their budgets against real loopback servers that are slow on
purpose, and say which source was slow and how."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.prometheus import PrometheusMetrics
from bot.domain.alert import AlertGroup, parse_alert_group
from bot.domain.errors import SourceTimedOut
from bot.domain.proposal import Action
from bot.domain.report import CauseKind, InvestigationReport
from bot.settings import Settings
from testkit.promserver import free_port
from testkit.slow_servers import dripping_server, elapsed, hanging_server
from tests.git.repos import Repo, deployment

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


def timed_investigation(settings: Settings, **sources: str) -> tuple[InvestigationReport, float]:
    """The report of the checkout alert from the given sources, and how long it took."""
    inv = wiring.investigator(settings, **sources)  # type: ignore[arg-type]
    t0 = time.monotonic()
    report = inv.run(alert(CHECKOUT), AT)
    return report, elapsed(t0)


def test_a_hanging_prometheus_ends_within_the_query_budget_and_is_named_as_slow() -> None:
    settings = Settings(prometheus_timeout_s=30, prometheus_budget_s=1.5, investigation_budget_s=20)
    with hanging_server() as prom:
        report, took = timed_investigation(settings, prometheus_url=prom.url)
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
    assert report.summary.startswith(
        f"Metrics were missing (Prometheus at {prom.url} accepted the connection"
    )


def test_the_investigation_budget_cuts_a_longer_query_budget_short() -> None:
    settings = Settings(prometheus_timeout_s=60, prometheus_budget_s=60, investigation_budget_s=2)
    with hanging_server() as prom:
        report, took = timed_investigation(settings, prometheus_url=prom.url)
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
    report, took = timed_investigation(Settings(), prometheus_url=url)
    assert took < 5
    detail = next(s.detail for s in report.sources if s.name == "prometheus")
    assert f"cannot connect to Prometheus at {url}: connection refused" in detail


def _logs(path: Path) -> Path:
    """Three background errors an hour before, then 85 new error lines from 12:54 on."""
    lines = []
    for i in range(3):
        ts = AT - timedelta(minutes=50 - 10 * i)
        lines.append((ts, "checkout", 'level=error msg="card declined" order=7'))
    for i in range(85):
        ts = AT - timedelta(minutes=6) + timedelta(seconds=4 * i)
        lines.append((ts, "checkout", f'level=error msg="nil pointer in PriceRule" order={1000 + i}'))
    for i in range(20):
        lines.append((AT - timedelta(minutes=60 - 3 * i), "cart", "level=info msg=ok"))
    path.write_text(
        "".join(
            json.dumps({"ts": ts.isoformat(), "labels": {"namespace": "shop", "app": app}, "line": text})
            + "\n"
            for ts, app, text in sorted(lines)
        )
    )
    return path


def test_with_prometheus_down_the_changes_and_logs_still_rank_a_hedged_cause(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "gitops")
    repo.commit(
        "initial layout",
        {
            "apps/checkout/deployment.yaml": deployment("checkout", "registry.example.com/checkout:2.4.0"),
            "apps/cart/deployment.yaml": deployment("cart", "registry.example.com/cart:1.0.0"),
        },
        at=AT - timedelta(days=2),
    )
    release = repo.commit(
        "checkout: release 2.4.1",
        {"apps/checkout/deployment.yaml": deployment("checkout", "registry.example.com/checkout:2.4.1")},
        at=AT - timedelta(minutes=12),
    )
    logs = _logs(tmp_path / "logs.jsonl")
    url = f"http://127.0.0.1:{free_port()}"
    settings = Settings(repo=str(repo.path))
    inv = wiring.investigator(settings, prometheus_url=url, logs_file=logs, repo=repo.path)
    report = inv.run(alert(CHECKOUT, starts=AT - timedelta(minutes=4)), AT)

    first_sentence = report.summary.split(". ")[0]
    assert first_sentence.startswith("Metrics were missing (cannot connect to Prometheus at ")
    assert "connection refused" in first_sentence
    assert "HighErrorRate on checkout in shop may be caused by a recent change to checkout" in report.summary
    assert "Without metrics this is a lead to check, not a confirmed cause." in report.summary
    top = report.root_causes[0]
    assert (top.kind, top.service, top.commit) == (CauseKind.BAD_DEPLOY, "checkout", release)
    assert top.confidence <= 0.45  # a lead, not a finding
    observations = [e.observation for e in top.evidence]
    assert any("6 min before its error lines rose at 12:54" in o for o in observations), observations
    assert any(
        o == "85 error lines from checkout in the 12 min after the commit, 2 in the 30 min before"
        for o in observations
    )
    assert any("metrics were missing" in o for o in observations)
    assert report.proposal is not None and report.proposal.action is Action.REVERT
    assert report.proposal.commit == release


def test_a_hanging_loki_ends_within_the_log_budget_and_is_named_as_slow() -> None:
    settings = Settings(loki_timeout_s=30, loki_budget_s=1.0)
    with hanging_server() as loki:
        report, took = timed_investigation(
            settings, prometheus_url=f"http://127.0.0.1:{free_port()}", loki_url=loki.url
        )
    assert took < 1.0 + 1.5, took
    logs = next(s for s in report.sources if s.name == "logs")
    assert not logs.ok and re.search(
        rf"Loki at {loki.url} did not answer within 1\.\ds: timed out", logs.detail
    )
    assert report.summary.startswith("Metrics and logs were missing (metrics: cannot connect to Prometheus")
    assert re.search(
        rf"; logs: Loki at {loki.url} did not answer within 1\.\ds: timed out\)\. ", report.summary
    )


def test_a_slow_git_ends_within_the_git_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo.init(tmp_path / "gitops")
    repo.commit(
        "layout", {"apps/checkout/deployment.yaml": deployment("checkout", "c:1")}, at=AT - timedelta(days=1)
    )
    settings = Settings(git_budget_s=1.0)
    inv = wiring.investigator(settings, prometheus_url=f"http://127.0.0.1:{free_port()}", repo=repo.path)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "git").write_text("#!/bin/sh\nexec sleep 30\n")  # a git that never finishes
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}:{os.environ['PATH']}")
    t0 = time.monotonic()
    report = inv.run(alert(CHECKOUT), AT)
    assert elapsed(t0) < 1.0 + 1.5
    git = next(s for s in report.sources if s.name == "git")
    assert not git.ok and git.detail.startswith("git rev-parse did not finish: timed out after 1.0s")
    assert "changes: git rev-parse did not finish: timed out after 1.0s" in report.summary.split(". ")[0]
