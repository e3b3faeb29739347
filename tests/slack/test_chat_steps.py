"""``ChatSteps`` over the real Slack notifier and the mock Web API: a step acts once, and a step
whose earlier attempt posted before dying finds that message through its metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.slack.app import web_client
from bot.adapters.slack.notifier import SlackNotifier
from bot.adapters.store import SqlStore
from bot.ports.chat import Attachment
from bot.services.chat_steps import INTENT, ChatSteps
from bot.settings import Settings
from testkit.slack_api import SlackApi, running_slack_api


@pytest.fixture
def api() -> Iterator[SlackApi]:
    with running_slack_api() as mock:
        yield mock


@pytest.fixture
def steps(api: SlackApi, store: SqlStore) -> ChatSteps:
    chat = SlackNotifier(web_client(Settings(slack_bot_token="xoxb-test", slack_api_url=api.base_url)))
    return ChatSteps(store, chat, upload_attempts=2, upload_backoff_s=0.01)


def test_a_step_posts_once(api: SlackApi, steps: ChatSteps) -> None:
    ts = steps.post("report:g1", "C1", "the report", thread_ts="1.1")
    assert ts and steps.done("report:g1")
    assert steps.post("report:g1", "C1", "the report", thread_ts="1.1") is None
    [call] = api.of("chat.postMessage")
    assert call.args["metadata"]["event_payload"]["marker"] == ChatSteps.marker("report:g1")


@pytest.mark.parametrize("in_thread", [False, True])
def test_an_interrupted_post_is_found_not_posted_again(
    api: SlackApi, steps: ChatSteps, store: SqlStore, in_thread: bool
) -> None:
    thread = steps.post("parent:other", "C1", "another incident") if in_thread else None
    # What a run that died after posting leaves: its intent, its message, no done-marker.
    assert store.claim_once(INTENT + ChatSteps.marker("parent:g1"))
    posted = steps.chat.post_message(
        "C1", "HighLatency", thread_ts=thread, marker=ChatSteps.marker("parent:g1")
    )
    steps.chat.post_message("C1", "unmarked", thread_ts=thread)
    before = len(api.of("chat.postMessage"))
    assert steps.find_or_post("parent:g1", "C1", "HighLatency", thread_ts=thread) == posted
    assert len(api.of("chat.postMessage")) == before, "not posted again"
    method = "conversations.replies" if in_thread else "conversations.history"
    assert api.of(method)[-1].args["include_all_metadata"] in ("1", "true", True)


def test_an_intent_with_nothing_posted_posts(api: SlackApi, steps: ChatSteps, store: SqlStore) -> None:
    assert store.claim_once(INTENT + ChatSteps.marker("parent:g2"))  # died before the post arrived
    assert steps.find_or_post("parent:g2", "C1", "HighLatency")
    assert len(api.of("chat.postMessage")) == 1


def test_a_failing_upload_is_tried_a_bounded_number_of_times_then_noted(
    api: SlackApi, steps: ChatSteps, tmp_path: Path
) -> None:
    api.fail_always("upload", 500)
    graph = tmp_path / "rps.png"
    graph.write_bytes(b"\x89PNG" + bytes(2000))
    files = [Attachment("rps.png", path=graph)]
    assert not steps.upload(
        "graph:g1:rps", "C1", "1.1", files, failure_note="graph could not be uploaded: rps"
    )
    assert len(api.of("upload:failed")) == 2
    assert [c.args["text"] for c in api.of("chat.postMessage")] == ["graph could not be uploaded: rps"]
    assert steps.upload("graph:g1:rps", "C1", "1.1", files, failure_note="x"), "done: not tried again"
    assert len(api.of("upload:failed")) == 2 and len(api.of("chat.postMessage")) == 1


def _graphs(tmp_path: Path, *names: str) -> list[Attachment]:
    files = []
    for name in names:
        (tmp_path / name).write_bytes(b"\x89PNG" + name.encode() * 100)
        files.append(Attachment(name, path=tmp_path / name))
    return files


def test_an_interrupted_upload_is_found_not_shared_again(
    api: SlackApi, steps: ChatSteps, store: SqlStore, tmp_path: Path
) -> None:
    files = _graphs(tmp_path, "web-rps.png", "web-cpu.png")
    thread = steps.post("parent:g3", "C1", "HighLatency")
    assert thread
    # What a run that died after sharing the first graph leaves: its intent and that file.
    assert store.claim_once(INTENT + ChatSteps.marker("graphs:g3"))
    steps.chat.upload_files("C1", thread, files[:1])
    assert steps.upload("graphs:g3", "C1", thread, files, failure_note="x")
    uploaded = [c.args["filename"] for c in api.of("files.getUploadURLExternal")]
    assert uploaded == ["web-rps.png", "web-cpu.png"], "only the missing graph was uploaded again"
    assert steps.done("graphs:g3")
    assert steps.upload("graphs:g3", "C1", thread, files, failure_note="x")
    assert len(api.of("files.getUploadURLExternal")) == 2
    shared = [f["name"] for m in api.replies[thread] for f in m.get("files", [])]
    assert sorted(shared) == ["web-cpu.png", "web-rps.png"]


def test_an_intent_with_nothing_shared_looks_then_uploads(
    api: SlackApi, steps: ChatSteps, store: SqlStore, tmp_path: Path
) -> None:
    files = _graphs(tmp_path, "web-rps.png")
    thread = steps.post("parent:g4", "C1", "HighLatency")
    assert thread
    assert store.claim_once(INTENT + ChatSteps.marker("graphs:g4"))  # died before anything was shared
    assert steps.upload("graphs:g4", "C1", thread, files, failure_note="x")
    assert [c.args["filename"] for c in api.of("files.getUploadURLExternal")] == ["web-rps.png"]
    assert api.of("conversations.replies"), "the thread was looked at before uploading"
