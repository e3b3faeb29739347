"""Nothing that leaves for Slack carries a secret, whatever the evidence quoted."""

from __future__ import annotations

import json

from slack_sdk import WebClient

from bot.adapters.slack import blocks
from bot.adapters.slack.notifier import SlackNotifier
from bot.ports.chat import Attachment
from testkit.slack_api import running_slack_api

SECRETS = [
    "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2",
    "xoxb-" + "123456789012-123456789012-AbCdEfGhIjKlMnOpQrStUvWx",
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "postgresql://tug:" + "hunter2-Pa55@db:5432/tugboat",
]


def test_messages_updates_ephemerals_and_files_are_redacted() -> None:
    leaked = " ".join(f"token={s}" if not s.startswith("postgresql") else s for s in SECRETS)
    with running_slack_api() as api:
        notifier = SlackNotifier(WebClient(token="xoxb-test", base_url=api.base_url))
        body = [blocks.section(f"• _logs_: 12 'push failed {leaked}' lines since 10:02")]
        ts = notifier.post_message("C1", f"incident: {leaked}", body)
        notifier.update_message("C1", ts, f"resolved {leaked}", body)
        notifier.post_ephemeral("C1", "U1", f"refused {leaked}", body)
        notifier.upload_files(
            "C1",
            ts,
            [Attachment(filename="report.txt", content=f"full report {leaked}")],
            comment=f"details {leaked}",
        )
        sent = json.dumps([c.args for c in api.calls], default=str)
    assert api.of("chat.postMessage") and api.of("chat.update") and api.of("chat.postEphemeral")
    for secret in SECRETS:
        assert secret not in sent
    assert "[REDACTED" in sent
    assert "12 'push failed" in sent  # the evidence itself still reads
    assert "full report" in sent and "details" in sent  # the file and its comment went out too
