"""Loopback HTTP servers in other services' wire formats, for the doctor tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from testkit.promserver import free_port

Answer = tuple[int, dict[str, str], Any]
Routes = dict[str, Callable[[], Answer]]


@contextmanager
def serving(routes: Routes, seen: list[dict[str, str]] | None = None) -> Iterator[str]:
    """A threaded HTTP server on loopback answering ``routes`` (path -> status, headers, JSON);
    each request's headers are appended to ``seen`` before its route answers."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer()

        def _answer(self) -> None:
            if seen is not None:
                seen.append(dict(self.headers))
            route = routes.get(self.path.split("?")[0])
            status, headers, body = route() if route else (404, {}, {"message": "Not Found"})
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def unreachable() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there
