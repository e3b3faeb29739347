"""Record and replay Prometheus HTTP exchanges.

The demo runs without a Prometheus binary by replaying responses that a test recorded against a
real Prometheus; the same test checks that the recording is still what Prometheus answers.
Requests are keyed by path and query parameters (minus the per-call ``timeout``).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

from bot.domain.errors import SourceUnavailable

_IGNORED_PARAMS = {"timeout"}


def request_key(url: str, body: str | bytes | None = None) -> str:
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    if body:
        text = body.decode() if isinstance(body, bytes) else body
        params += parse_qsl(text, keep_blank_values=True)
    kept = sorted((k, v) for k, v in params if k not in _IGNORED_PARAMS)
    return parts.path + "?" + "&".join(f"{k}={v}" for k, v in kept)


def _response(request: requests.PreparedRequest, status: int, body: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.headers["Content-Type"] = "application/json"
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


class RecordingAdapter(HTTPAdapter):
    """Passes requests to the real server and keeps every exchange."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().send(request, *args, **kwargs)
        key = request_key(request.url or "", request.body)
        with self._lock:
            self.exchanges[key] = {"status": response.status_code, "body": response.text}
        return response

    def save(self, path: Path) -> None:
        """Write the exchanges as JSON, gzip-compressed when the name ends in .gz."""
        ordered = dict(sorted(self.exchanges.items()))
        text = json.dumps(ordered, indent=1, sort_keys=True) + "\n"
        if path.suffix == ".gz":
            # mtime=0 keeps the file byte-identical when the answers have not changed
            with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
                out.write(text.encode())
        else:
            path.write_text(text)


class ReplayAdapter(BaseAdapter):
    """Answers from a recording; an unrecorded request is a clear error, never a guess."""

    def __init__(self, exchanges: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__()
        self.exchanges = exchanges

    @classmethod
    def load(cls, path: Path) -> ReplayAdapter:
        raw = path.read_bytes()
        return cls(json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw))

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        key = request_key(request.url or "", request.body)
        exchange = self.exchanges.get(key)
        if exchange is None:
            raise SourceUnavailable(
                f"the recorded Prometheus answers hold nothing for {key[:160]}; "
                "re-record them with `make record-demo`"
            )
        return _response(request, int(exchange["status"]), str(exchange["body"]))

    def close(self) -> None:
        return None
