"""Shared fixtures. Components a test needs are real; when one is missing the test fails
under CI=true and skips with a reason elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bot.adapters.store import SqlStore

ROOT = Path(__file__).resolve().parent.parent
SHARED = (ROOT.parent / "shared").resolve()
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip with a reason on a developer machine; fail in CI, where everything must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tugboat's working clones go to a temporary directory, never into the checkout."""
    monkeypatch.setenv("TUGBOAT_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    need(SHARED.is_dir(), f"{SHARED} is absent (the shared/ folder sits beside a development checkout)")
    return SHARED


@pytest.fixture(scope="session")
def prometheus_binaries() -> None:
    from testkit.promserver import PrometheusMissing, binaries

    try:
        binaries()
    except PrometheusMissing as exc:
        need(False, str(exc))


@pytest.fixture
def tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# Databases (testkit/databases.py). `store_url` runs a test once on SQLite and once on
# PostgreSQL; `postgres_url` is PostgreSQL only. Both hand out an empty database per test.


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, dropped at the end."""
    from testkit.databases import postgres_problem, throwaway_database, url_string

    problem = postgres_problem()
    need(problem is None, problem or "")
    with throwaway_database() as url:
        yield url_string(url)


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """A SQLAlchemy URL to an empty schema of the session's PostgreSQL database."""
    from sqlalchemy.engine import make_url

    from testkit.databases import fresh_schema, url_string

    return url_string(fresh_schema(make_url(postgres_database)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: a SQLite file under tmp_path, or a fresh PostgreSQL schema."""
    from testkit.databases import sqlite_url

    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """An opened (migrated) ``SqlStore`` on ``store_url``; closed after the test."""
    from bot.adapters.store import SqlStore

    with SqlStore.open(store_url) as opened:
        yield opened


# -- marker report: CI checks that the real-Prometheus tests actually ran ---------------------
_PASSED_BY_MARKER: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        for marker in ("prometheus", "postgres", "shared", "alertmanager"):
            if marker in report.keywords:
                _PASSED_BY_MARKER[marker] = _PASSED_BY_MARKER.get(marker, 0) + 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("TUGBOAT_MARKER_REPORT")
    # Under pytest-xdist the controller receives every worker's reports; only it writes.
    if target and "PYTEST_XDIST_WORKER" not in os.environ:
        import json

        Path(target).write_text(json.dumps(_PASSED_BY_MARKER))
