"""/healthz fails when the job worker is gone (so the pod is restarted); /readyz says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import requests

from bot.adapters.http.server import create_app
from bot.adapters.store import SqlStore
from bot.services.incidents import IncidentService
from testkit.asgi_server import serving
from testkit.databases import sqlite_url
from tests.slack.conftest import Harness

JOB_PROBLEM = "the job worker is not running (see the log for why)"


class Incidents:
    """What the probes read of the incident service."""

    running = True


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    with SqlStore.open(sqlite_url(tmp_path)) as store:
        yield store


def test_probes_follow_the_job_worker(sqlite_store: SqlStore) -> None:
    worker = {"alive": True}
    app = create_app(
        store=sqlite_store,
        incidents=cast(IncidentService, Incidents()),
        slack_events=None,
        jobs_running=lambda: worker["alive"],
    )
    with serving(app) as url:
        health = requests.get(url + "/healthz", timeout=5)
        ready = requests.get(url + "/readyz", timeout=5)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

        worker["alive"] = False
        health = requests.get(url + "/healthz", timeout=5)
        ready = requests.get(url + "/readyz", timeout=5)
        assert health.status_code == 503
        assert "job worker stopped" in health.json()["status"]
        assert ready.status_code == 503
        assert ready.json() == {"status": "not ready", "problems": [JOB_PROBLEM]}

        worker["alive"] = True  # the probe asks every time; nothing is cached
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
        assert requests.get(url + "/readyz", timeout=5).status_code == 200


def test_a_stopped_job_queue_fails_liveness_of_the_running_bot(harness: Harness) -> None:
    assert harness.runtime.jobs.running
    assert requests.get(harness.url + "/healthz", timeout=5).status_code == 200

    harness.runtime.jobs.stop()

    assert not harness.runtime.jobs.running
    health = requests.get(harness.url + "/healthz", timeout=5)
    assert health.status_code == 503, health.text
    ready = requests.get(harness.url + "/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["problems"] == [JOB_PROBLEM]  # the database and incident service are fine
