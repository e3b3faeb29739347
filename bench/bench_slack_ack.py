"""Client-side acknowledgement latency of ``tugboat serve --http``: rounds of 50 concurrent signed
slash commands, beside a trivial uvicorn/Starlette app on the same machine.

Starts a mock Slack Web API and the real server as subprocesses (so the load generator shares an
interpreter with neither). Each round, 50 keep-alive connections send one signed ``/tugboat``
command each at the same moment; the time to each HTTP response is what Slack's 3-second
deadline protects. The same rounds, alternating, go to two trivial apps under the same uvicorn
options (read the body, answer 200): a Starlette app and a bare ASGI callable. The target is an
ack p99 at most 1.5x the trivial app's; the summary prints both ratios, and each server's loop CPU
per request (the main thread's CPU time, steadier than latencies on a shared machine).

    .venv/bin/python bench/bench_slack_ack.py [--rounds 10] [--concurrency 50] [--only-help]
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

from bench.serving import wait_ready  # noqa: E402
from testkit import slack_requests as sr  # noqa: E402
from testkit.promserver import free_port  # noqa: E402


def _commands(n: int, response_url: str, only_help: bool = False) -> list[tuple[bytes, dict[str, str]]]:
    """A mix like a busy channel: help, `status` (a database read and a response_url post after
    the ack), a usage error, an unknown command."""
    texts = ["help"] if only_help else ["help", "status", "scale checkout lots", "frobnicate"]
    return [sr.command(texts[i % len(texts)], user=f"U{i}", response_url=response_url) for i in range(n)]


class Connections:
    """``concurrency`` keep-alive connections to one server; ``burst`` sends one request on each
    at the same moment and returns the time to each response.

    A bare asyncio HTTP/1.1 client: a full client library costs more CPU per request than the
    server being measured, and on 2 cores that would dominate the figures.
    """

    def __init__(self, url: str, requests: list[tuple[bytes, dict[str, str]]]) -> None:
        self.url, self.requests = urlsplit(url), requests
        self.streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self, concurrency: int) -> None:
        self.streams = [
            await asyncio.open_connection(self.url.hostname, self.url.port) for _ in range(concurrency)
        ]

    async def burst(self) -> list[float]:
        messages = []
        for index in range(len(self.streams)):
            body, headers = self.requests[index % len(self.requests)]
            signed = {**headers, **sr.sign(body), "Content-Length": str(len(body)), "Host": self.url.netloc}
            head = f"POST {self.url.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.items())
            messages.append(head.encode() + b"\r\n" + body)
        return await asyncio.gather(*(self._one(s, m) for s, m in zip(self.streams, messages, strict=True)))

    @staticmethod
    async def _one(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter], message: bytes) -> float:
        reader, writer = stream
        t0 = time.perf_counter()
        writer.write(message)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        if b" 200 " not in status_line:
            raise SystemExit(f"a request failed: {status_line.decode().strip()}")
        return time.perf_counter() - t0

    def close(self) -> None:
        for _, writer in self.streams:
            writer.close()


async def _alternating(
    servers: list[Connections], rounds: int, concurrency: int, pause_s: float = 0.3
) -> list[list[list[float]]]:
    """Round k goes to every server in turn (order alternating), so both see the same machine
    load; the pause lets the previous burst's background work run before the next burst."""
    for server in servers:
        await server.open(concurrency)
        await server.burst()  # warm up
        await server.burst()
    measured: list[list[list[float]]] = [[] for _ in servers]
    for k in range(rounds):
        order = list(range(len(servers)))[:: 1 if k % 2 == 0 else -1]
        for index in order:
            await asyncio.sleep(pause_s)
            measured[index].append(await servers[index].burst())
    for server in servers:
        server.close()
    return measured


# The trivial apps: read the body, answer 200, under the same uvicorn options as `tugboat serve`
# (log_level, access_log, log_config; uvloop and httptools chosen the same way). "starlette" is
# the app the issue compares with; "asgi" is the floor, a bare ASGI callable with no framework.
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
async def bare(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
starlette = Starlette(routes=[Route("/slack/events", ok, methods=["POST"]), Route("/readyz", ready)])
app = bare if sys.argv[2] == "asgi" else starlette
port = int(sys.argv[1])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, log_config=None)
"""
BASELINES = {"starlette": "trivial Starlette app", "asgi": "trivial bare ASGI app"}


def _loop_cpu_ns(pid: int) -> int:
    """CPU time of the process's main thread, where uvicorn's event loop (and so every
    acknowledgement) runs; Bolt's dispatch and the work after the ack run on other threads."""
    return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0])


def _process_cpu_ns(pid: int) -> int:
    return sum(int(t.read_text().split()[0]) for t in Path(f"/proc/{pid}/task").glob("*/schedstat"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="tugboat serve --workers")
    parser.add_argument("--only-help", action="store_true", help="commands with no work after the ack")
    args = parser.parse_args()
    port = free_port()
    # The mock Slack API runs in a process of its own: in this one it would steal the client's CPU.
    mock = subprocess.Popen(
        [sys.executable, "-m", "testkit.slack_api"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert mock.stdout is not None
    api_url = mock.stdout.readline().strip()
    commands = _commands(args.concurrency, api_url.replace("/api/", "/respond/") + "bench", args.only_help)
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
        command = [
            exe,
            "serve",
            "--http",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        proc = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        bare_ports = {name: free_port() for name in BASELINES}
        bares = {
            name: subprocess.Popen(
                [sys.executable, "-c", BASELINE, str(bare_ports[name]), name], stderr=subprocess.DEVNULL
            )
            for name in BASELINES
        }
        base = f"http://127.0.0.1:{port}"
        urls = [base] + [f"http://127.0.0.1:{bare_ports[name]}" for name in BASELINES]
        pids = [proc.pid] + [bares[name].pid for name in BASELINES]
        try:
            for url, server_proc in zip(urls, [proc, *bares.values()], strict=True):
                wait_ready(url, server_proc)
            before = _histogram(httpx.get(base + "/metrics", timeout=10).text)
            servers = [Connections(url + "/slack/events", commands) for url in urls]
            cpu_before = [_loop_cpu_ns(pid) for pid in pids], _process_cpu_ns(proc.pid)
            measured = asyncio.run(_alternating(servers, args.rounds, args.concurrency))
            cpu_after = [_loop_cpu_ns(pid) for pid in pids], _process_cpu_ns(proc.pid)
            after = _histogram(httpx.get(base + "/metrics", timeout=10).text)
        finally:
            for server_proc in (proc, *bares.values()):
                server_proc.terminate()
                server_proc.wait(30)
    # Each server also answered the two warm-up bursts inside the CPU window.
    requests = (args.rounds + 2) * args.concurrency
    loop_us = [(b - a) / requests / 1000 for a, b in zip(cpu_before[0], cpu_after[0], strict=True)]
    process_us = (cpu_after[1] - cpu_before[1]) / requests / 1000
    _report(args, measured, loop_us, process_us, _quantiles(before, after))


def _report(
    args: argparse.Namespace,
    measured: list[list[list[float]]],
    loop_us: list[float],
    process_us: float,
    server: str,
) -> None:
    print(
        f"slack ack latency, client side: {args.rounds} rounds of {args.concurrency} concurrent signed "
        f"commands, {args.workers} worker(s), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    labels = ["tugboat serve --http", *BASELINES.values()]
    flat = [[x for burst in rounds for x in burst] for rounds in measured]
    for label, latencies, rounds, cpu in zip(labels, flat, measured, loop_us, strict=True):
        print(_summary(label, latencies) + _typical(rounds) + f"   loop CPU {cpu:5.1f} us/request")
    print(f"{'':<24} (tugboat's whole process, the work after the ack included: {process_us:.0f} us/request)")
    for label, latencies, cpu in zip(labels[1:], flat[1:], loop_us[1:], strict=True):
        ratio = _p99(flat[0]) / _p99(latencies)
        print(
            f"{'ratio to ' + label:<40} p99 {ratio:.2f}x (target <= 1.5x)   loop CPU {loop_us[0] / cpu:.2f}x"
        )
    print(f"{'server side (histogram)':<24} {server}")


def _histogram(metrics: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of tugboat_slack_ack_seconds (arrival -> first byte out)."""
    buckets: list[tuple[float, float]] = []
    for line in metrics.splitlines():
        if line.startswith("tugboat_slack_ack_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    return buckets


def _quantiles(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> str:
    """p50/p99 upper bounds over the measured rounds and the warm-up."""
    counts = [(bound, n - m) for (bound, n), (_, m) in zip(after, before, strict=True)]  # since start
    total = counts[-1][1] if counts else 0
    if not total:
        return "no observations"

    def at(q: float) -> str:
        bound = next(b for b, count in counts if count >= q * total)
        return f"<= {bound * 1000:g} ms"

    return f"p50 {at(0.5)}   p99 {at(0.99)}   ({int(total)} requests)"


def _typical(rounds: list[list[float]]) -> str:
    """The median round's slowest ack: what a burst usually costs, apart from the machine's
    hiccups (on a shared 2-core machine one slow round sets the p99 of 10)."""
    return f"   typical burst {statistics.median(max(r) for r in rounds) * 1000:5.1f} ms"


def _p99(latencies: list[float]) -> float:
    ms = sorted(latencies)
    return ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def _summary(label: str, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = _p99(latencies) * 1000
    return f"{label:<24} p50 {p50:6.1f} ms   p99 {p99:7.1f} ms   max {ms[-1]:7.1f} ms"


if __name__ == "__main__":
    main()
