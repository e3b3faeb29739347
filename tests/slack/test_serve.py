"""``tugboat serve``: transport choice and clear errors; Socket Mode dispatch; graceful shutdown;
request bodies never logged."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import requests
from slack_bolt import BoltRequest

from bot.cli.serve_cmd import choose_transport
from bot.domain.alert import AlertGroup, parse_alert_group
from bot.domain.errors import InvalidInput
from bot.services.investigate import Investigation
from bot.settings import Settings
from bot.wiring.serve import build_runtime
from testkit import slack_requests as sr
from testkit.asgi_server import serving
from testkit.gitops import make_remote
from testkit.slack_api import running_slack_api
from tests.slack.conftest import CHANNEL, Harness, alert_payload, make_settings, scale_investigation


def _settings(**values: object) -> Settings:
    return Settings(**{"slack_bot_token": "xoxb-1", **values})  # type: ignore[arg-type]


def test_transport_follows_tokens_and_flags() -> None:
    assert choose_transport(_settings(slack_app_token="xapp-1"), force_http=False) == "socket"
    assert (
        choose_transport(_settings(slack_app_token="xapp-1", slack_signing_secret="s"), force_http=True)
        == "http"
    )
    assert choose_transport(_settings(slack_signing_secret="s"), force_http=False) == "http"
    with pytest.raises(InvalidInput, match="SLACK_SIGNING_SECRET is not set"):
        choose_transport(_settings(slack_app_token="xapp-1"), force_http=True)
    with pytest.raises(InvalidInput, match="SLACK_APP_TOKEN is not set"):
        choose_transport(_settings(transport="socket", slack_signing_secret="s"), force_http=False)
    with pytest.raises(InvalidInput, match="SLACK_BOT_TOKEN is not set"):
        choose_transport(Settings(slack_signing_secret="s"), force_http=False)  # type: ignore[call-arg]


def test_missing_token_is_a_one_line_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TUGBOAT_"))}
    exe = Path(sys.executable).parent / "tugboat"
    proc = subprocess.run(
        [str(exe), "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: SLACK_BOT_TOKEN is not set: export the bot token (xoxb-...) of the Slack app"
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["--workers", "2", "--http"],
            {},
            "error: --workers needs PostgreSQL (database_url): worker processes share the job queue "
            "through it, while on SQLite each process would run its own",
        ),
        (
            ["--workers", "2"],
            {"SLACK_APP_TOKEN": "xapp-1"},
            "error: --workers needs HTTP mode: add --http (Socket Mode runs in one process)",
        ),
    ],
    ids=["sqlite", "socket-mode"],
)
def test_workers_are_refused_without_postgresql_or_http(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TUGBOAT_"))}
    clean.update(
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        TUGBOAT_DATABASE_URL=f"sqlite:///{tmp_path / 'tugboat.db'}",
        **env,
    )
    exe = Path(sys.executable).parent / "tugboat"
    proc = subprocess.run(
        [str(exe), "serve", *args], env=clean, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == expected
    assert not (tmp_path / "tugboat.db").exists()  # refused before anything was built


def test_socket_mode_dispatches_without_signatures_and_http_events_are_off(tmp_path: Path) -> None:
    with running_slack_api() as api:
        remote = make_remote(tmp_path / "git")
        settings = make_settings(api, tmp_path, remote.work, slack_signing_secret=None)
        runtime = build_runtime(settings, socket_mode=True, investigate=scale_investigation(remote.work))
        try:
            assert runtime.bolt is not None
            body, _ = sr.command("help")
            response = runtime.bolt.dispatch(BoltRequest(body=body.decode(), mode="socket_mode"))
            assert (
                response.status == 200
                and "investigate <service|alertname>" in json.loads(response.body)["text"]
            )
            with serving(runtime.http) as url:
                signed_body, headers = sr.command("help")
                r = requests.post(
                    url + "/slack/events", data=signed_body, headers={**headers, **sr.sign(signed_body)}
                )
                assert r.status_code == 404 and "Socket Mode" in r.json()["error"]
                assert requests.get(url + "/healthz", timeout=5).status_code == 200
        finally:
            runtime.close()


def test_shutdown_finishes_investigations_in_flight(tmp_path: Path) -> None:
    started: list[float] = []

    def slow(group: AlertGroup, at: datetime) -> Investigation:
        started.append(time.monotonic())
        time.sleep(1.0)
        return scale_investigation(remote.work)(group, at)

    with running_slack_api() as api:
        remote = make_remote(tmp_path / "git")
        runtime = build_runtime(make_settings(api, tmp_path, remote.work), investigate=slow)
        runtime.deps.incidents.receive(parse_alert_group(alert_payload()))
        while not started:
            time.sleep(0.02)
        runtime.close()  # returns only when the investigation has been posted
        posted = [c for c in api.of("chat.postMessage") if c.args.get("thread_ts")]
        assert any("traffic surge" in json.dumps(c.args.get("blocks")) for c in posted)
        assert not runtime.deps.incidents.running


def test_request_bodies_are_never_logged(
    harness_factory: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = harness_factory()
    caplog.set_level(logging.DEBUG)
    h.slack(sr.command("scale checkout hunter2-secret-text"))
    h.slack(
        sr.app_mention(
            "<@UTUGBOAT> hunter2-secret-text", user="U1", channel=CHANNEL, ts="1.5", event_id="EvLog"
        )
    )
    h.alert(alert_payload())
    h.api.wait_for("chat.postMessage", channel=CHANNEL)
    time.sleep(0.5)
    assert "slack request command" in caplog.text
    assert "hunter2-secret-text" not in caplog.text
