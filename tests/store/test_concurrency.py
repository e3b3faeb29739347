"""Races: each decision is acted on once, each key claimed once, the audit chain never forks.

Threads share nothing but the database URL: each opens its own SqlStore (its own engine and
connection pool), like separate replicas. On PostgreSQL, separate processes race as well.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from bot.adapters.store import SqlStore
from bot.domain.audit import AuditEvent, verify_trail
from bot.domain.proposal import Action, Proposal, ProposalState
from tests.store import workers

THREADS = 12
T = TypeVar("T")


def race(n: int, url: str, act: Callable[[SqlStore], T]) -> list[T]:
    """Open ``n`` stores, then let all of them ``act`` at the same moment."""
    barrier = threading.Barrier(n)

    def run(_: int) -> T:
        with SqlStore.open(url) as store:
            barrier.wait(timeout=60)
            return act(store)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def open_proposal(store: SqlStore) -> Proposal:
    proposal = Proposal(action=Action.SCALE, diff="-1\n+2\n")
    store.save_proposal(proposal)
    assert store.transition(proposal.id, [ProposalState.DRAFT], ProposalState.OPEN)
    return proposal


def test_transition_has_exactly_one_winner(store: SqlStore, store_url: str) -> None:
    for _ in range(3):
        proposal = open_proposal(store)

        def approve(s: SqlStore, pid: str = proposal.id) -> bool:
            return s.transition(pid, [ProposalState.OPEN], ProposalState.APPROVED)

        outcomes = race(THREADS, store_url, approve)
        assert outcomes.count(True) == 1, outcomes
        got = store.get_proposal(proposal.id)
        assert got is not None and got.state is ProposalState.APPROVED


def test_claim_once_has_exactly_one_winner(store: SqlStore, store_url: str) -> None:
    assert not store.is_claimed("slack:action:approve:p1:U1")
    outcomes = race(THREADS, store_url, lambda s: s.claim_once("slack:action:approve:p1:U1"))
    assert outcomes.count(True) == 1, outcomes
    assert store.is_claimed("slack:action:approve:p1:U1") and not store.is_claimed("another")


def test_one_shared_store_serves_many_threads(store: SqlStore) -> None:
    """The Slack app shares one SqlStore between its worker threads."""
    barrier = threading.Barrier(THREADS)

    def click(_: int) -> bool:
        barrier.wait(timeout=60)
        return store.claim_once("slack:action:shared")

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(click, range(THREADS)))
    assert outcomes.count(True) == 1, outcomes


def test_concurrent_audit_appends_stay_one_chain(store: SqlStore, store_url: str) -> None:
    per_thread = 15

    def append_many(s: SqlStore) -> list[int]:
        return [
            s.append_audit(AuditEvent(at=datetime.now(UTC), kind="test.append", data={"i": i})).seq or 0
            for i in range(per_thread)
        ]

    seqs = race(8, store_url, append_many)
    assert all(run == sorted(run) for run in seqs)
    trail = store.audit_trail()
    assert (
        sorted(s for run in seqs for s in run) == [e.seq for e in trail] == list(range(1, 8 * per_thread + 1))
    )
    assert verify_trail(trail, head=store.audit_head()) == []


def spawn_race(target: Callable[..., None], n: int, *args: Any) -> list[tuple[str, Any]]:
    """Run ``target(*args, barrier, queue)`` in ``n`` fresh processes; their reports."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(n, timeout=120), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    reports = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return reports


@pytest.mark.postgres
@pytest.mark.slow
def test_processes_migrate_a_new_database_once(postgres_url: str) -> None:
    reports = spawn_race(workers.migrate, 4, postgres_url)
    assert sorted(reports) == [("applied", False)] * 3 + [("applied", True)], reports
    with SqlStore.open(postgres_url) as store:
        assert store.audit_head()[0] == 0


@pytest.mark.postgres
@pytest.mark.slow
def test_processes_transition_exactly_once(postgres_url: str) -> None:
    with SqlStore.open(postgres_url) as store:
        proposal = open_proposal(store)
    reports = spawn_race(workers.approve, 4, postgres_url, proposal.id)
    assert sorted(reports) == [("won", False)] * 3 + [("won", True)], reports


@pytest.mark.postgres
@pytest.mark.slow
def test_processes_append_to_one_chain(postgres_url: str) -> None:
    reports = spawn_race(workers.append_audit, 3, postgres_url, 20)
    assert sorted(s for _, seqs in reports for s in seqs) == list(range(1, 61))
    with SqlStore.open(postgres_url) as store:
        assert verify_trail(store.audit_trail(), head=store.audit_head()) == []
