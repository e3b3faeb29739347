"""Every malformed request to /slack/events and /alerts/alertmanager gets a clear 4xx, before and
after the signature; acknowledgements never wait for the work (issue 14 part A, issue 13)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import requests

from testkit import slack_requests as sr
from tests.slack.conftest import CHANNEL, Harness, alert_payload

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def _interaction(**changes: Any) -> bytes:
    body, _ = sr.button("tugboat_approve", "p1", user="U1", channel=CHANNEL, message_ts="1.1")
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    payload.update(changes)
    return urlencode({"payload": json.dumps(payload)}).encode()


def _event(**changes: Any) -> bytes:
    body, _ = sr.app_mention("<@UTUGBOAT> why?", user="U1", channel=CHANNEL, ts="1.1")
    return json.dumps({**json.loads(body), **changes}).encode()


def _view_without_type() -> bytes:
    body, _ = sr.view_submission("tugboat_reject_reason", "{}", {}, user="U1")
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    del payload["view"]["type"]
    return urlencode({"payload": json.dumps(payload)}).encode()


def _refused(r: requests.Response, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    assert words in r.json()["error"], r.json()
    assert "Traceback" not in r.text and "/work/" not in r.text


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b"{not json", JSON, 401, "X-Slack-Signature"),
        (b"payload=%7Bnot", FORM, 401, "X-Slack-Signature"),
        (b"\xff\xfe\x00bytes", FORM, 401, "X-Slack-Signature"),
        (b"command=%2Ftugboat", {"Content-Type": "text/plain"}, 415, "not text/plain"),
        (b"command=%2Ftugboat", {}, 415, "untyped body"),
    ],
    ids=["json", "payload", "not-utf8", "text-plain", "no-type"],
)
def test_unsigned_or_untyped_requests_are_refused_before_any_parsing(
    harness: Harness, body: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    _refused(harness.post("/slack/events", body, headers, sign=False), status, words)


def test_forged_stale_and_oversized_requests(harness: Harness) -> None:
    body, headers = sr.command("help")
    forged = {**headers, **sr.sign(body, secret="not-the-secret")}
    _refused(harness.post("/slack/events", body, forged, sign=False), 401, "invalid Slack signature")
    stale = {**headers, **sr.sign(body, timestamp=1_600_000_000)}
    _refused(harness.post("/slack/events", body, stale, sign=False), 401, "older than 5 minutes")
    huge = b"command=%2Ftugboat&text=" + b"a" * (harness.settings.slack_max_body_bytes + 1)
    _refused(harness.post("/slack/events", huge, FORM), 413, "larger than")


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (b"\xff\xfe\x00bytes", FORM, "not UTF-8"),
        (b"{not json", JSON, "not JSON"),
        (b"payload=%7Bnot", FORM, "not JSON"),
        (b"[" * 50_000 + b"]" * 50_000, JSON, "nested deeper than 32"),
        (b"payload=" + b"%5B" * 40 + b"%5D" * 40, FORM, "nested deeper than 32"),
        (b"a=1&&b", FORM, "not a valid form"),
        (b"text=hello", FORM, "neither a slash command nor an interaction"),
        (_event(event=""), JSON, "event: Input should be a valid dictionary"),
        (_event(event={"type": 1}), JSON, "event.type"),
        (_event(type="something_else"), JSON, "does not match any of the expected tags"),
        (_interaction(team=1), FORM, "team"),
        (_interaction(actions=[]), FORM, "actions: List should have at least 1 item"),
        (_interaction(user="U1"), FORM, "user"),
        (_view_without_type(), FORM, "view.type: Field required"),
        (b"command=%2Ftugboat&text=help", FORM, "user_id: Field required"),
        (b"[1, 2]", JSON, "not a Slack event"),
    ],
    ids=[
        "not-utf8",
        "json",
        "payload",
        "deep-json",
        "deep-payload",
        "bad-form",
        "unknown-form",
        "event-empty",
        "event-type",
        "unknown-type",
        "team-int",
        "actions-empty",
        "user-str",
        "view-untyped",
        "command-no-user",
        "json-list",
    ],
)
def test_signed_requests_of_the_wrong_shape_get_400_with_the_reason(
    harness: Harness, body: bytes, headers: dict[str, str], words: str
) -> None:
    _refused(harness.post("/slack/events", body, headers), 400, words)


def test_url_verification_and_rate_limit_notices_are_answered_at_the_edge(harness: Harness) -> None:
    r = harness.post(
        "/slack/events", json.dumps({"type": "url_verification", "challenge": "c-1"}).encode(), JSON
    )
    assert (r.status_code, r.json()) == (200, {"challenge": "c-1"})
    r = harness.post(
        "/slack/events", json.dumps({"type": "app_rate_limited", "team_id": "T1"}).encode(), JSON
    )
    assert r.status_code == 200


def test_a_300_kb_command_is_answered_at_once_with_the_limit(harness: Harness) -> None:
    r = harness.command("investigate " + "a" * 300_000)
    assert r.status_code == 200
    assert r.json()["text"] == "that command is 300012 characters long; Tugboat reads at most 4000"
    harness.settle(0.5)
    assert harness.api.of("chat.postMessage") == [] and harness.api.of("response_url") == []


def test_a_long_question_is_answered_with_the_limit(harness: Harness) -> None:
    r = harness.slack(sr.app_mention("<@UTUGBOAT> " + "why " * 2000, user="U1", channel=CHANNEL, ts="5.5"))
    assert r.status_code == 200
    posted = harness.api.wait_for("chat.postMessage", channel=CHANNEL)[0]
    assert posted.args["text"] == "That question is 7999 characters long; I read at most 4000."


def test_commands_are_acknowledged_and_worked_on_concurrently(harness: Harness) -> None:
    """Four `status` commands whose follow-ups Slack holds: all four are acknowledged, and all
    four follow-ups are in flight at once (not one after another)."""
    held = harness.api.hold("response_url")
    try:
        for user in ("U1", "U2", "U3", "U4"):
            r = harness.command("status", user=user)
            assert r.status_code == 200 and r.json()["text"] == "Working on `/tugboat status`…"
        assert len(harness.api.wait_for("response_url", 4)) == 4  # recorded on arrival, unanswered
    finally:
        held.set()


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b"\xff\xfe\x00bytes", JSON, 400, "not UTF-8"),
        (b"[" * 50_000 + b"]" * 50_000, JSON, 400, "nested deeper than 32"),
        (b"{not json", JSON, 400, "not JSON"),
        (json.dumps({"version": "4", "alerts": "x"}).encode(), JSON, 400, "not a valid Alertmanager"),
        (json.dumps([alert_payload()]).encode(), JSON, 400, "must be a JSON object"),
        (json.dumps({**alert_payload(), "commonLabels": {"a": 1}}).encode(), JSON, 400, "commonLabels"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "application/json"),
    ],
    ids=["not-utf8", "deep", "json", "alerts-str", "list", "label-int", "text-plain"],
)
def test_malformed_webhooks_get_4xx(
    harness: Harness, body: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    r = requests.post(harness.url + "/alerts/alertmanager", data=body, headers=headers, timeout=10)
    _refused(r, status, words)


def test_oversized_webhook_is_413(harness_factory: Any) -> None:
    h = harness_factory(alertmanager_max_body_bytes=4096)
    r = requests.post(h.url + "/alerts/alertmanager", data=b" " * 5000, headers=JSON, timeout=10)
    _refused(r, 413, "larger than 4096 bytes")


def test_work_waits_for_a_lull_in_acknowledgements_but_never_past_its_patience() -> None:
    from bot.adapters.http.slack_edge import QuietGate

    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    gate = QuietGate(quiet_s=0.25, patience_s=1.0, clock=lambda: now[0], sleep=sleep)  # exact in binary
    gate.touch()
    gate.wait(since=now[0])  # a request was just answered: wait out the quiet time
    assert slept == [0.25]
    slept.clear()
    gate.touch()
    gate.wait(since=now[0] - 1.0)  # acknowledged long ago: steady traffic must not hold it up
    assert slept == []

    def busy_sleep(seconds: float) -> None:  # a request arrives during every sleep
        sleep(seconds)
        gate.touch()

    gate.sleep = busy_sleep
    start = now[0]
    gate.wait(since=start)
    assert now[0] - start == 1.0  # gave up waiting at the patience
