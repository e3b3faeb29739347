"""The capacity-job backtest (bench/capacity_backtest.py) counts breaches, leads and misses."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import numpy as np

from tests.conftest import ROOT


def _backtest() -> ModuleType:
    path = ROOT / "bench" / "capacity_backtest.py"
    spec = importlib.util.spec_from_file_location("capacity_backtest", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("capacity_backtest", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_breach_starts_merge_rows_closer_than_the_rearm_time() -> None:
    bt = _backtest()
    times = np.arange(0.0, 48 * 3600.0, 3600.0)
    over = np.zeros(len(times), dtype=bool)
    over[[5, 6, 8, 30]] = True  # 5-8: one breach (gaps under 6 h); 30: another
    assert bt.breach_starts(times, over) == [5 * 3600.0, 30 * 3600.0]


def test_a_growing_load_gets_its_pr_before_the_breach() -> None:
    bt = _backtest()
    t = 1.7e9 + bt.STEP * np.arange(int(12 * bt.DAY / bt.STEP))
    days = (t - t[0]) / bt.DAY
    shape = 0.6 + 0.4 * np.cos(2 * np.pi * ((t % bt.DAY) / bt.HOUR - 15) / 24)
    demand = 10.0 * shape * 1.04**days * (1 + np.random.default_rng(0).normal(0, 0.02, len(t)))
    replicas = bt.initial_replicas(t, demand)
    without = bt.breach_starts(t, demand > replicas * bt.CPU_PER_POD * bt.TARGET)
    assert without, "the load must outgrow its capacity for this test to mean anything"
    outcome = bt.backtest("growing", t, demand, replicas)
    assert outcome.leads and min(outcome.leads) > 0  # a right PR, opened before the crossing
    assert outcome.false_positives == 0
    assert outcome.missed == 0


def test_a_breach_nobody_could_foresee_is_counted_as_missed() -> None:
    bt = _backtest()
    t = 1.7e9 + bt.STEP * np.arange(int(9 * bt.DAY / bt.STEP))
    demand = 5.0 + 0.5 * np.sin(2 * np.pi * (t % bt.DAY) / bt.DAY)
    surge = (t > t[0] + 7.6 * bt.DAY) & (t < t[0] + 7.7 * bt.DAY)
    demand = np.where(surge, 40.0, demand)  # a sudden surge, after the last check before it
    outcome = bt.backtest("surge", t, demand, bt.initial_replicas(t, demand))
    assert outcome.breaches == 1
    assert outcome.missed == 1
    assert not outcome.leads
    # an hour before the surge, demand was at its usual ~5.5 of the capacity that its first week set
    capacity = bt.initial_replicas(t, demand) * bt.CPU_PER_POD * bt.TARGET
    assert len(outcome.warnings) == 1
    assert outcome.warnings[0] <= 5.5 / capacity + 1e-9 and outcome.warnings[0] > 0.1


def test_the_backtest_replays_the_forecaster_it_is_given_on_the_past_only() -> None:
    from bot.foresight.forecast import Forecast

    bt = _backtest()
    t = 1.7e9 + bt.STEP * np.arange(int(10 * bt.DAY / bt.STEP))
    demand = np.full(len(t), 2.0)  # flat, never near capacity: every PR is a false positive
    seen: list[float] = []

    def alarmist(values: np.ndarray, stamps: np.ndarray, horizon: int, level: int) -> Forecast:
        seen.append(float(stamps[-1]))
        high = np.full(horizon, 100.0)
        return Forecast(high, high, high, None)

    outcome = bt.backtest("flat", t, demand, bt.initial_replicas(t, demand), alarmist)
    assert seen and len(outcome.opened) > 0
    assert all(last <= at for last, at in zip(seen, outcome.opened, strict=False))
    assert outcome.false_positives == len(outcome.opened)
    assert not outcome.leads and outcome.breaches == 0
    assert set(bt.FORECASTERS) == {"planner", "ensemble"}
