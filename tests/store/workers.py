"""Entry points for store tests that race separate processes (spawned, so importable by name).

Each worker opens its own engine, as a second replica would, waits at the barrier so that all
of them act at the same moment, and reports its outcome on the queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from bot.domain.proposal import ProposalState


def migrate(url: str, barrier: Barrier, results: Queue[Any]) -> None:
    from bot.adapters.store.engine import make_engine
    from bot.adapters.store.migrate import upgrade

    engine = make_engine(url)
    barrier.wait()
    try:
        results.put(("applied", upgrade(engine)))
    except Exception as exc:  # reported, so that the test shows what went wrong
        results.put(("error", repr(exc)))
    finally:
        engine.dispose()


def approve(url: str, proposal_id: str, barrier: Barrier, results: Queue[Any]) -> None:
    from bot.adapters.store import SqlStore

    with SqlStore.open(url) as store:
        barrier.wait()
        won = store.transition(proposal_id, [ProposalState.OPEN], ProposalState.APPROVED)
        results.put(("won", won))


def append_audit(url: str, count: int, barrier: Barrier, results: Queue[Any]) -> None:
    from bot.adapters.store import SqlStore
    from bot.domain.audit import AuditEvent

    with SqlStore.open(url) as store:
        barrier.wait()
        seqs = [
            store.append_audit(AuditEvent(at=datetime.now(UTC), kind="test.append", data={"i": i})).seq
            for i in range(count)
        ]
        results.put(("seqs", seqs))
