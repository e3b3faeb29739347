"""How use-case results look in Slack: human words, never the internal enum values."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from bot.adapters.slack import replies
from bot.domain.proposal import Action, FieldChange, Proposal, ProposalState
from bot.foresight.capacity import CapacityFinding
from bot.foresight.rightsize import Change, Recommendation
from bot.services.change_requests import ChangeRequest, OpenProposal, Status

AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
# Values that are not also plain English words ("scale", "open", "merged" are).
INTERNAL = re.compile(
    r"\b("
    + "|".join([*(a.value for a in Action if "_" in a.value), "cpu_request", "memory_request"])
    + r")\b"
)


def _proposal(action: Action, field: str, to: object) -> Proposal:
    change = FieldChange(
        file="apps/checkout/deployment.yaml",
        field=field,
        resource="Deployment/checkout",
        **{"from": 1, "to": to},
    )
    return Proposal(
        action=action,
        service="checkout",
        namespace="shop",
        changes=[change],
        diff="--- a/x\n+++ b/x\n",
        title="CPU limit 2 for checkout",
        requested_by="U_CAROL",
        state=ProposalState.OPEN,
        head_sha="a" * 40,
        branch="tugboat/p-1",
    )


def test_change_requests_and_status_read_as_words() -> None:
    proposal = _proposal(Action.SET_CPU_LIMIT, "cpu", 2.0)
    text, body = replies.change_request(ChangeRequest(proposal, "U_CAROL"), verb="drafted")
    shown = text + json.dumps(body, ensure_ascii=False)
    assert text == "Proposed change: CPU limit 2 for checkout"
    assert "drafted by <@U_CAROL> · needs approval by someone else" in shown
    text, body = replies.status(Status([OpenProposal(proposal, 2, ["U_ALICE"])], ["U_ALICE", "U_BOB"], []))
    shown += text + json.dumps(body, ensure_ascii=False)
    assert text == "1 open proposal(s)" and "1 of 2 approval(s): <@U_ALICE>" in json.dumps(
        body, ensure_ascii=False
    )
    assert not INTERNAL.search(shown), INTERNAL.search(shown)


def test_forecasts_and_recommendations_read_as_words() -> None:
    short = CapacityFinding("checkout", "shop", AT, short=True, reason="peak forecast 130% of capacity")
    short.notes.append("demand from CPU usage (no request metric covers it)")
    short.proposal = _proposal(Action.SCALE, "replicas", 6)
    flat = CapacityFinding("catalog", None, AT, short=False, reason="peak forecast 40% of capacity")
    text = replies.forecast_text([short, flat])
    assert text.startswith("*checkout (shop)*: will run short: peak forecast 130%")
    assert "\n*catalog*: enough capacity: peak forecast 40%" in text
    assert "• demand from CPU usage" in text and "```--- a/x" in text

    rec = Recommendation("checkout", "shop", "checkout", AT, data_hours=48.0)
    rec.changes = [
        Change("cpu_request", None, 0.07, "p95 of usage"),
        Change("memory", 512 * 2**20, 2**28, "peak"),
    ]
    rec.proposal = _proposal(Action.SET_RESOURCES, "cpu_request", 0.07)
    said = replies.recommendation_text(rec)
    assert said.startswith("*checkout: CPU request unset → 70m (p95 of usage); memory limit 512Mi → 256Mi")
    assert not INTERNAL.search(text + said), INTERNAL.search(text + said)
