"""Failure classes seen on generated incidents, reduced to synthetic series (no I/O).

Each test states the principle the analysis must follow: a firing alert always gets candidates;
a commit explains only the symptoms a change produces and that begin after it; OOM kills from
before the incident are not its cause; a crash-looping release is found without app metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from bot.analysis.context import Context, build_context
from bot.analysis.fallback import ranked_causes
from bot.analysis.fetched import Fetched
from bot.analysis.hypotheses import Candidate, hypotheses
from bot.analysis.ranking import rank
from bot.analysis.signals import build
from bot.analysis.sizing import size
from bot.domain.proposal import Action
from bot.domain.report import CauseKind
from bot.ports.gitrepo import WorkloadChange
from bot.settings import ApprovalPolicy
from tests.analysis.test_hypotheses import BASELINE_END, GRID, ONSET, N, _cluster, _flat, _step

AT = float(GRID[-1])
LATENCY_EXPR = (
    "histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[5m]))) > 1"
)
CPU_EXPR = (
    "sum by (pod) (rate(container_cpu_usage_seconds_total[5m]))"
    ' / sum by (pod) (kube_pod_container_resource_limits{resource="cpu"}) > 0.6'
)


def _ctx(
    data: Fetched, alert_wl: str, changes: list[WorkloadChange] | None = None, alert: np.ndarray | None = None
) -> Context:
    alert = np.where(np.arange(N) >= ONSET + 6, 1.0, np.nan) if alert is None else alert
    return build_context(
        data, build(data, BASELINE_END), AT, BASELINE_END, {"app": alert_wl}, alert_wl,
        [({"app": alert_wl}, alert)], changes or [],
    )  # fmt: skip


def _ranked(ctx: Context) -> list[Candidate]:
    """As the investigation ranks: the hypotheses, joined by weak candidates when none clears its bar."""
    return ranked_causes(ctx)


def _change(workload: str, index: int, kinds: set[str], sha: str) -> WorkloadChange:
    return WorkloadChange(
        workload=workload,
        sha=sha * 40,
        at=datetime.fromtimestamp(float(GRID[index]), UTC),
        kinds=frozenset(kinds),  # type: ignore[arg-type]
        summary="change",
        subject=f"{workload}: change",
    )


def test_a_firing_alert_under_every_bar_still_ranks_the_alerting_workloads_capacity() -> None:
    # CPU 44% -> 65% of the limit as traffic rises 1.5x: under the saturation bar, yet the alert fires.
    data = _cluster({"users": {"cpu": _step(0.88, 1.3, 1), "rps": _step(280, 415, 2)}, "billing": {}})
    ctx = _ctx(data, "users")
    assert rank(hypotheses(ctx)) == []
    ranked = _ranked(ctx)
    assert ranked and (ranked[0].kind, ranked[0].workload) == (CauseKind.TRAFFIC_SURGE, "users")
    assert ranked[0].score < 0.3  # honest: weakly supported
    intent = size(ranked[0], ApprovalPolicy())
    assert intent.action is Action.SCALE and intent.value > 2  # type: ignore[operator]


def test_nothing_moved_still_names_the_alerting_workload() -> None:
    ranked = _ranked(_ctx(_cluster({"users": {}, "billing": {}}), "users"))
    assert ranked and ranked[0].workload == "users"


def test_a_distractor_commit_does_not_explain_throttling_a_tight_limit_explains() -> None:
    pay_p99 = _flat(0.4, 40)
    pay_p99[128:140] = 4.0  # a blip right after its config commit, long over
    data = _cluster(
        {
            "api": {"err_ratio": _step(0.01, 0.1, 41)},
            "auth": {"cpu": _step(1.3, 1.98, 42), "thr": _step(0.01, 0.9, 43)},
            "pay": {"thr": _step(0.05, 0.35, 44)},
        }
    )
    data.red["api"]["p99"] = _step(2.0, 4.8, 45)
    data.red["auth"]["p99"] = _step(0.3, 2.5, 46)
    data.red["pay"]["p99"] = pay_p99
    calls = _flat(100.0, 47)
    data.client[("api", "auth")] = {"rps": calls, "err": calls * _step(0.002, 0.05, 48)}
    data.client[("api", "pay")] = {"rps": calls, "err": calls * 0.002}
    ranked = _ranked(_ctx(data, "api", [_change("pay", 125, {"env"}, "p")]))
    assert (ranked[0].kind, ranked[0].workload) == (CauseKind.CPU_LIMIT, "auth")
    deploy = [c for c in ranked if c.kind is CauseKind.BAD_DEPLOY and c.workload == "pay"]
    assert all(c.score < 0.5 for c in deploy)  # its own symptom cleared while the alert fires
    assert size(ranked[0], ApprovalPolicy()).action is Action.SET_CPU_LIMIT


def test_errors_after_a_commit_are_its_fault_even_when_a_blip_came_just_before() -> None:
    err = _flat(0.006, 50)
    err[160:170] = 0.08  # someone else's blip, over before the commit
    err[176:] = 0.5
    data = _cluster({"gateway": {"err_ratio": err}, "loyalty": {}})
    ranked = _ranked(_ctx(data, "gateway", [_change("gateway", 172, {"env"}, "g")]))
    top = ranked[0]
    assert (top.kind, top.workload) == (CauseKind.BAD_DEPLOY, "gateway")
    assert top.change is not None and top.change.sha == "g" * 40


def _oom_reason(data: Fetched, workload: str, since: int) -> None:
    pod = f"{workload}-5d8f7c6b9x-pod00"
    reason = np.full(N, np.nan)
    reason[since:] = 1.0
    data.terminated[(pod, workload, "OOMKilled")] = reason
    if since > 0:
        data.container["restarts"][(pod, workload)] = np.where(np.arange(N) >= since, 1.0, 0.0)


def test_oom_kills_from_before_the_window_or_the_incident_are_not_its_cause() -> None:
    for since in (0, 20):  # the reason shown from the first sample; a kill early in the baseline
        data = _cluster({"gateway": {"err_ratio": _step(0.006, 0.5, 51)}, "loyalty": {}})
        _oom_reason(data, "loyalty", since)
        ranked = _ranked(_ctx(data, "gateway", [_change("gateway", ONSET - 4, {"env"}, "g")]))
        assert (ranked[0].kind, ranked[0].workload) == (CauseKind.BAD_DEPLOY, "gateway")
        memory = [c for c in ranked if c.kind is CauseKind.MEMORY_LIMIT]
        assert all(c.score < 0.3 for c in memory), (since, memory)
    data = _cluster({"loyalty": {}})
    _oom_reason(data, "loyalty", 0)
    assert build(data, BASELINE_END)["loyalty"].oom_restarts == 0


@pytest.mark.parametrize("shown", ["restarts", "waiting", "availability"])
def test_a_crash_looping_release_without_app_metrics_is_reverted(shown: str) -> None:
    # The new pod never serves: it may show restarts, only its waiting reason, or only missing replicas.
    data = _cluster({"api": {}, "web": {}})
    del data.red["api"]  # the service exposes no request metrics at all
    pod, rs = "api-7f8e9d6c5b-new01", "api-7f8e9d6c5b"
    data.ownership.pod_owner[pod] = ("ReplicaSet", rs)
    data.ownership.replicaset_owner[rs] = "api"
    born = ONSET - 2
    if shown == "restarts":
        restarts = np.full(N, np.nan)
        restarts[born:] = np.floor(np.arange(N - born) / 6)  # a crash every three minutes
        data.container["restarts"][(pod, "api")] = restarts
    if shown in ("restarts", "waiting"):
        waiting = np.full(N, np.nan)
        waiting[born + 6 :] = 1.0
        data.waiting[(pod, "api", "CrashLoopBackOff")] = waiting
    data.deployments["api"]["available"] = np.where(np.arange(N) >= born, 1.0, 2.0)
    ranked = _ranked(_ctx(data, "api", [_change("api", ONSET - 6, {"image"}, "c")]))
    top = ranked[0]
    assert (top.kind, top.workload) == (CauseKind.BAD_DEPLOY, "api")
    assert size(top, ApprovalPolicy()).commit == "c" * 40


def test_a_rolling_updates_brief_dip_in_available_replicas_is_no_symptom() -> None:
    data = _cluster({"api": {"cpu": _step(1.3, 1.98, 80), "thr": _step(0.01, 0.9, 81)}, "web": {}})
    dip = np.full(N, 2.0)
    dip[ONSET - 4 : ONSET + 4] = 1.0  # one pod replaced at a time, ready again within minutes
    data.deployments["api"]["available"] = dip
    ranked = _ranked(_ctx(data, "api", [_change("api", ONSET - 6, {"env"}, "d")]))
    assert (ranked[0].kind, ranked[0].workload) == (CauseKind.CPU_LIMIT, "api")


def test_the_alerts_own_latency_condition_after_a_release_points_at_the_release() -> None:
    # p99 +40%: under the latency rule, but the alert's own p95 condition began right after the image.
    p99 = _step(1.86, 2.6, 60)
    data = _cluster({"frontend": {}, "tax": {}})
    data.red["frontend"]["p99"] = p99
    release = _change("frontend", ONSET + 2, {"image"}, "f")
    data.alert_expr = LATENCY_EXPR
    top = _ranked(_ctx(data, "frontend", [release]))[0]
    assert (top.kind, top.workload) == (CauseKind.BAD_DEPLOY, "frontend") and top.change is release
    data.alert_expr = CPU_EXPR  # a CPU condition is a capacity matter: no release is blamed for it
    assert all(
        c.kind is not CauseKind.BAD_DEPLOY for c in rank(hypotheses(_ctx(data, "frontend", [release])))
    )


def test_a_surge_that_began_minutes_ago_is_compared_with_the_traffic_since_it_began() -> None:
    late = N - 10  # five minutes before the investigation; utilisation still under the symptom level
    rps, cpu = _flat(137.0, 70), _flat(1.06, 71)
    rps[late:] = np.linspace(150, 205, N - late)
    cpu[late:] = np.linspace(1.15, 1.58, N - late)
    thr = _flat(0.005, 72)
    thr[late + 3 :] = 0.15
    ranked = _ranked(_ctx(_cluster({"shop": {"rps": rps, "cpu": cpu, "thr": thr}, "mail": {}}), "shop"))
    assert (ranked[0].kind, ranked[0].workload) == (CauseKind.TRAFFIC_SURGE, "shop")


def test_an_alert_that_flaps_under_its_threshold_while_errors_stay_up_has_not_cleared() -> None:
    data = _cluster(
        {"web": {"err_ratio": _step(0.02, 0.1, 90)}, "auth": {"err_ratio": _step(0.002, 0.3, 91)}}
    )
    calls = _flat(100.0, 92)
    data.client[("web", "auth")] = {"rps": calls, "err": calls * _step(0.002, 0.3, 93)}
    flap = np.where(np.arange(N) >= ONSET + 6, 1.0, np.nan)
    flap[-2:] = np.nan  # the last evaluations dipped under the alert's threshold
    release = _change("auth", ONSET - 8, {"image"}, "a")
    top = _ranked(_ctx(data, "web", [release], alert=flap))[0]
    assert (top.kind, top.workload) == (CauseKind.BAD_DEPLOY, "auth") and top.change is release


def test_an_old_restart_of_a_workload_that_runs_near_its_memory_limit_is_not_the_cause() -> None:
    data = _cluster({"gateway": {"err_ratio": _step(0.006, 0.5, 94)}, "cache": {}})
    for key in [k for k in data.container["mem"] if k[1] == "cache"]:
        data.container["mem"][key] = _flat(0.92 * 256e6, 95, 0.005)  # steadily near its limit
    data.container["restarts"][("cache-5d8f7c6b9x-pod00", "cache")] = np.where(np.arange(N) >= 15, 1.0, 0.0)
    ranked = _ranked(_ctx(data, "gateway", [_change("gateway", ONSET - 4, {"env"}, "g")]))
    assert (ranked[0].kind, ranked[0].workload) == (CauseKind.BAD_DEPLOY, "gateway")
    assert all(c.score < 0.3 for c in ranked if c.kind is CauseKind.MEMORY_LIMIT)


def test_a_cleared_episode_is_named_where_it_happened_down_the_call_graph() -> None:
    spike = _flat(0.004, 96)
    spike[ONSET : ONSET + 12] = 0.45
    caller = _flat(0.009, 97)
    caller[ONSET : ONSET + 12] = 0.25
    data = _cluster({"edge": {"err_ratio": caller}, "delivery": {"err_ratio": spike}, "ledger": {}})
    calls = _flat(100.0, 98)
    data.client[("edge", "delivery")] = {"rps": calls, "err": calls * spike}
    data.client[("edge", "ledger")] = {"rps": calls, "err": calls * 0.002}
    cleared = np.where((np.arange(N) >= ONSET + 2) & (np.arange(N) < ONSET + 12), 1.0, np.nan)
    top = _ranked(_ctx(data, "edge", alert=cleared))[0]
    assert (top.kind, top.workload) == (CauseKind.TRANSIENT, "delivery")
    assert size(top, ApprovalPolicy()).action is Action.NONE


def test_a_weak_hypothesis_elsewhere_does_not_hide_the_alerting_workloads_capacity() -> None:
    blip = _flat(0.0013, 99)
    blip[ONSET - 30 : ONSET - 22] = 0.023  # a cleared error blip after an unrelated commit
    data = _cluster(
        {"sync": {"cpu": _step(0.74, 1.4, 100), "rps": _step(148, 326, 101)}, "geo": {"err_ratio": blip}}
    )
    ranked = _ranked(_ctx(data, "sync", [_change("geo", ONSET - 36, {"env"}, "x")]))
    assert (ranked[0].kind, ranked[0].workload) == (CauseKind.TRAFFIC_SURGE, "sync")


def test_the_alerts_own_cpu_condition_sets_where_near_the_limit_starts() -> None:
    data = _cluster({"users": {"cpu": _step(0.88, 1.3, 1), "rps": _step(280, 415, 2)}, "billing": {}})
    data.alert_expr = CPU_EXPR
    ranked = rank(hypotheses(_ctx(data, "users")))
    assert (ranked[0].kind, ranked[0].workload) == (CauseKind.TRAFFIC_SURGE, "users")
    assert ranked[0].score >= 0.3  # a hypothesis that clears its bar, not a fallback
    steady = _cluster({"users": {"cpu": _step(0.88, 1.3, 1)}, "billing": {}})
    steady.alert_expr = CPU_EXPR
    top = rank(hypotheses(_ctx(steady, "users")))[0]
    assert (top.kind, top.workload) == (CauseKind.CPU_LIMIT, "users")


def test_an_hpa_without_its_target_belongs_to_the_longest_workload_that_prefixes_its_name() -> None:
    data = _cluster({"ratings": {}, "ratings-proxy": {}})
    data.hpas["ratings-proxy"] = {"max": np.full(N, 6.0), "min": np.full(N, 2.0)}
    signals = build(data, BASELINE_END)
    assert signals["ratings"].hpa is None and signals["ratings-proxy"].hpa_max == 6
    data.hpas = {"ratings-hpa": {"max": np.full(N, 8.0)}}
    assert build(data, BASELINE_END)["ratings"].hpa_max == 8


def test_an_oom_kill_in_the_baseline_does_not_outrank_throttling_that_began_soon_after() -> None:
    early = 112  # the incident begins just after the baseline; the kill came four minutes before it
    cpu, thr = _flat(0.97, 110), _flat(0.005, 111)
    cpu[early:], thr[early:] = 1.98, 0.9
    data = _cluster({"ingress": {"cpu": cpu, "thr": thr}, "sessions": {}})
    _oom_reason(data, "sessions", 104)
    calls = _flat(100.0, 112)
    data.client[("ingress", "sessions")] = {"rps": calls, "err": calls * 0.002}  # its callee
    alert = np.where(np.arange(N) >= 125, 1.0, np.nan)
    top = _ranked(_ctx(data, "ingress", alert=alert))[0]
    assert (top.kind, top.workload) == (CauseKind.CPU_LIMIT, "ingress")


def test_a_cleared_latency_episode_is_not_moved_to_a_callee_with_an_unrelated_error_blip() -> None:
    p99, blip = _flat(2.5, 102), _flat(0.001, 103)
    p99[ONSET : ONSET + 12] = 7.0  # the alert's own latency episode
    blip[ONSET - 9 : ONSET + 3] = 0.08  # a callee's error blip that began minutes earlier
    data = _cluster({"api": {"err_ratio": blip}, "gateway": {"err_ratio": blip}})
    data.red["api"]["p99"] = p99
    calls = _flat(100.0, 104)
    data.client[("api", "gateway")] = {"rps": calls, "err": calls * blip}
    cleared = np.where((np.arange(N) >= ONSET) & (np.arange(N) < ONSET + 12), 1.0, np.nan)
    top = _ranked(_ctx(data, "api", alert=cleared))[0]
    assert (top.kind, top.workload) == (CauseKind.TRANSIENT, "api")
