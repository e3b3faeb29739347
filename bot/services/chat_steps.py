"""Steps of a job that talk to the chat, each acting once however often its job runs.

A job cut short (a replica dying, Slack failing) runs again from the start. Each step it already
finished is skipped through its done-marker (``Store.claim_once``). A post records its intent
before it posts: a run that finds an intent without a done-marker knows that an earlier run may
have posted just before it died, so it looks for the message it marked (Slack message metadata,
from the intent's time on) before posting again. An upload looks for its files by name.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from bot.domain.errors import TugboatError
from bot.ports.chat import Attachment, Block, ChatNotifier
from bot.ports.store import Store

log = logging.getLogger(__name__)

DONE = "step-done:"
INTENT = "step-intent:"
CLOCK_SKEW_S = 60.0  # look a little before the intent: Tugboat's clock and Slack's differ


class ChatSteps:
    def __init__(
        self,
        store: Store,
        chat: ChatNotifier,
        *,
        upload_attempts: int = 3,
        upload_backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store, self.chat = store, chat
        self.upload_attempts, self.upload_backoff_s, self.sleep = upload_attempts, upload_backoff_s, sleep

    @staticmethod
    def marker(step: str) -> str:
        """A short stable name for a step (group keys are long and may hold any character)."""
        return hashlib.sha256(step.encode()).hexdigest()[:32]

    def done(self, step: str) -> bool:
        return self.store.is_claimed(DONE + self.marker(step))

    def finish(self, step: str) -> None:
        self.store.claim_once(DONE + self.marker(step))

    def post(
        self,
        step: str,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
    ) -> str | None:
        """Post once: the message's ts, or None when an earlier run finished this step."""
        if self.done(step):
            return None
        ts = self.find_or_post(step, channel, text, blocks, thread_ts)
        self.finish(step)
        return ts

    def find_or_post(
        self,
        step: str,
        channel: str,
        text: str,
        blocks: list[Block] | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """The ts of the step's message: found when an earlier attempt posted it, else posted now.
        For a message whose ts the caller records itself (an incident's parent)."""
        marker = self.marker(step)
        intent = INTENT + marker
        if not self.store.claim_once(intent):  # an earlier attempt got this far
            since = self.store.claimed_at(intent)
            try:
                found = self.chat.find_marked(
                    channel,
                    marker,
                    thread_ts=thread_ts,
                    since=since.timestamp() - CLOCK_SKEW_S if since is not None else None,
                )
            except TugboatError as exc:  # e.g. no history scope: a possible repeat beats silence
                log.warning("could not look for an interrupted post (%s); posting it", exc)
                found = None
            if found is not None:
                log.info("found the message an interrupted run posted; not posting it again")
                return found
        return self.chat.post_message(channel, text, blocks, thread_ts, marker=marker)

    def upload(
        self,
        step: str,
        channel: str,
        thread_ts: str | None,
        files: list[Attachment],
        *,
        comment: str | None = None,
        failure_note: str,
    ) -> bool:
        """Upload once, trying up to ``upload_attempts`` times. When every attempt fails, the
        thread gets ``failure_note`` instead and the step is done: False.

        A run that finds the step's intent, or an attempt after one that failed, first looks for
        the files an interrupted upload shared (by name, from the intent's time on: a step's
        file names are its own in its thread) and uploads only the missing ones."""
        if self.done(step):
            return True
        pending = list(files)
        intent = INTENT + self.marker(step)
        retried = not self.store.claim_once(intent)
        for attempt in range(1, self.upload_attempts + 1):
            if retried:
                pending = self._not_shared(pending, channel, thread_ts, self.store.claimed_at(intent))
            try:
                if pending:
                    self.chat.upload_files(channel, thread_ts, pending, comment)
                break
            except TugboatError as exc:
                log.warning("upload attempt %d of %d failed: %s", attempt, self.upload_attempts, exc)
                if attempt == self.upload_attempts:
                    self.post(f"{step}:failed", channel, failure_note, thread_ts=thread_ts)
                    self.finish(step)
                    return False
                retried = True  # a failed call may still have shared the files
                self.sleep(self.upload_backoff_s * 2 ** (attempt - 1))
        self.finish(step)
        return True

    def _not_shared(
        self, files: list[Attachment], channel: str, thread_ts: str | None, since: datetime | None
    ) -> list[Attachment]:
        try:
            shared = self.chat.find_uploaded(
                channel,
                {f.filename for f in files},
                thread_ts=thread_ts,
                since=since.timestamp() - CLOCK_SKEW_S if since is not None else None,
            )
        except TugboatError as exc:  # as for posts: a possible repeat beats a missing graph
            log.warning("could not look for an interrupted upload (%s); uploading again", exc)
            return files
        if shared:
            log.info("found %d file(s) an interrupted upload shared; not uploading them again", len(shared))
        return [f for f in files if f.filename not in shared]
