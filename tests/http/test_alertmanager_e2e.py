"""End to end with real components: Prometheus scrapes a tiny exporter, an alerting rule fires,
a real Alertmanager posts the group to Tugboat's webhook, and the incident thread appears in Slack."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from testkit import alertmanager, promserver
from tests.conftest import need
from tests.slack.conftest import CHANNEL, Harness


@contextmanager
def exporter(value: Callable[[], float]) -> Iterator[str]:
    """A loopback /metrics endpoint whose gauge reads ``value()`` at each scrape."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = (
                "# TYPE checkout_queue_depth gauge\n"
                f'checkout_queue_depth{{namespace="shop",service="checkout"}} {value()}\n'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


RULES = """\
groups:
  - name: tugboat-e2e
    rules:
      - alert: CheckoutQueueBacklog
        expr: checkout_queue_depth > 10
        for: 1s
        labels: {severity: page}
        annotations: {summary: "checkout queue is backing up"}
"""


@pytest.mark.prometheus
@pytest.mark.alertmanager
@pytest.mark.slow
def test_real_alertmanager_posts_and_the_incident_thread_appears(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    need(alertmanager.binary() is not None, "prometheus-alertmanager is not on PATH")
    try:
        promserver.binaries()
    except promserver.PrometheusMissing as exc:
        need(False, str(exc))
    h = harness_factory(alertmanager_token="am-bearer")
    depth = {"value": 42.0}
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    am_config = alertmanager.webhook_config(f"{h.url}/alerts/alertmanager", bearer="am-bearer")
    with exporter(lambda: depth["value"]) as target, alertmanager.running_alertmanager(am_config) as am:
        config = f"""\
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["{am}"]}}]
scrape_configs:
  - job_name: exporter
    static_configs: [{{targets: ["{target}"]}}]
"""
        with promserver.running_prometheus(config=config):
            parent = h.api.wait_for("chat.postMessage", channel=CHANNEL, timeout=60)[0]
            assert "CheckoutQueueBacklog" in str(parent.args["blocks"])
            assert "checkout queue is backing up" in str(parent.args["blocks"])
            h.api.wait_for("files.completeUploadExternal", timeout=30)  # the investigation, in the thread
            incidents = h.runtime.deps.store.list_incidents()
            assert len(incidents) == 1 and incidents[0].thread_ts and incidents[0].report is not None
            depth["value"] = 0.0  # the rule stops firing: Alertmanager sends the resolution
            update = h.api.wait_for("chat.update", timeout=60)[0]
            assert update.args["ts"] == incidents[0].thread_ts and "resolved after" in str(
                update.args["blocks"]
            )
    parents = [c for c in h.api.of("chat.postMessage") if not c.args.get("thread_ts")]
    assert len(parents) == 1
