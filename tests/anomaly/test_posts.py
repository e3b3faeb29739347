"""An early warning whose post fails is not lost: it stays pending in the store, the next run
posts it (once, even when the failed try had reached Slack, and once across two replicas), the
job queue tries it again within seconds, and a post that keeps failing until the cooldown is
over, or until an alert fires for its workload, is given up, audited. A real Prometheus, a
recording Slack Web API, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.store import SqlStore
from bot.domain.alert import parse_alert_group
from bot.domain.audit import AuditKind, verify_trail
from bot.ports.store import IncidentRecord
from bot.services.anomaly_watch import AnomalyWatch
from testkit.slack_api import SlackApi
from tests.anomaly.cluster import AT
from tests.anomaly.conftest import audited, chat, settings_for, warnings_in
from tests.slack.conftest import alert_payload

pytestmark = pytest.mark.prometheus

WHEN = datetime.fromtimestamp(AT, UTC)
NEXT = WHEN + timedelta(minutes=10)  # the next scheduled run
WARNINGS = 4  # checkout's CPU use, ledger's request rate, search's error ratio and p95 latency


def texts(slack: SlackApi) -> list[str]:
    return sorted(c.args["text"] for c in slack.of("chat.postMessage"))


def watch_on(prometheus: str, slack: SlackApi, url: str, timeout: int = 30) -> tuple[AnomalyWatch, SqlStore]:
    settings = settings_for(prometheus, slack, url)
    store = SqlStore.open(url)
    watch = wiring.anomaly_watch(settings, store, chat(slack, timeout))
    assert watch is not None
    return watch, store


def test_a_failed_post_is_posted_by_the_next_run_once(
    prometheus: str, slack: SlackApi, tmp_path: Path
) -> None:
    watch, store = watch_on(prometheus, slack, f"sqlite:///{tmp_path / 'tugboat.db'}")
    slack.fail_next("chat.postMessage", 500, error="internal_error")
    first = watch.run(WHEN)
    assert len(first.warned) == WARNINGS - 1
    [held] = first.held
    assert "the post failed (Slack chat.postMessage failed: internal_error); tried again later" in held
    [pending] = store.pending_warnings()
    assert pending.tries == 1 and pending.warned_at == WHEN

    second = watch.run(NEXT)
    assert second.warned == [], "nothing new: the cooldown holds every series"
    assert len(texts(slack)) == WARNINGS and len(set(texts(slack))) == WARNINGS, "each posted once"
    assert store.pending_warnings() == []
    posted = audited(store, AuditKind.ANOMALY_POSTED)
    assert sorted(e["failed_tries"] for e in posted) == [0, 0, 0, 1]
    assert len(warnings_in(store)) == WARNINGS
    assert not verify_trail(store.audit_trail(), head=store.audit_head())
    store.close()


def test_a_post_that_reached_slack_but_failed_here_is_not_posted_again(
    prometheus: str, slack: SlackApi, tmp_path: Path
) -> None:
    watch, store = watch_on(prometheus, slack, f"sqlite:///{tmp_path / 'tugboat.db'}", timeout=1)
    slack.slow("chat.postMessage", 2.0)  # Slack posts it, the answer comes after our timeout
    first = watch.run(WHEN)
    assert first.warned == [] and len(first.held) == WARNINGS
    assert len(store.pending_warnings()) == WARNINGS
    assert len(texts(slack)) == WARNINGS, "they did reach the channel"
    slack.slow("chat.postMessage", 0.0)

    watch.run(NEXT)
    assert len(texts(slack)) == WARNINGS, "found by their marker, not posted again"
    assert store.pending_warnings() == []
    assert len(slack.of("conversations.history")) >= WARNINGS, "each looked for before posting"
    assert [e["failed_tries"] for e in audited(store, AuditKind.ANOMALY_POSTED)] == [1] * WARNINGS
    store.close()


def test_a_post_that_keeps_failing_is_given_up_when_the_cooldown_is_over(
    prometheus: str, slack: SlackApi, tmp_path: Path
) -> None:
    watch, store = watch_on(prometheus, slack, f"sqlite:///{tmp_path / 'tugboat.db'}")
    slack.fail_always("chat.postMessage")
    watch.run(WHEN)
    watch.run(WHEN + timedelta(minutes=60))
    assert [p.tries for p in store.pending_warnings()] == [2] * WARNINGS, "tried in both runs"
    assert audited(store, AuditKind.ANOMALY_NOT_POSTED) == []
    late = watch.run(WHEN + timedelta(minutes=120))  # the default cooldown: 120 minutes
    given_up = audited(store, AuditKind.ANOMALY_NOT_POSTED)
    assert len(given_up) == WARNINGS
    assert {e["why"] for e in given_up} == {"its post kept failing until the cooldown was over"}
    assert [e["failed_tries"] for e in given_up] == [2] * WARNINGS
    assert sum("not posted, its post kept failing" in note for note in late.held) == WARNINGS
    assert texts(slack) == [], "nothing ever got through"
    assert store.pending_warnings() == [] and len(warnings_in(store)) == WARNINGS
    assert not verify_trail(store.audit_trail(), head=store.audit_head())
    store.close()


def test_a_pending_warning_is_given_up_once_an_alert_fires_for_its_workload(
    prometheus: str, slack: SlackApi, tmp_path: Path
) -> None:
    watch, store = watch_on(prometheus, slack, f"sqlite:///{tmp_path / 'tugboat.db'}")
    slack.fail_always("chat.postMessage")
    watch.run(WHEN)
    assert len(store.pending_warnings()) == WARNINGS
    payload = alert_payload()
    payload["commonLabels"] = {**payload["commonLabels"], "namespace": "payments"}
    for alert in payload["alerts"]:
        alert["labels"] = {**alert["labels"], "namespace": "payments"}
    group = parse_alert_group(payload)  # about checkout, in payments
    store.upsert_incident(IncidentRecord(group_key=group.group_key, alert=group, status="firing"))
    later = watch.run(NEXT)
    assert "CPU use of checkout (payments): not posted, an alert fires for it now" in later.held
    [given_up] = audited(store, AuditKind.ANOMALY_NOT_POSTED)
    assert (given_up["workload"], given_up["why"], given_up["failed_tries"]) == (
        "checkout",
        "an alert fires for it now",
        1,
    )
    assert sorted(p.series_key for p in store.pending_warnings()) == [
        "<!channel>/ledger/requests",
        "shop/search/errors",
        "shop/search/p95",
    ], "the others are still tried"
    store.close()


def test_a_failed_post_is_tried_again_by_the_job_queue(
    prometheus: str, slack: SlackApi, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'tugboat.db'}"
    settings = settings_for(prometheus, slack, url, jobs_poll_s=0.2)
    store = wiring.store(settings)
    jobs = wiring.job_queue(settings)
    watch = wiring.anomaly_watch(settings, store, chat(slack), jobs=jobs)
    assert watch is not None
    for spec in watch.job_specs():
        jobs.register(spec)
    jobs.start()
    try:
        slack.fail_next("chat.postMessage", 500, error="internal_error")
        slack.fail_next("chat.postMessage", 500, error="internal_error")
        run = watch.run(WHEN)
        assert len(run.warned) == WARNINGS and run.held == [], "claimed; the posts are jobs"
        deadline = time.monotonic() + 60
        while store.pending_warnings():
            assert time.monotonic() < deadline, [p.series_key for p in store.pending_warnings()]
            time.sleep(0.2)
    finally:
        jobs.stop()
    assert len(slack.of("chat.postMessage:failed")) == 2
    assert len(texts(slack)) == WARNINGS and len(set(texts(slack))) == WARNINGS
    assert sum(e["failed_tries"] for e in audited(store, AuditKind.ANOMALY_POSTED)) == 2


@pytest.mark.postgres
def test_two_replicas_retrying_on_postgresql_post_each_warning_once(
    prometheus: str, slack: SlackApi, postgres_url: str
) -> None:
    replicas = [watch_on(prometheus, slack, postgres_url) for _ in range(2)]
    for _ in range(WARNINGS):
        slack.fail_next("chat.postMessage", 500, error="internal_error")
    replicas[0][0].run(WHEN)
    assert len(replicas[0][1].pending_warnings()) == WARNINGS
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def replica(i: int) -> None:
        try:
            start.wait()
            replicas[i][0].run(NEXT)  # in the same minute on both: each resumes every pending post
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(texts(slack)) == WARNINGS and len(set(texts(slack))) == WARNINGS
    store = replicas[0][1]
    assert store.pending_warnings() == [] and len(audited(store, AuditKind.ANOMALY_POSTED)) == WARNINGS
    assert not verify_trail(store.audit_trail(), head=store.audit_head())
    for _, s in replicas:
        s.close()
