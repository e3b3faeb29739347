"""``tugboat serve --http`` as a real process on a free loopback port, its log in a file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support import slack_requests as sr
from tests.support.promserver import free_port


@dataclass
class ServeProcess:
    base: str
    proc: subprocess.Popen[str]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def serve_http(tmp: Path, slack_api_url: str, channel: str, **env: str) -> Iterator[ServeProcess]:
    """Yields once ``/readyz`` answers 200; SIGTERM on exit (uvicorn drains, then exits)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TUGBOAT_"))}
    environ.update(
        SLACK_BOT_TOKEN="xoxb-proc",
        SLACK_SIGNING_SECRET=sr.SECRET,
        TUGBOAT_SLACK_API_URL=slack_api_url,
        TUGBOAT_SLACK_CHANNEL=channel,
        TUGBOAT_DATABASE_URL=f"sqlite:///{tmp / 'tugboat.db'}",
        TUGBOAT_LLM_ENABLED="false",
        **env,
    )
    exe = Path(sys.executable).parent / "tugboat"
    log = tmp / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [str(exe), "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
            env=environ,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            text=True,
        )
    served = ServeProcess(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(served.base + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, f"tugboat serve exited: {served.logs()[-2000:]}"
            assert time.monotonic() < deadline, "tugboat serve did not become ready in 60 s"
            time.sleep(0.2)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
