"""What use cases return, as Slack text and blocks: change requests, the open proposals,
capacity forecasts, rightsizing recommendations and early warnings. The services return data;
this is how Slack shows it (the CLI prints its own text from the same data)."""

from __future__ import annotations

from bot.adapters.slack import blocks
from bot.foresight.capacity import CapacityFinding
from bot.foresight.rightsize import Recommendation
from bot.ports.chat import Block
from bot.security.inert import inert_mrkdwn
from bot.services.anomaly_warning import AnomalyWarning
from bot.services.change_requests import ChangeRequest, Status


def change_request(request: ChangeRequest, verb: str = "requested") -> tuple[str, list[Block]]:
    """A change opened for approval, with its buttons; ``verb`` says how it came ("drafted")."""
    proposal = request.proposal
    body = blocks.proposal_blocks(proposal, with_buttons=True)
    note = f"{verb} by <@{request.requested_by}> · needs approval by someone else"
    body.insert(1, blocks.context(note))
    return f"Proposed change: {blocks.shown_title(proposal)}", body


def status(found: Status) -> tuple[str, list[Block]]:
    rows = [(p.proposal, p.needed, p.approvers) for p in found.proposals]
    body = blocks.status_blocks(rows, found.approvers, found.approver_groups)
    return f"{len(rows)} open proposal(s)", body


def finding_text(f: CapacityFinding) -> str:
    """One workload's capacity judgement, with the proposal it implies."""
    where = f"{f.workload}" + (f" ({f.namespace})" if f.namespace else "")
    head = f"*{where}*: " + ("will run short" if f.short else "enough capacity") + f": {f.reason}"
    lines = [head, *(f"• {n}" for n in f.notes)]
    if f.proposal is not None:
        lines.append(
            f"proposal: {f.proposal.title}"
            + (f" ({f.proposal.url or f.proposal.branch})" if f.proposal.branch else "")
        )
        lines.append(f"```{f.proposal.diff}```")
    return "\n".join(lines)


def forecast_text(findings: list[CapacityFinding]) -> str:
    return "\n".join(finding_text(f) for f in findings)


def recommendation_text(rec: Recommendation) -> str:
    """The recommendation, its notes and its diff."""
    lines = [f"*{rec.summary()}*", *(f"• {n}" for n in rec.notes)]
    if rec.proposal is not None:
        lines.append(f"```{rec.proposal.diff}```")
    return "\n".join(lines)


def anomaly_warning_text(w: AnomalyWarning) -> str:
    """An early warning in plain words; workload and namespace names are data, never markup."""
    where = f"*{inert_mrkdwn(w.workload)}*" + (
        f" (namespace {inert_mrkdwn(w.namespace)})" if w.namespace else ""
    )
    return (
        f"Early warning: {w.measure.words} of {where} left its usual range at {w.at:%H:%M} UTC "
        f"(anomaly score {w.score:.2f}). No alert has fired yet."
    )
