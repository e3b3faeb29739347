"""Generated incidents that once failed, end to end on a real Prometheus, graded like the shared grader.

Each is one failure class: a surge whose CPU alert fires under every saturation bar (no cause at
all), a throttled callee behind a distractor commit on another callee, a bad config commit next to
an old OOM kill, a slower release whose latency rose under the latency rule but fired its alert.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenariogen import KINDS, generate
from scenariogen.grading import grade
from tests.analysis.test_shared_examples import investigate_example

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

# (suite seed, index): scenario i of a suite uses seed*10007+i and the i-th kind in rotation.
CASES = [(21, 10), (21, 1), (4, 43), (31, 33)]


@pytest.mark.parametrize(("suite_seed", "index"), CASES)
def test_generated_incident_is_found_and_fixed(
    suite_seed: int, index: int, prometheus_binaries: None, tmp_path: Path
) -> None:
    kind = KINDS[index % len(KINDS)]
    name = f"scn-{suite_seed:03d}-{index:03d}-{kind}"
    scenario = generate(tmp_path / "suite", suite_seed * 10007 + index, kind, name=name)
    work = tmp_path / "work"
    work.mkdir()
    result, expected = investigate_example(scenario, work)
    report = result.report
    assert report.root_causes, report.summary  # a firing alert always gets candidates
    out = json.loads(json.dumps(report.public(), default=str))
    res = grade(out, expected, work / "repo", tolerant=False)
    assert res["top1"] and res["remediation"], (name, res, report.summary)
