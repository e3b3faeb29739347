"""Buttons and the rejection form: Draft PR, Approve, Reject (a modal asks why).

Every click is acknowledged at once; decisions run lazily through ``ProposalWorkflow``, which
makes each of them happen exactly once. A click acts at most once: a second delivery of the same
click (same user, proposal and ``action_ts``: a replay inside Slack's signature window, or a
retry) does nothing, on any replica. Refusals are shown only to the person who clicked.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App

from bot.adapters.slack import blocks
from bot.adapters.slack.deps import SlackDeps
from bot.domain.approval import Decision
from bot.domain.errors import TugboatError
from bot.domain.proposal import STATE_TEXT, TERMINAL_STATES, ProposalState
from bot.observability.metrics import MERGES, SLACK_REQUESTS
from bot.services.proposals import Outcome

log = logging.getLogger(__name__)


def _where(body: dict[str, Any]) -> tuple[str, str, str | None]:
    """(channel, message ts, thread ts) of the message whose button was clicked."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    ts = container.get("message_ts") or message.get("ts", "")
    return channel, ts, message.get("thread_ts") or container.get("thread_ts")


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value", ""))


def first_delivery(deps: SlackDeps, body: dict[str, Any]) -> bool:
    """True the first time this click arrives. Its identity is who clicked, which button of which
    proposal, and Slack's ``action_ts``; claimed in the database, so it holds across replicas."""
    action = (body.get("actions") or [{}])[0]
    proposal_id, _ = blocks.button_target(str(action.get("value", "")))
    key = ":".join(
        (
            "click",
            str(body["user"]["id"]),
            str(action.get("action_id", "")),
            proposal_id[:64],
            str(action.get("action_ts", "")),
        )
    )
    if deps.store.claim_once(key[:512]):
        return True
    SLACK_REQUESTS.labels(outcome="duplicate_click").inc()
    log.info("a click was delivered again; it already acted once")
    return False


def _decided_text(verb: str, user: str, deps: SlackDeps, outcome: Outcome) -> str:
    when = deps.clock().strftime("%Y-%m-%d %H:%M UTC")
    return f"{verb} by <@{user}> at {when} · {outcome.message}"


def register(app: App, deps: SlackDeps) -> None:
    def just_ack(ack: Ack) -> None:
        ack()

    def refuse(channel: str, user: str, thread: str | None, text: str) -> None:
        deps.chat.post_ephemeral(channel, user, f":no_entry: {text}", thread_ts=thread)

    def guarded(body: dict[str, Any], fn: Any) -> None:
        channel, _, thread = _where(body)
        user = body["user"]["id"]
        try:
            fn()
        except TugboatError as exc:
            refuse(channel, user, thread, str(exc))
        except Exception:
            log.exception("button handler failed")
            refuse(channel, user, thread, "that did not work; see Tugboat's log")

    # -- Draft PR ------------------------------------------------------------------------
    def draft(body: dict[str, Any]) -> None:
        def run() -> None:
            channel, ts, thread = _where(body)
            user, proposal_id = body["user"]["id"], _value(body)
            if deps.workflow is None:
                refuse(channel, user, thread, "no GitOps repository is configured (TUGBOAT_REPO)")
                return
            if not first_delivery(deps, body):
                return
            existing = deps.store.get_proposal(proposal_id)
            if existing is None:
                if not deps.store.claim_once(f"draft:{proposal_id}"):
                    refuse(channel, user, thread, "this change is already being drafted")
                    return
                proposal = deps.incidents.proposal_from_reports(proposal_id)
                if proposal is None:
                    refuse(channel, user, thread, "this proposal is no longer known; investigate again")
                    return
                existing = deps.workflow.submit(proposal, requested_by=user)
            elif existing.state is not ProposalState.DRAFT:  # DRAFT: an earlier open failed, retry it
                refuse(channel, user, thread, f"this change is already {STATE_TEXT[existing.state]}")
                return
            opened = deps.workflow.open(existing.id, actor=existing.requested_by or user)
            body_blocks = blocks.proposal_blocks(opened, with_buttons=True)
            who = existing.requested_by or user
            body_blocks.insert(1, blocks.context(f"drafted by <@{who}> · needs approval by someone else"))
            deps.chat.update_message(
                channel, ts, f"Proposed change: {blocks.shown_title(opened)}", body_blocks
            )

        guarded(body, run)

    # -- Approve -------------------------------------------------------------------------
    def approve(body: dict[str, Any]) -> None:
        def run() -> None:
            channel, ts, thread = _where(body)
            user = body["user"]["id"]
            proposal_id, shown_head = blocks.button_target(_value(body))
            workflow = deps.workflow
            if workflow is None:
                refuse(channel, user, thread, "no GitOps repository is configured (TUGBOAT_REPO)")
                return
            if not first_delivery(deps, body):
                return
            # The merge may run as a job elsewhere: it reports back to this message (report_merge).
            where = {"channel": channel, "ts": ts, "thread": thread, "user": user}
            outcome = workflow.decide(
                proposal_id, user, Decision.APPROVE, context=where, shown_head=shown_head
            )
            _after_decision(deps, outcome, "Approved", user, channel, ts, thread)

        guarded(body, run)

    # -- Reject: a modal asks for the reason -----------------------------------------------
    def open_reject_form(body: dict[str, Any]) -> None:
        # Lazy, but started as soon as the ack is sent: the trigger id lives for 3 seconds.
        def run() -> None:
            channel, ts, thread = _where(body)
            user = body["user"]["id"]
            proposal_id, _ = blocks.button_target(_value(body))
            if deps.workflow is None:
                refuse(channel, user, thread, "no GitOps repository is configured (TUGBOAT_REPO)")
                return
            if not first_delivery(deps, body):
                return
            refusal = deps.workflow.refusal(proposal_id, user, Decision.REJECT)  # audited if any
            if refusal:
                refuse(channel, user, thread, refusal)
                return
            proposal = deps.workflow.get(proposal_id)
            deps.chat.open_modal(body["trigger_id"], blocks.reject_modal(proposal, channel, ts))

        guarded(body, run)

    def reject_submitted(body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        meta = _metadata(view.get("private_metadata"))
        channel, ts, proposal_id = (str(meta.get(k) or "") for k in ("channel", "ts", "proposal"))
        user = body["user"]["id"]
        values = (view.get("state") or {}).get("values") or {}
        reason = ((values.get(blocks.REASON_BLOCK) or {}).get(blocks.REASON_INPUT) or {}).get("value") or ""
        try:
            if deps.workflow is None:
                return
            outcome = deps.workflow.decide(proposal_id, user, Decision.REJECT, reason.strip())
            _after_decision(deps, outcome, "Rejected", user, channel, ts, None, reason.strip())
        except TugboatError as exc:
            deps.chat.post_ephemeral(channel, user, f":no_entry: {exc}")

    app.action(blocks.ACTION_DRAFT)(ack=just_ack, lazy=[draft])
    app.action(blocks.ACTION_APPROVE)(ack=just_ack, lazy=[approve])
    app.action(blocks.ACTION_REJECT)(ack=just_ack, lazy=[open_reject_form])
    app.view(blocks.CALLBACK_REJECT)(ack=just_ack, lazy=[reject_submitted])


def _metadata(raw: Any) -> dict[str, Any]:
    """The modal's private_metadata as Tugboat wrote it; anything else reads as empty."""
    try:
        meta = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def report_merge(deps: SlackDeps) -> Any:
    """``ProposalWorkflow.on_merge_result``: a queued merge's outcome, shown on the message whose
    Approve button queued it (a merge resumed by housekeeping has no message to update)."""

    def report(outcome: Outcome, where: dict[str, Any]) -> None:
        if where.get("channel") and where.get("ts"):
            channel, ts, user = str(where["channel"]), str(where["ts"]), str(where.get("user") or "")
            _after_decision(deps, outcome, "Approved", user, channel, ts, where.get("thread"))

    return report


def _after_decision(
    deps: SlackDeps,
    outcome: Outcome,
    verb: str,
    user: str,
    channel: str,
    ts: str,
    thread: str | None,
    reason: str = "",
) -> None:
    """Show the result: buttons gone once decided; refusals and partial approvals to the clicker.
    A proposal that ends without merging (expired, failed, tampered) loses its buttons too, and
    a tampered one is announced in the thread, once."""
    proposal = outcome.proposal
    if outcome.merged:
        MERGES.inc()
    final = proposal.state in TERMINAL_STATES or proposal.state is ProposalState.FAILED
    if outcome.accepted and final:
        text = _decided_text(verb, user, deps, outcome) + (f" · reason: {reason}" if reason else "")
        deps.chat.update_message(
            channel, ts, f"{verb}: {blocks.shown_title(proposal)}", blocks.decision_blocks(proposal, text)
        )
        return
    if outcome.accepted:  # e.g. "approved by <@U> (1 of 2 approvals)": everyone in the thread sees it
        deps.chat.post_message(channel, outcome.message, thread_ts=thread or ts)
        return
    deps.chat.post_ephemeral(channel, user, outcome.message, thread_ts=thread)
    closed = (ProposalState.EXPIRED, ProposalState.FAILED, ProposalState.TAMPERED)
    if proposal.state in closed:
        text = f":no_entry: Not merged. {outcome.message[:1].upper()}{outcome.message[1:]}"
        deps.chat.update_message(channel, ts, text, blocks.decision_blocks(proposal, text))
    if proposal.state is ProposalState.TAMPERED and deps.store.claim_once(f"tampered-notice:{proposal.id}"):
        deps.chat.post_message(channel, f":warning: {outcome.message}", thread_ts=thread or ts)
