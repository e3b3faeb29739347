"""HTTP clients whose timeout bounds the whole request, not each wait.

``requests`` and ``httpx`` apply a timeout to connecting and to each read, so a server that
sends one byte every few seconds holds a call for as long as it likes. These adapters make the
timeout a total: connecting, waiting for the answer and reading all of it. They are mounted on
the clients of Prometheus and Loki (``requests``) and of the model endpoint (``httpx``).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from bot.domain.deadline import Deadline

CHUNK = 64 * 1024
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def connection_failure(exc: BaseException) -> str:
    """Why a connection failed, in a few words: ``connection refused``, not urllib3's wrappers."""
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "the host name does not resolve"
    errno = _ERRNO.search(text)
    if errno:
        return errno.group(1).strip().lower()
    return text[:300] or type(exc).__name__


class TotalTimeoutAdapter(HTTPAdapter):
    """A ``requests`` transport that reads the ``timeout`` of a call as its total time limit.

    A timeout that runs out while the answer is still arriving raises ``requests.ReadTimeout``,
    as a server that never answered does; retries are the caller's, within its own budget.
    """

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        total = max(timeout) if isinstance(timeout, tuple) else timeout
        if total is None:
            return super().send(request, stream, timeout, verify, cert, proxies)
        deadline = Deadline(total, "one request")
        response = super().send(request, True, total, verify, cert, proxies)
        if stream:
            return response
        try:
            response._content = _read_all(response, deadline)
        except ReadTimeoutError:
            response.close()
            raise requests.ReadTimeout(f"no complete answer within {total:g}s", request=request) from None
        except ProtocolError as exc:
            response.close()
            raise requests.ConnectionError(exc, request=request) from None
        return response


def _read_all(response: requests.Response, deadline: Deadline) -> bytes:
    raw = response.raw
    sock = _socket(raw)
    chunks: list[bytes] = []
    raw.decode_content = True  # as requests does when it reads a body (gzip is common)
    while True:
        left = deadline.remaining()
        if left <= 0:
            raise ReadTimeoutError(None, response.url, "deadline")  # type: ignore[arg-type]
        if sock is not None:
            sock.settimeout(left)  # each wait ends with the budget, not after a full timeout
        try:
            chunk = raw.read1(CHUNK)  # one read: a drip cannot hold it past the budget
        except TimeoutError:
            raise ReadTimeoutError(None, response.url, "deadline") from None  # type: ignore[arg-type]
        if not chunk:
            break
        chunks.append(chunk)
    raw.release_conn()
    return b"".join(chunks)


def _socket(raw: Any) -> socket.socket | None:
    """The connection's socket, when urllib3 exposes it (it does for plain HTTP and TLS)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    return sock if isinstance(sock, socket.socket) else None


class TotalTimeoutTransport(httpx.BaseTransport):
    """An ``httpx`` transport under one deadline: every request it sends, retries included,
    waits at most what is left of it, and a body still arriving when it ends is cut off with
    ``httpx.ReadTimeout``."""

    def __init__(self, deadline: Deadline, inner: httpx.BaseTransport | None = None) -> None:
        self.deadline = deadline
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        left = self.deadline.remaining()
        if left <= 0:
            raise httpx.ConnectTimeout(f"{self.deadline.describe()} is spent", request=request)
        waits = dict(request.extensions.get("timeout") or {})
        request.extensions["timeout"] = {
            k: left if waits.get(k) is None else min(float(waits[k]), left)
            for k in ("connect", "read", "write", "pool")
        }
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_BoundedStream(response.stream, self.deadline, request),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


class _BoundedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, deadline: Deadline, request: httpx.Request) -> None:
        self._inner, self._deadline, self._request = inner, deadline, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if self._deadline.expired:
                raise httpx.ReadTimeout(
                    f"{self._deadline.describe()} ran out mid-answer", request=self._request
                )
            yield chunk

    def close(self) -> None:
        self._inner.close()
