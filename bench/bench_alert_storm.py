"""An alert storm against a real ``tugboat serve --http`` process: 10,000 alerts, sent as 100
Alertmanager webhooks of 100 alerts over 10 groups.

Measures, from the client's side, the time to answer each webhook and to answer them all; then
waits until every group's thread is up to date and reports the parent messages per group (the
target is one), the alerts counted in the threads (every one, once), and the server's peak RSS
(VmHWM). The mock Slack API runs in this process and records every call.

    .venv/bin/python bench/bench_alert_storm.py [--webhooks 100] [--alerts 100] [--groups 10]
        [--concurrency 20] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import wait_ready  # noqa: E402
from bot.adapters.store import SqlStore  # noqa: E402
from testkit import slack_requests as sr  # noqa: E402
from testkit.promserver import free_port  # noqa: E402
from testkit.slack_api import SlackApi, running_slack_api  # noqa: E402

WARM_UP = "Storm999"


def webhook(group: int, batch: int, alerts: int) -> dict[str, Any]:
    """The ``batch``-th notification of ``group``, carrying ``alerts`` alerts new to the group."""
    labels = {"alertname": f"Storm{group}", "namespace": "shop", "service": f"svc{group}", "severity": "page"}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="Storm{group}"}}',
        "status": "firing",
        "receiver": "tugboat",
        "groupLabels": {"alertname": f"Storm{group}"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "error rate above 5%"},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {**labels, "pod": f"svc{group}-{batch}-{i}"},
                "annotations": {"summary": "error rate above 5%"},
                "startsAt": "2026-12-02T01:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
                "fingerprint": f"g{group}b{batch}a{i}",
            }
            for i in range(alerts)
        ],
    }


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def counted(api: SlackApi) -> tuple[dict[str, int], int]:
    """Parent messages per group, and the alerts the threads announced (parents' "N firing" and
    every "N more alert(s)")."""
    parents: dict[str, int] = {}
    announced = 0
    for call in api.of("chat.postMessage"):
        text = call.args.get("text", "")
        if not call.args.get("thread_ts"):
            name = text.split(" in ")[0]
            if name == WARM_UP:
                continue
            parents[name] = parents.get(name, 0) + 1
            announced += int(call.args["blocks"][1]["text"]["text"].lstrip("*").split()[0])
        elif "more alert(s)" in text and WARM_UP not in text:
            announced += int(text.split()[0])
    return parents, announced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=100)
    parser.add_argument("--alerts", type=int, default=100, help="alerts per webhook")
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=10, help="Alertmanager: one at a time per group")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp directory")
    args = parser.parse_args()
    port = free_port()
    with running_slack_api() as api, tempfile.TemporaryDirectory(prefix="bench-storm-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/tugboat.db"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TUGBOAT_", "SLACK_"))},
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": sr.SECRET,
            "TUGBOAT_SLACK_API_URL": api.base_url,
            "TUGBOAT_SLACK_CHANNEL": "CBENCH",
            "TUGBOAT_DATABASE_URL": url,
            "TUGBOAT_LLM_ENABLED": "false",
            "TUGBOAT_LOG_LEVEL": "WARNING",
            "TUGBOAT_CONFIG": f"{tmp}/none.yaml",
        }
        exe = str(Path(sys.executable).parent / "tugboat")
        proc = subprocess.Popen(
            [exe, "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc)
            idle_rss = peak_rss_mb(proc.pid)
            payloads = [webhook(i % args.groups, i // args.groups, args.alerts) for i in range(args.webhooks)]
            bodies = [httpx.Request("POST", "/", json=p).read() for p in payloads]
            latencies: list[float] = []
            statuses: list[int] = []
            order: list[tuple[float, float]] = []
            t0 = time.perf_counter()
            cpu_before = cpu_seconds(proc.pid)
            with httpx.Client(base_url=base, timeout=60) as client:

                def send(body: bytes) -> None:
                    started = time.perf_counter()
                    r = client.post(
                        "/alerts/alertmanager", content=body, headers={"Content-Type": "application/json"}
                    )
                    latencies.append(time.perf_counter() - started)
                    order.append((started - t0, latencies[-1]))
                    statuses.append(r.status_code)

                # A server that has been up: its connections, threads and statement caches exist.
                warm = [
                    httpx.Request("POST", "/", json=webhook(999, i, 1)).read()
                    for i in range(args.concurrency)
                ]
                with ThreadPoolExecutor(args.concurrency) as pool:
                    list(pool.map(send, warm))
                for recorded in (latencies, statuses, order):
                    recorded.clear()
                t0 = time.perf_counter()
                with ThreadPoolExecutor(args.concurrency) as pool:
                    list(pool.map(send, bodies))
                answered = time.perf_counter() - t0
                cpu_answering = cpu_seconds(proc.pid) - cpu_before
            groups = {p["groupKey"] for p in payloads}
            with SqlStore.open(url) as store:
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    threads = [store.get_incident(k) for k in groups]
                    if all(t is not None and t.thread_ts for t in threads) and not store.groups_waiting():
                        break
                    time.sleep(0.2)
            settled = time.perf_counter() - t0
            cpu_total = cpu_seconds(proc.pid) - cpu_before
            time.sleep(2.0)  # anything more that was going to be posted is posted now
            peak = peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(60)
        parents, announced = counted(api)
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    total = args.webhooks * args.alerts
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"alert storm: {total} alerts in {args.webhooks} webhooks over {len(groups)} groups, "
        f"{args.concurrency} concurrent, {backend}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"statuses {sorted(set(statuses))}   all answered in {answered:.2f} s   (target <= 5 s)")
    print(
        f"webhook latency p50 {statistics.median(ms):.0f} ms   p99 {p99:.0f} ms   max {ms[-1]:.0f} ms"
        "   (target p99 <= 250 ms)"
    )
    slowest = sorted(order, key=lambda o: -o[1])[:5]
    print("slowest (sent at s, took ms): " + ", ".join(f"{a:.2f}/{b * 1000:.0f}" for a, b in slowest))
    print(f"threads up to date after {settled:.1f} s")
    print(f"server CPU {cpu_answering:.2f} s while answering, {cpu_total:.2f} s until up to date")
    one_each = all(n == 1 for n in parents.values()) and len(parents) == len(groups)
    print(f"parent messages per group {sorted(parents.values())}   one each: {one_each}")
    print(f"alerts announced in the threads {announced} of {total}")
    print(f"serve peak RSS {peak:.0f} MB (idle {idle_rss:.0f} MB)   (target <= 300 MB)")


if __name__ == "__main__":
    main()
