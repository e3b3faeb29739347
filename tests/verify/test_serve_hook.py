"""`tugboat serve` hooks the watch in: approving in Slack (real Bolt app, mock Slack Web API,
real git remote, real Prometheus) posts the merge to the incident thread and starts a watch."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.adapters.slack import blocks
from tests.slack.conftest import APPROVER, CHANNEL, Harness, alert_payload, harness_factory

__all__ = ["harness_factory"]  # the Slack harness fixture, used here as well
pytestmark = pytest.mark.prometheus


def test_an_approved_merge_in_slack_is_announced_in_the_thread_and_watched(
    harness_factory: Callable[..., Harness], prom_url: str
) -> None:
    h = harness_factory(auto_draft=True, prometheus_url=prom_url, gitops_tool="argocd")
    h.alert(alert_payload())
    proposal_id, ts, thread = h.proposal_message()
    h.click(blocks.ACTION_APPROVE, proposal_id, user=APPROVER, ts=ts, thread=thread)
    h.api.wait_for("chat.update")
    merge_sha = h.remote.head()
    [merged] = [c for c in h.api.of("chat.postMessage") if "Merged `" in c.args["text"]]
    assert merged.args["thread_ts"] == thread and merged.args["channel"] == CHANNEL
    assert f"Merged `tugboat/{proposal_id}` at `{merge_sha[:10]}`" in merged.args["text"]
    # The Prometheus holds Argo CD's series at another time: the thread says none is exported now.
    assert "argocd exports no status for `checkout`" in str(merged.args["blocks"])
    trail = [e.kind for e in h.runtime.deps.store.audit_trail(proposal_id)]
    assert trail[-2:] == ["proposal.merged", "proposal.watching"]
