"""Acknowledgement latency of ``tugboat serve --http`` under 50 concurrent signed Slack requests.

Starts a mock Slack Web API in this process and the real server as a subprocess (so the load
generator does not share its interpreter), then sends slash commands and button clicks signed
as Slack signs them, 50 at a time, and reports the time to each HTTP response (Slack's 3-second
deadline is what this protects; the target is p99 <= 50 ms on 2 cores).

    .venv/bin/python bench/bench_slack_ack.py [--requests 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import slack_requests as sr  # noqa: E402
from tests.support.promserver import free_port  # noqa: E402
from tests.support.slack_api import running_slack_api  # noqa: E402


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
    queue = list(_requests(total, only_help))
    latencies: list[float] = []
    failures: list[int] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            while queue:
                body, headers = queue.pop()
                signed = {**headers, **sr.sign(body)}
                t0 = time.perf_counter()
                response = await client.post(url, content=body, headers=signed)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    failures.append(response.status_code)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
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
    with running_slack_api() as api, tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": sr.SECRET,
            "TUGBOAT_SLACK_API_URL": api.base_url,
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
