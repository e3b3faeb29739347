"""Acknowledgement latency of ``tugboat serve`` in Socket Mode: rounds of 50 slash-command
envelopes sent over the WebSocket at once, each journaled before its ack.

The Socket Mode server (``testkit.socket_mode``) runs in this process and is the load generator:
it sends each round's envelopes back to back on the one connection, as Slack does, and times
each from just before it is sent to its ``{envelope_id}`` ack arriving. The mock Web API (which
hands out the WebSocket URL) and the real server are subprocesses. Slack's deadline for the ack
is 3 seconds; over HTTP the same commands are measured by bench_slack_ack.py.

    .venv/bin/python bench/bench_socket_ack.py [--rounds 10] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import wait_ready  # noqa: E402
from testkit import slack_requests as sr  # noqa: E402
from testkit.promserver import free_port  # noqa: E402
from testkit.socket_mode import SocketModeServer, running_socket_mode  # noqa: E402


def _payloads(n: int, response_url: str) -> list[dict[str, str]]:
    """The mix bench_slack_ack.py sends: help, `status` (a database read and a response_url post
    after the ack), a usage error, an unknown command; each its own trigger id."""
    texts = ["help", "status", "scale checkout lots", "frobnicate"]
    made = [sr.command(texts[i % len(texts)], user=f"U{i}", response_url=response_url) for i in range(n)]
    return [dict(parse_qsl(body.decode())) for body, _ in made]


def _round(socket: SocketModeServer, payloads: list[dict[str, str]]) -> list[float]:
    sent = [socket.send("slash_commands", payload, accepts_response_payload=True) for payload in payloads]
    return [socket.latency(envelope_id) for envelope_id in sent]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-socket-") as tmp:
        socket = stack.enter_context(running_socket_mode())
        mock = subprocess.Popen(
            [sys.executable, "-m", "testkit.slack_api", socket.url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        stack.callback(mock.wait, 30)
        stack.callback(mock.terminate)
        assert mock.stdout is not None
        api_url = mock.stdout.readline().strip()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TUGBOAT_", "SLACK_"))},
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_APP_TOKEN": "xapp-bench",
            "TUGBOAT_SLACK_API_URL": api_url,
            "TUGBOAT_SLACK_CHANNEL": "CBENCH",
            "TUGBOAT_DATABASE_URL": f"sqlite:///{tmp}/tugboat.db",
            "TUGBOAT_LLM_ENABLED": "false",
            "TUGBOAT_LOG_LEVEL": "WARNING",
            "TUGBOAT_CONFIG": f"{tmp}/none.yaml",
        }
        exe = str(Path(sys.executable).parent / "tugboat")
        command = [exe, "serve", "--host", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready(f"http://127.0.0.1:{port}", proc)
            socket.wait_connected()
            respond = api_url.replace("/api/", "/respond/") + "bench"
            for _ in range(2):  # warm up
                _round(socket, _payloads(args.concurrency, respond))
            rounds = []
            for _ in range(args.rounds):
                time.sleep(0.3)  # the previous round's work after the ack runs meanwhile
                rounds.append(_round(socket, _payloads(args.concurrency, respond)))
        finally:
            proc.terminate()
            proc.wait(30)
    _report(args, rounds)


def _report(args: argparse.Namespace, rounds: list[list[float]]) -> None:
    print(
        f"socket mode ack latency: {args.rounds} rounds of {args.concurrency} command envelopes, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    ms = sorted(x * 1000 for r in rounds for x in r)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    typical = statistics.median(max(r) for r in rounds) * 1000
    print(
        f"{'tugboat serve (socket)':<24} p50 {statistics.median(ms):6.1f} ms   p99 {p99:7.1f} ms   "
        f"max {ms[-1]:7.1f} ms   typical burst {typical:5.1f} ms   (Slack's deadline 3000 ms)"
    )


if __name__ == "__main__":
    main()
