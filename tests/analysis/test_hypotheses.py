"""Hypotheses, ranking and sizing on synthetic series (no I/O): the reasoning, kind by kind."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from bot.analysis.context import build_context
from bot.analysis.fetched import Fetched
from bot.analysis.hypotheses import hypotheses
from bot.analysis.ranking import confidences, rank, to_root_causes
from bot.analysis.signals import build
from bot.analysis.sizing import size
from bot.domain.proposal import Action
from bot.domain.report import CauseKind
from bot.ports.gitrepo import WorkloadChange
from bot.settings import ApprovalPolicy

T0, STEP, N = 1_800_000_000.0, 30.0, 240
GRID = T0 + STEP * np.arange(N)
AT = float(GRID[-1])
BASELINE_END = float(GRID[120])
ONSET = 180


def _flat(level: float, seed: int, spread: float = 0.02) -> np.ndarray:
    return level * (1 + np.random.default_rng(seed).normal(0, spread, N))


def _cluster(workloads: dict[str, dict[str, np.ndarray]], limit: float = 1.0, pods: int = 2) -> Fetched:
    data = Fetched(grid=GRID, step=STEP, namespace="shop")
    data.container = {k: {} for k in ("cpu", "thr", "periods", "mem", "restarts")}
    for i, (wl, sig) in enumerate(workloads.items()):
        for p in range(pods):
            pod = f"{wl}-5d8f7c6b9x-pod{p:02d}"
            key = (pod, wl)
            data.container["cpu"][key] = sig.get("cpu", _flat(0.3, i)) / pods
            data.container["periods"][key] = np.full(N, 10.0)
            data.container["thr"][key] = 10.0 * sig.get("thr", np.full(N, 0.01))
            data.container["mem"][key] = _flat(100e6, i + 10)
            data.container["restarts"][key] = np.zeros(N)
            data.limits[(pod, wl, "cpu")] = np.full(N, limit)
            data.limits[(pod, wl, "memory")] = np.full(N, 256e6)
            data.ownership.pod_owner[pod] = ("ReplicaSet", f"{wl}-5d8f7c6b9x")
            data.ownership.replicaset_owner[f"{wl}-5d8f7c6b9x"] = wl
        data.deployments[wl] = {"spec": np.full(N, float(pods))}
        rps = sig.get("rps", _flat(100.0, i + 20))
        data.red[wl] = {"rps": rps, "err": rps * sig.get("err_ratio", np.full(N, 0.002))}
    data.ownership.known = set(workloads)
    return data


def _rank(data: Fetched, alert_wl: str, changes: list[WorkloadChange] | None = None, active: bool = True):
    signals = build(data, BASELINE_END)
    alert = np.where(np.arange(N) >= ONSET + 6, 1.0, np.nan)
    if not active:
        alert = np.where((np.arange(N) >= ONSET) & (np.arange(N) < ONSET + 12), 1.0, np.nan)
    ctx = build_context(
        data,
        signals,
        AT,
        BASELINE_END,
        {"app": alert_wl},
        alert_wl,
        [({"app": alert_wl}, alert)],
        changes or [],
    )
    return rank(hypotheses(ctx))


def _step(before: float, after: float, seed: int) -> np.ndarray:
    out = _flat(before, seed)
    out[ONSET:] = _flat(after, seed + 1)[ONSET:]
    return out


@pytest.mark.parametrize(("rps_factor", "kind"), [(3.0, CauseKind.TRAFFIC_SURGE), (1.0, CauseKind.CPU_LIMIT)])
def test_saturation_is_a_surge_only_when_traffic_rose(rps_factor: float, kind: CauseKind) -> None:
    data = _cluster(
        {
            "api": {
                "cpu": _step(0.8, 1.98, 1),  # 2 pods x 1 core: pinned at the limit
                "thr": _step(0.01, 0.6, 2),
                "rps": _step(100, 100 * rps_factor, 3),
                "err_ratio": _step(0.002, 0.08, 4),
            },
            "db": {},
        }
    )
    ranked = _rank(data, "api")
    assert (ranked[0].kind, ranked[0].workload) == (kind, "api")
    intent = size(ranked[0], ApprovalPolicy())
    if kind is CauseKind.TRAFFIC_SURGE:
        # ~0.8 cores at baseline x3 traffic = 2.4 cores; at 70% of 1 core per pod: 4 pods.
        assert intent.action is Action.SCALE and intent.field == "replicas"
        assert 4 <= intent.value <= 8  # type: ignore[operator]
    else:
        assert intent.action is Action.SET_CPU_LIMIT and intent.field == "cpu"
        assert 1.5 <= intent.value <= 4.0  # type: ignore[operator]


def test_callers_errors_are_traced_to_the_failing_callee_and_its_change() -> None:
    data = _cluster(
        {"web": {"err_ratio": _step(0.002, 0.1, 5)}, "auth": {"err_ratio": _step(0.002, 0.3, 6)}, "cart": {}}
    )
    calls = _flat(100.0, 30)
    data.client[("web", "auth")] = {"rps": calls, "err": calls * _step(0.002, 0.3, 7)}
    data.client[("web", "cart")] = {"rps": calls, "err": calls * 0.002}
    release = WorkloadChange(
        workload="auth",
        sha="a" * 40,
        at=datetime.fromtimestamp(float(GRID[ONSET]) - 240, UTC),
        kinds=frozenset({"image"}),
        summary="image 2.2.4 -> 2.3.0",
        subject="auth: release 2.3.0",
    )
    unrelated = WorkloadChange(
        workload="cart",
        sha="b" * 40,
        at=datetime.fromtimestamp(float(GRID[ONSET]) - 600, UTC),
        kinds=frozenset({"env"}),
        summary="LOG_LEVEL info -> debug",
        subject="cart: enable debug logging",
    )
    ranked = _rank(data, "web", [release, unrelated])
    top = ranked[0]
    assert (top.kind, top.workload) == (CauseKind.BAD_DEPLOY, "auth")
    assert top.change is release
    assert all(c.workload != "cart" for c in ranked)  # a healthy service's commit is no cause
    intent = size(top, ApprovalPolicy())
    assert intent.action is Action.REVERT and intent.commit == "a" * 40
    causes = to_root_causes(ranked, "shop")
    assert causes[0].commit == "a" * 40 and causes[0].evidence[0].id == "E1"
    assert any(e.source == "git" and "4 min before" in e.observation for e in causes[0].evidence)


def test_a_condition_that_cleared_is_transient_with_no_change() -> None:
    p99 = _flat(0.4, 8)
    p99[ONSET : ONSET + 12] = 4.5
    data = _cluster({"web": {}, "search": {}})
    data.red["web"]["p99"] = p99
    ranked = _rank(data, "web", active=False)
    assert (ranked[0].kind, ranked[0].workload) == (CauseKind.TRANSIENT, "web")
    assert size(ranked[0], ApprovalPolicy()).action is Action.NONE


def test_confidence_reflects_the_margin_over_the_runner_up() -> None:
    data = _cluster({"api": {"cpu": _step(0.8, 1.98, 1), "thr": _step(0.01, 0.6, 2)}})
    ranked = _rank(data, "api")
    conf = confidences(ranked)
    assert conf == sorted(conf, reverse=True)
    assert all(0 < c <= 0.97 for c in conf)
