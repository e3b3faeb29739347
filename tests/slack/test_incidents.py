"""Alert intake end to end over HTTP: one thread per group, background investigation, no losses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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
