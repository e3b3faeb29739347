"""``tugboat serve`` schedules the anomaly watch: with Prometheus and a channel, and no
repository needed (a warning proposes nothing), with each warning's post as a job; not when its
schedule is empty. As a process, it posts a jump once (through the job queue)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.services.anomaly_posts import POST_JOB
from bot.services.anomaly_watch import ANOMALY_JOB
from bot.settings import Settings
from bot.wiring.serve import build_runtime
from testkit import slack_requests
from testkit.promserver import running_prometheus
from testkit.serve_process import serve_http
from testkit.slack_api import running_slack_api
from tests.anomaly.cluster import SCRAPE, Workload, calm, jump_at, write


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
            assert (POST_JOB in runtime.jobs.app.tasks) is scheduled  # each warning's post
            assert periodic.get(ANOMALY_JOB) == (cron or None)
        finally:
            runtime.close()


@pytest.mark.prometheus
@pytest.mark.slow
def test_a_serve_process_posts_the_early_warning_once(tmp_path: Path, prometheus_binaries: None) -> None:
    # a day of history around the wall clock, since serve schedules against it; the watch's
    # first run comes at start (the newest scheduled time), then every 5 seconds
    now = int(time.time()) // SCRAPE * SCRAPE
    workloads = (
        Workload("catalog", "shop", calm, calm),
        Workload("checkout", "payments", jump_at(now - 150), calm),
    )
    om = write(tmp_path / "metrics.om", workloads, begin=now - 25 * 3600, end=now + 15 * 60)
    with (
        running_prometheus(om) as prometheus,
        running_slack_api() as api,
        serve_http(
            tmp_path,
            api.base_url,
            "C_INCIDENTS",
            TUGBOAT_PROMETHEUS_URL=prometheus,
            TUGBOAT_ANOMALY_CRON="* * * * * */5",
            TUGBOAT_ANOMALY_LOOKBACK_HOURS="24",
        ) as served,
    ):
        [post] = api.wait_for("chat.postMessage", timeout=120)
        assert post.args["text"].startswith("Early warning: CPU use of *checkout* (namespace payments)")
        assert post.args["channel"] == "C_INCIDENTS"
        api.wait_for("files.completeUploadExternal", timeout=60)  # its graph
        runs = lambda: served.logs().count("warnings claimed") >= 3  # noqa: E731
        wait_for_logs(runs, served.logs)
    warned = [c for c in api.of("chat.postMessage") if c.args["text"].startswith("Early warning")]
    assert len(warned) == 1, "later runs see the same jump, within the cooldown"


def wait_for_logs(condition: Callable[[], bool], logs: Callable[[], str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"the watch did not run three times:\n{logs()[-2000:]}"
        time.sleep(0.2)
