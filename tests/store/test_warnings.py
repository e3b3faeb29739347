"""Early-warning claims: one per series within the cooldown, on SQLite and PostgreSQL, each with
its audit event in the same transaction."""

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
    return store.claim_warning(key, at, at - timedelta(minutes=5), COOLDOWN_S, event(at))


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
