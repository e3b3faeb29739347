"""Reading request bodies within limits: size while streaming, strict UTF-8, JSON nesting depth.

Each failure is a ``RequestRefused`` carrying the HTTP status and a message for the caller, so
the handlers answer every malformed body with a clear 4xx and never reach a traceback.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect
from starlette.types import Receive

# Up to this size a body is checked on the event loop: tens of microseconds, bounded by the size,
# and cheaper than the thread hop, which under load waits on the GIL (server-side ack p99 2 ms
# inline against 20-100 ms with the hop, bench/bench_slack_ack.py). Larger bodies go to a thread.
INLINE_BYTES = 8 * 1024


class RequestRefused(Exception):
    """A request the edge will not handle: ``status`` (4xx) and a message saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def read_capped(receive: Receive, length: str, limit: int) -> bytes:
    """The body from the ASGI ``receive``, refused with 413 once it exceeds ``limit`` (``length``,
    the declared Content-Length, or streamed, chunked or not)."""
    too_large = RequestRefused(413, f"request body larger than {limit} bytes")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def media_type(content_type: str) -> str:
    """The media type of a Content-Type header's value, without its parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestRefused(400, f"request body is not UTF-8 (invalid byte at offset {exc.start})") from None


def parse_json(text: str, max_depth: int, what: str = "request body") -> Any:
    """``text`` as JSON nested at most ``max_depth`` levels deep."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestRefused(
            400, f"{what} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:  # the decoder's own guard, far past any sane depth
        raise RequestRefused(400, f"{what} is nested deeper than {max_depth} levels") from None
    if _deeper_than(value, max_depth):
        raise RequestRefused(400, f"{what} is nested deeper than {max_depth} levels")
    return value


def parse_form(text: str, max_fields: int = 64) -> dict[str, str]:
    """A form-encoded body (the last value of a repeated field wins, as in Slack's own SDKs)."""
    try:
        return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=max_fields))
    except ValueError as exc:
        raise RequestRefused(400, f"request body is not a valid form: {exc}") from None


def encoded_form(text: str, max_fields: int = 64) -> dict[str, str] | None:
    """A form's fields with their values still percent-encoded: one split per field, enough to
    tell which fields are present and non-empty (decoding never empties a value, and every value
    is a string either way), about a tenth of ``parse_form``'s cost. None when a name would need
    decoding, a field has no ``=`` or there are too many: ``parse_form`` decides (and words the
    error)."""
    pairs = text.split("&")
    if len(pairs) > max_fields:
        return None
    fields = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or "%" in name or "+" in name:
            return None
        fields[name] = value
    return fields


def _deeper_than(value: Any, limit: int) -> bool:
    """Level by level, containers only: linear in the containers, without recursion."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node if isinstance(node, list) else ())
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return bool(level)
