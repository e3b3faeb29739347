"""Loopback servers that are slow on purpose: one that accepts connections and never answers,
and one that answers one byte at a time. They test deadlines against real sockets."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class SlowServer:
    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


def _read_request(conn: socket.socket) -> bytes:
    """The request head and body (by Content-Length), or what arrived before the peer stopped."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextlib.contextmanager
def _serving(handle: Callable[[socket.socket, SlowServer, threading.Event], None]) -> Iterator[SlowServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    server = SlowServer(url=f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            server.connections += 1
            held.append(conn)
            threading.Thread(target=handle, args=(conn, server, stop), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        listener.close()
        for conn in held:
            with contextlib.suppress(OSError):
                conn.close()


@contextlib.contextmanager
def hanging_server() -> Iterator[SlowServer]:
    """Accepts every connection, reads the request, and never sends a byte back."""

    def handle(conn: socket.socket, server: SlowServer, stop: threading.Event) -> None:
        with contextlib.suppress(OSError):
            server.requests.append(_read_request(conn))
            stop.wait()

    with _serving(handle) as server:
        yield server


@contextlib.contextmanager
def dripping_server(body: Callable[[bytes], bytes], interval_s: float = 2.0) -> Iterator[SlowServer]:
    """Answers 200 with a JSON body built from the request (``body(request)``), sending the
    headers at once and then one byte of the body every ``interval_s``."""

    def handle(conn: socket.socket, server: SlowServer, stop: threading.Event) -> None:
        with contextlib.suppress(OSError):
            request = _read_request(conn)
            server.requests.append(request)
            payload = body(request)
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            )
            conn.sendall(head.encode())
            for i in range(len(payload)):
                if stop.wait(interval_s):
                    return
                conn.sendall(payload[i : i + 1])

    with _serving(handle) as server:
        yield server


def elapsed(since: float) -> float:
    return time.monotonic() - since
