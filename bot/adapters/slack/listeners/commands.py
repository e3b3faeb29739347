"""``/tugboat``: acknowledged at once (usage errors in the ack itself, ephemeral), worked on lazily;
what only the asker should see goes back through the command's ``response_url``. Each command
acts once: its work is claimed by its ``trigger_id`` (``once``), on any replica."""

from __future__ import annotations

import hashlib
import logging
import shlex
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.adapters.slack import blocks, replies
from bot.adapters.slack.deps import SlackDeps
from bot.adapters.slack.listeners.once import acts_now, command_key
from bot.adapters.slack.notifier import respond
from bot.domain.alert import Alert, AlertGroup
from bot.domain.errors import InvalidInput, TugboatError
from bot.ports.chat import Block, ChatNotifier, ReplyTarget
from bot.security.inert import inert_mrkdwn
from bot.services.change_requests import ChangeRequest

log = logging.getLogger(__name__)
COMMAND = "/tugboat"

USAGE = """*Tugboat* — `/tugboat <command>`
• `help` — this message
• `investigate <service|alertname> [namespace]` — investigate now, in a new thread
• `explain` — explain this channel's latest incident again from its report
• `scale <workload> <replicas>` — propose a replica count
• `limits <workload> cpu|memory <value>` — propose a limit (e.g. `500m`, `2`, `1Gi`)
• `rollback <workload>` — propose reverting the newest commit that changed the workload
• `status` — open proposals and who must approve them
• `forecast <workload> [namespace]` — will it run short of capacity? (from its usage history)
• `rightsize <workload> [namespace]` — requests and limits that fit its usage"""

_SHAPES = {
    "help": (0, 0, "help"),
    "investigate": (1, 2, "investigate <service|alertname> [namespace]"),
    "explain": (0, 0, "explain"),
    "scale": (2, 2, "scale <workload> <replicas>"),
    "limits": (3, 3, "limits <workload> cpu|memory <value>"),
    "rollback": (1, 1, "rollback <workload>"),
    "status": (0, 0, "status"),
    "forecast": (1, 2, "forecast <workload> [namespace]"),
    "rightsize": (1, 2, "rightsize <workload> [namespace]"),
}


@dataclass(frozen=True)
class Parsed:
    name: str
    args: tuple[str, ...]


def parse(text: str, max_chars: int) -> Parsed:
    """The command and its arguments, or InvalidInput whose message is the usage to show.

    The length is checked first: shlex copies a token once per character it reads, so its time
    grows with the square of the longest word (a 300 KB word took seconds).
    """
    if len(text) > max_chars:
        raise InvalidInput(f"that command is {len(text)} characters long; Tugboat reads at most {max_chars}")
    try:  # shlex only where quoting needs it: str.split is C-fast, shlex ~0.5 us a character
        words = shlex.split(text) if any(c in text for c in "\"'\\") else text.split()
    except ValueError as exc:
        raise InvalidInput(f"cannot read the arguments ({exc}).\n{USAGE}") from None
    if not words:
        return Parsed("help", ())
    name, args = words[0].lower(), tuple(words[1:])
    if name not in _SHAPES:
        raise InvalidInput(f"unknown command `{name}`.\n{USAGE}")
    low, high, usage = _SHAPES[name]
    if not low <= len(args) <= high:
        raise InvalidInput(f"usage: `{COMMAND} {usage}`")
    if name == "scale" and not (args[1].isdigit() and int(args[1]) >= 0):
        raise InvalidInput(f"replicas must be a whole number, got `{args[1]}`; usage: `{COMMAND} {usage}`")
    if name == "limits":
        if args[1].lower() not in ("cpu", "memory"):
            raise InvalidInput(f"say `cpu` or `memory`, got `{args[1]}`; usage: `{COMMAND} {usage}`")
        from bot.domain.quantity import parse_quantity

        parse_quantity(args[2])  # a bad quantity is a usage error, answered in the ack
        return Parsed(name, (args[0], args[1].lower(), args[2]))
    return Parsed(name, args)


def acknowledgement(text: str, max_chars: int) -> dict[str, str]:
    """The immediate, ephemeral answer to ``/tugboat text``: usage errors and help in full, else
    a note that the work started. Cheap by design: it is the HTTP response itself."""
    try:
        parsed = parse(text, max_chars)
    except InvalidInput as exc:
        return {"text": str(exc), "response_type": "ephemeral"}
    if parsed.name == "help":
        return {"text": USAGE, "response_type": "ephemeral"}
    return {"text": f"Working on `{COMMAND} {text.strip()}`…", "response_type": "ephemeral"}


def acknowledge(ack: Ack, command: dict[str, Any], deps: SlackDeps) -> None:
    answer = acknowledgement(command.get("text", ""), deps.settings.slack_max_text_chars)
    ack(text=answer["text"], response_type=answer["response_type"])


def run(command: dict[str, Any], deps: SlackDeps, context: BoltContext) -> None:
    """The lazy half: the command's handler, its refusals and failures told to the asker."""
    try:
        parsed = parse(command.get("text", ""), deps.settings.slack_max_text_chars)
    except InvalidInput:
        return  # already answered by the ack
    handler = _HANDLERS.get(parsed.name)
    key = command_key(command)
    if handler is None or not acts_now(deps.store, key, context, "command"):
        return
    where = ReplyTarget(
        str(command["channel_id"]),
        thread_ts=command.get("thread_ts"),
        user=str(command["user_id"]),
        response_url=command.get("response_url") or None,
    )
    asked = Asked(parsed, where, deps.chat, hashlib.sha256(key.encode()).hexdigest()[:16])
    try:
        handler(deps, asked)
    except TugboatError as exc:
        asked.reply(f":warning: {exc}", None)
    except Exception:  # a person gets a short note; the details go to the log
        log.exception("/tugboat %s failed", parsed.name)
        asked.reply(f":warning: `{parsed.name}` failed; see Tugboat's log", None)


def register(app: App) -> None:
    app.command(COMMAND)(ack=acknowledge, lazy=[run])


@dataclass(frozen=True)
class Asked:
    """One command as the handlers see it: what was asked, and where (by whom) to answer."""

    parsed: Parsed
    where: ReplyTarget
    chat: ChatNotifier
    request: str = ""  # names this invocation: its replay opens no second investigation

    @property
    def user(self) -> str:
        return self.where.user or ""

    @property
    def channel(self) -> str:
        return self.where.channel

    @property
    def thread_ts(self) -> str | None:
        return self.where.thread_ts

    def reply(self, text: str, body: list[Block] | None) -> None:
        """Only the asker sees it. Through the command's ``response_url``: it works in channels
        the bot is not a member of, where chat.postEphemeral fails."""
        if self.where.response_url:
            respond(self.where.response_url, text, body)
        else:  # not from Slack's request URL or Socket Mode (they always carry one)
            self.chat.post_ephemeral(self.channel, self.user, text, body)


Handler = Callable[[SlackDeps, Asked], None]


def _investigate(deps: SlackDeps, asked: Asked) -> None:
    target, *rest = asked.parsed.args
    namespace = rest[0] if rest else None
    known = deps.incidents.latest(alertname=target)
    if known is not None and known.alert is not None and namespace in (None, known.alert.primary.namespace):
        labels = {**known.alert.common_labels, **known.alert.primary.labels}
    else:
        labels = {"alertname": f"Investigate {target}", "service": target, "app": target}
        if namespace:
            labels["namespace"] = namespace
    group = AlertGroup(
        status="firing",
        groupKey=f"slack:{asked.user}:{asked.request or uuid.uuid4().hex[:12]}",
        commonLabels=labels,
        alerts=[Alert(status="firing", labels=labels, startsAt=deps.clock())],
    )
    deps.incidents.investigate_now(group, asked.channel, requested_by=asked.user, request=asked.request)


def _explain(deps: SlackDeps, asked: Asked) -> None:
    channel, thread = asked.channel, asked.thread_ts
    incident = deps.incidents.by_thread(channel, thread) if thread else deps.incidents.latest(channel=channel)
    if incident is None or incident.report is None or incident.thread_ts is None:
        raise InvalidInput(
            "no investigated incident in this channel yet; try `/tugboat investigate <service>`"
        )
    report = incident.report
    if deps.assistant is not None:
        answer = deps.assistant.explain(report)
        if not getattr(answer, "fallback", True) and str(getattr(answer, "text", "")).strip():
            usage = getattr(answer, "usage", None)
            report = report.model_copy(update={"summary": str(answer.text), "llm": usage})
        _audit(deps, answer)
    # The investigation blocks make the text inert and label the model's words.
    deps.chat.post_message(
        channel, inert_mrkdwn(report.summary), blocks.investigation(report), incident.thread_ts
    )


def _post_request(deps: SlackDeps, asked: Asked, request: ChangeRequest) -> None:
    text, body = replies.change_request(request)
    ts = deps.chat.post_message(asked.channel, text, body)
    deps.change_requests.workflow.posted(request.proposal.id, asked.channel, ts, text, body)


def _scale(deps: SlackDeps, asked: Asked) -> None:
    workload, replicas = asked.parsed.args
    _post_request(deps, asked, deps.change_requests.scale(workload, int(replicas), asked.user, asked.request))


def _limits(deps: SlackDeps, asked: Asked) -> None:
    workload, resource, value = asked.parsed.args
    asking = deps.change_requests.limits(workload, resource, value, asked.user, asked.request)
    _post_request(deps, asked, asking)


def _rollback(deps: SlackDeps, asked: Asked) -> None:
    _post_request(deps, asked, deps.change_requests.rollback(asked.parsed.args[0], asked.user, asked.request))


def _status(deps: SlackDeps, asked: Asked) -> None:
    asked.reply(*replies.status(deps.change_requests.status()))


def _foresight(deps: SlackDeps, asked: Asked) -> None:
    """Capacity forecast or rightsizing from the workload's history (bot.services.capacity/rightsize)."""
    from bot.services.capacity import forecast
    from bot.services.rightsize import rightsize

    parsed = asked.parsed
    workload, namespace = parsed.args[0], (parsed.args[1] if len(parsed.args) > 1 else None)
    # what both read: the workload's history up to now, from the same sources
    reading: dict[str, Any] = {
        "at": deps.clock(),
        "namespace": namespace,
        "metrics": deps.metrics,
        "workspace": deps.workspace,
    }
    if parsed.name == "forecast":
        text = replies.forecast_text(forecast(workload, deps.settings, **reading))
    else:
        text = replies.recommendation_text(rightsize(workload, deps.settings, **reading))
    text = text or f"no workload named {workload} with usage history"
    deps.chat.post_message(
        asked.channel, text, [blocks.section(text), blocks.context(f"asked by <@{asked.user}>")]
    )


def _audit(deps: SlackDeps, answer: Any) -> None:
    event = getattr(answer, "audit_event", None)
    if callable(event):
        deps.store.append_audit(event(deps.clock()))


_HANDLERS: dict[str, Handler] = {
    "investigate": _investigate,
    "explain": _explain,
    "scale": _scale,
    "limits": _limits,
    "rollback": _rollback,
    "status": _status,
    "forecast": _foresight,
    "rightsize": _foresight,
}
