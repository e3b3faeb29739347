"""A local stand-in for Slack's Socket Mode endpoint: a WebSocket server on 127.0.0.1 speaking
Slack's wire format, for the real ``slack_sdk`` Socket Mode client (and Bolt's handler).

Wiring, as in Slack: the app calls ``apps.connections.open`` with its app token on the Web API
(``testkit.slack_api``, built with ``socket_mode_url=``), which answers with this server's
``ws://`` URL. Each connection is greeted with ``{"type": "hello", ...}``; ``send`` pushes an
envelope ``{envelope_id, type, payload, accepts_response_payload}`` to the newest live
connection, and the client acknowledges with ``{"envelope_id": ..., "payload"?: ...}``, which
``ack`` waits for. Nothing is sent again by itself: a test decides what an unacknowledged
envelope means, and sends Slack's retry of an event (``retry_attempt``) where it would come.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


class SocketModeServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._changed = threading.Condition()
        self._live: list[ServerConnection] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._acked_at: dict[str, float] = {}  # envelope id -> time.perf_counter() of its ack
        self._sent_at: dict[str, float] = {}
        self._ids = itertools.count(1)
        self.connections = 0  # ever opened, counted under the condition
        self._server = serve(self._session, host, 0, ping_interval=None, compression=None)
        self.url = f"ws://{host}:{self._server.socket.getsockname()[1]}/link/?ticket=test"

    # -- test helpers -------------------------------------------------------------------
    def wait_connected(self, count: int = 1, timeout: float = 30.0) -> None:
        """Until ``count`` connections were ever opened, and one is live."""
        self._wait(lambda: self.connections >= count and bool(self._live), timeout, f"{count} connection(s)")

    def wait_live(self, count: int, timeout: float = 30.0) -> None:
        """Until exactly ``count`` connections are live (a killed client's is gone)."""
        self._wait(lambda: len(self._live) == count, timeout, f"{count} live connection(s)")

    def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int | None = None,
    ) -> str:
        """An envelope to the newest live connection; its ``envelope_id``. With
        ``retry_attempt``, Slack's retry of an event (its reason: the ack timed out)."""
        self.wait_connected()
        envelope_id = f"env-{next(self._ids)}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": "timeout"}
        with self._changed:
            connection = self._live[-1]
            self._sent_at[envelope_id] = time.perf_counter()
        connection.send(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """The client's acknowledgement of an envelope (its ``payload``, if any, included)."""
        self._wait(lambda: envelope_id in self._acks, timeout, f"the ack of {envelope_id}")
        with self._changed:
            return self._acks[envelope_id]

    def latency(self, envelope_id: str, timeout: float = 20.0) -> float:
        """Seconds from just before the envelope was sent to its ack's arrival (benchmarks)."""
        self.ack(envelope_id, timeout)
        with self._changed:
            return self._acked_at[envelope_id] - self._sent_at[envelope_id]

    # -- the server ---------------------------------------------------------------------
    def _session(self, connection: ServerConnection) -> None:
        hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}
        connection.send(json.dumps(hello))
        with self._changed:
            self._live.append(connection)
            self.connections += 1
            self._changed.notify_all()
        try:
            for message in connection:
                answer = json.loads(message)
                if isinstance(answer, dict) and "envelope_id" in answer:
                    with self._changed:
                        self._acked_at[str(answer["envelope_id"])] = time.perf_counter()
                        self._acks[str(answer["envelope_id"])] = answer
                        self._changed.notify_all()
        except ConnectionClosed:  # a killed client: its acks end here
            pass
        finally:
            with self._changed:
                self._live.remove(connection)
                self._changed.notify_all()

    def _wait(self, done: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what} on the Socket Mode server")
                self._changed.wait(left)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        self._server.shutdown()


@contextmanager
def running_socket_mode() -> Iterator[SocketModeServer]:
    """A Socket Mode server on a free loopback port (``server.url``), stopped on exit."""
    server = SocketModeServer()
    thread = threading.Thread(target=server.serve_forever, name="mock-socket-mode", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
