"""Alert intake end to end over HTTP: one thread per group, background investigation, no losses."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.slack.conftest import CHANNEL, Harness, alert_payload


def _parents(h: Harness) -> list:
    return [c for c in h.api.of("chat.postMessage") if not c.args.get("thread_ts")]


def test_alert_opens_one_thread_with_investigation_graphs_and_draft_button(harness: Harness) -> None:
    r = harness.alert(alert_payload())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    parent = harness.api.wait_for("chat.postMessage", channel=CHANNEL)[0]
    assert "HighLatency in shop" in parent.args["blocks"][0]["text"]["text"]
    thread = harness.api.wait_for("files.completeUploadExternal")[0]
    ts = harness.api.of("chat.postMessage")[0]
    replies = harness.api.wait_for("chat.postMessage", 3)
    thread_ts = replies[1].args["thread_ts"]
    assert thread.args["thread_ts"] == thread_ts and thread.args["channel_id"] == CHANNEL
    assert harness.api.of("upload") and harness.api.of("upload")[0].args["size"] > 1000  # a real PNG
    texts = [str(c.args.get("blocks")) for c in replies[1:]]
    assert any("traffic surge" in t and "`E1`" in t for t in texts)
    assert any("tugboat_draft_pr" in t and "replicas" in t for t in texts)
    incident = harness.runtime.deps.store.get_incident(alert_payload()["groupKey"])
    assert incident is not None and incident.thread_ts == ts.args.get("ts", incident.thread_ts)
    assert incident.report is not None and incident.report.proposal is not None
    assert incident.report.graphs == ["checkout-rps.png"]


def test_exact_repeat_is_a_duplicate_and_posts_nothing_more(harness: Harness) -> None:
    assert harness.alert(alert_payload()).json()["status"] == "accepted"
    assert harness.alert(alert_payload()).json()["status"] == "duplicate"
    harness.api.wait_for("files.completeUploadExternal")
    harness.settle(1.0)
    assert len(_parents(harness)) == 1


@pytest.mark.slow
def test_storm_of_1000_alerts_in_one_group_is_one_parent_and_a_few_replies(harness_factory) -> None:  # type: ignore[no-untyped-def]
    harness = harness_factory(slack_update_interval_s=2.0)  # at most one thread update per 2 s
    key = '{}:{alertname="HighLatency", storm="yes"}'

    def send(i: int) -> int:
        return harness.alert(alert_payload(group_key=key, fingerprints=[f"fp{i:04d}"])).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(1000)))
    assert statuses == [200] * 1000
    harness.api.wait_for("files.completeUploadExternal")

    def updates() -> list:
        return [c for c in harness.api.of("chat.postMessage") if "more alert(s)" in c.args.get("text", "")]

    def counted() -> int:
        return sum(int(c.args["text"].split()[0]) for c in updates())

    deadline = time.monotonic() + 30  # the last coalesced updates are jobs still in the queue
    while counted() < 999 and time.monotonic() < deadline:
        time.sleep(0.2)
    harness.settle(1.0)  # nothing more may follow
    assert len(_parents(harness)) == 1
    incident = harness.runtime.deps.store.get_incident(key)
    assert incident is not None and len(incident.fingerprints) == 1000  # every alert persisted
    assert 1 <= len(updates()) <= 15, len(updates())
    assert counted() == 999  # each new alert counted once


def test_resolved_updates_the_parent_with_the_duration(harness: Harness) -> None:
    harness.alert(alert_payload(starts_at="2026-11-26T01:00:00Z"))
    harness.api.wait_for("files.completeUploadExternal")
    done = alert_payload(status="resolved", starts_at="2026-11-26T01:00:00Z", ends_at="2026-11-26T01:42:10Z")
    assert harness.alert(done).json()["status"] == "accepted"
    update = harness.api.wait_for("chat.update")[0]
    parent_ts = _parents(harness)[0]
    assert update.args["channel"] == CHANNEL
    assert "resolved after 42m" in str(update.args["blocks"])
    assert harness.api.wait_for("chat.postMessage", text="Resolved after 42m 10s")
    incident = harness.runtime.deps.store.get_incident(done["groupKey"])
    assert incident is not None and incident.status == "resolved" and incident.thread_ts == update.args["ts"]
    assert parent_ts.args["channel"] == CHANNEL


def test_routes_by_team_label(harness_factory) -> None:  # type: ignore[no-untyped-def]
    from bot.settings import Route

    h = harness_factory(slack_routes=[Route(label="team", value="payments", channel="CPAY")])
    h.alert(alert_payload(group_key="g-pay", team="payments"))
    h.alert(alert_payload(group_key="g-other", team="search"))
    assert h.api.wait_for("chat.postMessage", channel="CPAY")
    assert h.api.wait_for("chat.postMessage", channel=CHANNEL)
    assert {c.args["channel"] for c in _parents(h)} == {"CPAY", CHANNEL}


def test_bad_payloads_get_clear_400s_and_valid_ones_are_kept(harness: Harness) -> None:
    url = harness.url + "/alerts/alertmanager"
    import requests

    def malformed() -> float:  # the registry is per process: other tests count too
        metrics = requests.get(harness.url + "/metrics", timeout=5).text
        line = 'tugboat_alerts_rejected_total{reason="malformed"} '
        return next((float(m.removeprefix(line)) for m in metrics.splitlines() if m.startswith(line)), 0.0)

    before = malformed()
    r = requests.post(url, data=b"{not json", timeout=5)
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = requests.post(url, json={"version": "4", "status": "firing", "alerts": []}, timeout=5)
    assert r.status_code == 400 and "groupKey" in r.json()["error"]
    r = requests.post(url, json={**alert_payload(), "version": "3"}, timeout=5)
    assert r.status_code == 400 and "version" in r.json()["error"]
    assert harness.alert(alert_payload(group_key="kept")).status_code == 200
    assert harness.incident("kept").alert is not None
    assert malformed() - before == 3


def test_webhook_token_is_required_when_configured(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = harness_factory(alertmanager_token="s3cret")
    assert h.alert(alert_payload()).status_code == 401
    assert h.alert(alert_payload(), token="wrong").status_code == 401
    assert h.runtime.deps.store.groups_waiting() == []  # nothing stored
    assert h.alert(alert_payload(), token="s3cret").status_code == 200


def test_rate_limited_post_is_retried_after_retry_after(harness: Harness) -> None:
    harness.api.fail_next("chat.postMessage", 429, retry_after=0)
    harness.alert(alert_payload())
    harness.api.wait_for("chat.postMessage", channel=CHANNEL)
    methods = [c.method for c in harness.api.calls]
    assert methods.index("chat.postMessage:failed") < methods.index("chat.postMessage")
    assert len(_parents(harness)) == 1


def test_health_readiness_and_metrics(harness: Harness) -> None:
    import requests

    assert requests.get(harness.url + "/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(harness.url + "/readyz", timeout=5).json() == {"status": "ready"}
    harness.alert(alert_payload())
    harness.api.wait_for("files.completeUploadExternal")
    text = requests.get(harness.url + "/metrics", timeout=5).text
    assert 'tugboat_alerts_received_total{status="firing"}' in text
    assert 'tugboat_investigations_total{outcome="ok"}' in text
    assert 'tugboat_proposals{state="open"} 0.0' in text
    harness.runtime.deps.incidents.close()
    r = requests.get(harness.url + "/readyz", timeout=5)
    assert r.status_code == 503 and "incident service is shut down" in r.json()["problems"][0]


def test_parent_post_is_retried_when_slack_fails(harness: Harness) -> None:
    harness.api.fail_next("chat.postMessage", 500)
    harness.alert(alert_payload())
    harness.api.wait_for("chat.postMessage", channel=CHANNEL)
    assert [c.method for c in harness.api.calls if c.method.startswith("chat.postMessage")][:2] == [
        "chat.postMessage:failed",
        "chat.postMessage",
    ]
    assert len(_parents(harness)) == 1
    metrics = requests.get(harness.url + "/metrics", timeout=5).text
    assert 'tugboat_slack_errors_total{method="chat.postMessage"}' in metrics


def test_alert_keys() -> None:
    from bot.domain.alert import parse_alert_group
    from bot.services.alert_keys import human_duration, notification_key

    a = parse_alert_group(alert_payload(fingerprints=["x", "y"]))
    b = parse_alert_group(alert_payload(fingerprints=["y", "x"]))
    refired = parse_alert_group(alert_payload(fingerprints=["x", "y"], starts_at="2026-11-26T03:00:00Z"))
    assert notification_key(a) == notification_key(b) != notification_key(refired)
    assert [human_duration(s) for s in (0, 59, 2530, 3600 + 300, 90000)] == [
        "0s",
        "59s",
        "42m 10s",
        "1h 5m",
        "1d 1h",
    ]


def test_two_replicas_on_one_database_post_one_thread(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.wiring.serve import build_runtime
    from testkit.asgi_server import serving
    from testkit.gitops import make_remote
    from testkit.slack_api import running_slack_api
    from tests.slack.conftest import make_settings, scale_investigation

    monkeypatch.chdir(tmp_path)
    remote = make_remote(tmp_path / "git")
    with running_slack_api() as api:
        settings = make_settings(api, tmp_path, remote.work)
        replicas = [build_runtime(settings, investigate=scale_investigation(remote.work)) for _ in range(2)]
        with serving(replicas[0].http) as one, serving(replicas[1].http) as two:
            payload = alert_payload()

            def send(url: str) -> str:
                return requests.post(url + "/alerts/alertmanager", json=payload, timeout=10).json()["status"]

            with ThreadPoolExecutor(8) as pool:  # Alertmanager HA pairs send the same group to each replica
                statuses = list(pool.map(send, [one, two] * 4))
            assert sorted(statuses) == ["accepted"] + ["duplicate"] * 7
            api.wait_for("files.completeUploadExternal")
            time.sleep(1.0)
        parents = [c for c in api.of("chat.postMessage") if not c.args.get("thread_ts")]
        investigations = [
            c for c in api.of("chat.postMessage") if "Investigation" in str(c.args.get("blocks"))
        ]
        assert len(parents) == 1 and len(investigations) == 1


def test_restart_posts_stored_incidents_that_never_got_a_thread(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.adapters.store import SqlStore
    from bot.domain.alert import parse_alert_group
    from bot.ports.store import IncidentRecord
    from bot.wiring.serve import build_runtime
    from testkit.gitops import make_remote
    from testkit.slack_api import running_slack_api
    from tests.slack.conftest import make_settings, scale_investigation

    monkeypatch.chdir(tmp_path)
    remote = make_remote(tmp_path / "git")
    with running_slack_api() as api:
        settings = make_settings(api, tmp_path, remote.work)
        group = parse_alert_group(alert_payload(group_key="stored-before-crash"))
        with SqlStore.open(settings.database_url) as store:  # what a crashed process left behind
            store.upsert_incident(IncidentRecord(group_key=group.group_key, channel=CHANNEL, alert=group))
        runtime = build_runtime(settings, investigate=scale_investigation(remote.work))
        try:
            assert api.wait_for("chat.postMessage", channel=CHANNEL)
            api.wait_for("files.completeUploadExternal")
        finally:
            runtime.close()
        incident = runtime.deps.store.get_incident("stored-before-crash")
        assert incident is not None and incident.thread_ts and incident.report is not None


def test_restart_investigates_stored_threads_that_have_no_report(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The threads were posted, then the process died with the investigations in its in-memory
    queue. Every one is investigated, however old, as of the alert's time."""
    from bot.adapters.store import SqlStore
    from bot.domain.alert import parse_alert_group
    from bot.ports.store import IncidentRecord
    from bot.services.incidents import INVESTIGATE
    from bot.wiring.serve import build_runtime
    from testkit.gitops import make_remote
    from testkit.slack_api import running_slack_api
    from tests.slack.conftest import make_settings, scale_investigation

    monkeypatch.chdir(tmp_path)
    remote = make_remote(tmp_path / "git")
    now = datetime.now(UTC).replace(microsecond=0)
    threads = {"recent": ("1690000000.000100", now), "old": ("1680000000.000100", now - timedelta(days=2))}
    with running_slack_api() as api:
        settings = make_settings(api, tmp_path, remote.work)
        with SqlStore.open(settings.database_url) as store:  # what a crashed process left behind
            for key, (thread, started) in threads.items():
                group = parse_alert_group(alert_payload(group_key=key))
                store.upsert_incident(
                    IncidentRecord(
                        group_key=key, channel=CHANNEL, thread_ts=thread, alert=group, started_at=started
                    )
                )
        runtime = build_runtime(settings, investigate=scale_investigation(remote.work))
        try:
            summary = "checkout is saturated by a traffic surge"
            for key, (thread, started) in threads.items():
                posted = api.wait_for("chat.postMessage", thread_ts=thread, text=summary)
                assert posted[0].args["channel"] == CHANNEL
                api.wait_for("files.completeUploadExternal", thread_ts=thread)
                deadline = time.monotonic() + 20
                while True:
                    incident = runtime.deps.store.get_incident(key)
                    if incident is not None and incident.report is not None:
                        break
                    assert time.monotonic() < deadline, "the report was never stored"
                    time.sleep(0.05)
                assert incident.thread_ts == thread  # the existing thread, not a new one
                assert incident.report.summary == summary
                assert incident.report.at == started  # as of the alert's time, not of the restart

            def investigations() -> list[str]:
                jobs = list(runtime.jobs.connector.jobs.values())  # a copy: the worker adds jobs
                return [job["status"] for job in jobs if job["task_name"] == INVESTIGATE]

            deadline = time.monotonic() + 20
            while investigations() != ["succeeded"] * 2:  # everything they post is posted
                assert time.monotonic() < deadline, f"the investigation jobs are {investigations()}"
                time.sleep(0.05)
            calls = len(api.calls)

            assert runtime.deps.incidents.resume() == 0  # a second resume: the threads have their reports
            assert investigations() == ["succeeded"] * 2  # nothing queued
        finally:
            runtime.close()  # runs whatever is queued before it returns
        assert len(api.calls) == calls, [c.method for c in api.calls[calls:]]
        assert not [c for c in api.of("chat.postMessage") if not c.args.get("thread_ts")]  # no new parent
        assert {c.args.get("thread_ts") for c in api.of("chat.postMessage")} == {
            t for t, _ in threads.values()
        }


def test_a_long_diff_is_attached_as_a_file(harness: Harness) -> None:
    from bot.domain.proposal import Action, Proposal

    diff = "--- a/x.yaml\n+++ b/x.yaml\n" + "".join(f"+line {i}\n" for i in range(800))
    proposal = Proposal(action=Action.SCALE, service="checkout", diff=diff, title="big change")
    harness.runtime.deps.incidents.post_proposal(CHANNEL, "1700000000.000100", proposal)
    message = harness.api.wait_for("chat.postMessage")[0]
    assert "(truncated)" in str(message.args["blocks"])
    done = harness.api.wait_for("files.completeUploadExternal")[0]
    assert done.args["thread_ts"] == "1700000000.000100" and f"proposal-{proposal.id}.diff" in str(
        harness.api.of("files.getUploadURLExternal")[0].args
    )
    assert harness.api.of("upload")[0].args["size"] == len(diff.encode())


def test_a_failing_graph_upload_is_noted_and_the_proposal_still_arrives(harness: Harness) -> None:
    harness.api.fail_always("upload", 500)  # Slack's file upload URL answers 500, every time
    harness.alert(alert_payload())
    proposal = harness.api.wait_for(
        "chat.postMessage", text="Proposed change: traffic surge: scale checkout to 6"
    )
    notes = [c for c in harness.api.of("chat.postMessage") if "graph could not be uploaded" in c.args["text"]]
    assert len(notes) == 1 and "checkout-rps" in notes[0].args["text"]
    thread = proposal[0].args["thread_ts"]
    assert notes[0].args["thread_ts"] == thread
    assert len(harness.api.of("upload:failed")) == harness.settings.slack_upload_attempts  # bounded
    harness.settle(2.0)  # nothing is posted again
    summary = "checkout is saturated by a traffic surge"
    assert [c.args["text"] for c in harness.api.of("chat.postMessage")].count(summary) == 1
    assert len(_parents(harness)) == 1
    order = [c.args["text"] for c in harness.api.of("chat.postMessage") if c.args.get("thread_ts") == thread]
    assert order[0] == summary and order[-1].startswith("Proposed change")
    assert not harness.api.of("files.completeUploadExternal")


def test_a_delivery_queued_by_the_previous_version_is_still_posted(harness: Harness) -> None:
    """During a rolling update, a new pod runs an ``incident.deliver`` job an old one queued: its
    update travels in its arguments (the old format), not in the incident."""
    payload = alert_payload(group_key="rolling")
    harness.alert(payload)
    harness.api.wait_for("files.completeUploadExternal")
    incident = harness.incident("rolling")
    old_args = {"group": payload, "new_firing": 2, "resolved": False, "refired": False, "first": False}
    harness.runtime.deps.incidents.deliver("rolling", **old_args, requested_by=None)
    [more] = harness.api.wait_for("chat.postMessage", text="2 more alert(s) in HighLatency in shop")
    assert more.args["thread_ts"] == incident.thread_ts
    assert len(_parents(harness)) == 1
