"""The capacity check in serve mode, posted for approval in Slack. That it runs once per scheduled
time across replicas is the job queue's periodic guarantee (tests/jobs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.slack.blocks import ACTION_APPROVE
from bot.settings import Settings
from testkit.gitops import make_remote
from testkit.slack_api import running_slack_api
from tests.capacity.test_capacity import AT, FILES, prometheus  # noqa: F401 - the module fixture


@pytest.mark.prometheus
def test_serve_schedule_posts_the_proposal_with_buttons(prometheus: str, tmp_path: Path) -> None:  # noqa: F811
    remote = make_remote(tmp_path / "gitops", FILES)
    with running_slack_api() as api:
        settings = Settings(
            prometheus_url=prometheus,
            repo=str(remote.bare),
            data_dir=str(tmp_path / "data"),
            database_url=f"sqlite:///{tmp_path / 'tugboat.db'}",
            slack_channel="C_CAPACITY",
            slack_api_url=api.base_url,
            policy={"approvers": ["U_ALICE"]},
        )
        from slack_sdk import WebClient

        from bot.adapters.graphs import render_all
        from bot.adapters.slack.notifier import SlackNotifier

        store = wiring.store(settings)
        workflow = wiring.workflow(settings, store, wiring.change_host(settings))
        chat = SlackNotifier(WebClient(token="xoxb-test", base_url=api.base_url))
        check = wiring.capacity_check(settings, chat, workflow, lambda: remote.work, render_all)
        assert check is not None
        run = check(datetime.fromtimestamp(AT, UTC))
        # every namespace is checked: checkout runs short, and so does edge (its HPA is capped)
        assert run is not None and sorted(p.service for p in run.opened) == ["checkout", "edge"]
        posts = api.of("chat.postMessage")
        assert posts and all(p.args["channel"] == "C_CAPACITY" for p in posts)
        first = next(p.args for p in posts if "checkout" in p.args["text"])
        actions = [b for b in first["blocks"] if b["type"] == "actions"]
        assert actions and actions[0]["elements"][0]["action_id"] == ACTION_APPROVE
        [checkout] = [p for p in run.opened if p.service == "checkout"]
        recorded = store.proposal_message(checkout.id)  # where its buttons are, for when it ends
        posted_ts = {m["ts"] for m in api.channels["C_CAPACITY"] if m["text"] == first["text"]}
        assert recorded is not None and recorded.channel == "C_CAPACITY" and recorded.ts in posted_ts
        assert "checkout" in first["text"] and "will run short" in first["text"]
        assert api.of("files.completeUploadExternal"), "the forecast graph is attached"
