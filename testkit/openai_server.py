"""A loopback server that speaks OpenAI's chat.completions wire format and records requests.

It stands in for "any OpenAI-compatible endpoint" (vLLM, Ollama, LiteLLM) in end-to-end tests
of the command line, where cassettes cannot be injected into a separate process.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeOpenAI:
    answer: str
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    # Replies for the first requests, in order: an HTTP status, or tool calls as (name, args).
    script: list[int | list[tuple[str, dict[str, Any]]]] = field(default_factory=list)

    def next_reply(self) -> int | list[tuple[str, dict[str, Any]]]:
        return self.script.pop(0) if self.script else self.status

    def completion(
        self, body: dict[str, Any], tool_calls: list[tuple[str, dict[str, Any]]] | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.answer}
        if tool_calls:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": n, "arguments": json.dumps(a)},
                    }
                    for i, (n, a) in enumerate(tool_calls)
                ],
            }
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_790_000_000,
            "model": body.get("model", "test-model"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
            ],
            "usage": {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876},
        }


@contextlib.contextmanager
def fake_openai(
    answer: str, status: int = 200, script: list[int | list[tuple[str, dict[str, Any]]]] | None = None
) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(answer, status, script=list(script or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
            reply = fake.next_reply()
            status = reply if isinstance(reply, int) else 200
            if status != 200:
                payload = {"error": {"message": "upstream overloaded", "type": "server_error"}}
            else:
                payload = fake.completion(body, reply if isinstance(reply, list) else None)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
