"""Acknowledgement latency of ``tugboat serve --http`` under 50 concurrent signed Slack requests.

Starts a mock Slack Web API and the real server as subprocesses (so the load generator shares
an interpreter with neither), then sends slash commands and button clicks signed
as Slack signs them, 50 at a time, and reports the time to each HTTP response (Slack's 3-second
deadline is what this protects; the target is p99 <= 50 ms on 2 cores).

    .venv/bin/python bench/bench_slack_ack.py [--requests 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import slack_requests as sr  # noqa: E402
from tests.support.promserver import free_port  # noqa: E402


def _requests(n: int, only_help: bool = False) -> list[tuple[bytes, dict[str, str]]]:
    """A mix like a busy channel: usage acks, commands with lazy work, button clicks."""
    kinds = [
        sr.command("help"),
        sr.command("status", user="UBENCH"),
        sr.command("scale checkout lots"),
        sr.button("tugboat_approve", "nosuchproposal", user="UBENCH", channel="CBENCH", message_ts="1.1"),
    ]
    if only_help:
        kinds = kinds[:1]
    return [kinds[i % len(kinds)] for i in range(n)]


async def _run(url: str, total: int, concurrency: int, only_help: bool = False) -> list[float]:
    """``concurrency`` keep-alive connections, each sending its share one after another.

    A bare asyncio HTTP/1.1 client: a full client library costs more CPU per request than the
    server being measured, and on 2 cores that would dominate the figures.
    """
    parsed = urlsplit(url)
    queue = list(_requests(total, only_help))
    latencies: list[float] = []
    failures: list[str] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
        try:
            while queue:
                body, headers = queue.pop()
                signed = {**headers, **sr.sign(body), "Content-Length": str(len(body)), "Host": parsed.netloc}
                head = f"POST {parsed.path} HTTP/1.1\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in signed.items()
                )
                t0 = time.perf_counter()
                writer.write(head.encode() + b"\r\n" + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if b" 200 " not in status_line:
                    failures.append(status_line.decode().strip())
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return latencies


BASELINE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def ok(request):
    await request.body()
    return Response("")
async def ready(request):
    return Response("")
app = Starlette(routes=[Route("/slack/events", ok, methods=["POST"]), Route("/readyz", ready)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
"""


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                "tugboat serve exited early: " + (proc.stderr.read().decode() if proc.stderr else "")
            )
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("tugboat serve did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="tugboat serve --workers")
    parser.add_argument("--only-help", action="store_true", help="acks with no background work")
    parser.add_argument(
        "--baseline", action="store_true", help="also measure a bare uvicorn endpoint (this machine's floor)"
    )
    args = parser.parse_args()
    port = free_port()
    # The mock Slack API runs in a process of its own: in this one it would steal the client's CPU.
    mock = subprocess.Popen(
        [sys.executable, "-m", "tests.support.slack_api"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert mock.stdout is not None
    api_url = mock.stdout.readline().strip()
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        stack.callback(mock.wait, 30)
        stack.callback(mock.terminate)
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": sr.SECRET,
            "TUGBOAT_SLACK_API_URL": api_url,
            "TUGBOAT_SLACK_CHANNEL": "CBENCH",
            "TUGBOAT_DATABASE_URL": f"sqlite:///{tmp}/tugboat.db",
            "TUGBOAT_LLM_ENABLED": "false",
            "TUGBOAT_LOG_LEVEL": "WARNING",
            "TUGBOAT_CONFIG": f"{tmp}/none.yaml",
        }
        env.pop("SLACK_APP_TOKEN", None)
        exe = str(Path(sys.executable).parent / "tugboat")
        proc = subprocess.Popen(
            [
                exe,
                "serve",
                "--http",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, proc)
            asyncio.run(_run(base + "/slack/events", 200, args.concurrency))  # warm up
            latencies = asyncio.run(
                _run(base + "/slack/events", args.requests, args.concurrency, args.only_help)
            )
            server_side = _server_quantiles(httpx.get(base + "/metrics", timeout=10).text)
        finally:
            proc.terminate()
            proc.wait(30)
    print(
        f"slack ack latency, {len(latencies)} signed requests, {args.concurrency} concurrent, "
        f"{args.workers} worker(s), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(_summary("tugboat serve --http", latencies) + "   (target p99 <= 50 ms)")
    print(f"{'server side (histogram)':<24} {server_side}")
    if args.baseline:
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BASELINE, str(port)], stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, bare)
            asyncio.run(_run(base + "/slack/events", 200, args.concurrency))
            floor = asyncio.run(_run(base + "/slack/events", args.requests, args.concurrency))
        finally:
            bare.terminate()
            bare.wait(30)
        print(_summary("bare uvicorn, same load", floor))


def _server_quantiles(metrics: str) -> str:
    """p50/p99 upper bounds from tugboat_slack_ack_seconds (request in -> ack out, in the server)."""
    buckets: list[tuple[float, float]] = []
    for line in metrics.splitlines():
        if line.startswith("tugboat_slack_ack_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    if not total:
        return "no observations"

    def at(q: float) -> str:
        bound = next(b for b, count in buckets if count >= q * total)
        return f"<= {bound * 1000:g} ms"

    return f"p50 {at(0.5)}   p99 {at(0.99)}   ({int(total)} requests incl. warm-up)"


def _summary(label: str, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{label:<24} p50 {p50:6.1f} ms   p99 {p99:7.1f} ms   max {ms[-1]:7.1f} ms"


if __name__ == "__main__":
    main()
