"""Socket Mode has no HTTP edge in front of Bolt: its handler makes the same payload checks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.adapters.slack.socket_mode import CheckedSocketModeHandler
from bot.settings import Settings
from bot.wiring.serve import Runtime, build_runtime, socket_mode_handler
from testkit import slack_requests as sr
from testkit.gitops import make_remote
from testkit.slack_api import running_slack_api
from tests.slack.conftest import make_settings, scale_investigation


class Socket:
    """What the handler sends back over the WebSocket (no connection is made)."""

    def __init__(self) -> None:
        self.sent: list[SocketModeResponse] = []
        self.logger = logging.getLogger("socket")

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append(response)


@pytest.fixture
def handler(tmp_path: Path) -> Iterator[tuple[CheckedSocketModeHandler, Runtime]]:
    with running_slack_api() as api:
        remote = make_remote(tmp_path / "git")
        settings = make_settings(
            api, tmp_path, remote.work, slack_signing_secret=None, slack_app_token="xapp-1"
        )
        runtime = build_runtime(settings, socket_mode=True, investigate=scale_investigation(remote.work))
        try:
            yield socket_mode_handler(runtime, settings), runtime
        finally:
            runtime.close()


def _command(**changes: Any) -> dict[str, Any]:
    body, _ = sr.command("help")
    fields: dict[str, Any] = dict(parse_qsl(body.decode()))
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def _click(**changes: Any) -> dict[str, Any]:
    body, _ = sr.button("tugboat_approve", "p1|abc", user="U1", channel="C1", message_ts="1.1")
    payload: dict[str, Any] = json.loads(dict(parse_qsl(body.decode()))["payload"])
    payload.update(changes)
    return payload


def _handle(
    handler: CheckedSocketModeHandler, kind: str, payload: dict[str, Any]
) -> list[SocketModeResponse]:
    socket = Socket()
    handler.handle(socket, SocketModeRequest(type=kind, envelope_id="env-1", payload=payload))  # type: ignore[arg-type]
    return socket.sent


def test_a_well_formed_command_is_answered_through_bolt(
    handler: tuple[CheckedSocketModeHandler, Runtime],
) -> None:
    (answer,) = _handle(handler[0], "slash_commands", _command())
    assert answer.envelope_id == "env-1"
    assert "investigate <service|alertname>" in (answer.payload or {})["text"]


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("slash_commands", _command(user_id=None), "user_id"),
        ("slash_commands", _command(channel_id=7), "channel_id"),
        ("interactive", _click(actions=[]), "actions"),
        ("interactive", _click(user={"name": "no id"}), "user.id"),
        ("events_api", {"type": "event_callback", "event_id": "Ev1", "event": {"type": ""}}, "event.type"),
        ("hello_world", {}, "hello_world"),
    ],
    ids=[
        "command-no-user",
        "command-channel-number",
        "click-no-action",
        "click-user-no-id",
        "event-no-type",
        "kind",
    ],
)
def test_a_payload_slack_does_not_send_is_acknowledged_and_dropped_with_its_reason(
    handler: tuple[CheckedSocketModeHandler, Runtime],
    kind: str,
    body: dict[str, Any],
    field: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (answer,) = _handle(handler[0], kind, body)
    assert answer.envelope_id == "env-1" and answer.payload is None  # acked: Slack does not resend it
    (record,) = [r for r in caplog.records if r.getMessage().startswith("dropped a Socket Mode request")]
    assert field in record.getMessage()
    assert "UASKER" not in record.getMessage()  # names fields, never values


def test_socket_mode_needs_its_app_token(handler: tuple[CheckedSocketModeHandler, Runtime]) -> None:
    from bot.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="SLACK_APP_TOKEN"):
        socket_mode_handler(handler[1], Settings(slack_bot_token="xoxb-1"))  # type: ignore[call-arg]
