"""The Slack request journal (``bot.adapters.slack.journal``) and its replay at start.

A dead process is a real one: a child Python process records requests and kills itself with
SIGKILL, so its file is left as a crash leaves it (unlocked, nothing flushed beyond ``write``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.http.slack_edge import SlackEdge
from bot.adapters.slack.journal import HTTP, SlackJournal, unfinished
from bot.adapters.slack.replay import replay
from bot.adapters.store import SqlStore
from bot.domain.audit import AuditKind
from bot.settings import Settings
from testkit import slack_requests as sr

MiB = 1024 * 1024
# A child that journals the requests it is given (signed bodies, their receive times), marks the
# ones named done, and dies as an OOM kill would.
_CHILD = """
import json, os, signal, sys
from collections.abc import MutableMapping
from pathlib import Path
from bot.adapters.slack.journal import SlackJournal
journal = SlackJournal(Path(sys.argv[1]), 1 << 20)
for request in json.load(sys.stdin):
    entry = journal.record(request["headers"], request["body"].encode(), request["at"])
    if request["done"]:
        journal.done(entry)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _signed(made: tuple[bytes, dict[str, str]]) -> tuple[bytes, dict[str, str]]:
    body, headers = made
    lowered = {k.lower(): v for k, v in {**headers, **sr.sign(body)}.items()}
    return body, lowered


def _die_after(directory: Path, requests: list[dict[str, Any]]) -> None:
    import json

    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(directory)], input=json.dumps(requests), text=True, check=False
    )
    assert child.returncode == -signal.SIGKILL


def _request(made: tuple[bytes, dict[str, str]], *, at: float, done: bool = False) -> dict[str, Any]:
    body, headers = _signed(made)
    return {"headers": headers, "body": body.decode(), "at": at, "done": done}


class Bolt:
    """Records what the edge dispatches (Bolt's own dispatch is tested in tests/slack)."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def dispatch(self, request: Any) -> Any:
        self.seen.append((request.body, dict(request.context)))
        return type("Response", (), {"status": 200})()


def test_a_dead_processs_unfinished_requests_are_taken_over_oldest_first(tmp_path: Path) -> None:
    now = time.time()
    _die_after(
        tmp_path,
        [
            _request(sr.command("scale checkout 6", user="ULATE"), at=now - 5),
            _request(sr.command("status", user="UDONE"), at=now - 20, done=True),
            _request(sr.command("status", user="UEARLY"), at=now - 10),
        ],
    )
    [dead] = list(tmp_path.iterdir())
    journal = SlackJournal(tmp_path, MiB)
    adopted = journal.adopt()
    assert [b"UEARLY" in e.body for e in adopted] == [True, False]  # oldest first, the done one gone
    assert [round(e.received_at) for e in adopted] == [round(now - 10), round(now - 5)]
    assert set(adopted[0].headers) == {"content-type", "x-slack-request-timestamp", "x-slack-signature"}
    assert not dead.exists()  # its requests live in this process's journal now
    assert sorted(e.body for e in unfinished(journal.path)) == sorted(e.body for e in adopted)
    assert journal.at_work == 2
    for entry in adopted:
        journal.done(entry.id)
    journal.close()
    assert list(tmp_path.iterdir()) == []  # closed with nothing at work: no file left


def test_an_entry_keeps_its_origin_however_often_it_is_taken_over(tmp_path: Path) -> None:
    """The origin (the owner of its delivery's claims) is the journal entry first written, so a
    replay by whichever process takes it over claims as the attempt cut short did."""
    _die_after(tmp_path, [_request(sr.command("status", user="UFIRST"), at=time.time())])
    [dead] = list(tmp_path.iterdir())
    first = SlackJournal(tmp_path, MiB)
    [taken] = first.adopt()
    assert taken.origin == f"{dead.stem}:1" != first.origin(taken.id)
    first.close()  # left at work, unlocked: as if this process died too
    second = SlackJournal(tmp_path, MiB)
    [again] = second.adopt()
    assert again.origin == taken.origin and again.body == taken.body
    fresh = second.record({}, b"{}")
    assert fresh is not None and second.origin(fresh) == f"{second.path.stem}:{fresh}"
    second.close()


def test_a_live_processs_journal_is_left_alone(tmp_path: Path) -> None:
    alive = SlackJournal(tmp_path, MiB)
    alive.record({"content-type": "application/json"}, b"{}")
    assert SlackJournal(tmp_path, MiB).adopt() == []
    assert alive.path.exists() and alive.at_work == 1


def test_a_record_cut_off_or_altered_ends_the_reading(tmp_path: Path) -> None:
    _die_after(tmp_path, [_request(sr.command("status"), at=time.time())])
    [dead] = list(tmp_path.iterdir())
    content = dead.read_bytes()
    end = content.index(b"\x00")  # the file is allocated whole; the rest is zeros
    assert dead.stat().st_size == MiB
    [first] = unfinished(dead)
    # A second record whose copy was cut short: its header, the start of its body, then zeros.
    second = content[:end].replace(b"status", b"rollb!", 1)
    with dead.open("r+b") as stream:
        stream.seek(end)
        stream.write(second[: len(second) // 2])
    assert list(unfinished(dead)) == [first]
    with dead.open("r+b") as stream:  # whole, but one byte of the first record altered
        stream.seek(content.index(b"status"))
        stream.write(b"Status")
    assert list(unfinished(dead)) == []


def test_done_entries_are_compacted_away_and_a_full_journal_refuses(tmp_path: Path) -> None:
    journal = SlackJournal(tmp_path, MiB)
    body = b"x" * 10_000
    for _ in range(300):  # ~3 MB through a 1 MiB journal, each request done before the next
        entry = journal.record({}, body)
        assert entry is not None
        journal.done(entry)
    assert journal.path.stat().st_size == MiB  # allocated whole, compacted in place of itself
    at_work = [journal.record({}, body) for _ in range(200)]  # none done: the bound holds
    assert None in at_work
    kept = [entry for entry in at_work if entry is not None]
    assert len(list(unfinished(journal.path))) == len(kept) == journal.at_work


def test_replay_dispatches_what_is_unfinished_skips_the_stale_and_the_forged(tmp_path: Path) -> None:
    now = time.time()
    forged_body, forged_headers = _signed(sr.command("scale checkout 60", user="UFORGER"))
    forged_body = forged_body.replace(b"60", b"99")  # altered after signing
    _die_after(
        tmp_path / "journal",
        [
            _request(sr.command("status", user="UFRESH"), at=now - 60),
            _request(sr.command("rollback checkout", user="USTALE"), at=now - 7200),
            _request(sr.command("status", user="UDONE"), at=now - 30, done=True),
            {"headers": forged_headers, "body": forged_body.decode(), "at": now - 10, "done": False},
        ],
    )
    settings = Settings(slack_signing_secret=sr.SECRET, slack_bot_token="xoxb-x")  # type: ignore[arg-type]
    journal = SlackJournal(tmp_path / "journal", MiB)
    bolt = Bolt()
    edge = SlackEdge(bolt, settings, journal=journal)  # type: ignore[arg-type]
    with SqlStore.open(f"sqlite:///{tmp_path / 'tugboat.db'}") as store:
        adopted = journal.adopt()
        assert replay({HTTP: edge}, journal, adopted, 3600, store) == 1
        edge.close()
        trail = store.audit_trail()
    [(body, context)] = bolt.seen
    assert body["user_id"] == "UFRESH" and context.get("tugboat_replay") is True
    # its claims' owner: the entry as the dead process wrote it
    assert context.get("tugboat_delivery") == next(e.origin for e in adopted if b"UFRESH" in e.body)
    [skipped] = trail
    assert skipped.kind == AuditKind.SLACK_REQUEST_SKIPPED.value and skipped.actor == "USTALE"
    assert skipped.data["command"] == "rollback" and skipped.data["age_s"] >= 7200
    assert "checkout" not in str(skipped.data)  # what was asked, never its text
    assert journal.at_work == 0  # the stale and the forged were marked done, the fresh one ran

    again = SlackJournal(tmp_path / "journal", MiB)  # a replay of done entries does nothing
    assert again.adopt() == [] and bolt.seen == [(body, context)]


@pytest.mark.parametrize("failing", ["full", "closed"])
def test_a_request_the_journal_cannot_keep_is_refused_not_acknowledged(tmp_path: Path, failing: str) -> None:
    import asyncio

    settings = Settings(slack_signing_secret=sr.SECRET, slack_bot_token="xoxb-x")  # type: ignore[arg-type]
    journal = SlackJournal(tmp_path, MiB)
    if failing == "full":
        for size in (100_000, 1_000, 1):  # to the last few bytes
            while journal.record({}, b"x" * size) is not None:
                pass
    else:
        journal.close()
    bolt = Bolt()
    edge = SlackEdge(bolt, settings, journal=journal)  # type: ignore[arg-type]
    body, headers = _signed(sr.command("status"))
    sent: list[dict[str, Any]] = []

    async def call() -> None:
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return chunks.pop(0)

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        scope = {"type": "http", "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
        await edge(scope, receive, send)

    asyncio.run(call())
    edge.close()
    assert sent[0]["status"] == 503 and bolt.seen == []
