"""A local stand-in for Slack's Web API: a threaded HTTP server on 127.0.0.1 that records calls.

It answers in Slack's wire format (``{"ok": true, ...}``) for the methods Tugboat uses, like the
mock Web API server in slack-bolt-python's own test suite, so the real ``slack_sdk.WebClient``
(and Bolt) talk to it over HTTP; posts to ``response_url`` are recorded as "response_url" calls.
``fail_next(method, 429, retry_after=0)`` makes the next call to a method answer with a rate
limit, to exercise the client's retry handler (``error=`` another of Slack's error codes, such as
``message_not_found`` with status 200, as Slack answers it); ``fail_always`` makes every call fail
(``"upload"`` is the file upload URL), and ``slow`` delays a method's answer after the call is
recorded, as a post that reached Slack before its sender died would; ``stall`` holds a method's
calls before they count, so a test can kill their sender first (they are then never seen, as a
call that never left). Messages keep their
``metadata``; ``conversations.history`` and ``conversations.replies`` return it when asked with
``include_all_metadata``. ``apps.connections.open`` (with an app token) answers the URL of a
Socket Mode server (``testkit.socket_mode``) when the API was built with one.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_USER = "UTUGBOAT"


@dataclass
class Call:
    method: str  # e.g. "chat.postMessage", or "upload" for the file upload URL
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)


class SlackApi:
    def __init__(self, socket_mode_url: str = "") -> None:
        """``socket_mode_url``: what ``apps.connections.open`` answers (``testkit.socket_mode``)."""
        self.socket_mode_url = socket_mode_url
        self.calls: list[Call] = []
        self.replies: dict[str, list[dict[str, Any]]] = {}  # thread ts -> messages
        self.group_members: dict[str, list[str]] = {}
        self.channels: dict[str, list[dict[str, Any]]] = {}  # channel -> its top-level messages
        self._failures: dict[str, list[tuple[int, int, str]]] = {}
        self._holds: dict[str, threading.Event] = {}
        self._stalls: dict[str, threading.Event] = {}
        self._always: dict[str, int] = {}
        self._delays: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._filenames: dict[str, str] = {}  # file id -> the name it was uploaded with
        self._last_ts = 0.0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.base_url = ""

    # -- test helpers -------------------------------------------------------------------
    @property
    def response_url(self) -> str:
        """Where a slash command's ephemeral follow-ups go (``Call.method`` "response_url")."""
        return self.base_url.replace("/api/", "/respond/") + "T1/B1/command"

    def fail_next(
        self, method: str, status: int = 429, retry_after: int = 0, error: str = "ratelimited"
    ) -> None:
        with self._lock:
            self._failures.setdefault(method, []).append((status, retry_after, error))

    def hold(self, method: str) -> threading.Event:
        """Calls of ``method`` are recorded on arrival but answered only once the event is set
        (only "response_url" for now)."""
        with self._lock:
            return self._holds.setdefault(method, threading.Event())

    def stall(self, method: str) -> threading.Event:
        """Calls of ``method`` (a Web API method or "response_url") wait before they count, until
        the returned event is set; each is recorded as ``method:stalled`` on arrival. A call whose
        sender died meanwhile (its connection closed) is then recorded only as ``method:dropped``,
        never as a call: Slack never acted on it. The rest go on as usual."""
        with self._lock:
            return self._stalls.setdefault(method, threading.Event())

    def _stalled(self, method: str, connection: socket.socket) -> bool:
        """Wait out a stall of ``method``; True when the caller is gone (the call is dropped)."""
        with self._changed:
            released = self._stalls.get(method)
            if released is None or released.is_set():
                return False
            self.calls.append(Call(method + ":stalled", {}, None))
            self._changed.notify_all()
        released.wait(60)
        gone = _peer_gone(connection)
        if gone:
            with self._changed:
                self.calls.append(Call(method + ":dropped", {}, None))
                self._changed.notify_all()
        return gone

    def fail_always(self, method: str, status: int = 500) -> None:
        with self._lock:
            self._always[method] = status

    def slow(self, method: str, seconds: float) -> None:
        with self._lock:
            self._delays[method] = seconds

    def delay(self, method: str) -> float:
        with self._lock:
            return self._delays.get(method, 0.0)

    def always_failing(self, method: str) -> int | None:
        with self._lock:
            return self._always.get(method)

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 20.0, **match: Any) -> list[Call]:
        """Block until ``count`` calls of ``method`` (whose args contain ``match``) were made."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [
                    c
                    for c in self.calls
                    if c.method == method and all(c.args.get(k) == v for k, v in match.items())
                ]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({c.method for c in self.calls})
                    raise AssertionError(f"{count}x {method} {match} not seen in {timeout}s; saw {seen}")
                self._changed.wait(left)

    # -- the API ------------------------------------------------------------------------
    def handle(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict]:
        with self._changed:
            failures = self._failures.get(method)
            if failures or method in self._always:
                status, retry_after, error = (
                    failures.pop(0) if failures else (self._always[method], 0, "ratelimited")
                )
                self.calls.append(Call(method + ":failed", args, token))
                self._changed.notify_all()
                return status, {"ok": False, "error": error}, {"Retry-After": str(retry_after)}
            self.calls.append(Call(method, args, token))
            self._changed.notify_all()
            # As in Slack: the app-level token opens Socket Mode connections, the bot token the rest.
            wanted = "xapp-" if method == "apps.connections.open" else "xoxb-"
            if not token or not token.startswith(wanted):
                return 200, {"ok": False, "error": "not_authed"}, {}
            return 200, self._answer(method, args), {}

    def _next_ts(self) -> str:
        """Like Slack's: the time of posting, unique in the channel (called under the lock)."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _append(self, channel: str, thread_ts: str | None, message: dict[str, Any]) -> None:
        """A new message, in its thread or at the channel's top level (called under the lock)."""
        if thread_ts:
            self.replies.setdefault(str(thread_ts), []).append(message)
        else:
            self.replies.setdefault(message["ts"], []).append(message)
            self.channels.setdefault(channel, []).append(message)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if method == "apps.connections.open" and self.socket_mode_url:
            return {**ok, "url": self.socket_mode_url}
        if method == "auth.test":
            return {**ok, "user_id": BOT_USER, "bot_id": "BTUGBOAT", "team_id": "T1", "user": "tugboat"}
        if method == "chat.postMessage":
            ts = self._next_ts()
            message = {"ts": ts, "text": args.get("text", ""), "bot_id": "BTUGBOAT", "user": BOT_USER}
            metadata = args.get("metadata")
            if metadata:
                message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
            self._append(str(args.get("channel")), args.get("thread_ts"), message)
            return {**ok, "channel": args.get("channel"), "ts": ts, "message": message}
        if method == "chat.update":
            return {**ok, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {**ok, "message_ts": f"{1_700_000_000 + next(self._ts)}.000200"}
        if method == "conversations.replies":
            found = self.replies.get(str(args.get("ts")), [])
            return {**ok, "messages": _listed(found, args, newest_first=False), "has_more": False}
        if method == "conversations.history":
            found = self.channels.get(str(args.get("channel")), [])
            return {**ok, "messages": _listed(found, args, newest_first=True), "has_more": False}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts)}"
            self._filenames[file_id] = str(args.get("filename", ""))
            return {
                **ok,
                "file_id": file_id,
                "upload_url": self.base_url.replace("/api/", "/upload/") + file_id,
            }
        if method == "files.completeUploadExternal":
            files = json.loads(args.get("files") or "[]")
            shared = [
                {"id": f["id"], "name": self._filenames.get(f["id"], ""), "title": f.get("title")}
                for f in files
            ]
            if args.get("channel_id"):  # shared: a message with the files appears, as in Slack
                text = str(args.get("initial_comment", ""))
                message = {"ts": self._next_ts(), "text": text, "bot_id": "BTUGBOAT", "user": BOT_USER}
                self._append(str(args["channel_id"]), args.get("thread_ts"), {**message, "files": shared})
            return {**ok, "files": [{"id": f["id"], "title": f["title"]} for f in shared]}
        if method == "views.open":
            return {**ok, "view": {"id": "V1"}}
        if method == "users.info":
            return {**ok, "user": {"id": args.get("user"), "name": "someone", "tz": "UTC"}}
        if method == "usergroups.users.list":
            return {**ok, "users": self.group_members.get(str(args.get("usergroup")), [])}
        return {"ok": False, "error": "unknown_method"}


def _listed(
    messages: list[dict[str, Any]], args: dict[str, Any], *, newest_first: bool
) -> list[dict[str, Any]]:
    """Messages from ``oldest`` on, as Slack lists them; metadata only when asked for."""
    oldest = float(args.get("oldest") or 0)
    with_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
    shown = [
        m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
        for m in messages
        if float(m["ts"]) >= oldest
    ]
    return list(reversed(shown)) if newest_first else shown


def _peer_gone(connection: socket.socket) -> bool:
    """Whether the other end closed the connection (a killed process's sockets are closed)."""
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _handler(api: SlackApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:  # the client died mid-request (a killed replica): Slack never sees it
                self.close_connection = True
                return
            self._serve(body)

        def _serve(self, body: bytes) -> None:
            url = urlparse(self.path)
            path = url.path.rstrip("/")
            if path.startswith("/upload/"):
                status = api.always_failing("upload")
                if status is not None:
                    with api._changed:
                        api.calls.append(Call("upload:failed", {"file_id": path.rsplit("/", 1)[1]}, None))
                        api._changed.notify_all()
                    self._send(status, b"upload failed", {"Content-Type": "text/plain"})
                    return
                with api._changed:
                    api.calls.append(
                        Call(
                            "upload",
                            {
                                "file_id": path.rsplit("/", 1)[1],
                                "size": len(body),
                                "content": body.decode("utf-8", errors="replace"),
                            },
                            None,
                        )
                    )
                    api._changed.notify_all()
                self._send(200, b"OK - uploaded", {"Content-Type": "text/plain"})
                return
            method = "response_url" if path.startswith("/respond/") else path.rsplit("/", 1)[-1]
            if api._stalled(method, self.connection):
                self.close_connection = True
                return
            if path.startswith("/respond/"):  # a command's response_url (JSON, no token)
                with api._changed:
                    api.calls.append(Call("response_url", json.loads(body or b"{}"), None))
                    api._changed.notify_all()
                    held = api._holds.get("response_url")
                if held is not None:
                    held.wait(30)
                self._send(200, b"ok", {"Content-Type": "text/html"})
                return
            args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
            kind = self.headers.get("Content-Type", "")
            if body and "json" in kind:
                args.update(json.loads(body))
            elif body:
                args.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
            for key in ("blocks", "view"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
            status, payload, headers = api.handle(method, args, token)
            pause = api.delay(method)
            if pause:  # recorded (posted), but the answer comes late
                time.sleep(pause)
            self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers})

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def running_slack_api(socket_mode_url: str = "") -> Iterator[SlackApi]:
    """A mock Slack Web API on a free loopback port; ``api.base_url`` ends with a slash."""
    api = SlackApi(socket_mode_url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    thread = threading.Thread(target=server.serve_forever, name="mock-slack-api", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":  # a standalone mock for benchmarks: prints its base URL, serves until killed
    import signal
    import sys

    # An optional argument: the Socket Mode URL apps.connections.open answers.
    with running_slack_api(sys.argv[1] if len(sys.argv) > 1 else "") as standalone:
        print(standalone.base_url, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        sys.exit(0)
