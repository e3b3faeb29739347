"""Doctor probes (``tugboat doctor``) for what Tugboat reads and stores: Prometheus, Loki, the
LLM, the database, the job queue and the git remote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.services.doctor.base import CheckResult, Status, egress_fix, fail, ok, reason, secret, skipped

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from bot.adapters.git.workclone import WorkingClone
    from bot.ports.metrics import MetricsSource
    from bot.settings import Settings

# -- Prometheus, Loki, LLM ----------------------------------------------------------------------


def check_prometheus(
    settings: Settings, timeout_s: float, *, source: Callable[[Settings], MetricsSource | None]
) -> CheckResult:
    """``source`` builds the metrics source from settings (the composition root's)."""
    name = "Prometheus"
    if not settings.prometheus_url:
        return skipped(name, "set TUGBOAT_PROMETHEUS_URL (e.g. http://prometheus.monitoring:9090)")
    import requests  # imported here: start-up time of every command (the CLI imports the doctor)

    base = settings.prometheus_url.rstrip("/")
    fix = "check TUGBOAT_PROMETHEUS_URL, TUGBOAT_PROMETHEUS_HEADERS and the network policy"
    try:
        ready = requests.get(f"{base}/-/ready", headers=settings.prometheus_headers, timeout=timeout_s)
    except requests.RequestException as exc:
        return fail(name, f"cannot reach {base}: {reason(exc)}", fix)
    if ready.status_code in (401, 403):
        return fail(
            name, f"/-/ready answered {ready.status_code}", "set TUGBOAT_PROMETHEUS_HEADERS (Authorization)"
        )
    if ready.status_code != 200:
        return fail(name, f"/-/ready answered {ready.status_code}", "wait for Prometheus to finish starting")
    metrics = source(
        settings.model_copy(update={"prometheus_timeout_s": timeout_s, "prometheus_budget_s": timeout_s})
    )
    assert metrics is not None
    try:
        answer = metrics.instant("vector(1)", datetime.now(UTC))
    except Exception as exc:
        return fail(name, f"ready, but a query failed: {reason(exc)}", fix)
    if len(answer) != 1:
        return fail(name, "ready, but vector(1) returned no sample", "check that this is Prometheus' API")
    return ok(name, f"{base} ready; queries answer")


def check_loki(settings: Settings, timeout_s: float) -> CheckResult:
    name = "Loki"
    if not settings.loki_url:
        return skipped(name, "optional: set TUGBOAT_LOKI_URL for log evidence")
    import requests  # imported here: start-up time of every command

    base = settings.loki_url.rstrip("/")
    try:
        ready = requests.get(f"{base}/ready", timeout=timeout_s)
    except requests.RequestException as exc:
        return fail(
            name, f"cannot reach {base}: {reason(exc)}", "check TUGBOAT_LOKI_URL and the network policy"
        )
    if ready.status_code != 200:
        body = ready.text.strip().splitlines()[0][:120] if ready.text.strip() else ""
        return fail(
            name, f"/ready answered {ready.status_code} {body}".strip(), "wait for Loki, or check the URL"
        )
    return ok(name, f"{base} ready")


def check_llm(settings: Settings, timeout_s: float) -> CheckResult:
    name = "LLM"
    if not settings.llm_configured:
        return skipped(name, "optional: set OPENAI_API_KEY (and OPENAI_BASE_URL) for plain-language answers")
    import openai

    client = openai.OpenAI(
        api_key=secret(settings.openai_api_key),
        base_url=settings.openai_base_url,
        timeout=timeout_s,
        max_retries=0,
    )
    endpoint = settings.openai_base_url or "https://api.openai.com/v1"
    try:
        models = {m.id for m in client.models.list()}
    except openai.AuthenticationError:
        return fail(name, f"{endpoint} refused the key (401)", "OPENAI_API_KEY is wrong or revoked")
    except openai.APIStatusError as exc:
        return fail(
            name, f"{endpoint} answered {exc.status_code}", "check OPENAI_BASE_URL and the key's access"
        )
    except openai.APIError as exc:
        return fail(name, f"cannot reach {endpoint}: {reason(exc)}", egress_fix("the LLM endpoint"))
    finally:
        client.close()
    if models and settings.llm_model not in models:
        return fail(
            name,
            f"{endpoint} does not offer {settings.llm_model}",
            f"set TUGBOAT_LLM_MODEL to one of: {', '.join(sorted(models)[:5])}",
        )
    return ok(name, f"{endpoint} offers {settings.llm_model}")


# -- Database, job queue and git -------------------------------------------------------------------


def check_database(settings: Settings, timeout_s: float) -> CheckResult:
    name = "Database"
    from sqlalchemy.engine import make_url

    from bot.adapters.store.engine import make_engine, shown
    from bot.adapters.store.migrate import current_revision, head_revision

    url = make_url(settings.database_url)
    where = shown(url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_file():
            return CheckResult(name, Status.WARN, f"{where} does not exist yet", "`tugboat serve` creates it")
    elif url.get_backend_name() == "postgresql":
        url = url.update_query_dict({"connect_timeout": str(max(1, int(timeout_s)))})
    try:
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            with engine.connect() as connection:
                revision = current_revision(connection)
        finally:
            engine.dispose()
    except Exception as exc:
        return fail(name, f"cannot connect to {where}: {reason(exc)}", "check TUGBOAT_DATABASE_URL")
    head = head_revision()
    if revision == head:
        return ok(name, f"{where} at revision {revision}")
    if revision is None:
        return CheckResult(
            name, Status.WARN, f"{where} is empty", "migrations run when `tugboat serve` starts"
        )
    from alembic.script import ScriptDirectory

    from bot.adapters.store.migrate import alembic_config

    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if revision not in known:
        return fail(
            name,
            f"{where} is at revision {revision}, unknown to this Tugboat (head {head})",
            "a newer Tugboat migrated it: upgrade this Tugboat (never downgrade a database)",
        )
    return CheckResult(
        name,
        Status.WARN,
        f"{where} at {revision}, head is {head}",
        "migrations run when `tugboat serve` starts",
    )


# The job queue's tables (procrastinate; PostgreSQL only: on SQLite the queue is in memory).
QUEUE_TABLES = ("procrastinate_jobs", "procrastinate_workers")
_LIVE_WORKERS = (
    "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat >= now() - make_interval(secs => :s)"
)
_WAITING = (
    "SELECT count(*) FROM procrastinate_jobs "
    "WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())"
)
# 'failed' is final (only a manual retry makes it 'todo' again), so a failed job with an event in
# the last 24 hours failed within them.
_FAILED_RECENTLY = (
    "SELECT task_name, count(*) FROM procrastinate_jobs j WHERE status = 'failed' AND EXISTS "
    "(SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id AND e.at >= now() - interval '24 hours') "
    "GROUP BY task_name ORDER BY count(*) DESC, task_name"
)


@dataclass(frozen=True)
class _QueueState:
    missing: list[str]
    migrated: bool = True  # Tugboat's own migrations ran (else the queue's tables are not due yet)
    workers: int = 0
    waiting: int = 0
    failed: tuple[tuple[str, int], ...] = ()


def check_jobs(settings: Settings, timeout_s: float) -> CheckResult:
    name = "Job queue"
    from sqlalchemy.engine import make_url

    from bot.adapters.store.engine import make_engine, shown

    url = make_url(settings.database_url)
    where = shown(url)
    if url.get_backend_name() == "sqlite":
        return ok(name, "in memory, in-process (single replica)")
    if url.get_backend_name() == "postgresql":
        url = url.update_query_dict({"connect_timeout": str(max(1, int(timeout_s)))})
    try:
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            with engine.connect() as connection:
                state = _queue_state(connection, settings.jobs_stalled_after_s, timeout_s)
        finally:
            engine.dispose()
    except Exception as exc:
        return fail(
            name, f"cannot read the job queue in {where}: {reason(exc)}", "check TUGBOAT_DATABASE_URL"
        )
    if state.missing and not state.migrated:  # as the database check says of an empty database
        return CheckResult(
            name, Status.WARN, f"{where} is not migrated yet", "migrations run when `tugboat serve` starts"
        )
    if state.missing:
        return fail(
            name,
            f"{where} has no {' and no '.join(state.missing)}",
            "run tugboat serve once (it migrates) or check database_url (TUGBOAT_DATABASE_URL)",
        )
    # Information, not a verdict: doctor often runs from a laptop, with no replica running.
    window = f"{settings.jobs_stalled_after_s:g}s"
    workers = (
        f"{state.workers} worker(s) sent a heartbeat in the last {window}"
        if state.workers
        else f"no worker sent a heartbeat in the last {window} (expected only if no replica is running)"
    )
    detail = f"{workers}; {state.waiting} job(s) waiting"
    if not state.failed:
        return ok(name, f"{detail}; none failed in the last 24 h")
    tasks = ", ".join(f"{task} ({count})" for task, count in state.failed)
    return CheckResult(
        name,
        Status.WARN,
        f"{detail}; {sum(n for _, n in state.failed)} failed in the last 24 h: {tasks}",
        f"find why {', '.join(task for task, _ in state.failed)} failed in the log of the replica that "
        'ran them; docs/operations.md, "Inspecting jobs", lists failed jobs and their arguments',
    )


def _queue_state(connection: Connection, stalled_after_s: float, timeout_s: float) -> _QueueState:
    from sqlalchemy import text

    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
    probe = ", ".join(f"to_regclass('{table}') IS NOT NULL" for table in QUEUE_TABLES)
    found = connection.execute(text(f"SELECT {probe}")).one()
    missing = [table for table, there in zip(QUEUE_TABLES, found, strict=True) if not there]
    if missing:
        migrated = connection.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar_one()
        return _QueueState(missing, migrated=bool(migrated))
    return _QueueState(
        missing=[],
        workers=int(connection.execute(text(_LIVE_WORKERS), {"s": stalled_after_s}).scalar_one()),
        waiting=int(connection.execute(text(_WAITING)).scalar_one()),
        failed=tuple((str(task), int(n)) for task, n in connection.execute(text(_FAILED_RECENTLY))),
    )


def check_git(
    settings: Settings, timeout_s: float, *, repository: Callable[[Settings], WorkingClone | None]
) -> CheckResult:
    """``repository`` builds Tugboat's clone from settings (the composition root's)."""
    name = "Git remote"
    from bot.adapters.git.runner import GitFailed, git

    branch = settings.repo_default_branch
    remote = "TUGBOAT_REPO"
    try:
        clone = repository(settings)  # the remote Tugboat fetches from and pushes to
        if clone is None:  # the one rule of wiring.repository: --repo, TUGBOAT_REPO, github_repo
            return skipped(name, "set TUGBOAT_REPO to the GitOps repository (a path or git URL)")
        remote = clone.source.name
        heads = git(
            ["ls-remote", "--heads", clone.source.url, branch],
            timeout_s=timeout_s,
            what="git ls-remote",
            env=clone.env(),
        )
    except GitFailed as exc:
        return fail(
            name,
            f"git ls-remote {remote} failed: {reason(exc)}",
            "check TUGBOAT_REPO and its credentials (GITHUB_TOKEN or the GitHub App for HTTPS, "
            "TUGBOAT_REPO_SSH_KEY_FILE for SSH)",
        )
    except Exception as exc:
        return fail(name, f"git ls-remote {remote}: {reason(exc)}", "check TUGBOAT_REPO")
    if not heads.strip():
        return fail(
            name,
            f"{remote} has no branch {branch}",
            "set TUGBOAT_REPO_DEFAULT_BRANCH to the branch to change",
        )
    return ok(name, f"{remote} {branch} at {heads.split()[0][:12]}")
