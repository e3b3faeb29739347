"""``tugboat serve --http`` as a real process: alerts in, signed Slack requests acked, SIGTERM drains."""

from __future__ import annotations

import signal
from pathlib import Path

import requests

from testkit import slack_requests as sr
from testkit.serve_process import serve_http
from testkit.slack_api import running_slack_api
from tests.slack.conftest import CHANNEL, alert_payload


def test_serve_http_process_end_to_end(tmp_path: Path) -> None:
    with (
        running_slack_api() as api,
        serve_http(tmp_path, api.base_url, CHANNEL, TUGBOAT_ALERTMANAGER_TOKEN="am") as served,
    ):
        body, headers = sr.command("help")
        r = requests.post(
            served.base + "/slack/events", data=body, headers={**headers, **sr.sign(body)}, timeout=5
        )
        assert r.status_code == 200 and "investigate" in r.json()["text"]
        r = requests.post(
            served.base + "/alerts/alertmanager",
            json=alert_payload(),
            headers={"Authorization": "Bearer am"},
            timeout=5,
        )
        assert r.json()["status"] == "accepted"
        assert api.wait_for("chat.postMessage", channel=CHANNEL)
    # uvicorn drains (lifespan shutdown: Slack work and investigations finish), then re-raises the signal.
    err = served.logs()
    assert served.proc.returncode in (0, -signal.SIGTERM), err
    assert "tugboat serving on http://127.0.0.1" in err and "Traceback" not in err
