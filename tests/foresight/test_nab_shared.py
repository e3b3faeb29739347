"""Smoke test of the NAB scorer (bench/nab_score.py) on a few files of the shared benchmark."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import ROOT

FILES = (
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAdExchange/exchange-3_cpc_results.csv",
    "artificialNoAnomaly/art_daily_small_noise.csv",
)


def _scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nab_score", ROOT / "bench" / "nab_score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("nab_score", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.shared
def test_nab_scorer_on_a_few_files(shared_dir: Path) -> None:
    nab = _scorer()
    files = [f for f in nab.load_corpus(shared_dir / "benchmarks" / "nab-subset") if f.name in FILES]
    assert len(files) == len(FILES)
    windows = [f for f in files if f.windows]

    # the scale: never firing is 0, firing exactly at each window's first row is 100
    null = [np.zeros(len(f.values)) for f in windows]
    perfect = []
    for f in windows:
        s = np.zeros(len(f.values))
        s[[lo for lo, _ in f.windows]] = 1.0
        perfect.append(s)
    assert nab.normalised(nab.optimise(windows, null)[1], sum(len(f.windows) for f in windows)) == 0.0
    _, raw, n_windows = nab.optimise(windows, perfect)
    assert nab.normalised(raw, n_windows) == pytest.approx(100.0)

    # firing on every row costs a false positive on each row outside the windows
    always = np.ones(len(files[2].values))
    assert nab.raw_score(files[2], always, 1.0)[0] < -0.1 * len(always) / 2

    scores = [nab.detect(f.values, f.timestamps) for f in files]
    threshold, raw, n_windows = nab.optimise(files, scores)
    assert 0.0 < threshold < 1.0
    assert nab.normalised(raw, n_windows) > 50.0
