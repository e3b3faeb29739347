"""The shapes of what Slack posts to the request URL, checked before Bolt or a listener sees them.

Only the fields Bolt and Tugboat's listeners read are declared (everything else passes through),
each with the type they rely on: a signed ``event: ""``, ``team: 1``, a ``view`` without ``type``
or ``actions: []`` is refused with a readable reason instead of failing inside a handler.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot.domain.errors import validation_problems


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Ref(_Open):
    id: str = Field(min_length=1)
    team_id: str | None = None


class SlashCommand(_Open):
    command: str = Field(min_length=1)
    text: str = ""
    user_id: str = Field(min_length=1)
    channel_id: str = Field(min_length=1)
    team_id: str = ""
    response_url: str = ""
    trigger_id: str = ""


class Event(_Open):
    type: str = Field(min_length=1)
    user: str | None = None
    text: str = ""
    channel: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    bot_id: str | None = None


class EventCallback(_Open):
    type: Literal["event_callback"]
    team_id: str = ""
    event_id: str = Field(min_length=1)
    event: Event
    authorizations: list[dict[str, Any]] | None = None


class UrlVerification(_Open):
    type: Literal["url_verification"]
    challenge: str


class RateLimited(_Open):
    type: Literal["app_rate_limited"]


class Action(_Open):
    action_id: str = Field(min_length=1)
    block_id: str | None = None
    value: str | None = None
    action_ts: str | None = None


class Container(_Open):
    channel_id: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None


class Message(_Open):
    ts: str | None = None
    thread_ts: str | None = None
    text: str = ""


class BlockActions(_Open):
    type: Literal["block_actions"]
    user: Ref
    team: Ref | None = None
    actions: list[Action] = Field(min_length=1)
    container: Container | None = None
    channel: Ref | None = None
    message: Message | None = None
    trigger_id: str = Field(min_length=1)  # always sent; a modal (Reject's reason) needs it
    response_url: str | None = None


class InputState(_Open):
    type: str | None = None
    value: str | None = None


class ViewState(_Open):
    values: dict[str, dict[str, InputState]] = {}


class View(_Open):
    type: str = Field(min_length=1)
    id: str | None = None
    callback_id: str = ""
    private_metadata: str = ""
    state: ViewState | None = None
    team_id: str | None = None
    app_installed_team_id: str | None = None


class ViewSubmission(_Open):
    type: Literal["view_submission", "view_closed"]
    user: Ref
    team: Ref | None = None
    view: View


class Shortcut(_Open):
    type: Literal["shortcut", "message_action"]
    user: Ref
    team: Ref | None = None
    callback_id: str = Field(min_length=1)


_EVENTS: TypeAdapter[Any] = TypeAdapter(
    Annotated[EventCallback | UrlVerification | RateLimited, Field(discriminator="type")]
)
_INTERACTIONS: TypeAdapter[Any] = TypeAdapter(
    Annotated[BlockActions | ViewSubmission | Shortcut, Field(discriminator="type")]
)
_COMMAND = TypeAdapter(SlashCommand)


class WrongShape(ValueError):
    """The payload is not one Slack sends; the message names the first fields that are wrong."""


def check_event(body: Any) -> BaseModel:
    return _check(_EVENTS, body, "event")


def check_interaction(body: Any) -> BaseModel:
    return _check(_INTERACTIONS, body, "interaction payload")


def check_command(body: dict[str, str]) -> SlashCommand:
    return _check(_COMMAND, body, "slash command")


def _check(adapter: TypeAdapter[Any], body: Any, what: str) -> Any:
    try:
        return adapter.validate_python(body)
    except ValidationError as exc:
        raise WrongShape(f"not a Slack {what}: {validation_problems(exc, 'body', most=3)}") from None
