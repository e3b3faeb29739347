"""Socket Mode's envelopes in the request journal (``socket_mode.SocketIntake``): recorded, sealed,
before the acknowledgement; marked done once their work is; replayed at start through the
Socket Mode path, the seal checked again. Real Bolt, real listeners, the mock Web API.

The kill itself (SIGKILL of ``tugboat serve`` over a real WebSocket) is in
tests/jobs/test_socket_crash.py; here a journal closed with work still at work stands for the
dead process's file (its lock is released, its entries stay).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.adapters.slack.journal import HTTP, SEAL, SOCKET_MODE, SlackJournal, unfinished
from bot.adapters.slack.socket_mode import SocketIntake
from bot.settings import Settings
from bot.wiring.serve import Runtime, build_runtime, journal_dir, socket_mode_handler
from testkit import slack_requests as sr
from testkit.gitops import make_remote
from testkit.slack_api import SlackApi, running_slack_api
from tests.slack.conftest import make_settings, scale_investigation

APP_TOKEN = "xapp-1-journal"
MiB = 1024 * 1024


class Socket:
    """The WebSocket's sending side; notes what the journal held when each ack went out."""

    def __init__(self, journal: SlackJournal) -> None:
        self.journal = journal
        self.sent: list[tuple[SocketModeResponse, list[bytes]]] = []
        self.logger = logging.getLogger("socket")

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append((response, [e.body for e in unfinished(self.journal.path)]))


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with running_slack_api() as running:
        yield running


def _settings(api: SlackApi, tmp_path: Path, **overrides: Any) -> Settings:
    remote = make_remote(tmp_path / "git")
    values: dict[str, Any] = {"slack_signing_secret": None, "slack_app_token": APP_TOKEN, **overrides}
    return make_settings(api, tmp_path, remote.work, **values)


def _runtime(settings: Settings, tmp_path: Path) -> Runtime:
    return build_runtime(settings, socket_mode=True, investigate=scale_investigation(tmp_path / "git"))


def _status(api: SlackApi, envelope_id: str = "env-1") -> SocketModeRequest:
    body, _ = sr.command("status", user="UASKER", response_url=api.response_url)
    return SocketModeRequest(
        type="slash_commands", envelope_id=envelope_id, payload=dict(parse_qsl(body.decode()))
    )


def _settled(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


def test_an_envelope_is_journaled_sealed_before_its_ack_and_done_once_its_work_is(
    api: SlackApi, tmp_path: Path
) -> None:
    settings = _settings(api, tmp_path)
    runtime = _runtime(settings, tmp_path)
    assert runtime.journal is not None
    try:
        socket = Socket(runtime.journal)
        socket_mode_handler(runtime, settings).handle(socket, _status(api))  # type: ignore[arg-type]
        [(ack, journaled)] = socket.sent
        assert ack.envelope_id == "env-1" and "Working on" in (ack.payload or {})["text"]
        [envelope] = journaled  # in the journal as the ack went out
        assert json.loads(envelope)["envelope_id"] == "env-1"
        [entry] = unfinished(runtime.journal.path)
        assert entry.transport == SOCKET_MODE and set(entry.headers) == {SEAL}
        assert APP_TOKEN not in entry.headers[SEAL] and APP_TOKEN.encode() not in entry.body
        [reply] = api.wait_for("response_url")
        assert reply.args["text"] == "0 open proposal(s)"
        assert _settled(lambda: runtime.journal is not None and runtime.journal.at_work == 0)
    finally:
        runtime.close()
    assert list(journal_dir(settings).iterdir()) == []


def test_an_envelope_the_journal_cannot_keep_is_left_unacknowledged(
    api: SlackApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(api, tmp_path)
    runtime = _runtime(settings, tmp_path)
    assert runtime.journal is not None
    try:
        for size in (100_000, 1_000, 1):  # to the last few bytes
            while runtime.journal.record({}, b"x" * size) is not None:
                pass
        socket = Socket(runtime.journal)
        socket_mode_handler(runtime, settings).handle(socket, _status(api))  # type: ignore[arg-type]
        assert socket.sent == []  # Slack sends an event again; a command shows as failed
        assert "left a Socket Mode request unacknowledged" in caplog.text
        time.sleep(0.5)
        assert api.of("response_url") == []  # nor acted on
    finally:
        runtime.close()


def _left_by_a_dead_process(
    settings: Settings, api: SlackApi, token: str = APP_TOKEN, *, http: bool = True
) -> None:
    """A journal holding a sealed status command (sealed with ``token``) and an HTTP one, both
    at work, its lock released: what a process killed before their work leaves."""
    dead = SlackJournal(journal_dir(settings), MiB)
    intake = SocketIntake(None, token, max_text_chars=4000, journal=dead)  # type: ignore[arg-type]  # only records
    assert intake.record(_status(api, "env-dead"))
    if http:
        body, headers = sr.command("status", user="UHTTP", response_url=api.response_url)
        signed = {k.lower(): v for k, v in {**headers, **sr.sign(body)}.items()}
        assert dead.record(signed, body, transport=HTTP)
    dead.close()


def test_at_start_a_sealed_envelope_is_replayed_once_and_an_http_request_waits(
    api: SlackApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(api, tmp_path)
    _left_by_a_dead_process(settings, api)
    caplog.set_level(logging.INFO)
    runtime = _runtime(settings, tmp_path)  # Socket Mode, no signing secret: no HTTP path
    try:
        [reply] = api.wait_for("response_url")
        assert reply.args["text"] == "0 open proposal(s)"
        assert "replaying 1 Slack request(s)" in caplog.text
        assert "came over HTTP for a start that takes Slack that way" in caplog.text
        assert runtime.journal is not None
        assert _settled(lambda: runtime.journal is not None and runtime.journal.at_work == 1)
    finally:
        runtime.close()
    [kept] = [e for path in journal_dir(settings).iterdir() for e in unfinished(path)]
    assert kept.transport == HTTP and b"UHTTP" in kept.body  # kept for a start in HTTP mode

    _left_by_a_dead_process(settings, api, http=False)  # and one more envelope, for HTTP mode
    http = build_runtime(
        _settings(
            api,
            tmp_path / "again",
            slack_signing_secret=sr.SECRET,
            slack_journal_dir=str(journal_dir(settings)),
        )
    )
    try:  # HTTP mode, with the app token too: both paths; both requests are answered now
        assert _settled(lambda: len(api.of("response_url")) == 3)
    finally:
        http.close()
    assert len(api.of("response_url")) == 3  # and each once
    assert list(journal_dir(settings).iterdir()) == []


def test_an_envelope_sealed_with_another_token_is_dropped_not_replayed(
    api: SlackApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(api, tmp_path)
    _left_by_a_dead_process(settings, api, token="xapp-someone-else")
    runtime = _runtime(settings, tmp_path)
    try:
        assert "its seal does not verify" in caplog.text
        time.sleep(0.5)
        assert api.of("response_url") == []
    finally:
        runtime.close()
