"""``SlackNotifier``: the ChatNotifier port over ``slack_sdk.WebClient``.

Rate limits are the client's business (its ``RateLimitErrorRetryHandler`` honours Retry-After);
any other failure becomes ``SourceUnavailable`` naming the method and Slack's error code, and
is counted in ``tugboat_slack_errors``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.adapters.slack.blocks import MAX_BLOCKS, fit, truncate
from bot.domain.errors import MessageGone, SourceUnavailable
from bot.observability.metrics import SLACK_ERRORS
from bot.ports.chat import Attachment, Block, ChatMessage
from bot.security.inert import unlinked
from bot.security.redact import redact, redact_data

log = logging.getLogger(__name__)
SLACK_RESPONSE_TIMEOUT_S = 15
MAX_TEXT = 3000  # the fallback ``text`` shown in notifications; Slack truncates long ones anyway
MARKER_EVENT = "tugboat_step"  # the metadata event type that marks Tugboat's own posts
MAX_LOOKUP_PAGES = 5
T = TypeVar("T")


def _clean(text: str, blocks: list[Block] | None) -> tuple[str, list[Block] | None]:
    """Redact secrets from everything that leaves for Slack: evidence quotes log lines, commit
    messages and alert annotations, any of which may carry a token. The fallback ``text`` is not
    verbatim as blocks are (``blocks.mrkdwn``), so its bare domains and URLs are defanged too:
    a notification never links to what untrusted text quoted."""
    return unlinked(redact(text)), (redact_data(blocks) if blocks is not None else None)


class SlackNotifier:
    """Every message passes through ``_clean`` here, the one door to Slack."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _call(self, method: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except SlackApiError as exc:
            SLACK_ERRORS.labels(method=method).inc()
            code = exc.response.get("error") if exc.response is not None else "unknown"
            if code == "message_not_found":
                raise MessageGone(f"Slack {method} failed: {code}") from None
            if code in ("not_in_channel", "channel_not_found"):
                # A channel Slack does not know is gone, or private and Tugboat was never in it.
                error = MessageGone if code == "channel_not_found" else SourceUnavailable
                raise error(
                    f"Slack {method} failed: {code}; invite Tugboat to the channel (`/invite @Tugboat`)"
                ) from None
            raise SourceUnavailable(f"Slack {method} failed: {code}") from None
        except (SlackClientError, OSError) as exc:
            SLACK_ERRORS.labels(method=method).inc()
            raise SourceUnavailable(f"Slack {method} failed: {type(exc).__name__}: {exc}") from None

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
        *,
        marker: str | None = None,
    ) -> str:
        text, blocks = _clean(text, blocks)
        kwargs: dict[str, Any] = {"channel": channel, "text": truncate(text, MAX_TEXT)}
        if blocks:
            kwargs["blocks"] = fit(blocks)[:MAX_BLOCKS]
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if marker:  # Slack message metadata: not shown, returned by history with include_all_metadata
            kwargs["metadata"] = {"event_type": MARKER_EVENT, "event_payload": {"marker": marker}}
        response = self._call("chat.postMessage", lambda: self.client.chat_postMessage(**kwargs))
        return str(response["ts"])

    def find_marked(
        self, channel: str, marker: str, *, thread_ts: str | None = None, since: float | None = None
    ) -> str | None:
        for message in self._messages_since(channel, thread_ts, since):
            meta = message.get("metadata") or {}
            if (
                meta.get("event_type") == MARKER_EVENT
                and (meta.get("event_payload") or {}).get("marker") == marker
            ):
                return str(message["ts"])
        return None

    def find_uploaded(
        self, channel: str, filenames: set[str], *, thread_ts: str | None = None, since: float | None = None
    ) -> set[str]:
        found: set[str] = set()
        for message in self._messages_since(channel, thread_ts, since):
            found |= {str(f.get("name")) for f in message.get("files") or []} & filenames
            if found == filenames:
                break
        return found

    def _messages_since(
        self, channel: str, thread_ts: str | None, since: float | None
    ) -> Iterator[dict[str, Any]]:
        """The channel's (or the thread's) messages from ``since`` on, a bounded number of pages:
        what an interrupted run is looked for in, which is near ``since``."""
        method = "conversations.replies" if thread_ts else "conversations.history"
        kwargs: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": 200}
        if thread_ts:
            kwargs["ts"] = thread_ts
        if since is not None:
            kwargs["oldest"] = f"{since:.6f}"
        fetch = self.client.conversations_replies if thread_ts else self.client.conversations_history
        for _ in range(MAX_LOOKUP_PAGES):
            response = self._call(method, lambda: fetch(**kwargs))
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
            kwargs["cursor"] = cursor

    def update_message(self, channel: str, ts: str, text: str, blocks: list[Block] | None = None) -> None:
        text, blocks = _clean(text, blocks)
        kwargs: dict[str, Any] = {"channel": channel, "ts": ts, "text": truncate(text, MAX_TEXT)}
        if blocks is not None:
            kwargs["blocks"] = fit(blocks)
        self._call("chat.update", lambda: self.client.chat_update(**kwargs))

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
    ) -> None:
        text, blocks = _clean(text, blocks)
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": truncate(text, MAX_TEXT)}
        if blocks:
            kwargs["blocks"] = fit(blocks)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        self._call("chat.postEphemeral", lambda: self.client.chat_postEphemeral(**kwargs))

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[Attachment], comment: str | None = None
    ) -> None:
        if not files:
            return
        uploads: list[dict[str, Any]] = []
        for f in files:
            item: dict[str, Any] = {"filename": f.filename, "title": f.title or f.filename}
            if f.path is not None:
                item["file"] = str(f.path)
            else:
                item["content"] = redact(f.content or "")
            uploads.append(item)
        kwargs: dict[str, Any] = {"file_uploads": uploads, "channel": channel}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if comment:
            kwargs["initial_comment"] = redact(comment)
        self._call("files.upload_v2", lambda: self.client.files_upload_v2(**kwargs))

    def thread_replies(self, channel: str, thread_ts: str, limit: int = 50) -> list[ChatMessage]:
        response = self._call(
            "conversations.replies",
            lambda: self.client.conversations_replies(channel=channel, ts=thread_ts, limit=limit),
        )
        return [
            ChatMessage(
                ts=str(m.get("ts", "")),
                user=m.get("user"),
                text=str(m.get("text", "")),
                is_bot=bool(m.get("bot_id")),
            )
            for m in response.get("messages") or []
        ]

    def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        self._call("views.open", lambda: self.client.views_open(trigger_id=trigger_id, view=view))


def respond(response_url: str, text: str, blocks: list[Block] | None = None) -> None:
    """An ephemeral answer through a command's ``response_url`` (valid 30 minutes, 5 uses). It
    needs no token and no channel membership, so it reaches the asker wherever they typed."""
    text, blocks = _clean(text, blocks)
    hook = WebhookClient(
        response_url,
        timeout=SLACK_RESPONSE_TIMEOUT_S,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), RateLimitErrorRetryHandler(2)],
    )
    try:
        answer = hook.send(
            text=truncate(text, MAX_TEXT),
            blocks=fit(blocks)[:MAX_BLOCKS] if blocks else None,
            response_type="ephemeral",
            replace_original=False,
        )
    except (SlackClientError, OSError) as exc:
        SLACK_ERRORS.labels(method="response_url").inc()
        log.warning("answering through response_url failed: %s", type(exc).__name__)
        return
    if answer.status_code != 200:  # expired or used up: nothing else can reach the asker privately
        SLACK_ERRORS.labels(method="response_url").inc()
        log.warning("response_url answered %s: %s", answer.status_code, answer.body[:200])


class UserGroups:
    """Members of the policy's approver groups, resolved through Slack and cached for a while."""

    def __init__(self, client: WebClient, groups: Collection[str], ttl_s: float = 300.0) -> None:
        self.client, self.groups, self.ttl_s = client, list(groups), ttl_s
        self._cached: tuple[float, frozenset[str]] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> frozenset[str]:
        if not self.groups:
            return frozenset()
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.ttl_s:
                return self._cached[1]
            members: set[str] = set()
            for group in self.groups:
                try:
                    members |= set(self.client.usergroups_users_list(usergroup=group).get("users") or [])
                except SlackApiError:
                    SLACK_ERRORS.labels(method="usergroups.users.list").inc()
            self._cached = (time.monotonic(), frozenset(members))
            return self._cached[1]
