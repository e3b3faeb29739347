"""Where people talk to Tugboat: post, update, reply in threads, attach files, open forms.

Use cases speak this port; only the Slack adapter imports ``slack_sdk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.domain.alert import AlertGroup
    from bot.domain.proposal import Proposal
    from bot.domain.report import InvestigationReport

Block = dict[str, Any]


@dataclass(frozen=True)
class ChatMessage:
    ts: str
    user: str | None
    text: str
    is_bot: bool = False


@dataclass(frozen=True)
class ReplyTarget:
    """Where the answer to something a person did in chat goes: the channel, the message to
    update (e.g. the one whose button was clicked), its thread, the person, and the chat tool's
    own reply address (Slack's ``response_url``). Travels with use cases and, as ``to_dict``,
    in jobs' stored arguments."""

    channel: str
    ts: str | None = None
    thread_ts: str | None = None
    user: str | None = None
    response_url: str | None = None

    def to_dict(self) -> dict[str, str]:
        """JSON for a job's arguments: only the fields that are set."""
        return {k: v for k, v in vars(self).items() if v}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ReplyTarget | None:
        """The target ``to_dict`` wrote, or an older job's ``{"channel", "ts", "thread", "user"}``;
        None when there is nowhere to reply (e.g. a merge resumed by housekeeping)."""
        if not data or not data.get("channel"):
            return None

        def text(*keys: str) -> str | None:
            return next((str(data[k]) for k in keys if data.get(k)), None)

        return cls(
            channel=str(data["channel"]),
            ts=text("ts"),
            thread_ts=text("thread_ts", "thread"),
            user=text("user"),
            response_url=text("response_url"),
        )


@dataclass(frozen=True)
class Attachment:
    """A file for a thread: a path on disk, or text content with a file name."""

    filename: str
    path: Path | None = None
    content: str | None = None
    title: str | None = None


class ChatNotifier(Protocol):
    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
        *,
        marker: str | None = None,
    ) -> str:
        """Post to a channel (or a thread when ``thread_ts``); returns the new message's ts.

        ``marker`` travels with the message, invisible, so ``find_marked`` can find it again."""
        ...

    def find_marked(
        self, channel: str, marker: str, *, thread_ts: str | None = None, since: float | None = None
    ) -> str | None:
        """The ts of the message posted with ``marker`` in the channel (or the thread), looking
        at messages from ``since`` (unix seconds) on; None when there is none."""
        ...

    def find_uploaded(
        self, channel: str, filenames: set[str], *, thread_ts: str | None = None, since: float | None = None
    ) -> set[str]:
        """Which of ``filenames`` were shared in the channel (or the thread) from ``since`` on."""
        ...

    def update_message(self, channel: str, ts: str, text: str, blocks: list[Block] | None = None) -> None: ...

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
    ) -> None:
        """A message only ``user`` sees (refusals, usage help)."""
        ...

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[Attachment], comment: str | None = None
    ) -> None: ...

    def thread_replies(self, channel: str, thread_ts: str, limit: int = 50) -> list[ChatMessage]:
        """The thread's messages, oldest first (the parent included)."""
        ...

    def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None: ...


class MessageLayout(Protocol):
    """How use cases' messages look in the chat tool (Block Kit for Slack): the use cases say
    what to show, the adapter how."""

    long_diff: int  # a diff longer than this is shown cut, and attached whole

    def inert(self, text: str) -> str:
        """Untrusted text (labels, annotations, model output) made unable to mention anyone or
        link anywhere in this chat tool; for message texts the layout does not build."""
        ...

    def section(self, markdown: str) -> Block: ...

    def context(self, *items: str) -> Block: ...

    def incident_parent(self, group: AlertGroup, resolved_after: str | None = None) -> list[Block]: ...

    def alert_update(self, group: AlertGroup, new: int, total: int) -> list[Block]: ...

    def refired_reply(self, group: AlertGroup) -> list[Block]: ...

    def resolved_reply(self, duration: str) -> list[Block]: ...

    def investigation(self, report: InvestigationReport) -> list[Block]: ...

    def proposal(
        self, proposal: Proposal, *, with_buttons: bool, draft_button: bool = False
    ) -> list[Block]: ...

    def ended_proposal(
        self, proposal: Proposal, line: str, original: list[Block] | None = None
    ) -> list[Block]:
        """The proposal's message once it ended: what it said (``original``, the blocks it was
        posted with; rebuilt from the proposal when not known) without its buttons, and
        ``line`` saying how it ended."""
        ...
