import json
from datetime import UTC, datetime

from bot.adapters.slack import blocks
from bot.domain.proposal import Action, FieldChange, Proposal
from bot.domain.report import CauseKind, Evidence, InvestigationReport, RootCause


def _report(
    n_causes: int = 3, evidence_text: str = "error ratio 0.3% -> 14% at 00:58"
) -> InvestigationReport:
    causes = [
        RootCause(
            kind=CauseKind.BAD_DEPLOY,
            service=f"svc{i}",
            confidence=0.9 - i / 10,
            commit="9c5e77e5d360",
            evidence=[
                Evidence(id=f"E{i}{j}", source="prometheus", observation=evidence_text) for j in range(6)
            ],
        )
        for i in range(n_causes)
    ]
    return InvestigationReport(
        alert_name="HighErrorRate",
        at=datetime(2026, 11, 25, tzinfo=UTC),
        summary="recommendations broke after release 3.20.0",
        root_causes=causes,
    )


def test_investigation_blocks_rank_causes_with_evidence() -> None:
    out = blocks.investigation(_report())
    text = "\n".join(b["text"]["text"] for b in out if b["type"] == "section")
    assert "*1. bad deploy* in *svc0* — 90% confidence · commit `9c5e77e5`" in text
    assert "• `E00` _prometheus_: error ratio 0.3% -&gt; 14% at 00:58" in text  # Slack shows ->
    assert text.count("`E0") == 4  # evidence per cause is capped


def test_limits_are_enforced() -> None:
    long_report = _report(3, evidence_text="x" * 5000)
    for block in blocks.investigation(long_report):
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= blocks.MAX_SECTION
    many = [blocks.section(str(i)) for i in range(80)] + [{"type": "actions", "elements": []}]
    fitted = blocks.fit(many)
    assert len(fitted) == blocks.MAX_BLOCKS
    assert fitted[-1]["type"] == "actions"
    assert len(blocks.header("h" * 400)["text"]["text"]) <= blocks.MAX_HEADER
    assert len(blocks.button("b", "a", "v" * 5000)["value"]) <= blocks.MAX_BUTTON_VALUE


def test_proposal_blocks_show_the_diff_and_the_right_buttons() -> None:
    proposal = Proposal(
        id="abc123",
        action=Action.SCALE,
        service="auth",
        changes=[FieldChange(file="apps/auth/deployment.yaml", field="replicas", **{"from": 3}, to=6)],
        diff="--- a/x\n+++ b/x\n@@ -1 +1 @@\n-replicas: 3\n+replicas: 6\n```oops```",
    )
    with_buttons = blocks.proposal_blocks(proposal, with_buttons=True)
    actions = with_buttons[-1]
    assert [e["action_id"] for e in actions["elements"]] == [blocks.ACTION_APPROVE, blocks.ACTION_REJECT]
    approve, reject = actions["elements"]
    assert (approve["value"], reject["value"]) == ("abc123@", "abc123")  # Approve names the head
    opened = blocks.proposal_blocks(
        proposal.model_copy(update={"head_sha": "f" * 40, "branch": "b"}), with_buttons=True
    )
    assert opened[-1]["elements"][0]["value"] == "abc123@" + "f" * 40
    assert blocks.button_target(opened[-1]["elements"][0]["value"]) == ("abc123", "f" * 40)
    assert "Approve approves commit `ffffffffffff` only" in json.dumps(opened)
    assert opened[-2]["elements"][0]["text"] == "Approve approves commit `ffffffffffff` only · branch `b`"
    url = "https://github.com/o/r/pull/7"
    with_pr = blocks.proposal_blocks(
        proposal.model_copy(update={"head_sha": "f" * 40, "branch": "b", "url": url}), with_buttons=True
    )
    assert (
        with_pr[-2]["elements"][0]["text"]
        == f"Approve approves commit `ffffffffffff` only · branch `b` · {url}"
    )
    diff_block = with_buttons[1]["text"]["text"]
    assert diff_block.startswith("```") and diff_block.endswith("```")
    assert diff_block.count("```") == 2  # the diff's own fence cannot close ours
    draft = blocks.proposal_blocks(proposal, with_buttons=False, draft_button=True)
    assert draft[-1]["elements"][0]["action_id"] == blocks.ACTION_DRAFT
    decided = blocks.decision_blocks(proposal, "Approved by <@U1> at 10:02")
    assert all(b["type"] != "actions" for b in decided)
    assert decided[-1]["elements"][0]["text"] == "Approved by <@U1> at 10:02"


def test_changes_are_shown_in_kubernetes_units() -> None:
    memory = FieldChange(file="f", field="memory", container="api", **{"from": 805306368}, to=1610612736)
    assert blocks.change_text(memory) == "memory limit (api) 768Mi → *1536Mi*"
    cpu = FieldChange(file="f", field="cpu", **{"from": 2.0}, to=3.5)
    assert blocks.change_text(cpu) == "CPU limit 2 → *3500m*"
    assert (
        blocks.change_text(FieldChange(file="f", field="replicas", **{"from": 3}, to=6)) == "replicas 3 → *6*"
    )
