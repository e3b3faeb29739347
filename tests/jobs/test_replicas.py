"""Two ``tugboat serve`` processes on one PostgreSQL database: background work runs once across
replicas and survives a replica dying.

Each replica is a real process (uvicorn, Bolt, the procrastinate worker) talking to a mock Slack
Web API and a real git remote; Slack requests are signed like Slack signs them. Job state is read
from procrastinate's own tables.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bot import wiring
from bot.adapters.slack.blocks import ACTION_APPROVE, approve_value
from bot.adapters.store import SqlStore
from bot.domain.audit import AuditKind
from bot.domain.proposal import Proposal, ProposalState
from bot.settings import ApprovalPolicy, Settings
from testkit import slack_requests
from testkit.gitops import GitOpsRemote, git, make_remote, scale_proposal
from testkit.serve_process import Replica, serve_env, wait_until
from testkit.slack_api import SlackApi, running_slack_api
from tests.slack.conftest import alert_payload

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CHANNEL = "CINC"
APPROVER = "UAPPROVER"
# Short heartbeats so a dead replica is noticed in seconds, not the default minute.
FAST_JOBS = {
    "TUGBOAT_JOBS_POLL_S": "0.2",
    "TUGBOAT_JOBS_HEARTBEAT_S": "0.5",
    "TUGBOAT_JOBS_STALLED_AFTER_S": "3",
    "TUGBOAT_JOBS_SWEEP_S": "1",
    "TUGBOAT_JOBS_SHUTDOWN_S": "5",
}


class JobTables:
    """Reads procrastinate's tables in the replicas' database."""

    def __init__(self, url: str) -> None:
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo) as conn:
            return list(conn.execute(query, params).fetchall())  # type: ignore[call-overload]

    def jobs(self, task: str) -> list[tuple[int, str, int]]:
        return [
            (r[0], r[1], r[2])
            for r in self.rows(
                "SELECT id, status::text, attempts FROM procrastinate_jobs WHERE task_name = %s ORDER BY id",
                task,
            )
        ]

    def starts(self, job_id: int) -> int:
        return int(
            self.rows(
                "SELECT count(*) FROM procrastinate_events WHERE job_id = %s AND type = 'started'", job_id
            )[0][0]
        )


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., Replica]]:
    """Starts replicas sharing ``postgres_url``, the mock Slack API and a git remote."""
    replicas: list[Replica] = []
    with SqlStore.open(postgres_url):  # migrate once, as `serve --workers` does
        pass
    with running_slack_api() as api:
        remote = make_remote(tmp_path / "gitops")
        base = serve_env(
            api.base_url,
            CHANNEL,
            postgres_url,
            **FAST_JOBS,
            TUGBOAT_SLACK_UPDATE_INTERVAL_S="0.2",
            TUGBOAT_POLICY=json.dumps({"approvers": [APPROVER]}),
        )

        def start(name: str, **env: str) -> Replica:
            workdir = tmp_path / name
            workdir.mkdir(exist_ok=True)
            replica = Replica(name, {**base, **env}, workdir)
            replicas.append(replica)
            replica.wait_ready()
            return replica

        start.api, start.remote, start.replicas = api, remote, replicas  # type: ignore[attr-defined]
        try:
            yield start
        finally:
            for replica in replicas:
                replica.stop()


def test_a_scheduled_job_runs_once_across_two_replicas(
    cluster: Callable[..., Replica], postgres_url: str
) -> None:
    every_second = {"TUGBOAT_HOUSEKEEPING_CRON": "* * * * * *"}
    one, two = cluster("one", **every_second), cluster("two", **every_second)
    tables = JobTables(postgres_url)
    wait_until(lambda: len(tables.jobs("housekeeping")) >= 5, 30, "five housekeeping runs", [one, two])
    assert len(tables.rows("SELECT id FROM procrastinate_workers")) == 2, "both replicas run a worker"
    per_time = tables.rows(
        "SELECT args->>'timestamp', count(*) FROM procrastinate_jobs"
        " WHERE task_name = 'housekeeping' GROUP BY 1"
    )
    assert len(per_time) >= 5 and all(count == 1 for _, count in per_time), per_time
    finished = [job for job in tables.jobs("housekeeping") if job[1] == "succeeded"]
    assert finished and all(tables.starts(job_id) == 1 for job_id, _, _ in finished)


class HeldPrometheus:
    """A Prometheus stand-in whose answers wait while ``hold`` is set: empty results otherwise."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.hold.set()
        self.seen = threading.Event()
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                held.seen.set()
                while held.hold.is_set():
                    time.sleep(0.05)
                kind = "matrix" if "query_range" in self.path else "vector"
                data: Any = {"resultType": kind, "result": []}
                if "/series" in self.path or "/label" in self.path:
                    data = []
                body = json.dumps({"status": "success", "data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.hold.clear()
        self.server.shutdown()


def test_a_killed_replicas_investigation_is_finished_by_the_other(
    cluster: Callable[..., Replica], postgres_url: str
) -> None:
    prometheus = HeldPrometheus()
    try:
        api: SlackApi = cluster.api  # type: ignore[attr-defined]
        replicas = [cluster(name, TUGBOAT_PROMETHEUS_URL=prometheus.url) for name in ("one", "two")]
        assert replicas[0].alert(alert_payload()).status_code == 200
        api.wait_for("chat.postMessage", channel=CHANNEL)  # the incident's parent message
        tables = JobTables(postgres_url)
        wait_until(
            lambda: [j for j in tables.jobs("incident.investigate") if j[1] == "doing"],
            30,
            "the investigation to start",
            replicas,
        )
        assert prometheus.seen.wait(30), "the investigation queries Prometheus, which holds its answer"
        [running] = [r for r in replicas if "Starting job incident.investigate" in r.log.read_text()]
        [survivor] = [r for r in replicas if r is not running]
        running.kill()  # mid-investigation: no graceful stop, no goodbye to the database
        prometheus.hold.clear()

        def report_in_thread() -> list[Any]:
            return [c for c in api.of("chat.postMessage") if c.args.get("thread_ts")]

        replies = wait_until(report_in_thread, 60, "the survivor to post the investigation", [survivor])
        assert replies[0].args["text"]
        [(job_id, _, _)] = tables.jobs("incident.investigate")
        succeeded = lambda: tables.jobs("incident.investigate")[0][1] == "succeeded"  # noqa: E731
        wait_until(succeeded, 20, "the job to succeed", [survivor])
        assert tables.starts(job_id) == 2, "started on the killed replica, then again on the survivor"
        assert "Starting job incident.investigate" in survivor.log.read_text()
        assert len(api.of("chat.postMessage")) == 1 + len(report_in_thread()), "one parent message only"
        assert [c.args["text"] for c in report_in_thread()].count(replies[0].args["text"]) == 1
    finally:
        prometheus.close()


def _open_proposal(postgres_url: str, remote: GitOpsRemote, cache: Path) -> Proposal:
    """A scale proposal opened on the remote, as the Draft PR button would."""
    settings = Settings(
        database_url=postgres_url,
        repo=str(remote.bare),
        data_dir=str(cache),
        policy=ApprovalPolicy(approvers=[APPROVER]),
    )
    proposal = scale_proposal(remote.work)
    with SqlStore.open(postgres_url) as store:
        workflow = wiring.workflow(settings, store, wiring.change_host(settings))
        return workflow.open(workflow.submit(proposal, requested_by="UREQUESTER").id)


def test_an_approval_clicked_on_both_replicas_merges_once(
    cluster: Callable[..., Replica], postgres_url: str, tmp_path: Path
) -> None:
    api: SlackApi = cluster.api  # type: ignore[attr-defined]
    remote: GitOpsRemote = cluster.remote  # type: ignore[attr-defined]
    one, two = cluster("one", TUGBOAT_REPO=str(remote.bare)), cluster("two", TUGBOAT_REPO=str(remote.bare))
    proposal = _open_proposal(postgres_url, remote, tmp_path / "cache")
    before = remote.head()
    click = slack_requests.button(
        ACTION_APPROVE, approve_value(proposal), user=APPROVER, channel=CHANNEL, message_ts="1.5"
    )
    with ThreadPoolExecutor(2) as pool:  # the same click delivered to both replicas at once
        answers = list(pool.map(lambda replica: replica.slack(click), [one, two]))
    assert [a.status_code for a in answers] == [200, 200]

    with SqlStore.open(postgres_url) as store:

        def merged() -> bool:
            current = store.get_proposal(proposal.id)
            return current is not None and current.state is ProposalState.MERGED

        wait_until(merged, 60, "the merge", [one, two])
        update = api.wait_for("chat.update", ts="1.5")[0]
        assert "Approved" in update.args["text"]
        time.sleep(2)  # a second merge, were there one, would land now
        trail = store.audit_trail(proposal.id)
    assert [e.kind for e in trail].count(AuditKind.MERGED.value) == 1
    assert [e.kind for e in trail].count(AuditKind.APPROVED.value) == 1
    merges = git(remote.bare, "rev-list", "--first-parent", f"{before}..main").split()
    assert len(merges) == 1, merges  # one merge of the proposal's branch onto main
    assert "replicas: 6" in remote.show("apps/checkout/deployment.yaml")
    assert len(JobTables(postgres_url).jobs("proposal.merge")) == 1
