"""The anomaly watch against a real Prometheus and a recording Slack Web API: a jump in the last
run interval (CPU use, request rate, error ratio, p95 latency) is posted once in plain words with
its graph, a calm workload never warns, and a warning is claimed once across runs and replicas,
and routed like an alert would be."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from slack_sdk import WebClient

from bot import wiring
from bot.adapters.graphs import render_all
from bot.adapters.slack.notifier import SlackNotifier
from bot.adapters.store import SqlStore
from bot.domain.alert import parse_alert_group
from bot.domain.audit import AuditKind, verify_trail
from bot.ports.store import IncidentRecord
from bot.services.anomaly_posts import POST_JOB, WarningPosts
from bot.services.anomaly_warning import AnomalyWarning
from bot.services.anomaly_watch import ANOMALY_JOB, AnomalyWatch, anomaly_job_spec
from bot.settings import Settings
from testkit.slack_api import SlackApi
from tests.anomaly.cluster import AT, SHOUTY
from tests.anomaly.conftest import CHANNEL, audited, chat, settings_for, warnings_in
from tests.slack.conftest import alert_payload

pytestmark = pytest.mark.prometheus

WHEN = datetime.fromtimestamp(AT, UTC)


def test_a_jump_is_posted_once_in_plain_words_and_the_calm_workload_never_warns(
    prometheus: str, slack: SlackApi, tmp_path: Path
) -> None:
    settings = settings_for(prometheus, slack, f"sqlite:///{tmp_path / 'tugboat.db'}")
    store = wiring.store(settings)
    watch = wiring.anomaly_watch(settings, store, chat(slack), render_all)
    assert watch is not None
    job, post_job = watch.job_specs()
    assert job.name == ANOMALY_JOB and job.cron == "*/10 * * * *"
    assert post_job.name == POST_JOB and post_job.cron is None
    job.run(at=WHEN)
    job.run(at=WHEN)  # the same scheduled time again: nothing new to say

    posts = slack.of("chat.postMessage")
    texts = sorted(p.args["text"] for p in posts)
    assert len(posts) == 4, texts
    assert all(p.args["channel"] == CHANNEL for p in posts)
    checkout, errors, latency, ledger = texts
    assert re.fullmatch(
        r"Early warning: CPU use of \*checkout\* \(namespace payments\) left its usual range at "
        r"14:05 UTC \(anomaly score 0\.\d\d\)\. No alert has fired yet\.",
        checkout,
    ), checkout
    assert float(checkout.split("anomaly score ")[1][:4]) >= settings.anomaly_threshold
    assert ledger.startswith("Early warning: request rate of *ledger* (namespace &lt;!channel&gt;)")
    assert errors.startswith("Early warning: error ratio of *search* (namespace shop) left its usual range")
    assert latency.startswith("Early warning: p95 latency of *search* (namespace shop) left its usual range")
    assert not any("catalog" in t for t in texts), "the calm workload stays quiet"
    # the label is shown, never markup: no broadcast anywhere in what was sent
    sent = json.dumps([p.args for p in posts])
    assert SHOUTY not in sent and "<!" not in sent
    # a warning is not a diagnosis: no proposal, no buttons
    for post in posts:
        assert [b["type"] for b in post.args["blocks"]] == ["section"]
    # each warning carries its graph, in the warning's thread
    uploads = slack.of("files.completeUploadExternal")
    assert len(uploads) == 4 and all(u.args.get("thread_ts") for u in uploads)

    events = warnings_in(store)
    expected = [
        ("checkout", "CPU use"),
        ("ledger", "request rate"),
        ("search", "error ratio"),
        ("search", "p95 latency"),
    ]
    assert sorted((e["workload"], e["metric"]) for e in events) == expected
    posted = audited(store, AuditKind.ANOMALY_POSTED)
    assert sorted((e["workload"], e["metric"]) for e in posted) == expected
    assert all(e["failed_tries"] == 0 for e in posted) and store.pending_warnings() == []
    assert not verify_trail(store.audit_trail(), head=store.audit_head())


def test_the_warning_graph_marks_the_anomalous_rows(prometheus: str, slack: SlackApi, tmp_path: Path) -> None:
    settings = settings_for(prometheus, slack, f"sqlite:///{tmp_path / 'tugboat.db'}")
    posted: list[AnomalyWarning] = []
    store = wiring.store(settings)

    metrics = wiring.metrics_source(settings)
    assert metrics is not None
    posts = WarningPosts(store, lambda warning, step: posted.append(warning))
    run = AnomalyWatch(metrics, store, settings, posts).run(WHEN)
    assert run.scored == 14  # four workloads: CPU use, request rate, error ratio; two with p95 latency
    checkout = next(w for w in posted if w.workload == "checkout")
    graph = checkout.graph
    assert graph.marks is not None and list(graph.marks.timestamps) == [AT - 300]
    shown = graph.series[0].timestamps
    assert shown[0] > AT - 86_400 and shown[-1] == AT, "the last day, up to the run"
    assert graph.onset == datetime.fromtimestamp(AT - 300, UTC)
    (png,) = render_all([graph], tmp_path / "graphs")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    units = {w.measure.words: w.graph.unit for w in posted if w.workload == "search"}
    assert units == {"error ratio": "ratio", "p95 latency": "s"}
    latency = next(w for w in posted if w.measure.words == "p95 latency")
    assert latency.graph.title == "search (shop): p95 latency, the last day"
    assert latency.graph.series[0].values[-1] > 4 * float(np.median(latency.graph.series[0].values))
    assert AnomalyWarning.from_post(latency.to_post()).to_post() == latency.to_post(), "stored as it is"


def test_no_second_warning_within_the_cooldown_and_one_after_it(
    prometheus: str, slack: SlackApi, tmp_path: Path
) -> None:
    # a daily schedule: each run looks back to midnight, so later runs see the same jump again
    url = f"sqlite:///{tmp_path / 'tugboat.db'}"
    routes = [{"label": "namespace", "value": "payments", "channel": "C_PAYMENTS"}]
    settings = settings_for(prometheus, slack, url, anomaly_cron="0 0 * * *", slack_routes=routes)
    store = wiring.store(settings)
    watch = wiring.anomaly_watch(settings, store, chat(slack))
    assert watch is not None
    assert len(watch.run(WHEN).warned) == 4
    # routed like an alert about the workload would be: payments has its own channel
    where = sorted(
        (p.args["channel"], p.args["text"].split(" of ")[1].split()[0]) for p in slack.of("chat.postMessage")
    )
    assert where == [
        ("C_INCIDENTS", "*ledger*"),
        ("C_INCIDENTS", "*search*"),
        ("C_INCIDENTS", "*search*"),
        ("C_PAYMENTS", "*checkout*"),
    ]
    later = watch.run(WHEN + timedelta(minutes=60))
    assert later.warned == [] and len(later.held) == 4
    assert all("already warned of within the cooldown" in note for note in later.held)
    assert len(slack.of("chat.postMessage")) == 4
    assert len(watch.run(WHEN + timedelta(minutes=120)).warned) == 4, "the cooldown is over"
    assert len(slack.of("chat.postMessage")) == 8 and len(warnings_in(store)) == 8


def test_an_error_ratio_under_the_floor_never_warns(prometheus: str, slack: SlackApi, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tugboat.db'}"
    settings = settings_for(prometheus, slack, url, anomaly_min_error_ratio=0.2)  # search's jump: 1% to 15%
    watch = wiring.anomaly_watch(settings, wiring.store(settings), chat(slack))
    assert watch is not None
    warned = sorted(w.described for w in watch.run(WHEN).warned)
    assert warned == [
        "CPU use of checkout (payments)",
        "p95 latency of search (shop)",
        "request rate of ledger (<!channel>)",
    ]


def test_a_workload_with_a_firing_alert_gets_no_early_warning(
    prometheus: str, slack: SlackApi, tmp_path: Path
) -> None:
    settings = settings_for(prometheus, slack, f"sqlite:///{tmp_path / 'tugboat.db'}")
    store = wiring.store(settings)
    payload = alert_payload()
    payload["commonLabels"] = {**payload["commonLabels"], "namespace": "payments"}
    for alert in payload["alerts"]:
        alert["labels"] = {**alert["labels"], "namespace": "payments"}
    group = parse_alert_group(payload)
    store.upsert_incident(IncidentRecord(group_key=group.group_key, alert=group, status="firing"))
    watch = wiring.anomaly_watch(settings, store, chat(slack))
    assert watch is not None
    run = watch.run(WHEN)
    assert sorted(w.workload for w in run.warned) == ["ledger", "search", "search"]
    assert run.held == ["CPU use of checkout (payments): an alert is already firing for it"]


@pytest.mark.postgres
def test_two_replicas_racing_on_postgresql_post_once(
    prometheus: str, slack: SlackApi, postgres_url: str
) -> None:
    settings = settings_for(prometheus, slack, postgres_url)
    stores = [SqlStore.open(postgres_url), SqlStore.open(postgres_url)]  # one per replica
    watches = [wiring.anomaly_watch(settings, s, chat(slack)) for s in stores]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def replica(i: int) -> None:
        try:
            start.wait()
            anomaly_job_spec(watches[i], settings.anomaly_cron).run(at=WHEN)  # type: ignore[arg-type]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    texts = sorted(p.args["text"] for p in slack.of("chat.postMessage"))
    assert len(texts) == 4 and "checkout" in texts[0] and "ledger" in texts[3]
    assert len(warnings_in(stores[0])) == 4
    assert not verify_trail(stores[0].audit_trail(), head=stores[0].audit_head())
    for s in stores:
        s.close()


def test_the_watch_is_off_without_a_schedule_prometheus_or_channel(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tugboat.db'}"
    on = Settings(prometheus_url="http://127.0.0.1:9", slack_channel=CHANNEL, database_url=url)
    store = wiring.store(on)
    notifier = chat_for_nothing()
    assert wiring.anomaly_watch(on, store, notifier) is not None
    for off in (
        on.model_copy(update={"anomaly_cron": ""}),
        on.model_copy(update={"prometheus_url": None}),
        on.model_copy(update={"slack_channel": None}),
    ):
        assert wiring.anomaly_watch(off, store, notifier) is None


def chat_for_nothing() -> SlackNotifier:
    return SlackNotifier(WebClient(token="xoxb-test", base_url="http://127.0.0.1:9/"))
