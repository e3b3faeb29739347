"""``tugboat serve`` schedules the anomaly watch: with Prometheus and a channel, and no
repository needed (a warning proposes nothing); not when its schedule is empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.anomaly_watch import ANOMALY_JOB
from bot.settings import Settings
from bot.wiring.serve import build_runtime
from testkit import slack_requests
from testkit.slack_api import running_slack_api


@pytest.mark.parametrize(("cron", "scheduled"), [("*/10 * * * *", True), ("", False)])
def test_serve_schedules_the_watch_unless_its_cron_is_empty(
    cron: str, scheduled: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no tugboat.yaml from the developer's checkout
    with running_slack_api() as api:
        settings = Settings(
            slack_bot_token="xoxb-test",
            slack_signing_secret=slack_requests.SECRET,
            slack_api_url=api.base_url,
            slack_channel="C_INCIDENTS",
            database_url=f"sqlite:///{tmp_path / 'tugboat.db'}",
            data_dir=str(tmp_path / "data"),
            prometheus_url="http://127.0.0.1:9",  # never asked: the first run is minutes away
            anomaly_cron=cron,
            llm_enabled=False,
        )
        runtime = build_runtime(settings)
        try:
            periodic = {
                p.periodic_id: p.cron for p in runtime.jobs.app.periodic_registry.periodic_tasks.values()
            }
            assert (ANOMALY_JOB in runtime.jobs.app.tasks) is scheduled
            assert periodic.get(ANOMALY_JOB) == (cron or None)
        finally:
            runtime.close()
