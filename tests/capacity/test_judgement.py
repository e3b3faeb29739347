"""The pure judgements, on hand-made data: sizing, policy bounds, OOM evidence, throttling."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from bot.foresight import capacity as cap
from bot.foresight import rightsize as rs

AT = datetime(2026, 11, 22, tzinfo=UTC)
MiB = 2**20
BOUNDS = rs.Bounds(max_cpu_cores=32, max_memory_bytes=64 * 1024 * MiB)


def _projection(upper: list[float]) -> cap.Projection:
    values = np.array(upper)
    times = AT.timestamp() + 300 * np.arange(1, len(values) + 1)
    return cap.Projection(times, values * 0.9, values * 0.8, values, None, None)


def _demand() -> cap.Demand:
    return cap.Demand(AT.timestamp() - 300 * np.arange(30)[::-1], np.full(30, 1.0))


def test_replicas_carry_the_peak_at_the_target_and_the_policy_caps_them() -> None:
    capacity = cap.Capacity(replicas=2, cpu_per_pod=0.5, target=0.7)  # 0.7 cores
    judged = cap.judge("web", "shop", AT, _demand(), _projection([0.5, 0.8, 2.1, 1.0]), capacity, 100)
    assert judged.short and judged.replicas == 6  # 2.1 / (0.5 x 0.7) = 6
    assert judged.breach_at == cap.when(AT.timestamp() + 600)  # the first step above 0.7
    capped = cap.judge("web", "shop", AT, _demand(), _projection([2.1]), capacity, 4)
    assert capped.replicas == 4 and capped.capped and "caps it at 4" in capped.notes[0]
    stuck = cap.judge("web", "shop", AT, _demand(), _projection([2.1]), capacity, 2)
    assert stuck.short and stuck.replicas is None and "no more than 2 replicas" in stuck.reason


def test_the_request_rate_forecast_counts_where_throttled_cpu_understates_demand() -> None:
    t = AT.timestamp() - 300 * np.arange(48)[::-1]
    demand = cap.Demand(t, np.full(48, 1.0), rps=np.full(48, 100.0))  # 0.01 cores per request
    flat = cap.forecast_load(demand.cpu, t, 4, 80)
    surge = cap.forecast_load(np.full(48, 300.0), t, 4, 80)
    projection = cap.project(demand, flat, surge, 300)
    assert projection.cost_per_request == 0.01 and projection.upper.max() >= 3.0


def _usage(cpu: float, memory: float, hours: float = 48, **kw: object) -> rs.Usage:
    t = np.arange(0, hours * 3600 + 1, 300.0)
    rng = np.random.default_rng(3)
    return rs.Usage(
        t, cpu * (1 + 0.02 * rng.standard_normal((2, len(t)))), np.full((2, len(t)), memory), **kw
    )  # type: ignore[arg-type]


def _recommend(usage: rs.Usage, current: rs.Current, hpa: rs.Autoscaler | None = None) -> rs.Recommendation:
    rec = rs.Recommendation("api", "shop", "api", AT)
    kwargs = {"percentile": 95.0, "memory_buffer": 0.15, "min_hours": 24.0, "bounds": BOUNDS, "hpa": hpa}
    return rs.recommend(rec, usage, current, **kwargs)  # type: ignore[arg-type]


def test_restarts_near_the_limit_count_as_memory_evidence_and_far_below_it_do_not() -> None:
    current = rs.Current(0.1, 1.0, 256 * MiB, 256 * MiB)
    near = _recommend(_usage(0.1, 250 * MiB, restarts=3), current)
    assert {c.field: c.value for c in near.changes} == {"memory_request": 384 * MiB, "memory": 384 * MiB}
    far = _recommend(_usage(0.1, 200 * MiB, restarts=3), current)
    assert "memory" not in {c.field for c in far.changes}
    assert any("not a memory cause" in n for n in far.notes)


def test_throttled_cpu_raises_the_limit_and_small_differences_are_left_alone() -> None:
    rec = _recommend(_usage(0.98, 100 * MiB), rs.Current(1.0, 1.0, 128 * MiB, 256 * MiB))
    [change] = rec.changes  # the request is within 10 % of the usage: kept
    assert change.field == "cpu" and 1.5 <= change.value <= 1.6
    assert "presses against the limit" in change.reason


def test_an_hpa_holds_a_request_cut_only_when_its_scaling_would_change() -> None:
    current = rs.Current(0.5, 1.0, 128 * MiB, 256 * MiB)
    hpa = rs.Autoscaler("api", 0.7)
    held = _recommend(_usage(0.1, 100 * MiB), current, hpa)
    assert not held.changes and "kept at 500m" in held.notes[0]
    no_hpa = _recommend(_usage(0.1, 100 * MiB), current)
    assert [c.field for c in no_hpa.changes] == ["cpu_request"]


def test_too_little_history_is_refused() -> None:
    rec = _recommend(_usage(0.1, 100 * MiB, hours=3), rs.Current(0.5, 1.0, 128 * MiB, 256 * MiB))
    assert rec.refused is not None and rec.refused.startswith("only 3 h of data for api, need 24 h")
    assert rec.summary().startswith("api: not rightsized: only 3 h")


def test_no_usage_at_all_says_where_it_looked() -> None:
    empty = rs.Usage(np.arange(3.0), np.full((1, 3), np.nan), np.full((1, 3), np.nan))
    rec = _recommend(empty, rs.Current(0.5, 1.0, 128 * MiB, 256 * MiB))
    assert rec.refused is not None and rec.refused.startswith("no usage of api in Prometheus")
