"""``tugboat serve`` killed with SIGKILL right after a burst of webhooks, then started again: every
group ends with exactly one parent message and every alert is counted in its thread.

The mock Slack API records each post at once but answers chat.postMessage late, so the kill
lands while posts have reached "Slack" and their ts is not stored yet: the window in which a
resumed job used to post a second parent. On SQLite the job queue is in memory and dies with
the process, the hardest case: everything is recovered from the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.store import SqlStore
from testkit.serve_process import Replica, serve_env, wait_until
from testkit.slack_api import SlackApi, running_slack_api

pytestmark = [pytest.mark.slow]

CHANNEL = "CINC"
GROUPS = 5
WEBHOOKS_PER_GROUP = 4  # 20 webhooks in the burst
ROUNDS = 3


def group_payload(name: str, count: int) -> dict[str, Any]:
    """Alertmanager's webhook for group ``name`` once ``count`` alerts fire in it (each
    notification carries the whole group, as Alertmanager sends it)."""
    labels = {"alertname": name, "namespace": "shop", "service": "checkout"}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "status": "firing",
        "receiver": "tugboat",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "p99 latency above 1s"},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {**labels, "pod": f"checkout-{i}"},
                "annotations": {},
                "startsAt": "2026-12-02T01:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{name}-{i}",
            }
            for i in range(count)
        ],
    }


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with running_slack_api() as api:
        yield api


def crash_env(api: SlackApi, database_url: str) -> dict[str, str]:
    return serve_env(
        api.base_url,
        CHANNEL,
        database_url,
        **{
            "TUGBOAT_SLACK_UPDATE_INTERVAL_S": "0.2",
            "TUGBOAT_JOBS_POLL_S": "0.1",
            "TUGBOAT_JOBS_SWEEP_S": "1",
            # On PostgreSQL the killed replica's jobs stay "doing" until its heartbeat is stale.
            "TUGBOAT_JOBS_HEARTBEAT_S": "0.5",
            "TUGBOAT_JOBS_STALLED_AFTER_S": "3",
            "TUGBOAT_POLICY": json.dumps({"approvers": ["UAPPROVER"]}),
        },
    )


def parents_by_group(api: SlackApi) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for call in api.of("chat.postMessage"):
        if not call.args.get("thread_ts"):
            found.setdefault(call.args["text"].split(" in ")[0], []).append(call.args)
    return found


def counted_alerts(api: SlackApi, parent: dict[str, Any], thread_ts: str) -> int:
    """The alerts the parent showed ("*N firing*") plus every "N more alert(s)" in its thread."""
    shown = int(parent["blocks"][1]["text"]["text"].lstrip("*").split()[0])
    more = [c.args["text"] for c in api.of("chat.postMessage") if c.args.get("thread_ts") == thread_ts]
    return shown + sum(int(text.split()[0]) for text in more if "more alert(s)" in text)


def crash_and_resume(
    slack: SlackApi, env: dict[str, str], store: SqlStore, workdir: Path, round_: int
) -> None:
    """One round: a burst, SIGKILL while posts are in flight, a restart; then check the threads."""
    names = [f"Burst{round_}x{g}" for g in range(GROUPS)]
    slack.slow("chat.postMessage", 0.5)  # posted at once, answered late
    victim = Replica(f"victim{round_}", env, workdir)
    victim.wait_ready()
    burst = [group_payload(name, n) for n in range(1, WEBHOOKS_PER_GROUP + 1) for name in names]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: victim.alert(p).status_code, burst))
    assert answers == [200] * len(burst)
    wait_until(lambda: slack.of("chat.postMessage"), 10, "a first post to reach Slack", [victim])
    victim.kill()
    slack.slow("chat.postMessage", 0.0)

    survivor = Replica(f"restarted{round_}", env, workdir)
    survivor.wait_ready()
    try:

        def settled() -> bool:
            parents = parents_by_group(slack)
            return all(name in parents for name in names) and not store.groups_waiting()

        wait_until(settled, 60, "every group's thread, nothing left waiting", [victim, survivor])
        parents = parents_by_group(slack)
        assert {name: len(parents.get(name, [])) for name in names} == dict.fromkeys(names, 1), parents
        for name in names:
            incident = store.get_incident(f'{{}}:{{alertname="{name}"}}')
            assert incident is not None and len(incident.fingerprints) == WEBHOOKS_PER_GROUP
            assert incident.thread_ts is not None
            assert counted_alerts(slack, parents[name][0], incident.thread_ts) == WEBHOOKS_PER_GROUP
    finally:
        survivor.stop()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_kill_after_a_burst_leaves_one_parent_per_group(
    slack: SlackApi, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'tugboat.db'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    with SqlStore.open(url) as store:
        for round_ in range(ROUNDS):
            crash_and_resume(slack, crash_env(slack, url), store, tmp_path, round_)
