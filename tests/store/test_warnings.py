"""Early-warning claims: one per series within the cooldown, on SQLite and PostgreSQL, each with
its audit event in the same transaction; pending until posted, taken by one replica at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bot.adapters.store import SqlStore
from bot.domain.audit import AuditEvent, AuditKind, verify_trail

AT = datetime(2026, 12, 4, 14, 10, tzinfo=UTC)
COOLDOWN_S = 7200.0


def event(at: datetime) -> AuditEvent:
    return AuditEvent(
        at=at, kind=AuditKind.ANOMALY_WARNED.value, actor="tugboat:anomaly", data={"at": str(at)}
    )


def claim(store: SqlStore, key: str, at: datetime) -> bool:
    post = {"text": f"{key} at {at:%H:%M}"}
    return store.claim_warning(key, at, at - timedelta(minutes=5), COOLDOWN_S, event(at), post)


def test_a_series_is_warned_of_again_only_after_the_cooldown(store: SqlStore) -> None:
    assert claim(store, "payments/checkout/cpu", AT)
    assert not claim(store, "payments/checkout/cpu", AT), "the same run again"
    assert not claim(store, "payments/checkout/cpu", AT + timedelta(seconds=COOLDOWN_S - 1))
    assert claim(store, "payments/checkout/requests", AT), "another series of the same workload"
    assert claim(store, "payments/checkout/cpu", AT + timedelta(seconds=COOLDOWN_S))
    warned = [e for e in store.audit_trail() if e.kind == AuditKind.ANOMALY_WARNED.value]
    assert [e.at for e in warned] == [AT, AT, AT + timedelta(seconds=COOLDOWN_S)], "one event per claim"
    assert not verify_trail(store.audit_trail(), head=store.audit_head())


def test_racing_claims_have_one_winner(store_url: str) -> None:
    stores = [SqlStore.open(store_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(lambda i: claim(stores[i % 4], "shop/catalog/cpu", AT), range(16)))
        assert won.count(True) == 1
        assert len([e for e in stores[0].audit_trail() if e.kind == AuditKind.ANOMALY_WARNED.value]) == 1
    finally:
        for s in stores:
            s.close()


def test_a_claim_is_pending_until_its_taker_finishes_it(store: SqlStore) -> None:
    key = "payments/checkout/cpu"
    assert claim(store, key, AT)
    [pending] = store.pending_warnings()
    assert (pending.series_key, pending.warned_at, pending.tries) == (key, AT, 0)
    assert pending.post == {"text": f"{key} at 14:10"}
    now = datetime.now(UTC)
    taken = store.take_warning(key, AT, now, 600)
    assert taken is not None and taken.leased_until == now + timedelta(seconds=600)
    assert store.take_warning(key, AT, now + timedelta(seconds=599), 600) is None, "another replica holds it"
    assert store.release_warning(taken), "a failed try"
    again = store.take_warning(key, AT, now + timedelta(seconds=5), 600)
    assert again is not None and again.tries == 1
    assert not store.release_warning(taken), "the first lease is gone"
    assert not store.finish_warning(taken, event(AT))
    assert store.finish_warning(again, event(AT + timedelta(minutes=1)))
    assert store.pending_warnings() == []
    assert store.take_warning(key, AT, now, 600) is None, "posted: nothing left to take"
    kinds = [e.at for e in store.audit_trail()]
    assert kinds == [AT, AT + timedelta(minutes=1)], "the claim's event, then the finish's"
    assert not verify_trail(store.audit_trail(), head=store.audit_head())


def test_an_expired_lease_can_be_taken_and_a_newer_claim_replaces_the_pending_one(store: SqlStore) -> None:
    key = "shop/catalog/requests"
    assert claim(store, key, AT)
    now = datetime.now(UTC)
    first = store.take_warning(key, AT, now, 60)
    later = store.take_warning(key, AT, now + timedelta(seconds=60), 60)
    assert first is not None and later is not None, "the first taker died; its lease ran out"
    assert not store.finish_warning(first, event(AT)), "a lost lease finishes nothing"
    after = AT + timedelta(seconds=COOLDOWN_S)
    assert claim(store, key, after), "the cooldown is over: a new episode"
    [pending] = store.pending_warnings()
    assert (pending.warned_at, pending.tries, pending.leased_until) == (after, 0, None)
    assert store.take_warning(key, AT, now + timedelta(hours=1), 60) is None, "the old claim is gone"
    assert not store.finish_warning(later, event(AT))


def test_racing_takers_have_one_winner(store_url: str) -> None:
    stores = [SqlStore.open(store_url) for _ in range(4)]
    try:
        assert claim(stores[0], "shop/catalog/p95", AT)
        now = datetime.now(UTC)
        with ThreadPoolExecutor(8) as pool:
            taken = list(
                pool.map(lambda i: stores[i % 4].take_warning("shop/catalog/p95", AT, now, 600), range(16))
            )
        assert len([t for t in taken if t is not None]) == 1
    finally:
        for s in stores:
            s.close()
