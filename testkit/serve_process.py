"""``tugboat serve`` (``--http``, or in Socket Mode) as a real process (uvicorn, Bolt, the job
worker) on a free loopback port, for tests that kill it, run two of it, or drive it hard. Its
output goes to a log file shown on failure."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from testkit import slack_requests
from testkit.asgi_server import _free_port


class Replica:
    """One ``tugboat serve`` process: ``--http``, or in Socket Mode (``env`` then holds an app
    token, ``SLACK_APP_TOKEN``)."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path, *, socket_mode: bool = False) -> None:
        self.name, self.port, self.socket_mode = name, _free_port(), socket_mode
        self.log = workdir / f"{name}.log"
        args = [
            sys.executable,
            "-m",
            "bot",
            "serve",
            *([] if socket_mode else ["--http"]),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} never became ready: {self.log.read_text()[-3000:]}")

    def slack(self, made: tuple[bytes, dict[str, str]]) -> requests.Response:
        body, headers = made
        headers = {**headers, **slack_requests.sign(body)}
        return requests.post(self.url + "/slack/events", data=body, headers=headers, timeout=10)

    def alert(self, payload: dict[str, Any]) -> requests.Response:
        return requests.post(self.url + "/alerts/alertmanager", json=payload, timeout=10)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wait_until(condition: Callable[[], Any], timeout: float, what: str, replicas: list[Replica]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    logs = "\n".join(f"--- {r.name}\n{r.log.read_text()[-2000:]}" for r in replicas)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@dataclass
class ServeProcess:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def serve_env(slack_api_url: str, channel: str, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a ``serve`` process under test: this one's, less any Tugboat, Slack or
    GitHub settings, plus the mock Slack API, a channel, a database, no model, no anomaly watch
    (every 10 minutes, so it would run at start and query the test's Prometheus) and ``settings``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TUGBOAT_", "SLACK_", "GITHUB_"))},
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": slack_requests.SECRET,
        "TUGBOAT_SLACK_API_URL": slack_api_url,
        "TUGBOAT_SLACK_CHANNEL": channel,
        "TUGBOAT_DATABASE_URL": database_url,
        "TUGBOAT_LLM_ENABLED": "false",
        "TUGBOAT_LOG_JSON": "false",
        "TUGBOAT_ANOMALY_CRON": "",
        **settings,
    }


@contextlib.contextmanager
def serve_http(tmp: Path, slack_api_url: str, channel: str, **env: str) -> Iterator[ServeProcess]:
    """One process on SQLite with the mock Slack API; yields once ``/readyz`` answers 200, and
    stops it with SIGTERM (uvicorn drains, then exits)."""
    environ = serve_env(slack_api_url, channel, f"sqlite:///{tmp / 'tugboat.db'}", **env)
    replica = Replica("serve", environ, tmp)
    try:
        replica.wait_ready()
        yield ServeProcess(replica.url, replica.proc, replica.log)
    finally:
        replica.stop()
