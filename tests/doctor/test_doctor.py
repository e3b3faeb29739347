"""``tugboat doctor`` against real local components: a real Prometheus, loopback servers in the
wire formats of Loki and the OpenAI API, an unreachable port, SQLite databases and a real git
remote; then all checks together, and the command's table and exit codes."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import wiring
from bot.adapters.doctor.infra import (
    check_database,
    check_git,
    check_jobs,
    check_llm,
    check_loki,
    check_prometheus,
)
from bot.cli.main import app
from bot.services.doctor import CheckResult, Status, healthy, run_checks
from bot.settings import Settings
from testkit.gitops import make_remote
from testkit.promserver import running_prometheus
from tests.doctor.loopback import Answer, serving, unreachable

# -- Prometheus, Loki, LLM ----------------------------------------------------------------------


@pytest.mark.prometheus
def test_prometheus_ready_and_answering(prometheus_binaries: None) -> None:
    with running_prometheus() as url:
        result = check_prometheus(Settings(prometheus_url=url), 5, source=wiring.metrics_source)
    assert result.status is Status.OK, result
    assert "queries answer" in result.detail


def test_prometheus_unreachable() -> None:
    result = check_prometheus(Settings(prometheus_url=unreachable()), 2, source=wiring.metrics_source)
    assert result.status is Status.FAIL
    assert "Connection refused" in result.detail and "TUGBOAT_PROMETHEUS_URL" in result.fix


def test_loki_ready_and_not_ready() -> None:
    with serving({"/ready": lambda: (200, {}, "ready")}) as url:
        assert check_loki(Settings(loki_url=url), 2).status is Status.OK
    with serving({"/ready": lambda: (503, {}, "Ingester not ready: waiting for 15s")}) as url:
        result = check_loki(Settings(loki_url=url), 2)
    assert result.status is Status.FAIL and "503 Ingester not ready" in result.detail
    assert check_loki(Settings(), 2).status is Status.SKIPPED


def models(*ids: str) -> Answer:
    return (
        200,
        {},
        {
            "object": "list",
            "data": [{"id": i, "object": "model", "created": 0, "owned_by": "x"} for i in ids],
        },
    )


def test_llm_model_listed_missing_and_refused() -> None:
    key = "sk-test-" + "k" * 24
    with serving({"/v1/models": lambda: models("gpt-4.1-mini", "gpt-4.1")}) as url:
        good = check_llm(Settings(openai_api_key=key, openai_base_url=url + "/v1"), 2)
        other = check_llm(Settings(openai_api_key=key, openai_base_url=url + "/v1", llm_model="llama3"), 2)
    assert good.status is Status.OK, good
    assert other.status is Status.FAIL and "TUGBOAT_LLM_MODEL" in other.fix and "gpt-4.1" in other.fix
    refused = {
        "error": {"message": "Incorrect API key", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    with serving({"/v1/models": lambda: (401, {}, refused)}) as url:
        result = check_llm(Settings(openai_api_key=key, openai_base_url=url + "/v1"), 2)
    assert result.status is Status.FAIL and "OPENAI_API_KEY" in result.fix
    assert check_llm(Settings(), 2).status is Status.SKIPPED


# -- Database and git ---------------------------------------------------------------------------


def test_database_states(tmp_path: Path) -> None:
    from bot.adapters.store import SqlStore

    migrated = tmp_path / "migrated.db"
    SqlStore.open(f"sqlite:///{migrated}").close()
    result = check_database(Settings(database_url=f"sqlite:///{migrated}"), 2)
    assert result.status is Status.OK and "revision" in result.detail

    missing = check_database(Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}"), 2)
    assert missing.status is Status.WARN and not (tmp_path / "none.db").exists()  # doctor creates nothing

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert check_database(Settings(database_url=f"sqlite:///{empty}"), 2).status is Status.WARN

    with sqlite3.connect(migrated) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    newer = check_database(Settings(database_url=f"sqlite:///{migrated}"), 2)
    assert newer.status is Status.FAIL and "upgrade this Tugboat" in newer.fix


def test_job_queue_on_sqlite_is_in_memory(tmp_path: Path) -> None:
    result = check_jobs(Settings(database_url=f"sqlite:///{tmp_path / 'tugboat.db'}"), 2)
    assert result == CheckResult("Job queue", Status.OK, "in memory, in-process (single replica)")
    assert not (tmp_path / "tugboat.db").exists()  # nothing to connect to, nothing created


def run_sql(url: str, *statements: str) -> None:
    from sqlalchemy import text

    from bot.adapters.store.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def job(task: str, status: str = "todo", scheduled: str = "NULL") -> str:
    return (
        "INSERT INTO procrastinate_jobs (queue_name, task_name, status, scheduled_at) "
        f"VALUES ('default', '{task}', '{status}', {scheduled})"
    )


@pytest.mark.postgres
def test_job_queue_on_postgres_counts_workers_waiting_and_failed_jobs(postgres_url: str) -> None:
    from bot.adapters.store import SqlStore

    SqlStore.open(postgres_url).close()
    settings = Settings(database_url=postgres_url, jobs_stalled_after_s=60)
    idle = check_jobs(settings, 5)
    assert idle.status is Status.OK, idle  # no replica running is information, not a failure
    assert idle.detail == (
        "no worker sent a heartbeat in the last 60s (expected only if no replica is running); "
        "0 job(s) waiting; none failed in the last 24 h"
    )

    run_sql(
        postgres_url,
        "INSERT INTO procrastinate_workers DEFAULT VALUES",  # heartbeat: now
        "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '5 minutes')",
        job("incident.deliver"),
        job("housekeeping", scheduled="now() - interval '1 second'"),
        job("proposal.watch", scheduled="now() + interval '1 hour'"),  # not due yet
        job("incident.investigate", status="doing"),
        # Failed now, through the same transitions as a worker (the trigger records the time) ...
        job("proposal.merge"),
        "UPDATE procrastinate_jobs SET status = 'doing' WHERE task_name = 'proposal.merge'",
        "UPDATE procrastinate_jobs SET status = 'failed' WHERE task_name = 'proposal.merge'",
        # ... and two days ago: not counted.
        job("capacity.check", status="failed"),
        "INSERT INTO procrastinate_events (job_id, type, at) SELECT id, 'failed', now() - interval '2 days' "
        "FROM procrastinate_jobs WHERE task_name = 'capacity.check'",
    )
    result = check_jobs(settings, 5)
    assert result.status is Status.WARN, result
    assert result.detail == (
        "1 worker(s) sent a heartbeat in the last 60s; 2 job(s) waiting; "
        "1 failed in the last 24 h: proposal.merge (1)"
    )
    assert "proposal.merge" in result.fix and '"Inspecting jobs"' in result.fix
    assert "capacity.check" not in result.fix
    assert healthy([result])  # a warning, not a failure


@pytest.mark.postgres
def test_job_queue_tables_missing(postgres_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from bot.adapters.store import SqlStore

    with_password = make_url(postgres_url).set(password="hunter2-" + "p" * 12)  # trust auth ignores it
    url = with_password.render_as_string(hide_password=False)
    fresh = check_jobs(Settings(database_url=url), 5)  # a fresh schema, never migrated
    assert fresh.status is Status.WARN and "not migrated yet" in fresh.detail, fresh
    assert healthy([fresh])  # as the database check says of an empty database

    # Migrated by Tugboat, yet without the queue's tables: something dropped them.
    with SqlStore.open(postgres_url):
        pass
    libpq = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
            "procrastinate_workers CASCADE"
        )
    result = check_jobs(Settings(database_url=url), 5)
    assert result.status is Status.FAIL, result
    assert "has no procrastinate_jobs and no procrastinate_workers" in result.detail
    assert result.fix.startswith("run tugboat serve once (it migrates) or check database_url")
    assert "hunter2" not in result.detail and "@127.0.0.1:5432/" in result.detail  # masked, still named
    assert not healthy([result])


def test_git_remote(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "gitops")
    result = check_git(Settings(repo=str(remote.bare)), 5, repository=wiring.repository)
    assert result.status is Status.OK and remote.head()[:12] in result.detail
    no_branch = check_git(
        Settings(repo=str(remote.bare), repo_default_branch="production"), 5, repository=wiring.repository
    )
    assert no_branch.status is Status.FAIL and "TUGBOAT_REPO_DEFAULT_BRANCH" in no_branch.fix
    gone = check_git(Settings(repo=str(tmp_path / "nowhere.git")), 5, repository=wiring.repository)
    assert gone.status is Status.FAIL and "TUGBOAT_REPO" in gone.fix


# -- running them together ----------------------------------------------------------------------


def test_checks_run_in_parallel_and_a_hung_check_times_out() -> None:
    barrier = threading.Barrier(3, timeout=10)
    released = threading.Event()

    def meeting(name: str) -> Callable[[Settings, float], CheckResult]:
        def check(_: Settings, __: float) -> CheckResult:
            barrier.wait()  # only passes when all three run at the same time
            return CheckResult(name, Status.OK, "met")

        return check

    def hung(_: Settings, __: float) -> CheckResult:
        released.wait(30)
        return CheckResult("hung", Status.OK, "late")

    try:
        results = run_checks(Settings(), 0.5, [meeting("a"), meeting("b"), meeting("c"), hung])
    finally:
        released.set()
    assert [r.status for r in results] == [Status.OK, Status.OK, Status.OK, Status.FAIL]
    assert "no answer within 0.5s" in results[-1].detail
    assert not healthy(results)


def test_cli_exit_codes_and_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("TUGBOAT_DATABASE_URL", f"sqlite:///{tmp_path / 'tugboat.db'}")
    result = runner.invoke(app, ["doctor", "--json", "--timeout", "2"])
    assert result.exit_code == 0, result.output  # nothing configured is not a failure
    document = json.loads(result.output)
    assert document["healthy"] is True
    assert {c["name"]: c["status"] for c in document["checks"]}["Slack"] == "not configured"

    monkeypatch.setenv("TUGBOAT_PROMETHEUS_URL", unreachable())
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-" + "2" * 12)
    with serving({"/api/auth.test": lambda: (200, {}, {"ok": False, "error": "invalid_auth"})}) as url:
        monkeypatch.setenv("TUGBOAT_SLACK_API_URL", url + "/api/")
        result = runner.invoke(app, ["doctor", "--timeout", "2"])
    assert result.exit_code == 1
    assert "failing: Slack, Prometheus" in result.output
    assert "invalid_auth" in result.output and "2" * 12 not in result.output
