"""Socket Mode's orderly shutdown (``CheckedSocketModeHandler.close``): the intake stops taking
envelopes, those it took are dispatched and acknowledged before the connection closes, and the
listener pool drains after; an envelope whose work the closed pool refused stays journaled.
Real Bolt, real listeners, the mock Web API; the WebSocket's sending side is a stand-in that holds
one acknowledgement until the test lets it go, so an envelope is caught mid-handling."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.adapters.slack.journal import unfinished
from bot.wiring.serve import journal_dir, socket_mode_handler
from testkit.slack_api import SlackApi, running_slack_api
from tests.slack.test_socket_journal import _runtime, _settings, _settled, _status


class HeldSocket:
    """Acknowledgements sent over the WebSocket; the one for ``held`` waits for ``release``."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.sent: list[str] = []
        self.arrived, self.release = threading.Event(), threading.Event()

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        if response.envelope_id == self.held:
            self.arrived.set()
            assert self.release.wait(30)
        self.sent.append(response.envelope_id)


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with running_slack_api() as running:
        yield running


def _in_thread(fn: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


def test_shutdown_takes_no_new_envelope_and_finishes_those_taken(api: SlackApi, tmp_path: Path) -> None:
    settings = _settings(api, tmp_path)
    runtime = _runtime(settings, tmp_path)
    assert runtime.socket is not None and runtime.journal is not None
    handler = socket_mode_handler(runtime, settings)
    socket = HeldSocket("env-1")
    try:
        taken = _in_thread(handler.handle, socket, _status(api, "env-1"))
        assert socket.arrived.wait(30)  # dispatched, its ack on its way
        closing = _in_thread(handler.close)
        assert _settled(lambda: runtime.socket is not None and runtime.socket.closing)
        handler.handle(socket, _status(api, "env-2"))  # type: ignore[arg-type]
        assert socket.sent == []  # left unacknowledged: Slack sends it elsewhere
        assert [b"env-2" in e.body for e in unfinished(runtime.journal.path)] == [False]  # nor journaled
        assert closing.is_alive()  # waiting for the envelope it took
        socket.release.set()
        taken.join(30)
        closing.join(30)
        assert not closing.is_alive() and socket.sent == ["env-1"]
    finally:
        socket.release.set()
        runtime.close()  # the pool drains: env-1's work is done, and marked so
    [reply] = api.of("response_url")
    assert reply.args["text"] == "0 open proposal(s)"
    assert list(journal_dir(settings).iterdir()) == []


def test_an_envelope_whose_work_the_closed_pool_refused_stays_journaled(
    api: SlackApi, tmp_path: Path
) -> None:
    settings = _settings(api, tmp_path)
    runtime = _runtime(settings, tmp_path)
    assert runtime.socket is not None and runtime.journal is not None
    try:
        runtime.executor.shutdown(wait=True)  # as if the pool closed under an envelope mid-handling
        request = _status(api, "env-late")
        entry = runtime.socket.record(request)
        assert entry
        runtime.socket.dispatch(request, entry)
        assert runtime.journal.at_work == 1  # not marked done: its work never ran
    finally:
        runtime.close()
    assert api.of("response_url") == []
    [left] = [e for path in journal_dir(settings).iterdir() for e in unfinished(path)]
    assert b"env-late" in left.body  # for the next start to replay
