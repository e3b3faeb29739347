"""The six shared example incidents: top-1 cause and proposal action, end to end on a real Prometheus."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import wiring
from bot.adapters.git.history import LocalGitHistory
from bot.adapters.logs.jsonl import JsonlLogSource
from bot.adapters.prometheus import PrometheusMetrics
from bot.domain.alert import parse_alert_group
from bot.services.investigate import Investigation, Investigator
from bot.settings import Settings
from testkit.promserver import running_prometheus

pytestmark = [pytest.mark.shared, pytest.mark.prometheus, pytest.mark.slow]

EXAMPLES = [
    "example-00-traffic_surge",
    "example-01-cpu_limit",
    "example-02-memory_limit",
    "example-03-bad_deploy",
    "example-04-transient",
    "example-05-bad_deploy-downstream",
]


def investigate_example(scenario: Path, work: Path) -> tuple[Investigation, dict]:  # type: ignore[type-arg]
    """Run the investigation on one scenario directory; returns the result and expected.json."""
    repo = work / "repo"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(scenario / "repo.bundle"), str(repo)], check=True)
    logs = work / "logs.jsonl"
    with gzip.open(scenario / "logs.jsonl.gz", "rb") as src, open(logs, "wb") as dst:
        shutil.copyfileobj(src, dst)
    meta = json.loads((scenario / "scenario.json").read_text())
    group = parse_alert_group((scenario / "alert.json").read_bytes())
    with running_prometheus(scenario / "metrics.om.gz") as url:
        investigator = Investigator(
            PrometheusMetrics(url),
            JsonlLogSource(logs),
            LocalGitHistory(repo),
            repo,
            Settings(),
            workspace=lambda: wiring.workspace(repo),
            describe=wiring.changes_classifier(),
        )
        result = investigator.investigate(group, datetime.fromtimestamp(meta["at"], UTC))
    return result, json.loads((scenario / "expected.json").read_text())


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_top_cause_and_action(
    name: str, shared_dir: Path, prometheus_binaries: None, tmp_path: Path
) -> None:
    scenario = shared_dir / "scenarios" / "examples" / name
    result, expected = investigate_example(scenario, tmp_path)
    report = result.report
    want = expected["root_cause"]
    top = report.root_causes[0]
    assert (top.kind.value, top.service) == (want["kind"], want["service"]), report.summary
    remediation = expected["remediation"]
    proposal = report.proposal
    assert proposal is not None
    assert proposal.action.value == remediation["action"]
    if remediation["action"] == "revert":
        assert remediation["commit"].startswith(proposal.commit or "-")
        assert proposal.diff
    elif remediation["action"] != "none":
        assert proposal.service == remediation["service"]
        change = proposal.changes[0]
        assert remediation["min_value"] <= change.to <= remediation["max_value"]
    assert all(e.observation for rc in report.root_causes for e in rc.evidence)
    assert report.summary and result.graphs
