"""Block Kit messages for incidents, investigations and proposals.

Slack's limits are enforced here, once: at most 50 blocks a message, 3000 characters in a
section, 150 in a header, 2000 in a button value. Long content is cut with a visible marker;
callers attach the full text as a file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.analysis.kinds import label
from bot.domain.alert import AlertGroup
from bot.domain.proposal import FieldChange, Proposal, field_words
from bot.domain.quantity import format_cpu, format_memory
from bot.domain.report import InvestigationReport, RootCause
from bot.security.inert import inert_mrkdwn

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON_VALUE = 2000

Block = dict[str, Any]

ACTION_DRAFT = "tugboat_draft_pr"
ACTION_APPROVE = "tugboat_approve"
ACTION_REJECT = "tugboat_reject"


def truncate(text: str, limit: int, marker: str = "… (truncated)") -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER, "…")}}


def mrkdwn(markdown: str) -> Block:
    """A mrkdwn text object. ``verbatim``: Slack does not turn bare URLs, domains or channel
    names in it into links (``evil.example`` stays text); Tugboat's own ``<url|text>`` links and
    ``<@U…>`` mentions are explicit markup, which still renders."""
    return {"type": "mrkdwn", "text": truncate(markdown, MAX_SECTION), "verbatim": True}


def section(markdown: str) -> Block:
    return {"type": "section", "text": mrkdwn(markdown)}


def context(*items: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(i) for i in items]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style:
        element["style"] = style
    return element


def code_block(text: str, limit: int = MAX_SECTION - 8) -> str:
    body = text.replace("```", "`\u200b``")  # a diff must not close our code fence early
    return "```" + truncate(body, limit) + "```"


def fit(blocks: list[Block]) -> list[Block]:
    """Keep within the block limit, preferring to keep the first blocks and the action row."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    actions = [b for b in blocks if b.get("type") == "actions"][-1:]
    kept = [b for b in blocks if b not in actions][: MAX_BLOCKS - len(actions) - 1]
    return [*kept, context("_More details were left out to fit Slack's limits._"), *actions]


def incident_parent(group: AlertGroup, resolved_after: str | None = None) -> list[Block]:
    """The channel message that opens an incident thread."""
    alert = group.primary
    labels = group.common_labels or alert.labels
    icon = ":white_check_mark:" if resolved_after else ":rotating_light:"
    state = f"resolved after {resolved_after}" if resolved_after else f"{len(group.alerts)} firing"
    # Annotations and labels are whatever the alert's author (or a templated metric) put there.
    summary = inert_mrkdwn(alert.annotations.get("summary") or alert.annotations.get("description") or "")
    where = inert_mrkdwn(
        ", ".join(
            f"{k}={labels[k]}" for k in ("namespace", "service", "app", "deployment", "pod") if k in labels
        )
    )
    blocks = [
        header(f"{icon} {group.title}"),
        section(f"*{state}* · {where}" + (f"\n{summary}" if summary else "")),
    ]
    started = group.started_at
    if started:
        blocks.append(
            context(f"started {started:%Y-%m-%d %H:%M UTC} · severity {labels.get('severity', 'n/a')}")
        )
    return blocks


def cause_line(rank: int, cause: RootCause) -> str:
    kind = label(cause.kind)
    commit = f" · commit `{cause.commit[:8]}`" if cause.commit else ""
    return f"*{rank}. {kind}* in *{inert_mrkdwn(cause.service)}* — {cause.confidence:.0%} confidence{commit}"


def investigation(report: InvestigationReport, max_evidence: int = 4) -> list[Block]:
    """The thread reply with the ranked causes and their evidence."""
    # The summary may be the model's words, and evidence quotes log lines: both stay data.
    blocks: list[Block] = [
        section(f"*Investigation* ({report.duration_s:.1f}s)\n{inert_mrkdwn(report.summary)}")
    ]
    if report.llm is not None:
        blocks.append(model_label(report.llm.model))
    for rank, cause in enumerate(report.root_causes[:3], start=1):
        lines = [cause_line(rank, cause)]
        for ev in cause.evidence[:max_evidence]:
            ref = f" `{ev.id}`" if ev.id else ""
            lines.append(f"•{ref} _{ev.source}_: {inert_mrkdwn(ev.observation)}")
        blocks.append(section("\n".join(lines)))
    degraded = [s for s in report.sources if not s.ok]
    if degraded:
        blocks.append(context(*(f":warning: {s.name}: {s.detail}" for s in degraded[:5])))
    return fit(blocks)


def model_label(model: str) -> Block:
    """Says that the text above is the model's, not Tugboat's deterministic analysis."""
    name = f" ({inert_mrkdwn(model)})" if model else ""
    return context(
        f":robot_face: Written by the language model{name}. The ranked causes and any proposed "
        "change come from Tugboat's deterministic analysis."
    )


def _shown(field: str, value: object) -> str:
    """Quantities as people write them: 1536Mi rather than 1610612736."""
    if value is None:
        return "unset"
    try:
        if field in ("memory", "memory_request"):
            return format_memory(int(float(str(value))))
        if field in ("cpu", "cpu_request"):
            return format_cpu(float(str(value)))
    except ValueError:
        pass
    return str(value)


def change_text(change: FieldChange) -> str:
    name = field_words(change.field)
    where = f" ({change.container})" if change.container else ""
    return f"{name}{where} {_shown(change.field, change.from_)} → *{_shown(change.field, change.to)}*"


def proposal_blocks(proposal: Proposal, *, with_buttons: bool, draft_button: bool = False) -> list[Block]:
    """The proposed change: what, why, the diff, and the buttons."""
    changes = "\n".join(f"• `{c.file}`: {change_text(c)}" for c in proposal.changes) or "• no field changes"
    title = shown_title(proposal)
    blocks: list[Block] = [section(f"*Proposed change:* {title}\n{changes}")]
    if proposal.diff:
        blocks.append(section(code_block(proposal.diff)))
    if proposal.url or proposal.branch:
        head = (proposal.head_sha or "")[:12]
        where = [f"branch `{proposal.branch}`"] if proposal.branch else []
        where += [proposal.url] if proposal.url else []  # the pull request, where there is one
        blocks.append(context(" · ".join([f"Approve approves commit `{head}` only", *where])))
    if draft_button:
        blocks.append(
            {"type": "actions", "elements": [button("Draft PR", ACTION_DRAFT, proposal.id, "primary")]}
        )
    elif with_buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"proposal:{proposal.id}",
                "elements": [
                    button("Approve", ACTION_APPROVE, approve_value(proposal), "primary"),
                    button("Reject", ACTION_REJECT, proposal.id, "danger"),
                ],
            }
        )
    return fit(blocks)


def shown_title(proposal: Proposal) -> str:
    """The proposal's title for a message; inert, since a revert's title quotes a commit subject."""
    return (
        inert_mrkdwn(proposal.title)
        if proposal.title
        else f"a change to {inert_mrkdwn(proposal.service or 'the repository')}"
    )


def approve_value(proposal: Proposal) -> str:
    """The Approve button names the commit it approves: ``<proposal id>@<head sha>``."""
    return f"{proposal.id}@{proposal.head_sha or ''}"


def button_target(value: str) -> tuple[str, str]:
    """(proposal id, the head sha the button was made for; "" when it names none)."""
    proposal_id, _, head = value.partition("@")
    return proposal_id, head


def decision_blocks(proposal: Proposal, text: str, original: Sequence[Block] | None = None) -> list[Block]:
    """The proposal message after a decision or its end: what it said (``original``, the blocks
    it was posted with, e.g. who asked or the capacity finding above the change; rebuilt from
    the proposal when not known) without its buttons, and ``text`` saying what happened."""
    shown = original if original else proposal_blocks(proposal, with_buttons=False)
    return fit([b for b in shown if b.get("type") != "actions"] + [context(text)])


# -- threads, commands and forms --------------------------------------------------------------

CALLBACK_REJECT = "tugboat_reject_reason"
REASON_BLOCK, REASON_INPUT = "reason", "reason_input"


def alert_update(group: AlertGroup, new: int, total: int) -> list[Block]:
    """A thread reply for alerts that joined the group since the last message."""
    names = sorted({a.labels.get("pod") or a.labels.get("instance") or a.name for a in group.alerts})
    shown = ", ".join(f"`{inert_mrkdwn(n)}`" for n in names[:10]) + (
        f" and {len(names) - 10} more" if len(names) > 10 else ""
    )
    return [section(f":heavy_plus_sign: {new} more alert(s) firing in this group ({total} in all): {shown}")]


def resolved_reply(duration: str) -> list[Block]:
    return [section(f":white_check_mark: *Resolved* after {duration}.")]


def refired_reply(group: AlertGroup) -> list[Block]:
    return [section(f":rotating_light: *Firing again:* {group.title}. Investigating…")]


def reject_modal(proposal: Proposal, channel: str, message_ts: str) -> dict[str, Any]:
    """The form that asks why a proposal is rejected; the reply lands in ``view_submission``."""
    title = shown_title(proposal)
    return {
        "type": "modal",
        "callback_id": CALLBACK_REJECT,
        "private_metadata": json.dumps({"proposal": proposal.id, "channel": channel, "ts": message_ts}),
        "title": {"type": "plain_text", "text": "Reject change"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"Rejecting *{truncate(title, 200)}*"),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }


def status_blocks(
    rows: list[tuple[Proposal, int, list[str]]],
    approvers: Sequence[str] = (),
    groups: Sequence[str] = (),
) -> list[Block]:
    """Open proposals: what, how many approvals it has of how many, who has approved, who may."""
    if not rows:
        return [section("No open proposals.")]
    who_may = [f"<@{u}>" for u in approvers] + [f"<!subteam^{g}>" for g in groups]
    blocks = [header("Open proposals"), context("Approvers: " + (", ".join(who_may) or "none configured"))]
    for proposal, needed, approvers in rows:
        title = shown_title(proposal)
        who = ", ".join(f"<@{u}>" for u in approvers) or "nobody yet"
        by = f" · requested by <@{proposal.requested_by}>" if proposal.requested_by else ""
        blocks.append(
            section(
                f"*{title}* (`{proposal.id}`)\n{len(approvers)} of {needed} approval(s): {who}{by}"
                + (f"\n{proposal.url or proposal.branch}" if proposal.url or proposal.branch else "")
            )
        )
    return fit(blocks)
