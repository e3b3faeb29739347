"""A barrage of webhooks while the job queue refuses every third defer, as a database under load
does ("the job queue in the database is unreachable"): no thread update is lost. Every alert that
joins a group is counted once in its thread, and every resolution is posted once."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot import wiring
from bot.adapters.jobs.queue import ProcrastinateQueue
from bot.domain.errors import SourceUnavailable
from bot.settings import Settings
from tests.slack.conftest import CHANNEL, Harness, alert_payload

GROUPS = 6
ALERTS = 12  # webhooks per group; each carries the group's alerts so far
RESOLVED = {0, 2, 4}


class RefusingQueue(ProcrastinateQueue):
    """The real queue, refusing every third defer the way it does when its database fails."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, [])
        self._count = itertools.count(1)
        self._lock = threading.Lock()
        self.refused = 0

    def defer(self, name: str, args: dict[str, Any] | None = None, **options: Any) -> bool:
        with self._lock:
            refuse = next(self._count) % 3 == 0
            self.refused += refuse
        if refuse:
            raise SourceUnavailable("the job queue in the database is unreachable: refused by the test")
        return super().defer(name, args, **options)


def key(g: int) -> str:
    return f'{{}}:{{alertname="HighLatency", shard="{g}"}}'


def webhook(g: int, count: int, status: str = "firing") -> dict[str, Any]:
    payload = alert_payload(
        group_key=key(g),
        status=status,
        fingerprints=[f"g{g}a{i}" for i in range(count)],
        ends_at="2026-11-26T01:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
    )
    payload["commonLabels"]["alertname"] = f"Shard{g}"
    return payload


@pytest.mark.slow
def test_no_update_is_lost_when_the_queue_refuses_defers(
    harness_factory: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    queues: list[RefusingQueue] = []

    def refusing(settings: Settings) -> RefusingQueue:
        queues.append(RefusingQueue(settings))
        return queues[-1]

    monkeypatch.setattr(wiring, "job_queue", refusing)
    h = harness_factory(jobs_sweep_s=1.0, jobs_poll_s=0.1, slack_update_interval_s=0.5)
    firing = [webhook(g, n) for n in range(1, ALERTS + 1) for g in range(GROUPS)]
    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(lambda p: h.alert(p).status_code, firing)) == {200}
        resolutions = [webhook(g, ALERTS, "resolved") for g in sorted(RESOLVED)]
        assert set(pool.map(lambda p: h.alert(p).status_code, resolutions)) == {200}

    def threads() -> dict[int, str]:
        found = {g: h.runtime.deps.store.get_incident(key(g)) for g in range(GROUPS)}
        return {g: i.thread_ts for g, i in found.items() if i is not None and i.thread_ts}

    def replies(thread: str) -> list[str]:
        return [c.args["text"] for c in h.api.of("chat.postMessage") if c.args.get("thread_ts") == thread]

    def counted(g: int) -> int:
        thread = threads()[g]
        [parent] = [c for c in h.api.of("chat.postMessage") if c.args["text"].startswith(f"Shard{g} ")]
        shown = int(parent.args["blocks"][1]["text"]["text"].lstrip("*").split()[0])
        return shown + sum(int(t.split()[0]) for t in replies(thread) if "more alert(s)" in t)

    def done() -> bool:
        if len(threads()) < GROUPS or h.runtime.deps.store.groups_waiting():
            return False
        resolved = [g for g in RESOLVED if any(t.startswith("Resolved after") for t in replies(threads()[g]))]
        return len(resolved) == len(RESOLVED) and all(counted(g) == ALERTS for g in range(GROUPS))

    deadline = time.monotonic() + 90
    while not done():
        assert time.monotonic() < deadline, (
            f"updates lost: threads {threads()}, waiting {h.runtime.deps.store.groups_waiting()}, "
            f"counted {[counted(g) for g in threads()]}"
        )
        time.sleep(0.2)
    h.settle(1.5)  # and nothing more follows
    assert queues[0].refused >= 5, "the queue refused defers during the barrage"
    parents = [c for c in h.api.of("chat.postMessage") if not c.args.get("thread_ts")]
    assert len(parents) == GROUPS and {c.args["channel"] for c in parents} == {CHANNEL}
    for g in range(GROUPS):
        assert counted(g) == ALERTS  # each alert that joined counted exactly once
        resolved = [t for t in replies(threads()[g]) if t.startswith("Resolved after")]
        assert len(resolved) == (1 if g in RESOLVED else 0)
