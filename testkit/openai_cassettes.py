"""vcrpy harness for OpenAI's wire format, shared by tests/llm and bench/.

Without OPENAI_API_KEY the cassettes in tests/cassettes/openai/ are replayed (record mode
"none": an unexpected request fails the test). With it, cassettes marked re-recordable are
recorded again against the real endpoint (record mode "all"); error cassettes (429, 500) are
always replayed. Credentials never reach a cassette: Authorization and the OpenAI organisation
and project headers are filtered, and every request body the client sent is kept for the
tests' leak checks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import vcr

CASSETTES = Path(__file__).resolve().parent.parent / "tests" / "cassettes" / "openai"
FILTERED_HEADERS = [
    "authorization",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
    "api-key",
]
REAL_KEY = os.environ.get("OPENAI_API_KEY")
# Cassettes whose model behaviour is scripted (a 429, a tool the model must call, a cap it must
# hit) are always replayed; only plain explanations are re-recorded against a real endpoint.
REPLAYING = not REAL_KEY


@dataclass
class Recording:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def sent_text(self) -> str:
        return "\n".join(self.raw)


@contextmanager
def openai_cassette(name: str, *, rerecordable: bool = True) -> Iterator[Recording]:
    recording = Recording()
    real_send = httpx.Client.send

    def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        # What the client really sent (vcrpy's hooks also see the cassette's stored requests).
        body = request.read().decode()
        recording.raw.append(body)
        recording.bodies.append(json.loads(body))
        recording.headers.append({k.lower(): v for k, v in request.headers.items()})
        return real_send(client, request, **kwargs)

    mode = "all" if REAL_KEY and rerecordable else "none"
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=mode,
        filter_headers=FILTERED_HEADERS,
        match_on=["method", "scheme", "host", "port", "path"],
        decode_compressed_response=True,
    )
    with recorder.use_cassette(f"{name}.yaml"), patch.object(httpx.Client, "send", send):
        yield recording
