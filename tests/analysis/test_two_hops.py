"""A fault two calls below the alerting service: the analysis follows the call graph two hops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenariogen import generate
from scenariogen.grading import grade
from scenariogen.plan import make_plan
from scenariogen.variants import active_variants
from tests.analysis.test_shared_examples import investigate_example

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

KNOBS = {"downstream": True, "two_hops": True, "n_services": 7}


def _two_hops_seed(first: int, kind: str) -> int:
    """The first seed from ``first`` whose call graph is deep enough for a culprit two calls down."""
    return next(
        s for s in range(first, first + 50) if "two_hops" in active_variants(make_plan(s, kind, **KNOBS))
    )


@pytest.mark.parametrize(
    ("first", "kind"), [(77181, "cpu_limit"), (77182, "memory_limit"), (77183, "bad_deploy")]
)
def test_a_fault_two_calls_below_the_alert_is_found_and_fixed(
    first: int, kind: str, prometheus_binaries: None, tmp_path: Path
) -> None:
    seed = _two_hops_seed(first, kind)  # the alert fires on the culprit's caller's caller
    scenario = generate(tmp_path / "suite", seed, kind, name=f"scn-hops-{seed}", **KNOBS)
    work = tmp_path / "work"
    work.mkdir()
    result, expected = investigate_example(scenario, work)
    out = json.loads(json.dumps(result.report.public(), default=str))
    res = grade(out, expected, work / "repo", tolerant=False)
    assert res["top1"] and res["remediation"], (res, result.report.summary)
