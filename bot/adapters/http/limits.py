"""Reading request bodies within limits: size while streaming, strict UTF-8, JSON nesting depth.

Each failure is a ``RequestRefused`` carrying the HTTP status and a message for the caller, so
the handlers answer every malformed body with a clear 4xx and never reach a traceback.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

# Up to this size a body is checked on the event loop: tens of microseconds, bounded by the size,
# and cheaper than the thread hop, which under load waits on the GIL (server-side ack p99 2 ms
# inline against 20-100 ms with the hop, bench/bench_slack_ack.py). Larger bodies go to a thread.
INLINE_BYTES = 8 * 1024


class RequestRefused(Exception):
    """A request the edge will not handle: ``status`` (4xx) and a message saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it exceeds ``limit`` (declared or streamed, chunked or not)."""
    too_large = RequestRefused(413, f"request body larger than {limit} bytes")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


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
