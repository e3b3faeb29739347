"""``tugboat serve --http`` as a real process: alerts in, signed Slack requests acked, SIGTERM drains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.slack.conftest import CHANNEL, alert_payload
from tests.support import slack_requests as sr
from tests.support.promserver import free_port
from tests.support.slack_api import running_slack_api


def test_serve_http_process_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    with running_slack_api() as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TUGBOAT_"))}
        env.update(
            SLACK_BOT_TOKEN="xoxb-proc",
            SLACK_SIGNING_SECRET=sr.SECRET,
            TUGBOAT_SLACK_API_URL=api.base_url,
            TUGBOAT_SLACK_CHANNEL=CHANNEL,
            TUGBOAT_DATABASE_URL=f"sqlite:///{tmp_path / 'tugboat.db'}",
            TUGBOAT_LLM_ENABLED="false",
            TUGBOAT_ALERTMANAGER_TOKEN="am",
        )
        exe = Path(sys.executable).parent / "tugboat"
        proc = subprocess.Popen(
            [str(exe), "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            body, headers = sr.command("help")
            r = requests.post(
                base + "/slack/events", data=body, headers={**headers, **sr.sign(body)}, timeout=5
            )
            assert r.status_code == 200 and "investigate" in r.json()["text"]
            r = requests.post(
                base + "/alerts/alertmanager",
                json=alert_payload(),
                headers={"Authorization": "Bearer am"},
                timeout=5,
            )
            assert r.json()["status"] == "accepted"
            assert api.wait_for("chat.postMessage", channel=CHANNEL)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
    # uvicorn drains (lifespan shutdown: Slack work and investigations finish), then re-raises the signal.
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "tugboat serving on http://127.0.0.1" in err and "Traceback" not in err
