"""Buttons and the rejection form: Draft PR, Approve, Reject (a modal asks why).

Every click is acknowledged at once; its work runs lazily, in a module-level listener that Bolt
hands ``deps`` (bot.adapters.slack.deps). Drafts and decisions are ``ChangeRequests``' (through
``ProposalWorkflow``, which checks the approver policy and makes each happen exactly once); the
listeners only read the click and show the typed outcome. A click acts at most once: a second
delivery of the same click (same user, proposal and ``action_ts``: a replay inside Slack's
signature window, or a retry) does nothing, on any replica; a replay from the request journal
acts in place of an attempt cut short (``once``); so does a submitted rejection form, by its
``trigger_id``. Refusals are shown only to the person who clicked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.adapters.slack import blocks, replies
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.listeners.once import acts_now
from bot.domain.errors import TugboatError
from bot.ports.chat import ReplyTarget

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


def first_delivery(deps: SlackDeps, body: dict[str, Any], context: dict[str, Any] | None = None) -> bool:
    """True the first time this click arrives (or when it is replayed from the journal). Its
    identity is who clicked, which button of which proposal, and Slack's ``action_ts``; claimed
    in the database, so it holds across replicas."""
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
    return acts_now(deps.store, key, context, "click")


def _clicked(body: dict[str, Any]) -> ReplyTarget:
    """Where a click's answers go: its message (and thread) in its channel, and who clicked."""
    channel, ts, thread = _where(body)
    return ReplyTarget(channel, ts=ts, thread_ts=thread, user=str(body["user"]["id"]))


@contextmanager
def _refusals_to_clicker(deps: SlackDeps, where: ReplyTarget) -> Iterator[None]:
    """A refusal (or a failure, in a few words) is shown only to the person who clicked."""
    try:
        yield
    except TugboatError as exc:
        _refuse(deps, where, str(exc))
    except Exception:
        log.exception("button handler failed")
        _refuse(deps, where, "that did not work; see Tugboat's log")


def _refuse(deps: SlackDeps, where: ReplyTarget, text: str) -> None:
    deps.chat.post_ephemeral(where.channel, where.user or "", f":no_entry: {text}", thread_ts=where.thread_ts)


def just_ack(ack: Ack) -> None:
    ack()


def draft(body: dict[str, Any], deps: SlackDeps, context: BoltContext) -> None:
    """Draft PR: the investigation's proposed fix, opened for approval."""
    where = _clicked(body)
    with _refusals_to_clicker(deps, where):
        deps.change_requests.require_repository()
        if not first_delivery(deps, body, context):
            return
        opened = deps.change_requests.draft(_value(body), where.user or "")
        text, shown = replies.change_request(opened, verb="drafted")
        deps.chat.update_message(where.channel, where.ts or "", text, shown)
        if where.ts:  # the buttons are on this message now
            deps.change_requests.workflow.posted(opened.proposal.id, where.channel, where.ts, text, shown)


def approve(body: dict[str, Any], deps: SlackDeps, context: BoltContext) -> None:
    """Approve the commit the button shows; the merge may run as a job elsewhere, and then
    reports back to this message (``SlackDecisions.merge_finished``)."""
    where = _clicked(body)
    with _refusals_to_clicker(deps, where):
        deps.change_requests.require_repository()
        if not first_delivery(deps, body, context):
            return
        proposal_id, shown_head = blocks.button_target(_value(body))
        outcome = deps.change_requests.approve(proposal_id, where.user or "", shown_head, where)
        deps.decisions.show(outcome, "Approved", where)


def open_reject_form(body: dict[str, Any], deps: SlackDeps, context: BoltContext) -> None:
    """Reject: a modal asks for the reason. Lazy, but started as soon as the ack is sent: the
    trigger id lives for 3 seconds."""
    where = _clicked(body)
    with _refusals_to_clicker(deps, where):
        deps.change_requests.require_repository()
        if not first_delivery(deps, body, context):
            return
        proposal_id, _ = blocks.button_target(_value(body))
        refusal = deps.change_requests.why_not_reject(proposal_id, where.user or "")
        if refusal:
            _refuse(deps, where, refusal)
            return
        proposal = deps.change_requests.workflow.get(proposal_id)
        deps.chat.open_modal(body["trigger_id"], blocks.reject_modal(proposal, where.channel, where.ts or ""))


def reject_submitted(body: dict[str, Any], deps: SlackDeps, context: BoltContext) -> None:
    view = body.get("view") or {}
    meta = _metadata(view.get("private_metadata"))
    channel, ts, proposal_id = (str(meta.get(k) or "") for k in ("channel", "ts", "proposal"))
    user = str(body["user"]["id"])
    key = ":".join(("view", user, str(view.get("id") or ""), str(body.get("trigger_id") or "")))
    if not acts_now(deps.store, key, context, "form"):
        return
    values = (view.get("state") or {}).get("values") or {}
    reason = ((values.get(blocks.REASON_BLOCK) or {}).get(blocks.REASON_INPUT) or {}).get("value") or ""
    try:
        outcome = deps.change_requests.reject(proposal_id, user, reason)
        deps.decisions.show(outcome, "Rejected", ReplyTarget(channel, ts=ts, user=user), reason.strip())
    except TugboatError as exc:
        deps.chat.post_ephemeral(channel, user, f":no_entry: {exc}")


def register(app: App) -> None:
    """Every click is acknowledged at once; its work runs lazily with ``deps`` injected."""
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
